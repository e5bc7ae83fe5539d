"""Where the models and the mask operations run: the device choice and a device-aware clock."""

from __future__ import annotations

import os
import time

import torch


def choose_device() -> torch.device:
    """SEGDEMO_DEVICE if set, else cuda → mps → cpu.

    Raises ValueError when SEGDEMO_DEVICE names a CUDA device and there is none.
    """
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


def clock(device: torch.device) -> float:
    """time.perf_counter() once ``device`` has finished its queued work (for stage timings)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()
