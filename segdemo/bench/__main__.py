"""``python -m segdemo.bench``: run every benchmark suite, one JSON object per line on stdout.

Options: ``--only SUBSTRING`` (repeatable) keeps the benchmarks whose name contains it,
``--quick`` takes few repeats (a smoke test, not a measurement), ``--device`` picks where to run
(default: cuda if there is one, else cpu), ``--threads`` sets torch's CPU thread count, and
``--size HxW`` replaces the standard frame sizes (1080p, 4K) by one size, for tests.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from segdemo import process

#: Suite modules of this package, run in this order; each exposes ``run(args)``.
SUITES: list[str] = [
    "masks",
    "instance",
    "semantic",
    "panoptic",
    "exports",
    "batch",
    "precision",
    "app",
    "live",
]


def _size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be HxW (1080x1920), got {text!r}") from None
    if height < 1 or width < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return height, width


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    import torch

    parser = argparse.ArgumentParser(prog="python -m segdemo.bench", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="SUBSTRING",
        help="run only benchmarks whose name contains SUBSTRING (repeatable: any of them)",
    )
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke test")
    parser.add_argument("--repeat", type=int, default=0, help="timed calls per benchmark")
    parser.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="torch device to run on (default: cuda if available, else cpu)",
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (default: torch's own)"
    )
    parser.add_argument(
        "--size",
        type=_size,
        default=None,
        metavar="HxW",
        help="one frame size instead of the standard ones (for tests)",
    )
    parser.add_argument(
        "--suite",
        action="append",
        default=[],
        choices=SUITES,
        help="run only this suite (repeatable; default: all)",
    )
    args = parser.parse_args(argv)
    args.device = torch.device(args.device)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suites; SEGDEMO_WEIGHTS defaults to random (no network needed: the weights'
    values do not change the work a model does)."""
    import torch

    os.environ.setdefault("SEGDEMO_WEIGHTS", "random")
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in args.suite or SUITES:
        importlib.import_module(f"segdemo.bench.{name}").run(args)
    return 0


if __name__ == "__main__":
    process.tune()  # this module's imports leave torch unloaded until here
    sys.exit(main())
