"""`python -m segdemo`: segment files or folders from the command line, and fill the model store.

    python -m segdemo segment photos/ --task semantic --out results/
    python -m segdemo fetch                 # the default model of every tab
    python -m segdemo fetch --all           # every variant the app offers
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from segdemo import images, masks, render, tasks
from segdemo.result import Segmentation
from segdemo.weights import WeightsUnavailable

PHOTO_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


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
            "id": s.id, "category_id": s.category_id, "label": s.label, "score": s.score,
            "is_thing": s.is_thing, "box": list(s.box) if s.box else None, "area": areas[s.id],
        }
        for s in seg.segments
    ]


def write_outputs(
    photo: Path, image: torch.Tensor, seg: Segmentation, out: Path, *, alpha: float,
    cutouts: bool,
) -> list[Path]:
    """Overlay PNG, id map PNG, segment table JSON and (optionally) one RGBA cut-out a segment."""
    stem = out / photo.stem
    palette = render.segment_palette(seg)
    written = [
        images.save_png(masks.overlay(image, seg.ids, palette, alpha), f"{stem}.overlay.png"),
        images.save_label_png(seg.ids, f"{stem}.ids.png"),
    ]
    table = {
        "image": str(photo), "task": seg.task, "size": list(seg.size),
        "model": seg.extras.get("model"), "weights": seg.extras.get("weights"),
        "segments": segment_table(seg),
    }
    table_path = Path(f"{stem}.segments.json")
    table_path.write_text(json.dumps(table, indent=1))
    written.append(table_path)
    if cutouts:
        for s in seg.segments:
            name = f"{s.id:03d}-{_slug(s.label)}.png"
            mask = masks.binarize(seg.ids, s.id)
            written.append(images.save_png(masks.cutout(image, mask), stem.parent /
                                           f"{photo.stem}.cutouts" / name))
    return written


def cmd_segment(args: argparse.Namespace) -> int:
    options = tasks.TASKS[args.task]
    model = args.model or options.default
    if model not in options.models:
        return _fail(f"unknown {args.task} model {model!r}; choose one of {list(options.models)}")
    photos = list(iter_photos(args.inputs))
    if not photos:
        return _fail("no photos found in " + ", ".join(map(str, args.inputs)))
    args.out.mkdir(parents=True, exist_ok=True)
    failures = 0
    for photo in photos:
        try:
            image = images.load_image(photo)
            extra = {"threshold": args.threshold} if "threshold" in options.options else {}
            seg = options.segment(image, model, **extra)
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
    wanted = args.names or (
        [f"{t}/{m}" for t, o in tasks.TASKS.items() for m in o.models]
        if args.all
        else [f"{t}/{o.default}" for t, o in tasks.TASKS.items()]
    )
    for name in wanted:
        task, _, model = name.partition("/")
        options = tasks.TASKS.get(task)
        if options is None or model not in options.models:
            return _fail(f"unknown model {name!r}; choose from: {', '.join(tasks.model_names())}")
        try:
            where = options.fetch(model)
        except WeightsUnavailable as error:
            return _fail(str(error))
        print(f"{name}: {where}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m segdemo", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    seg = commands.add_parser(
        "segment", help="run a model on photos or folders and write overlays, id maps, "
        "segment tables and cut-outs",
    )
    seg.add_argument("inputs", nargs="+", type=Path, help="photo files or folders")
    seg.add_argument("--task", choices=list(tasks.TASKS), default="semantic")
    seg.add_argument("--model", help="the task's model (default: the tab's default)")
    seg.add_argument("--out", type=Path, default=Path("out"), help="output folder (./out)")
    seg.add_argument("--alpha", type=float, default=0.5, help="overlay opacity (0.5)")
    seg.add_argument("--threshold", type=float, default=0.5, help="instance score threshold")
    seg.add_argument("--no-cutouts", dest="cutouts", action="store_false",
                     help="skip the per-segment transparent PNGs")
    seg.set_defaults(handler=cmd_segment)

    fetch = commands.add_parser("fetch", help="download weights into the model store (models/)")
    fetch.add_argument("names", nargs="*", help="task/model names, e.g. semantic/resnet50")
    fetch.add_argument("--all", action="store_true", help="every model the app offers")
    fetch.set_defaults(handler=cmd_fetch)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_")[:40] or "segment"
