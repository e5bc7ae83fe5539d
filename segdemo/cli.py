"""`python -m segdemo`: segment files or folders from the command line, and fill the model store.

    python -m segdemo segment photos/ --task semantic --out results/
    python -m segdemo segment photos/ --task instance --threshold 0.7 --working-size 640
    python -m segdemo segment photos/ --task instance --format coco   # + out/coco_instances.json
    python -m segdemo segment photos/ --out results/ --resume         # only what is not done
    python -m segdemo segment photos/ --engine ray --address auto     # the same on Ray
    python -m segdemo evaluate photos/ --annotations trimaps/ --out scores/
    python -m segdemo fetch                 # the default model of every tab
    python -m segdemo fetch --all           # every variant the app offers

Every photo gets ``STEM.overlay.png``, ``STEM.ids.png``, ``STEM.cutouts/`` (unless
``--no-cutouts``) and, written last, ``STEM.segments.json``; STEM is the photo's stem, made
unique in the run (``x``, ``x-2``). Files appear atomically, so ``--resume`` skips exactly the
photos whose table is there. ``OUT/failures.json`` lists the photos that failed and why.
``--format`` adds the dataset-level files of the whole run, built at the end from the
per-photo files: ``voc/STEM.png`` (semantic), ``coco_instances.json`` (instance),
``coco_panoptic.json`` + ``coco_panoptic/STEM.png`` (panoptic); ``all`` means the task's own
format. The local engine (default) overlaps decoding and writing with the model; ``--engine
ray`` runs the same job on a Ray cluster (``pip install -r requirements-scale.txt``).

Exit codes: 0 every photo is complete; 1 some failed (named on stderr and in failures.json);
2 usage errors (bad option values, before any model runs), no photos, no weights, no Ray, or
no photo done; 130 interrupted (Ctrl-C; what finished is kept).

``evaluate`` pairs every photo with ``ANNOTATIONS/STEM.png`` (and ``STEM.json`` or one dataset
JSON there for COCO panoptic), scores the model's prediction against it (see
:mod:`segdemo.evaluate_run`), prints the per-class table and writes ``OUT/metrics.json``. Exit
codes: 0 every pair scored; 1 some skipped (named on stderr and in metrics.json); 2 usage
errors (before any model runs), no weights, or no pair scored.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from segdemo import evaluate_run, exports, instance, panoptic, tasks
from segdemo.batch import dataset, local
from segdemo.batch import ray as ray_engine
from segdemo.batch.job import Job
from segdemo.batch.photos import iter_photos, plan_photos
from segdemo.batch.runner import Engine, run_batch
from segdemo.checks import fraction
from segdemo.device import choose_device
from segdemo.precision import DEFAULT_PRECISION, PRECISIONS, resolve_precision
from segdemo.weights import WeightsUnavailable

#: The ``segment`` options passed on to the task's adapter, by adapter keyword (which is also the
#: option's ``dest``); a task whose :attr:`tasks.TaskModels.options` lacks one refuses it.
TASK_OPTIONS: dict[str, str] = {
    "threshold": "--threshold",
    "working_size": "--working-size",
    "precision": "--precision",
}

#: The working sizes each task that takes ``working_size`` offers (the tabs' choices).
WORKING_SIZES: dict[str, tuple[int, ...]] = {
    "instance": tuple(instance.WORKING_SIZES),
    "panoptic": tuple(panoptic.WORKING_SIZES),
}

#: Options only the Ray engine takes, by ``dest``.
RAY_OPTIONS: dict[str, str] = {
    "address": "--address",
    "concurrency": "--concurrency",
    "batch_size": "--batch-size",
}


def task_options(args: argparse.Namespace) -> dict[str, object]:
    """The adapter keywords the ``segment`` options given ask for (those left unset are left out,
    so the adapter's defaults apply)."""
    return {name: getattr(args, name) for name in TASK_OPTIONS if getattr(args, name) is not None}


def check_model(args: argparse.Namespace, usage_error: Callable[[str], NoReturn]) -> None:
    """Refuse a ``--model`` that ``--task`` does not have through ``usage_error``."""
    spec = tasks.TASKS[args.task]
    if args.model is not None and args.model not in spec.models:
        usage_error(
            f"argument --model: invalid choice {args.model!r} for --task {args.task} "
            f"(choose from {', '.join(spec.models)})"
        )


def check_segment_args(args: argparse.Namespace, usage_error: Callable[[str], NoReturn]) -> None:
    """Refuse what depends on ``--task`` (a model it does not have, an option it does not take,
    a working size it does not offer, a format that does not hold its results) or on
    ``--engine`` (the Ray engine's options with the local engine) through
    ``usage_error``: the ``segment`` parser's ``error``, which prints the usage and exits with
    code 2."""
    spec = tasks.TASKS[args.task]
    check_model(args, usage_error)
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
    if args.precision is not None:
        try:
            resolve_precision(args.precision, choose_device())
        except ValueError as error:
            usage_error(f"argument --precision: {error}")
    try:
        dataset.dataset_format(args.format, args.task)
    except ValueError as error:
        usage_error(f"argument --format: {error}")
    if args.engine != "ray":
        for name, flag in RAY_OPTIONS.items():
            if getattr(args, name) is not None:
                usage_error(f"argument {flag}: only --engine ray takes {flag}")


def cmd_segment(args: argparse.Namespace) -> int:
    """``segment``: run the task's adapter on every photo (with ``--resume``, every photo not
    complete yet) with the engine asked for, write ``OUT/failures.json`` and, with
    ``--format``, the dataset-level files of every complete photo; returns the exit code (see
    the module docstring)."""
    check_segment_args(args, args.usage_error)
    spec = tasks.TASKS[args.task]
    engine: Engine = local.run
    if args.engine == "ray":
        try:
            ray_engine.require_ray()
        except ray_engine.RayUnavailable as error:
            return _fail(str(error))
        given = {name: getattr(args, name) for name in RAY_OPTIONS}
        engine = functools.partial(
            ray_engine.run, **{name: value for name, value in given.items() if value is not None}
        )
    photos = plan_photos(args.inputs)
    if not photos:
        return _fail("no photos found in " + ", ".join(map(str, args.inputs)))
    args.out.mkdir(parents=True, exist_ok=True)
    job = Job(
        args.task,
        args.model or spec.default,
        args.out,
        task_options(args),
        alpha=args.alpha,
        cutouts=args.cutouts,
    )
    try:
        summary = run_batch(job, photos, engine, resume=args.resume)
    except WeightsUnavailable as error:
        return _fail(str(error))
    print(summary.line(args.out))
    if summary.interrupted:
        return 130
    if not summary.complete:
        return _fail("no photo could be segmented")
    format_name = dataset.dataset_format(args.format, args.task)
    try:
        written = dataset.write_dataset(job, format_name, photos)
    except exports.ExportError as error:
        print(f"error: cannot write --format {format_name}: {error}", file=sys.stderr)
        return 1
    if written:
        print(f"--format {format_name}: {len(written)} files written in {args.out}")
    return 1 if summary.failures else 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``evaluate``: score the task's model on every photo against its annotation, print the
    table and write ``OUT/metrics.json``; returns the exit code (see the module docstring)."""
    check_model(args, args.usage_error)
    if not args.annotations.is_dir():
        args.usage_error(f"argument --annotations: {args.annotations} is not a folder")
    photos = list(iter_photos(args.inputs))
    if not photos:
        return _fail("no photos found in " + ", ".join(map(str, args.inputs)))
    pairs = evaluate_run.pair_photos(photos, args.annotations)
    try:
        scoring = evaluate_run.choose_scoring(args.mapping, args.classes, pairs)
    except evaluate_run.UsageError as error:
        args.usage_error(f"argument --mapping: {error}")
    spec = tasks.TASKS[args.task]
    model = args.model or spec.default
    try:
        report = evaluate_run.evaluate_pairs(
            pairs, scoring, lambda image: spec.segment(image, model)
        )
    except WeightsUnavailable as error:
        return _fail(str(error))
    args.out.mkdir(parents=True, exist_ok=True)
    written = report.write(args.out)
    print(evaluate_run.format_table(report.evaluation()))
    print(f"{len(report.images)} of {len(pairs)} photos scored ({scoring.kind}); see {written}")
    if not report.images:
        return _fail("no photo could be evaluated")
    return 1 if report.failures else 0


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
    """The ``python -m segdemo`` parser with its ``segment``, ``evaluate`` and ``fetch``
    commands."""
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
        "--precision",
        choices=PRECISIONS,
        help="what the model's forward runs in: fp32 (exact), bf16 (autocast; needs a CPU with "
        "avx512_bf16 or AMX, or a GPU) or auto (bf16 where native, else fp32); default: "
        f"{DEFAULT_PRECISION}",
    )
    seg.add_argument(
        "--format",
        choices=[*dataset.FORMATS, "all"],
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
    seg.add_argument(
        "--resume",
        action="store_true",
        help="skip the photos whose outputs in --out are complete (an earlier run's)",
    )
    seg.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: this machine, decoding and writing overlap the model (default); ray: the "
        "same job with Ray Data, on a cluster or a local Ray instance (needs "
        "requirements-scale.txt)",
    )
    seg.add_argument(
        "--address",
        help="--engine ray: the Ray cluster to join (default: RAY_ADDRESS, else a local "
        "instance started for the run)",
    )
    seg.add_argument(
        "--concurrency",
        type=_positive_int,
        help="--engine ray: model actors (default: one per GPU of the cluster, else per CPU)",
    )
    seg.add_argument(
        "--batch-size",
        type=_positive_int,
        help=f"--engine ray: photos an actor takes at a time ({ray_engine.BATCH_SIZE})",
    )
    seg.set_defaults(handler=cmd_segment, usage_error=seg.error)

    ev = commands.add_parser(
        "evaluate", help="score a model against ground-truth annotations (mIoU, Dice, PQ)"
    )
    ev.add_argument("inputs", nargs="+", type=Path, help="photo files or folders")
    ev.add_argument(
        "--annotations",
        type=Path,
        required=True,
        help="folder of STEM.png annotations (and STEM.json or one dataset JSON for COCO panoptic)",
    )
    ev.add_argument("--task", choices=list(tasks.TASKS), default="semantic")
    ev.add_argument("--model", help="the task's model (default: the tab's default)")
    ev.add_argument(
        "--mapping",
        help="how annotation values relate to the model's classes: voc, trimap, panoptic, or "
        'FILE.json with a table {"1": ["cat", "dog"], ...} (default: from the annotations)',
    )
    ev.add_argument(
        "--classes",
        type=_names,
        help="trimap: the predicted classes that count as the pet (cat,dog)",
    )
    ev.add_argument("--out", type=Path, default=Path("out"), help="output folder (./out)")
    ev.set_defaults(handler=cmd_evaluate, usage_error=ev.error)

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


def _positive_int(text: str) -> int:
    """argparse ``type``: a whole number ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def _names(text: str) -> tuple[str, ...]:
    """argparse ``type``: comma-separated class names, at least one."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"must name at least one class, got {text!r}")
    return names


def _tasks_taking(option: str) -> str:
    return ", ".join(t for t, spec in tasks.TASKS.items() if option in spec.options)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2
