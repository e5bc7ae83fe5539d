"""The local model store and the weights mode; torchvision checkpoints in and out of the store.

Weights live under ``models/`` at the repository root (``SEGDEMO_STORE`` moves it):
torchvision checkpoints in ``models/torch/hub/checkpoints`` and Hugging Face snapshots in
``models/huggingface``. A user's own TORCH_HOME or HF_HUB_CACHE takes precedence. Nothing here
writes environment variables: the paths are passed to the loaders explicitly.

``SEGDEMO_WEIGHTS=random`` builds every model with random weights through the exact same code
path: only the state dict's source differs (the model's own initialisation instead of a file).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import torch

STORE_DIR = Path(os.environ.get("SEGDEMO_STORE", Path(__file__).resolve().parent.parent / "models"))
WeightsMode = Literal["pretrained", "random"]
#: Seconds a download may wait for the server (to connect, or between two reads).
DOWNLOAD_TIMEOUT_S = 20.0
_CHUNK_BYTES = 1 << 20
OFFLINE_REASON = "the network is switched off (offline mode)"


class WeightsUnavailable(RuntimeError):
    """Weights could not be had: the message says why and how to fix it, in one sentence."""


def weights_mode() -> WeightsMode:
    """``pretrained`` (default) or ``random``, from SEGDEMO_WEIGHTS."""
    value = os.environ.get("SEGDEMO_WEIGHTS", "pretrained").strip().lower()
    if value not in ("pretrained", "random"):
        raise ValueError(f"SEGDEMO_WEIGHTS must be 'pretrained' or 'random', got {value!r}")
    return value  # type: ignore[return-value]


def offline() -> bool:
    """True when the user asked for no network (SEGDEMO_OFFLINE=1 or HF_HUB_OFFLINE=1)."""
    flags = ("SEGDEMO_OFFLINE", "HF_HUB_OFFLINE")
    return any(os.environ.get(name, "") not in ("", "0") for name in flags)


def torch_hub_dir() -> Path:
    """torchvision's hub folder: TORCH_HOME/hub when the user set TORCH_HOME, else the store's."""
    if os.environ.get("TORCH_HOME"):
        return Path(torch.hub.get_dir())
    return STORE_DIR / "torch" / "hub"


def hub_cache() -> Path:
    """The Hugging Face cache folder: HF_HUB_CACHE when the user set it, else the store's."""
    return Path(os.environ.get("HF_HUB_CACHE") or STORE_DIR / "huggingface")


def checkpoint_path(url: str) -> Path:
    """Where the store keeps ``url``'s file, the layout of torchvision's own loader:
    ``<hub dir>/checkpoints/<file name>``."""
    return torch_hub_dir() / "checkpoints" / os.path.basename(urlparse(url).path)


def fetch_checkpoint(url: str, title: str) -> Path:
    """The local checkpoint file for ``url``, downloading it into the store if it is missing.

    The download has its own timeout (DOWNLOAD_TIMEOUT_S without progress), is checked against
    the SHA-256 prefix in torchvision's file name, and appears under its final name only when
    complete. Raises WeightsUnavailable when the file is absent and cannot be downloaded.
    """
    path = checkpoint_path(url)
    if path.is_file():
        return path
    if offline():
        raise WeightsUnavailable(missing_message(title, OFFLINE_REASON))
    try:
        _download(url, path)
    except Exception as error:  # any failure to download means "not available"
        raise WeightsUnavailable(missing_message(title, reason(error))) from error
    return path


def load_checkpoint(url: str, title: str) -> dict[str, torch.Tensor]:
    """The state dict of a torchvision checkpoint on the CPU, loaded with ``weights_only=True``."""
    path = fetch_checkpoint(url, title)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a damaged file is "not available" too
        raise WeightsUnavailable(
            f"The {title} weights in {path} could not be read ({reason(error)}): delete the file "
            f"and run `python -m segdemo fetch` again."
        ) from error


def _download(url: str, path: Path) -> None:
    """Stream ``url`` into ``path`` atomically, verifying torchvision's hash prefix if any.

    Unlike ``torch.hub.download_url_to_file``, the timeout belongs to this one connection:
    the process-wide socket default is never touched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = _hash_prefix(url)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response,
        ):
            while chunk := response.read(_CHUNK_BYTES):
                digest.update(chunk)
                out.write(chunk)
        if prefix is not None and not digest.hexdigest().startswith(prefix):
            raise ValueError(f"the download's SHA-256 does not start with {prefix}")
        shutil.move(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _hash_prefix(url: str) -> str | None:
    # torchvision names its files <name>-<sha256 prefix>.pth (what check_hash=True verifies).
    stem = os.path.basename(urlparse(url).path).rsplit(".", 1)[0]
    prefix = stem.rsplit("-", 1)[-1] if "-" in stem else ""
    return prefix if len(prefix) >= 6 and all(c in "0123456789abcdef" for c in prefix) else None


def missing_message(title: str, why: str) -> str:
    """The one sentence a user sees when ``title``'s weights cannot be had, with the fix."""
    return (
        f"The {title} weights are not in the local model store ({STORE_DIR}) and could not be "
        f"downloaded because {why}: run `python -m segdemo fetch` on a machine with network "
        f"(or copy models/ over), or set SEGDEMO_WEIGHTS=random to try the demo with untrained "
        f"weights."
    )


def reason(error: BaseException) -> str:
    """The first line of an exception's message (or its type), at most 160 characters."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:160]
