"""The local model store, the weights mode and the compute device.

Weights live under ``models/`` at the repository root: torchvision's cache (TORCH_HOME) and the
Hugging Face cache (HF_HUB_CACHE) are pointed there unless the user set them. ``python -m segdemo
fetch`` fills the store while online; afterwards the app runs with no network.

``SEGDEMO_WEIGHTS=random`` builds every model with random weights through the exact same code
path: only the state dict's source differs (the model's own initialisation instead of a file).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Literal, TypeVar
from urllib.parse import urlparse

import torch
from torchvision.models import WeightsEnum

STORE_DIR = Path(os.environ.get("SEGDEMO_STORE", Path(__file__).resolve().parent.parent / "models"))
WeightsMode = Literal["pretrained", "random"]
DOWNLOAD_TIMEOUT_S = 20.0


class WeightsUnavailable(RuntimeError):
    """Weights could not be had: the message says why and how to fix it, in one sentence."""


def configure_store() -> None:
    """Point the libraries' caches into ``models/`` unless the user chose other places."""
    os.environ.setdefault("TORCH_HOME", str(STORE_DIR / "torch"))
    os.environ.setdefault("HF_HUB_CACHE", str(STORE_DIR / "huggingface"))


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


def choose_device() -> torch.device:
    """SEGDEMO_DEVICE if set, else cuda → mps → cpu."""
    wanted = os.environ.get("SEGDEMO_DEVICE", "").strip()
    if wanted:
        device = torch.device(wanted)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"SEGDEMO_DEVICE={wanted} but no CUDA device is available")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: torch.device | str | None) -> torch.device:
    """``device`` as a torch.device; None means :func:`choose_device`."""
    return choose_device() if device is None else torch.device(device)


@dataclass(frozen=True)
class TorchvisionVariant:
    """One torchvision model the app offers: its builder and its Weights enum member, which
    provides the labels, the preprocessing, the published figures and the checkpoint URL."""

    key: str
    title: str
    builder: Callable[..., torch.nn.Module]
    weights: WeightsEnum

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(self.weights.meta["categories"])

    @property
    def min_size(self) -> tuple[int, int]:
        """The smallest (H, W) the model accepts, from the weights' metadata."""
        return tuple(self.weights.meta.get("min_size", (1, 1)))  # type: ignore[return-value]


def check_image(
    image: object, *, title: str = "the model", min_size: tuple[int, int] = (1, 1)
) -> None:
    """The adapters' input contract: a uint8 tensor [3, H, W] of at least ``min_size`` (H, W)."""
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor, got a {type(image).__name__}")
    if image.dtype != torch.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"image must have shape [3, H, W], got {tuple(image.shape)}")
    min_h, min_w = min_size
    if image.shape[1] < min_h or image.shape[2] < min_w:
        raise ValueError(
            f"image must be at least {min_h}x{min_w} pixels for {title}, "
            f"got {tuple(image.shape[1:])}"
        )


def clock(device: torch.device) -> float:
    """time.perf_counter() once ``device`` has finished its queued work (for stage timings)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def checkpoint_path(url: str) -> Path:
    """Where torchvision's own loader keeps ``url``'s file: TORCH_HOME/hub/checkpoints/<name>."""
    configure_store()
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def fetch_checkpoint(url: str, title: str) -> Path:
    """The local checkpoint file for ``url``, downloading it into the store if it is missing.

    Raises WeightsUnavailable (never hangs longer than DOWNLOAD_TIMEOUT_S without progress)
    when the file is absent and cannot be downloaded.
    """
    path = checkpoint_path(url)
    if path.is_file():
        return path
    if offline():
        raise WeightsUnavailable(_missing(title, "the network is switched off (offline mode)"))
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        torch.hub.download_url_to_file(url, str(path), _hash_prefix(url), progress=False)
    except Exception as error:  # any failure to download means "not available"
        path.unlink(missing_ok=True)
        raise WeightsUnavailable(_missing(title, _reason(error))) from error
    finally:
        socket.setdefaulttimeout(previous)
    return path


def load_checkpoint(url: str, title: str) -> dict[str, torch.Tensor]:
    """The state dict of a torchvision checkpoint, loaded safely (``weights_only=True``)."""
    path = fetch_checkpoint(url, title)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a damaged file is "not available" too
        raise WeightsUnavailable(
            f"The {title} weights in {path} could not be read ({_reason(error)}): delete the file "
            f"and run `python -m segdemo fetch` again."
        ) from error


def _missing(title: str, why: str) -> str:
    return (
        f"The {title} weights are not in the local model store ({STORE_DIR}) and could not be "
        f"downloaded because {why}: run `python -m segdemo fetch` on a machine with network "
        f"(or copy models/ over), or set SEGDEMO_WEIGHTS=random to try the demo with untrained "
        f"weights."
    )


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:160]


def _hash_prefix(url: str) -> str | None:
    # torchvision names its files <name>-<sha256 prefix>.pth; check it like check_hash=True does.
    stem = os.path.basename(urlparse(url).path).rsplit(".", 1)[0]
    prefix = stem.rsplit("-", 1)[-1] if "-" in stem else ""
    return prefix if len(prefix) >= 6 and all(c in "0123456789abcdef" for c in prefix) else None


T = TypeVar("T")
M = TypeVar("M")
S = TypeVar("S", bound="TorchvisionVariant")


class ModelCache:
    """Builds each model once per key, thread-safe; concurrent first requests wait for one build."""

    def __init__(self) -> None:
        self._models: dict[object, object] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[object, threading.Lock] = {}

    def get(self, key: object, build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._models:
                return self._models[key]  # type: ignore[return-value]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._models:
                    return self._models[key]  # type: ignore[return-value]
            model = build()
            with self._lock:
                self._models[key] = model
            return model

    def loaded(self, key: object) -> bool:
        with self._lock:
            return key in self._models

    def clear(self) -> None:
        with self._lock:
            self._models.clear()


class ModelFamily(Generic[S, M]):
    """One adapter's models: ``variants`` (key → spec) built lazily by ``build(spec, device)``,
    once per (key, device, weights mode), thread-safe (a :class:`ModelCache` underneath)."""

    def __init__(
        self, name: str, variants: Mapping[str, S], default: str,
        build: Callable[[S, torch.device], M],
    ) -> None:
        self.name, self.variants, self.default = name, variants, default
        self._build = build
        self._cache = ModelCache()

    def spec(self, key: str) -> S:
        """The spec named ``key``; ValueError naming the choices otherwise."""
        try:
            return self.variants[key]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown {self.name} variant {key!r}; choose one of {list(self.variants)}"
            ) from None

    def _key(self, key: str, device: torch.device) -> tuple[str, str, str]:
        self.spec(key)
        return (key, str(device), weights_mode())

    def load(
        self, key: str | None = None, device: torch.device | str | None = None,
        progress: Callable[[float, str], None] | None = None,
    ) -> M:
        """The model ``key`` (default: the family's default) on ``device``, built once.

        ``progress(fraction, message)`` hears "Loading …" (only when the model is not built yet)
        and then "Running …". Raises WeightsUnavailable (one sentence with the fix) when
        pretrained weights are neither in the model store nor downloadable.
        """
        key = self.default if key is None else key
        where = resolve_device(device)
        spec, cache_key = self.spec(key), self._key(key, where)
        if progress is not None and not self._cache.loaded(cache_key):
            progress(0.0, f"Loading {spec.title} …")
        model = self._cache.get(cache_key, lambda: self._build(spec, where))
        if progress is not None:
            progress(0.2, f"Running {spec.title} …")
        return model

    def is_loaded(self, key: str | None = None, device: torch.device | str | None = None) -> bool:
        """True when ``key``'s model is already built on ``device``."""
        key = self.default if key is None else key
        return self._cache.loaded(self._key(key, resolve_device(device)))

    def clear(self) -> None:
        """Forget every loaded model (e.g. to free GPU memory after an out-of-memory error)."""
        self._cache.clear()


def hub_cache() -> Path:
    """The Hugging Face cache folder of the store (HF_HUB_CACHE, ``models/huggingface``)."""
    configure_store()
    return Path(os.environ["HF_HUB_CACHE"])


def load_pretrained(cls: type, repo_id: str, title: str, **kwargs: object) -> object:
    """``cls.from_pretrained(repo_id)`` through the store: safetensors only, no remote code.

    The local store is tried first, with no network at all; only if the files are missing there,
    and the network is allowed (see ``offline()``), are they downloaded into the store (the
    Hub's own timeouts apply: HF_HUB_ETAG_TIMEOUT, HF_HUB_DOWNLOAD_TIMEOUT). Any failure (no
    network, missing or damaged files) raises WeightsUnavailable with the fix in one sentence.
    """
    from transformers import PreTrainedModel

    options: dict[str, object] = {"cache_dir": str(hub_cache()), **kwargs}
    if issubclass(cls, PreTrainedModel):
        options.setdefault("use_safetensors", True)
    if cls.__name__.startswith("Auto"):
        options["trust_remote_code"] = False  # concrete classes never run remote code
    try:
        return cls.from_pretrained(repo_id, local_files_only=True, **options)
    except Exception as error:  # not (completely) in the store: maybe the network has it
        local_error = error
    if offline():
        raise WeightsUnavailable(
            _missing(title, "the network is switched off (offline mode)")
        ) from local_error
    unreachable = _hub_unreachable()
    if unreachable:
        raise WeightsUnavailable(_missing(title, unreachable)) from local_error
    try:
        return cls.from_pretrained(repo_id, local_files_only=False, **options)
    except Exception as error:  # any failure to download or read means "not available"
        raise WeightsUnavailable(_missing(title, _reason(error))) from error


def fetch_pretrained(repo_id: str, title: str) -> Path:
    """Download a Hub repository's safetensors and JSON files into the store; its local folder.

    Already-complete snapshots are not downloaded again. Raises WeightsUnavailable when the
    files are neither in the store nor downloadable.
    """
    from huggingface_hub import snapshot_download

    patterns = ["*.safetensors", "*.json"]
    cache = str(hub_cache())
    unreachable = None if offline() else _hub_unreachable()
    try:
        if unreachable:  # only what the store already has
            return Path(snapshot_download(repo_id, allow_patterns=patterns, cache_dir=cache,
                                          local_files_only=True))
        return Path(snapshot_download(repo_id, allow_patterns=patterns, cache_dir=cache,
                                      local_files_only=offline()))
    except Exception as error:  # any failure to download means "not available"
        why = "the network is switched off (offline mode)" if offline() else _reason(error)
        raise WeightsUnavailable(_missing(title, unreachable or why)) from error


HUB_PROBE_TIMEOUT_S = 5.0


def _hub_unreachable() -> str | None:
    """Why the Hugging Face Hub cannot be reached, or None if its host takes a connection.

    One TCP connection with a short timeout, so that a machine without network fails at once
    instead of going through the Hub client's retries (about 25 s per file). Skipped (None) when
    a proxy is configured: then only the client itself can tell.
    """
    proxies = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
    if any(os.environ.get(name) for name in proxies):
        return None
    from huggingface_hub import constants

    endpoint = urlparse(constants.ENDPOINT)
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=HUB_PROBE_TIMEOUT_S).close()
    except OSError as error:
        return f"{host} cannot be reached ({_reason(error)})"
    return None
