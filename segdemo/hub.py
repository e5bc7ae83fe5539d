"""Hugging Face Hub models through the local store: safetensors only, no remote code."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from segdemo.weights import (
    OFFLINE_REASON,
    WeightsUnavailable,
    hub_cache,
    missing_message,
    offline,
    reason,
)

HUB_PROBE_TIMEOUT_S = 5.0


def load_pretrained(cls: type, repo_id: str, title: str, **kwargs: object) -> Any:
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
        raise WeightsUnavailable(missing_message(title, OFFLINE_REASON)) from local_error
    unreachable = hub_unreachable()
    if unreachable:
        raise WeightsUnavailable(missing_message(title, unreachable)) from local_error
    try:
        return cls.from_pretrained(repo_id, local_files_only=False, **options)
    except Exception as error:  # any failure to download or read means "not available"
        raise WeightsUnavailable(missing_message(title, reason(error))) from error


def fetch_pretrained(repo_id: str, title: str) -> Path:
    """Download a Hub repository's safetensors and JSON files into the store; its local folder.

    Already-complete snapshots are not downloaded again. Raises WeightsUnavailable when the
    files are neither in the store nor downloadable.
    """
    from huggingface_hub import snapshot_download

    unreachable = None if offline() else hub_unreachable()
    local_only = offline() or unreachable is not None  # then only what the store already has
    try:
        return Path(
            snapshot_download(
                repo_id,
                allow_patterns=["*.safetensors", "*.json"],
                cache_dir=str(hub_cache()),
                local_files_only=local_only,
            )
        )
    except Exception as error:  # any failure to download means "not available"
        why = OFFLINE_REASON if offline() else unreachable or reason(error)
        raise WeightsUnavailable(missing_message(title, why)) from error


def hub_unreachable() -> str | None:
    """Why the Hugging Face Hub cannot be reached, or None if its host takes a connection.

    One TCP connection with a short timeout of its own, so that a machine without network fails
    at once instead of going through the Hub client's retries. Skipped (None) when a proxy is
    configured: then only the client itself can tell.
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
        return f"{host} cannot be reached ({reason(error)})"
    return None
