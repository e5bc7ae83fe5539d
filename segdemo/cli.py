"""`python -m segdemo`: segment files or folders from the command line, and fill the model store.

    python -m segdemo segment photos/ --task semantic --out results/
    python -m segdemo segment photos/ --task instance --threshold 0.7 --working-size 640
    python -m segdemo segment photos/ --task instance --format coco   # + out/coco_instances.json
    python -m segdemo fetch                 # the default model of every tab
    python -m segdemo fetch --all           # every variant the app offers

Every photo gets ``STEM.overlay.png``, ``STEM.ids.png``, ``STEM.segments.json`` and (unless
``--no-cutouts``) ``STEM.cutouts/``; STEM is the photo's stem, made unique in the run (``x``,
``x-2``). ``--format`` adds the dataset-level files of the whole run: ``voc/STEM.png``
(semantic), ``coco_instances.json`` (instance), ``coco_panoptic.json`` + ``coco_panoptic/STEM.png``
(panoptic); ``all`` means the task's own format.

Bad option values (``--alpha 3``, a model the task does not have, ``--threshold`` for a task
without one, a ``--format`` that does not fit the task) are usage errors, exit code 2, before
any model runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import torch

from segdemo import exports, images, instance, masks, panoptic, render, tasks
from segdemo.checks import fraction
from segdemo.exports import PhotoEntry
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

#: The dataset-level formats ``--format`` offers, by name: the task each one holds. ``all`` (the
#: other choice) means the task's own standard format, :data:`STANDARD_FORMATS`.
FORMATS: dict[str, str] = {"voc": "semantic", "coco": "instance", "coco-panoptic": "panoptic"}
STANDARD_FORMATS: dict[str, str] = {task: name for name, task in FORMATS.items()}

#: Where the dataset-level files go, inside ``--out``.
VOC_FOLDER = "voc"
COCO_INSTANCES_JSON = "coco_instances.json"
COCO_PANOPTIC_JSON = "coco_panoptic.json"
COCO_PANOPTIC_FOLDER = "coco_panoptic"


@dataclass(frozen=True)
class Photo:
    """One photo of a run and the names it goes by.

    ``image_id``: its 1-based position in the run's sorted photo list (:func:`iter_photos`
    order), so the same inputs give the same ids, failed photos included; ``file_name``: its
    path relative to the input folder it came from (its name for a file argument), POSIX
    separators; ``stem``: the name of its output files, unique in the run.
    """

    path: Path
    image_id: int
    file_name: str
    stem: str


def iter_photos(paths: Sequence[Path]) -> Iterator[Path]:
    """The files named, and the photos (by suffix) inside the folders named, in sorted order."""
    for path, _ in _walk(paths):
        yield path


def plan_photos(paths: Sequence[Path]) -> list[Photo]:
    """The run's photos in :func:`iter_photos` order, each with its image id, file name and an
    output stem no other photo of the run has (``x``, then ``x-2``, ``x-3``, …; compared
    case-insensitively, so case-insensitive file systems don't merge them either)."""
    taken: set[str] = set()
    photos = []
    for image_id, (path, file_name) in enumerate(_walk(paths), start=1):
        stem, n = path.stem, 2
        while stem.casefold() in taken:
            stem, n = f"{path.stem}-{n}", n + 1
        taken.add(stem.casefold())
        photos.append(Photo(path, image_id, file_name, stem))
    return photos


def _walk(paths: Sequence[Path]) -> Iterator[tuple[Path, str]]:
    """(photo, its name relative to the folder named, or its own name for a file named)."""
    for path in paths:
        if path.is_dir():
            found = (
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES
            )
            for p in sorted(found):
                yield p, p.relative_to(path).as_posix()
        else:
            yield path, path.name


def write_outputs(
    photo: Photo,
    image: torch.Tensor,
    seg: Segmentation,
    out: Path,
    *,
    alpha: float,
    cutouts: bool,
) -> list[Path]:
    """Overlay PNG, id map PNG, segment table JSON and (optionally) one RGBA cut-out a segment.

    Written as ``STEM.overlay.png``, ``STEM.ids.png``, ``STEM.segments.json`` and
    ``STEM.cutouts/ID-LABEL.png`` in ``out``, STEM being the photo's unique stem; each file
    appears atomically.
    """
    stem = out / photo.stem
    palette = render.segment_palette(seg)
    written = [
        images.save_png(masks.overlay(image, seg.ids, palette, alpha), f"{stem}.overlay.png"),
        images.save_label_png(seg.ids, f"{stem}.ids.png"),
    ]
    table = {
        "image": str(photo.path),
        "task": seg.task,
        "size": list(seg.size),
        "model": seg.extras.get("model"),
        "weights": seg.extras.get("weights"),
        "segments": exports.segment_table(seg),
    }
    written.append(_write_json(Path(f"{stem}.segments.json"), table, indent=1))
    if cutouts:
        folder = out / f"{photo.stem}.cutouts"
        for s in seg.segments:
            cut = masks.cutout(image, masks.binarize(seg.ids, s.id))
            written.append(images.save_png(cut, folder / f"{s.id:03d}-{exports.slug(s.label)}.png"))
    return written


class DatasetWriter:
    """The dataset-level files of one run in ``format_name`` (a key of :data:`FORMATS`, or None for
    none): :meth:`add` each photo that worked, then :meth:`finish`.

    VOC PNGs are one per photo and written by :meth:`add`. The COCO files describe the whole run,
    so :meth:`add` keeps each result (its id map moved to the CPU) and :meth:`finish` writes them,
    PNGs before the JSON that names them. That is fine for the runs a CLI sees (a 12-megapixel id
    map is 48 MB); huge runs would need a streaming writer that encodes each photo as it comes
    and keeps only its COCO rows (the batch engine's issue).
    """

    def __init__(self, out: Path, format_name: str | None) -> None:
        self.out = out
        self.format = format_name
        self.entries: list[tuple[Photo, Segmentation]] = []

    def add(self, photo: Photo, seg: Segmentation) -> list[Path]:
        """Write what ``photo``'s result makes on its own and keep what :meth:`finish` needs."""
        if self.format == "voc":
            path = self.out / VOC_FOLDER / f"{photo.stem}.png"
            return [images.write_atomically(path, exports.png_bytes(exports.voc_png(seg)))]
        if self.format in ("coco", "coco-panoptic"):
            self.entries.append((photo, seg.to("cpu")))
        return []

    def finish(self) -> list[Path]:
        """Write the files that gather every photo added (nothing when none was)."""
        if not self.entries:
            return []
        entries = [PhotoEntry(p.image_id, p.file_name, seg) for p, seg in self.entries]
        if self.format == "coco":
            data = exports.coco_instances(entries)
            return [_write_json(self.out / COCO_INSTANCES_JSON, data)]
        png_names = [f"{p.stem}.png" for p, _ in self.entries]
        data, pngs = exports.coco_panoptic(entries, png_names)
        folder = self.out / COCO_PANOPTIC_FOLDER
        written = [
            images.write_atomically(folder / name, exports.png_bytes(png))
            for name, png in zip(png_names, pngs, strict=True)
        ]
        written.append(_write_json(self.out / COCO_PANOPTIC_JSON, data))
        return written


def dataset_format(requested: str | None, task: str) -> str | None:
    """The dataset-level format ``--format requested`` means for ``task`` (``all``: the task's
    own), or None for none; ValueError naming both when the format does not hold ``task``'s
    results."""
    if requested is None:
        return None
    if requested == "all":
        return STANDARD_FORMATS.get(task)
    if FORMATS[requested] != task:
        fits = [name for name, holds in FORMATS.items() if holds == task] + ["all"]
        raise ValueError(
            f"invalid choice {requested!r} for --task {task}: {requested} holds "
            f"{FORMATS[requested]} results (choose from {', '.join(fits)})"
        )
    return requested


def task_options(args: argparse.Namespace) -> dict[str, object]:
    """The adapter keywords the ``segment`` options given ask for (those left unset are left out,
    so the adapter's defaults apply)."""
    return {name: getattr(args, name) for name in TASK_OPTIONS if getattr(args, name) is not None}


def check_segment_args(args: argparse.Namespace, usage_error: Callable[[str], NoReturn]) -> None:
    """Refuse what depends on ``--task`` (a model it does not have, an option it does not take,
    a working size it does not offer, a format that does not hold its results) through
    ``usage_error``: the ``segment`` parser's ``error``, which prints the usage and exits with
    code 2."""
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
    try:
        dataset_format(args.format, args.task)
    except ValueError as error:
        usage_error(f"argument --format: {error}")


def cmd_segment(args: argparse.Namespace) -> int:
    """``segment``: run the task's adapter on every photo and write its outputs to ``--out``.

    0 when at least one photo worked, 1 when none did (or the dataset-level files could not be
    written), 2 (usage errors, missing weights) when nothing could start."""
    check_segment_args(args, args.usage_error)
    spec = tasks.TASKS[args.task]
    model = args.model or spec.default
    options = task_options(args)
    photos = plan_photos(args.inputs)
    if not photos:
        return _fail("no photos found in " + ", ".join(map(str, args.inputs)))
    args.out.mkdir(parents=True, exist_ok=True)
    dataset = DatasetWriter(args.out, dataset_format(args.format, args.task))
    failures = 0
    try:
        for photo in photos:
            try:
                image = images.load_image(photo.path)
                seg = spec.segment(image, model, **options)
            except images.InputError as error:
                failures += 1  # skipped: in no dataset-level file, its image id stays unused
                print(f"skipped {photo.path}: {error}", file=sys.stderr)
                continue
            except WeightsUnavailable as error:
                return _fail(str(error))
            written = write_outputs(
                photo, image.to(seg.device), seg, args.out, alpha=args.alpha, cutouts=args.cutouts
            )
            dataset.add(photo, seg)
            print(f"{photo.path}: {len(seg)} segments -> {written[0].parent}/{photo.stem}.*")
        for path in dataset.finish():
            print(f"wrote {path}")
    except exports.ExportError as error:
        print(f"error: cannot write --format {dataset.format}: {error}", file=sys.stderr)
        return 1
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
        "--format",
        choices=[*FORMATS, "all"],
        help="also write the run's photos as a dataset: voc (semantic: voc/STEM.png), coco "
        "(instance: coco_instances.json), coco-panoptic (panoptic: coco_panoptic.json and "
        "coco_panoptic/STEM.png), all (the task's own one of these); default: none",
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


def _write_json(path: Path, data: object, *, indent: int | None = None) -> Path:
    """``data`` as a JSON file that appears atomically (``images.write_atomically``)."""
    return images.write_atomically(path, json.dumps(data, indent=indent).encode())
