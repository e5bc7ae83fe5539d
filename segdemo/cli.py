"""`python -m segdemo`: segment files or folders from the command line, and fill the model store.

    python -m segdemo segment photos/ --task semantic --out results/
    python -m segdemo segment photos/ --task instance --threshold 0.7 --working-size 640
    python -m segdemo fetch                 # the default model of every tab
    python -m segdemo fetch --all           # every variant the app offers

Bad option values (``--alpha 3``, a model the task does not have, ``--threshold`` for a task
without one) are usage errors, exit code 2, before any model runs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import torch

from segdemo import images, instance, masks, panoptic, render, tasks
from segdemo.checks import fraction
from segdemo.result import Segmentation
from segdemo.weights import WeightsUnavailable

PHOTO_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}

#: The ``segment`` options passed on to the task's adapter, by adapter keyword (which is also the
#: option's ``dest``); a task whose :attr:`tasks.TaskModels.options` lacks one refuses it.
TASK_OPTIONS: dict[str, str] = {"threshold": "--threshold", "working_size": "--working-size"}

#: The working sizes each task that takes ``working_size`` offers (the tabs' choices).
WORKING_SIZES: dict[str, tuple[int, ...]] = {
    "instance": tuple(instance.WORKING_SIZES),
    "panoptic": tuple(panoptic.WORKING_SIZES),
}


def iter_photos(paths: Sequence[Path]) -> Iterator[Path]:
    """The files named, and the photos (by suffix) inside the folders named, in sorted order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES
            )
        else:
            yield path


def segment_table(seg: Segmentation) -> list[dict[str, Any]]:
    """The segment table as JSON-ready rows, with each segment's area in pixels."""
    areas = seg.areas()
    return [
        {
            "id": s.id,
            "category_id": s.category_id,
            "label": s.label,
            "score": s.score,
            "is_thing": s.is_thing,
            "box": list(s.box) if s.box else None,
            "area": areas[s.id],
        }
        for s in seg.segments
    ]


def write_outputs(
    photo: Path,
    image: torch.Tensor,
    seg: Segmentation,
    out: Path,
    *,
    alpha: float,
    cutouts: bool,
) -> list[Path]:
    """Overlay PNG, id map PNG, segment table JSON and (optionally) one RGBA cut-out a segment.

    Written as ``NAME.overlay.png``, ``NAME.ids.png``, ``NAME.segments.json`` and
    ``NAME.cutouts/ID-LABEL.png`` in ``out``, NAME being the photo's stem.
    """
    stem = out / photo.stem
    palette = render.segment_palette(seg)
    written = [
        images.save_png(masks.overlay(image, seg.ids, palette, alpha), f"{stem}.overlay.png"),
        images.save_label_png(seg.ids, f"{stem}.ids.png"),
    ]
    table = {
        "image": str(photo),
        "task": seg.task,
        "size": list(seg.size),
        "model": seg.extras.get("model"),
        "weights": seg.extras.get("weights"),
        "segments": segment_table(seg),
    }
    table_path = Path(f"{stem}.segments.json")
    table_path.write_text(json.dumps(table, indent=1))
    written.append(table_path)
    if cutouts:
        folder = out / f"{photo.stem}.cutouts"
        for s in seg.segments:
            cut = masks.cutout(image, masks.binarize(seg.ids, s.id))
            written.append(images.save_png(cut, folder / f"{s.id:03d}-{_slug(s.label)}.png"))
    return written


def task_options(args: argparse.Namespace) -> dict[str, object]:
    """The adapter keywords the ``segment`` options given ask for (those left unset are left out,
    so the adapter's defaults apply)."""
    return {name: getattr(args, name) for name in TASK_OPTIONS if getattr(args, name) is not None}


def check_segment_args(args: argparse.Namespace, usage_error: Callable[[str], NoReturn]) -> None:
    """Refuse what depends on ``--task`` (a model it does not have, an option it does not take,
    a working size it does not offer) through ``usage_error``: the ``segment`` parser's
    ``error``, which prints the usage and exits with code 2."""
    spec = tasks.TASKS[args.task]
    if args.model is not None and args.model not in spec.models:
        usage_error(
            f"argument --model: invalid choice {args.model!r} for --task {args.task} "
            f"(choose from {', '.join(spec.models)})"
        )
    taken = [flag for name, flag in TASK_OPTIONS.items() if name in spec.options]
    for name, flag in TASK_OPTIONS.items():
        if getattr(args, name) is not None and name not in spec.options:
            usage_error(
                f"argument {flag}: --task {args.task} does not take {flag}"
                + (f" (it takes {', '.join(taken)})" if taken else "")
            )
    sizes = WORKING_SIZES.get(args.task, ())
    if args.working_size is not None and args.working_size not in sizes:
        usage_error(
            f"argument --working-size: invalid choice {args.working_size} for --task "
            f"{args.task} (choose from {', '.join(map(str, sizes))})"
        )


def cmd_segment(args: argparse.Namespace) -> int:
    """``segment``: run the task's adapter on every photo and write its outputs to ``--out``.

    0 when at least one photo worked, 1 when none did, 2 (usage errors, missing weights) when
    nothing could start."""
    check_segment_args(args, args.usage_error)
    spec = tasks.TASKS[args.task]
    model = args.model or spec.default
    options = task_options(args)
    photos = list(iter_photos(args.inputs))
    if not photos:
        return _fail("no photos found in " + ", ".join(map(str, args.inputs)))
    args.out.mkdir(parents=True, exist_ok=True)
    failures = 0
    for photo in photos:
        try:
            image = images.load_image(photo)
            seg = spec.segment(image, model, **options)
        except images.InputError as error:
            failures += 1
            print(f"skipped {photo}: {error}", file=sys.stderr)
            continue
        except WeightsUnavailable as error:
            return _fail(str(error))
        written = write_outputs(
            photo, image.to(seg.device), seg, args.out, alpha=args.alpha, cutouts=args.cutouts
        )
        print(f"{photo}: {len(seg)} segments -> {written[0].parent}")
    return 1 if failures == len(photos) else 0


def cmd_fetch(args: argparse.Namespace) -> int:
    """``fetch``: bring the named models' files (default: every tab's default) into the store."""
    wanted = args.names or (
        [f"{t}/{m}" for t, o in tasks.TASKS.items() for m in o.models]
        if args.all
        else [f"{t}/{o.default}" for t, o in tasks.TASKS.items()]
    )
    for name in wanted:
        task, _, model = name.partition("/")
        spec = tasks.TASKS.get(task)
        if spec is None or model not in spec.models:
            return _fail(f"unknown model {name!r}; choose from: {', '.join(tasks.model_names())}")
        try:
            where = spec.fetch(model)
        except WeightsUnavailable as error:
            return _fail(str(error))
        print(f"{name}: {where}")
    return 0


def parser() -> argparse.ArgumentParser:
    """The ``python -m segdemo`` parser with its ``segment`` and ``fetch`` commands."""
    root = argparse.ArgumentParser(prog="python -m segdemo", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    seg = commands.add_parser(
        "segment",
        help="run a model on photos or folders and write overlays, id maps, "
        "segment tables and cut-outs",
    )
    seg.add_argument("inputs", nargs="+", type=Path, help="photo files or folders")
    seg.add_argument("--task", choices=list(tasks.TASKS), default="semantic")
    seg.add_argument(
        "--model",
        help="the task's model (default: the tab's default): "
        + "; ".join(f"{task}: {', '.join(spec.models)}" for task, spec in tasks.TASKS.items()),
    )
    seg.add_argument("--out", type=Path, default=Path("out"), help="output folder (./out)")
    seg.add_argument("--alpha", type=_fraction, default=0.5, help="overlay opacity in [0, 1] (0.5)")
    seg.add_argument(
        "--threshold",
        type=_fraction,
        help=f"score threshold in [0, 1] ({_tasks_taking('threshold')}; default: the task's)",
    )
    seg.add_argument(
        "--working-size",
        type=int,
        help="the short side the model sees ("
        + "; ".join(f"{t}: {', '.join(map(str, s))}" for t, s in WORKING_SIZES.items())
        + "; default: the task's)",
    )
    seg.add_argument(
        "--no-cutouts",
        dest="cutouts",
        action="store_false",
        help="skip the per-segment transparent PNGs",
    )
    seg.set_defaults(handler=cmd_segment, usage_error=seg.error)

    fetch = commands.add_parser("fetch", help="download weights into the model store (models/)")
    fetch.add_argument("names", nargs="*", help="task/model names, e.g. semantic/resnet50")
    fetch.add_argument("--all", action="store_true", help="every model the app offers")
    fetch.set_defaults(handler=cmd_fetch)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` names (default: ``sys.argv[1:]``); returns the exit code."""
    args = parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


def _fraction(text: str) -> float:
    """argparse ``type``: a number in [0, 1] (argparse names the option in the message)."""
    try:
        return fraction(float(text), "value")
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text!r}") from None


def _tasks_taking(option: str) -> str:
    return ", ".join(t for t, spec in tasks.TASKS.items() if option in spec.options)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_")[:40] or "segment"
