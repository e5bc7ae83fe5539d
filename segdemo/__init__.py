"""segdemo: semantic, instance and panoptic segmentation, shown and taken away."""

import ctypes
import os
import sys

# Before torch is first imported (every entry point imports this package first): OpenMP's
# default spin-waiting makes each multi-threaded op cost ~8 ms whenever another process is busy
# on this kind of small machine (a 256K-element add: 8 ms vs 0.02 ms). Users can override it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _keep_freed_memory() -> None:
    """Keep large freed blocks in the heap instead of giving them back to the OS at once.

    glibc serves blocks over its mmap threshold with fresh pages and unmaps them on free, so
    every frame-sized tensor pays its page faults again: a 1080p overlay took 8–9 ms or 4 ms
    depending on the allocator's mood, and 4 ms every time with this. The cost is that up to
    1 GiB of freed memory may stay with the process. Skipped where the user tuned malloc.
    """
    if sys.platform != "linux" or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 256 << 20)  # M_MMAP_THRESHOLD: blocks up to 256 MiB from the heap
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: trim only past 1 GiB free at the top
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return


_keep_freed_memory()
