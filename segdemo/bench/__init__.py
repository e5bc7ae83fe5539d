"""A tiny benchmark framework: ``python -m segdemo.bench`` prints one JSON object per line.

Every line has ``name`` and ``median_ms``; a line that compares against something else also has
``baseline`` (what it was compared with), ``baseline_median_ms`` and ``speedup``
(baseline / ours), both measured in the same run, on the same machine and device. Suites are
modules of this package exposing ``run(args)`` (see ``__main__.SUITES``); they time with
:func:`median_ms` and print with :func:`report`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["median_ms", "repeats", "report", "sample_ms", "wants"]


def median_ms(
    fn: Callable[[], object],
    *,
    repeat: int,
    warmup: int,
    device: torch.device | str | None = None,
) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``repeat`` calls, after ``warmup`` calls.

    Timed with :func:`time.perf_counter`; on a CUDA ``device`` the GPU is synchronised before the
    clock starts and before it stops, so queued kernels are counted.
    """
    return statistics.median(sample_ms(fn, repeat=repeat, warmup=warmup, device=device))


def sample_ms(
    fn: Callable[[], object],
    *,
    repeat: int,
    warmup: int,
    device: torch.device | str | None = None,
) -> list[float]:
    """The ``repeat`` wall times (ms) behind :func:`median_ms`, in call order."""
    if repeat < 1 or warmup < 0:
        raise ValueError(f"need repeat >= 1 and warmup >= 0, got {repeat} and {warmup}")
    cuda = device is not None and torch.device(device).type == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def report(
    name: str,
    ms: float,
    *,
    baseline: str | None = None,
    baseline_ms: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Print one JSON line for benchmark ``name`` (median ``ms``) and return it as a dict.

    With ``baseline`` and ``baseline_ms`` the line also carries ``baseline``,
    ``baseline_median_ms`` and ``speedup`` = baseline_ms / ms. ``extra`` fields (JSON-able) are
    added as they are.
    """
    if (baseline is None) != (baseline_ms is None):
        raise ValueError("baseline and baseline_ms go together")
    line: dict[str, Any] = {"name": name, "median_ms": round(ms, 3)}
    if baseline is not None and baseline_ms is not None:
        line["baseline"] = baseline
        line["baseline_median_ms"] = round(baseline_ms, 3)
        line["speedup"] = round(baseline_ms / ms, 2) if ms > 0 else None
    line.update(extra)
    print(json.dumps(line), flush=True, file=sys.stdout)
    return line


def wants(args: argparse.Namespace, name: str) -> bool:
    """Whether ``--only`` lets benchmark ``name`` run (decide before building its inputs)."""
    return not args.only or any(part in name for part in args.only)


def repeats(args: argparse.Namespace, *, slow: bool = False) -> dict[str, int]:
    """``repeat``/``warmup`` keyword arguments for :func:`median_ms` under ``--quick``/``--repeat``.

    ``slow`` is for baselines that take a large fraction of a second per call: fewer repeats.
    """
    if args.quick:
        return {"repeat": 3 if not slow else 1, "warmup": 1 if not slow else 0}
    repeat = args.repeat if args.repeat else 31
    return {"repeat": max(3, repeat // 4) if slow else repeat, "warmup": 1 if slow else 3}
