"""Timing and reporting for the benchmark suites: one JSON object per line on stdout.

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
import timeit
from collections.abc import Callable
from typing import Any

import torch

__all__ = [
    "FRAME_SIZES",
    "frame_sizes",
    "median_ms",
    "photo_like",
    "repeats",
    "report",
    "sample_ms",
    "synchronized_clock",
    "wants",
]

FRAME_SIZES: dict[str, tuple[int, int]] = {"1080p": (1080, 1920), "4k": (2160, 3840)}


def frame_sizes(
    args: argparse.Namespace, names: tuple[str, ...] = tuple(FRAME_SIZES)
) -> dict[str, tuple[int, int]]:
    """label → (H, W) to run: ``names`` of :data:`FRAME_SIZES`, or the one ``--size HxW``."""
    if args.size:
        return {f"{args.size[0]}x{args.size[1]}": tuple(args.size)}
    return {name: FRAME_SIZES[name] for name in names}


def photo_like(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A uint8 [3,H,W] frame with smooth regions, a disc, a box and sensor-like noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.linspace(0, 1, height).view(-1, 1)
    x = torch.linspace(0, 1, width).view(1, -1)
    disc = (((y - 0.55) ** 2 + ((x - 0.4) * width / height) ** 2) < 0.09).float()
    box = ((y > 0.2) & (y < 0.5) & (x > 0.65) & (x < 0.85)).float()
    red = 180 * (1 - y) + 40 * x + 60 * disc
    image = torch.stack([red, 120 * y + 90 * box + 30 * disc, 200 * (1 - y) + 80 * box])
    image += 8 * torch.randn(3, height, width, generator=g)
    return image.clamp(0, 255).to(torch.uint8)


def median_ms(
    fn: Callable[[], object],
    *,
    repeat: int,
    warmup: int,
    device: torch.device | str | None = None,
) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``repeat`` calls, after ``warmup`` calls.

    Each call is timed on its own by :func:`sample_ms`: on an accelerator ``device`` (CUDA, MPS)
    the device is synchronised before the clock starts and before it stops, so queued kernels
    are counted.
    """
    return statistics.median(sample_ms(fn, repeat=repeat, warmup=warmup, device=device))


def sample_ms(
    fn: Callable[[], object],
    *,
    repeat: int,
    warmup: int,
    device: torch.device | str | None = None,
) -> list[float]:
    """The ``repeat`` wall times (ms) behind :func:`median_ms`, in call order.

    ``fn`` runs exactly ``warmup + repeat`` times. Each timed call is one :class:`timeit.Timer`
    run (the timer :class:`torch.utils.benchmark.Timer` is built on: garbage collection off
    while it runs) with :func:`synchronized_clock`. ``torch.utils.benchmark.Timer.timeit`` itself
    would add two untimed calls to every measurement, so it is not used; torch's thread count is
    left as it is.
    """
    if repeat < 1 or warmup < 0:
        raise ValueError(f"need repeat >= 1 and warmup >= 0, got {repeat} and {warmup}")
    for _ in range(warmup):
        fn()
    timer = timeit.Timer(fn, timer=synchronized_clock(device))
    return [timer.timeit(1) * 1e3 for _ in range(repeat)]


def synchronized_clock(device: torch.device | str | None = None) -> Callable[[], float]:
    """:func:`timeit.default_timer`, which on an accelerator ``device`` first waits for the work
    queued there (like :func:`torch.utils.benchmark.timer`, but for ``device`` only)."""
    if device is None or torch.device(device).type == "cpu":
        return timeit.default_timer

    def clock() -> float:
        torch.accelerator.synchronize(device)
        return timeit.default_timer()

    return clock


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
