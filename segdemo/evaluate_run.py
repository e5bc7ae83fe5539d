"""Score a model against a folder of ground-truth annotations, photo by photo (``python -m
segdemo evaluate``; the options live in :mod:`segdemo.cli`).

Each photo is paired with ``DIR/STEM.png`` (for COCO panoptic annotations also ``DIR/STEM.json``,
or a dataset JSON in DIR listing ``STEM.png``). A :class:`Scoring` says how annotation values
relate to the model's classes; :func:`choose_scoring` picks it from ``--mapping`` or from the
annotations. :func:`evaluate_pairs` runs the model on every pair and adds up the photos'
:class:`~segdemo.evaluate.Confusion` (and :class:`~segdemo.evaluate.PanopticCounts`): the
dataset figures come from the summed counts, never from means of per-photo scores. A bad pair
is named on stderr and listed in the :class:`Report` with its reason; the others go on.
"""

from __future__ import annotations

import functools
import glob
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from segdemo import images
from segdemo.batch.job import failure_reason
from segdemo.batch.photos import PHOTO_SUFFIXES
from segdemo.evaluate import (
    PET_CLASSES,
    ClassMapping,
    Confusion,
    Evaluation,
    LabelMapping,
    PanopticCounts,
    SemanticScores,
    TrimapMapping,
    VocMapping,
    panoptic_class_maps,
    panoptic_counts,
)
from segdemo.groundtruth import annotation_kind
from segdemo.result import Segmentation
from segdemo.weights import WeightsUnavailable

#: The file of a run's scores in OUT.
METRICS_JSON = "metrics.json"
#: The ``--mapping`` names (besides a FILE.json table).
MAPPINGS = ("voc", "trimap", "panoptic")


class UsageError(ValueError):
    """A choice that cannot work for these annotations (the CLI prints usage and exits 2)."""


@dataclass(frozen=True)
class Pair:
    """A photo and the folder holding its annotation (``STEM.png``, ``STEM.json``)."""

    photo: Path
    folder: Path

    @property
    def annotation(self) -> Path:
        """``STEM.png``, else another image file named STEM (refused with a reason if lossy)."""
        stem = self.photo.stem
        png = self.folder / f"{stem}.png"
        others = sorted(
            p
            for p in self.folder.glob(f"{glob.escape(stem)}.*")
            if p.stem == stem and p.suffix.lower() in PHOTO_SUFFIXES
        )
        return png if png.exists() or not others else others[0]


@dataclass(frozen=True)
class Scoring:
    """How annotations are scored: ``kind`` voc / trimap / labels / panoptic and its mapping
    (None for panoptic, scored with :func:`~segdemo.evaluate.panoptic_class_maps` and PQ)."""

    kind: str
    mapping: ClassMapping | None = None


@dataclass(frozen=True)
class PhotoScore:
    """One photo's pixel confusion, and its PQ counts against a panoptic annotation."""

    confusion: Confusion
    counts: PanopticCounts | None = None

    def evaluation(self) -> Evaluation:
        return _evaluation(self.confusion, self.counts)


@dataclass
class Report:
    """A run's summed counts, per-photo scores and failures; ``to_json`` is ``metrics.json``."""

    scoring: Scoring
    confusion: Confusion | None = None
    counts: PanopticCounts | None = None
    images: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)

    def add(self, pair: Pair, score: PhotoScore) -> None:
        """Add a photo's counts to the sums (ValueError if its classes are not the run's)."""
        confusion = score.confusion if self.confusion is None else self.confusion + score.confusion
        counts = score.counts
        if self.counts is not None and counts is not None:
            counts = self.counts + counts
        self.confusion, self.counts = confusion, counts
        self.images.append({"path": str(pair.photo), **score.evaluation().to_json()})

    def evaluation(self) -> Evaluation:
        """The dataset's scores, from the summed counts (all None before any photo)."""
        if self.confusion is None:
            return Evaluation(SemanticScores((), None, None, 0))
        return _evaluation(self.confusion, self.counts)

    def write(self, out: Path) -> Path:
        """``OUT/metrics.json`` (appears atomically)."""
        return images.write_atomically(out / METRICS_JSON, json.dumps(self.to_json()).encode())

    def to_json(self) -> dict[str, Any]:
        return {
            "mapping": self.scoring.kind,
            **self.evaluation().to_json(),
            "images": self.images,
            "failures": self.failures,
        }


def pair_photos(photos: Sequence[Path], folder: Path) -> list[Pair]:
    """Each photo with the annotation folder."""
    return [Pair(photo, folder) for photo in photos]


def choose_scoring(
    mapping: str | None, classes: Sequence[str] | None, pairs: Sequence[Pair]
) -> Scoring:
    """The scoring ``mapping`` names (voc, trimap, panoptic or a FILE.json table), or, where it
    is None, the one the annotations call for: a JSON in the folder → panoptic; values within
    {1, 2, 3} → trimap; a palette PNG with VOC values → voc. ``classes``: the pet classes of a
    trimap (default cat, dog). UsageError for what cannot be chosen."""
    kind = mapping if mapping in MAPPINGS else None
    if mapping is None:
        kind = _detect(pairs)
    elif kind is None:
        if not mapping.lower().endswith(".json"):
            raise UsageError(
                f"unknown mapping {mapping!r}: choose {', '.join(MAPPINGS)} or a FILE.json table"
            )
        kind = "labels"
    if classes is not None and kind != "trimap":
        raise UsageError(f"--classes is for trimap annotations, and these are scored as {kind}")
    if kind == "voc":
        return Scoring(kind, VocMapping())
    if kind == "trimap":
        return Scoring(kind, TrimapMapping(tuple(classes or PET_CLASSES)))
    if kind == "labels":
        return Scoring(kind, load_label_mapping(Path(str(mapping))))
    return Scoring(kind)


def load_label_mapping(path: Path) -> LabelMapping:
    """A label-map table ``{"1": ["cat", "dog"], "2": ["__background__"], "void": 255}`` (void
    optional) read from ``path``; UsageError naming what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read the mapping table {path}: {error}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold a JSON object: annotation value → category names")
    void = data.pop("void", None)
    try:
        return LabelMapping({int(value): names for value, names in data.items()}, void)
    except (TypeError, ValueError) as error:
        raise UsageError(f"{path} is not a mapping table: {error}") from None


def _detect(pairs: Sequence[Pair]) -> str:
    """The kind of annotation in the pairs' folder, from its JSON files or the first readable
    annotation; UsageError asking for ``--mapping FILE.json`` when the values say nothing."""
    folders = {pair.folder for pair in pairs}
    if any(next(folder.glob("*.json"), None) for folder in folders):
        return "panoptic"
    for pair in pairs:
        try:
            annotation = images.read_annotation(pair.annotation)
        except images.InputError:
            continue
        values = set(torch.unique(annotation.values).tolist())
        kind = annotation_kind(values, annotation.mode)
        if kind is not None:
            return kind
        raise UsageError(
            f"{pair.annotation} is neither a trimap nor a VOC class PNG (values "
            f"{sorted(values)[:8]}): give --mapping FILE.json with a table "
            '{"value": ["category", ...], ...}'
        )
    return "voc"  # no annotation readable: every pair fails with its own reason


def score_photo(
    pair: Pair, scoring: Scoring, segment: Callable[[torch.Tensor], Segmentation]
) -> PhotoScore:
    """Read the photo and its annotation (refused before the model runs if bad), run
    ``segment`` and count the prediction against the annotation."""
    image = images.load_image(pair.photo)
    size = (int(image.shape[1]), int(image.shape[2]))
    if scoring.mapping is None:
        gt = images.read_panoptic_annotation(pair.annotation, _panoptic_json(pair), size=size)
        pred = segment(image)
        return PhotoScore(Confusion.of(panoptic_class_maps(pred, gt)), panoptic_counts(pred, gt))
    annotation = images.read_annotation(pair.annotation, size=size)
    pred = segment(image)
    return PhotoScore(Confusion.of(scoring.mapping.apply(pred, annotation.values)))


def _panoptic_json(pair: Pair) -> Path | dict[str, Any]:
    """``STEM.json``, else the folder's one dataset JSON (read once for all its photos)."""
    own = pair.folder / f"{pair.photo.stem}.json"
    if own.exists():
        return own
    found = sorted(pair.folder.glob("*.json"))
    if len(found) != 1:
        raise images.InputError(
            f"{pair.folder} holds no {own.name} and {len(found) or 'no'} other JSON files; "
            "give each panoptic PNG its STEM.json or keep one dataset JSON there"
        )
    return _dataset_json(found[0])


@functools.lru_cache(maxsize=2)
def _dataset_json(path: Path) -> dict[str, Any]:
    """A dataset JSON, parsed once (InputError if it cannot be)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise images.InputError(f"{path.name} is not a readable JSON file ({error}).") from None
    if not isinstance(data, dict):
        raise images.InputError(f"{path.name} is not a COCO panoptic JSON (not an object).")
    return data


def evaluate_pairs(
    pairs: Sequence[Pair], scoring: Scoring, segment: Callable[[torch.Tensor], Segmentation]
) -> Report:
    """Score every pair under a progress bar; a bad pair is named on stderr and listed in the
    report's failures with its reason. Missing weights are raised."""
    report = Report(scoring)
    with tqdm(pairs, unit="photo", file=sys.stderr, disable=None, dynamic_ncols=True) as bar:
        for pair in bar:
            try:
                report.add(pair, score_photo(pair, scoring, segment))
            except WeightsUnavailable:
                raise
            except Exception as error:
                reason = failure_reason(error)
                report.failures.append({"path": str(pair.photo), "reason": reason})
                bar.write(f"skipped {pair.photo}: {reason}", file=sys.stderr)
    return report


def format_table(evaluation: Evaluation) -> str:
    """The per-class table (class, IoU, Dice, precision, recall, TP, FP, FN; "—" where
    undefined) and the summary lines (mIoU, pixel accuracy; PQ, SQ, RQ where panoptic)."""
    rows = [("class", "IoU", "Dice", "precision", "recall", "TP", "FP", "FN")]
    for c in evaluation.semantic.classes:
        figures = (c.iou, c.dice, c.precision, c.recall)
        rows.append((c.label, *map(_figure, figures), str(c.tp), str(c.fp), str(c.fn)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    s = evaluation.semantic
    lines.append(f"mIoU {_figure(s.miou)}  pixel accuracy {_figure(s.pixel_accuracy)}")
    if evaluation.panoptic is not None:
        a = evaluation.panoptic.all
        lines.append(f"PQ {_figure(a.pq)}  SQ {_figure(a.sq)}  RQ {_figure(a.rq)}")
    return "\n".join(lines)


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _evaluation(confusion: Confusion, counts: PanopticCounts | None) -> Evaluation:
    return Evaluation(confusion.scores(), counts.scores() if counts is not None else None)
