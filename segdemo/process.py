"""Process-wide settings that segdemo's entry points apply to their own process.

``app.py``, ``python -m segdemo`` and ``python -m segdemo.bench`` call :func:`tune` first, before
torch is imported. Importing the ``segdemo`` library applies none of it: a host application's
process is its own. Why each setting, as measured on a 2-core CPU machine:

- ``OMP_WAIT_POLICY=PASSIVE``: OpenMP's default spin-waiting made each multi-threaded op cost
  milliseconds whenever another process was busy (a 256K-element add: 8 ms instead of 0.02 ms).
  OpenMP reads it once, when torch loads it, so it only works before ``import torch``.
- glibc malloc thresholds: blocks over the mmap threshold are fresh pages at every call, unmapped
  on free, so every frame-sized tensor paid its page faults again: a 1080p overlay took 4 or
  8–9 ms depending on the allocator's mood, and 4 ms every time with the heap keeping them. The
  cost is that up to 1 GiB of freed memory may stay with the process. glibc also reads
  ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` from the environment at start-up;
  a user who set them keeps theirs.
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune() -> None:
    """Apply the settings above to this process; the user's own settings win."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _keep_freed_memory()


def _keep_freed_memory() -> None:
    if sys.platform != "linux" or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 256 << 20)  # blocks up to 256 MiB come from the heap
        libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)  # give memory back only past 1 GiB free
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
