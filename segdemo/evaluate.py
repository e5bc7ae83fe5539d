"""Scoring a prediction against a ground truth: confusion matrices, IoU / Dice, panoptic quality.

Pure torch on the prediction's device; no Gradio and no file IO (annotations are read by
:mod:`segdemo.images`). The tab, the CLI and the tests share these pieces:

1. A **mapping** turns a prediction (a :class:`~segdemo.result.Segmentation` of any task) and an
   annotation's label map into two class maps over the annotation's classes, a
   :class:`ClassMaps`: :class:`VocMapping` (Pascal VOC class PNGs), :class:`TrimapMapping`
   (Oxford-IIIT Pet trimaps), :class:`LabelMapping` (any label map with a table the user fills
   in); :func:`panoptic_class_maps` does the same for a panoptic annotation.
2. :class:`Confusion` counts the pixels of every (annotation class, predicted class) pair with one
   ``bincount``; :meth:`Confusion.scores` gives per-class TP / FP / FN pixels, IoU, Dice,
   precision, recall, mIoU and pixel accuracy. Confusions add up (``a + b``, ``sum(...)``):
   dataset figures come from the summed matrix, not from means of per-photo IoUs.
3. :func:`panoptic_counts` matches segments as the COCO reference ``pq_compute`` does
   (cocodataset/panopticapi); :meth:`PanopticCounts.scores` gives PQ, SQ and RQ per class and
   overall (all classes, things, stuff). Counts add up over photos too.
4. :func:`error_map` marks every pixel TP / FP / FN for a choice of classes, to draw with
   ``masks.overlay`` and :func:`error_palette`; :data:`ERROR_LABELS` names the colours.

A value that is 0/0 (the precision of a class never predicted, the accuracy of an all-void
annotation) is None — the UI shows "—" — never 0 or NaN. A class with no pixel in either map is
not a row. Everything has a JSON form (:meth:`Evaluation.to_json`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any, NamedTuple

import torch

from segdemo.checks import describe
from segdemo.groundtruth import TRIMAP_NAMES, VOC_NAMES, VOC_VOID
from segdemo.result import Segment, Segmentation

__all__ = [
    "BACKGROUND",
    "ERROR_LABELS",
    "PET_CLASSES",
    "VOC_CLASSES",
    "VOID",
    "ClassMapping",
    "ClassMaps",
    "ClassScores",
    "Confusion",
    "Evaluation",
    "LabelMapping",
    "PQSummary",
    "PanopticClassScores",
    "PanopticCounts",
    "PanopticScores",
    "SemanticScores",
    "TrimapMapping",
    "VocMapping",
    "confusion_matrix",
    "error_map",
    "error_palette",
    "evaluate",
    "evaluate_panoptic",
    "panoptic_class_maps",
    "panoptic_counts",
]

#: The void value of the class maps every mapping returns: in the annotation, a pixel not
#: scored; in the prediction, a pixel predicted as none of the annotation's classes.
VOID = -1
#: The category of a pixel that no predicted segment covers (what "background" is for an
#: instance or panoptic result), and the name of DeepLabV3's background class.
BACKGROUND = "__background__"
#: The predicted classes that count as "pet" against a trimap unless the user chooses others.
PET_CLASSES: tuple[str, ...] = ("cat", "dog")
#: The 21 Pascal VOC classes: index = the value in a VOC class PNG (0 = background).
VOC_CLASSES: tuple[str, ...] = tuple(n for k, n in sorted(VOC_NAMES.items()) if k != VOC_VOID)
# COCO's spellings of VOC classes (Mask R-CNN and Mask2Former label lists).
_VOC_SYNONYMS = {
    "airplane": "aeroplane",
    "motorcycle": "motorbike",
    "dining table": "diningtable",
    "potted plant": "pottedplant",
    "couch": "sofa",
    "tv": "tvmonitor",
}

#: Legend of :func:`error_map`'s values 1, 2, 3 (0 = right background or void: not drawn).
ERROR_LABELS: tuple[str, ...] = (
    "true positive: the right class",
    "false positive: a chosen class predicted where it is not",
    "false negative: a chosen class missed",
)
# Okabe–Ito colours (readable with colour-blindness): bluish green, vermillion, blue.
_ERROR_COLORS = ((0, 0, 0), (0, 158, 115), (213, 94, 0), (0, 114, 178))
_INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)
_MAX_LOOKUP_ID = 1 << 16  # values below this map through a lookup table, see _lookup


# --------------------------------------------------------------------------- small pieces


def _ratio(num: int | float, den: int | float) -> float | None:
    """num / den, or None when den is 0 (an undefined value, shown as "—")."""
    return num / den if den else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _preview(values: Iterable[object], limit: int = 8) -> str:
    """A short list of values for a message: the first ``limit`` and "…" after them."""
    items = list(values)
    shown = ", ".join(str(v) for v in items[:limit])
    return shown + (", …" if len(items) > limit else "")


def _check_segmentation(value: object, name: str) -> None:
    if not isinstance(value, Segmentation):
        raise TypeError(f"{name} must be a Segmentation, got {describe(value)}")


def _check_same_size(pred: Segmentation, height: int, width: int, what: str) -> None:
    if pred.size != (height, width):
        raise ValueError(
            f"{what} is {width}×{height} pixels but the prediction is "
            f"{pred.size[1]}×{pred.size[0]}; use the annotation made for this photo"
        )


def _take(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` for a 1-D table: index_select, several times faster than indexing."""
    if index.dtype not in (torch.int32, torch.int64):
        index = index.to(torch.int32)
    return table.index_select(0, index.reshape(-1)).view(index.shape)


def _lookup(
    values: torch.Tensor, keys: Sequence[int], results: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``results[i]`` wherever ``values == keys[i]``: int64 [H, W] on the values' device, and
    the bool [H, W] mask of the values that are no key (their result is meaningless).

    ``values``: integer [H, W]; ``keys``: sorted, distinct. Values in [0, 2^16) — label maps,
    the models' segment ids — go through a lookup table (one gather); others (COCO panoptic's
    R + 256·G + 256²·B ids) through a ``searchsorted`` against the keys, so no table is big.
    """
    mapped = torch.tensor(results, dtype=torch.int64, device=values.device)
    low, high = (int(v) for v in torch.aminmax(values)) if values.numel() else (0, 0)
    if low >= 0 and high < _MAX_LOOKUP_ID:
        missing = min(results, default=0) - 1  # what no key maps to
        table = torch.full((high + 1,), missing, dtype=torch.int64, device=values.device)
        inside = [i for i, k in enumerate(keys) if 0 <= k <= high]
        table[[keys[i] for i in inside]] = mapped[inside]
        out = _take(table, values)
        return out, out == missing
    known = torch.tensor(keys, dtype=torch.int64, device=values.device)
    where = torch.searchsorted(known, values.long()).clamp_(max=max(len(keys) - 1, 0))
    return _take(mapped, where), _take(known, where) != values


def _segment_index(seg: Segmentation) -> tuple[tuple[Segment | None, ...], torch.Tensor]:
    """Each pixel's row in ``rows`` = (None, *segments sorted by id): int64 [H, W] on seg.device.

    Row 0 (None) is "no segment". ValueError if the id map holds an id the table lacks.
    """
    rows = tuple(sorted(seg.segments, key=lambda s: s.id))
    return (None, *rows), _segment_values(seg, rows, range(len(rows) + 1))


def _segment_values(
    seg: Segmentation, rows: Sequence[Segment], values: Sequence[int]
) -> torch.Tensor:
    """int64 [H, W]: values[0] where no segment, values[i + 1] on the pixels of rows[i]."""
    mapped, stray = _lookup(seg.ids, [0, *(s.id for s in rows)], values)
    if bool(stray.any()):
        missing = torch.unique(seg.ids[stray]).tolist()
        raise ValueError(
            f"the {seg.task} result's id map holds ids its segment table lacks: {_preview(missing)}"
        )
    return mapped


def _per_segment(seg: Segmentation, value: Callable[[Segment | None], int]) -> torch.Tensor:
    """int64 [H, W] on seg.device: ``value(segment)`` at each of its pixels (None: no segment)."""
    rows = tuple(sorted(seg.segments, key=lambda s: s.id))
    return _segment_values(seg, rows, [value(None), *(value(s) for s in rows)])


def _check_annotation(annotation: object, pred: Segmentation) -> torch.Tensor:
    """An annotation's label map (integer [H, W], the prediction's size) on pred's device."""
    _check_segmentation(pred, "the prediction")
    if not isinstance(annotation, torch.Tensor):
        raise TypeError(
            f"an annotation must be a label map tensor [H, W], got {describe(annotation)}"
        )
    if annotation.ndim != 2 or annotation.dtype not in _INT_DTYPES:
        raise ValueError(
            f"an annotation must be an integer label map [H, W], got {describe(annotation)}"
        )
    _check_same_size(pred, int(annotation.shape[0]), int(annotation.shape[1]), "the annotation")
    return annotation.to(pred.device)


def _annotation_classes(
    annotation: torch.Tensor, classes: Mapping[int, int], what: str
) -> torch.Tensor:
    """int64 [H, W]: ``classes[v]`` at each pixel of value v; ValueError naming other values."""
    keys = sorted(classes)
    mapped, stray = _lookup(annotation, keys, [classes[k] for k in keys])
    if bool(stray.any()):
        raise ValueError(
            f"the annotation holds values {_preview(torch.unique(annotation[stray]).tolist())} "
            f"that {what} does not name; it names {_preview(keys, 12)}"
        )
    return mapped


def _category_name(seg: Segmentation) -> Callable[[Segment | None], str]:
    """A segment's category name; "no segment" is :data:`BACKGROUND`."""
    return lambda s: BACKGROUND if s is None else seg.categories[s.category_id]


# --------------------------------------------------------------------------- mappings


class ClassMaps(NamedTuple):
    """Two class maps over one annotation's classes, what :class:`Confusion` counts.

    ``pred``, ``gt``: int64 [H, W] on the prediction's device, values in [0, len(names)) or
    ``void``. In ``gt``, void marks pixels that are not scored (VOC 255, trimap border); in
    ``pred``, pixels predicted as none of the annotation's classes (they count as misses).
    """

    pred: torch.Tensor
    gt: torch.Tensor
    names: tuple[str, ...]
    void: int


@dataclass(frozen=True)
class VocMapping:
    """Pascal VOC class PNGs: class = the stored value (0 background … 20 tvmonitor), 255 void.

    A predicted category counts as the VOC class of its name (COCO's spellings too: airplane,
    motorcycle, dining table, potted plant, couch, tv); every other category, and pixels no
    segment covers, count as background — the VOC convention.
    """

    def apply(self, pred: Segmentation, annotation: torch.Tensor) -> ClassMaps:
        """The class maps of ``pred`` against a VOC class PNG's values (integer [H, W])."""
        values = _check_annotation(annotation, pred)
        gt = _annotation_classes(
            values, {**{k: k for k in range(len(VOC_CLASSES))}, VOC_VOID: VOID}, "a VOC class PNG"
        )
        name_of = _category_name(pred)
        classes = _per_segment(pred, lambda s: _voc_class(name_of(s)))
        return ClassMaps(classes, gt, VOC_CLASSES, VOID)


def _voc_class(name: str) -> int:
    """The VOC class index of a category name (COCO spellings too); 0 for any other."""
    name = _VOC_SYNONYMS.get(name, name)
    return VOC_CLASSES.index(name) if name in VOC_CLASSES else 0


@dataclass(frozen=True)
class TrimapMapping:
    """Oxford-IIIT Pet trimaps: 1 pet ↔ the predicted pixels of ``classes`` (category names,
    whatever the task), 2 background ↔ every other pixel, 3 border not scored."""

    classes: tuple[str, ...] = PET_CLASSES

    def __post_init__(self) -> None:
        names = self.classes
        if isinstance(names, str) or not isinstance(names, Collection):
            raise TypeError(f"classes must be a collection of category names, got {names!r}")
        if not all(isinstance(n, str) for n in names):
            raise TypeError(f"classes must be category names (str), got {names!r}")
        if not names:
            raise ValueError("classes must name at least one category to count as the pet")
        object.__setattr__(self, "classes", tuple(names))

    def apply(self, pred: Segmentation, annotation: torch.Tensor) -> ClassMaps:
        """The class maps of ``pred`` against a trimap's values (integer [H, W], 1/2/3)."""
        values = _check_annotation(annotation, pred)
        if not set(self.classes) & set(pred.categories):
            raise ValueError(
                f"the model knows none of the classes {_preview(self.classes)}; choose the pet "
                f"classes among its categories ({_preview(pred.categories[:12])})"
            )
        gt = _annotation_classes(values, {1: 0, 2: 1, 3: VOID}, "an Oxford-IIIT Pet trimap")
        pets = set(self.classes)
        name_of = _category_name(pred)
        classes = _per_segment(pred, lambda s: 0 if name_of(s) in pets else 1)
        return ClassMaps(classes, gt, (TRIMAP_NAMES[1], TRIMAP_NAMES[2]), VOID)


@dataclass(frozen=True)
class LabelMapping:
    """Any integer label map, with a table the user fills in: annotation value → the predicted
    category names that mean it.

    ``table``: {value: [category name, …]}; the classes follow the values in ascending order and
    are named by their categories ("car + truck"; "value 4" for an empty list). Use
    :data:`BACKGROUND` for the pixels no predicted segment covers. Predicted categories that no
    list names count as none of the classes (a miss wherever the annotation has a class).
    ``void``: an annotation value that is not scored. An annotation value that is neither in
    the table nor void is a ValueError naming it.
    """

    table: Mapping[int, Sequence[str]]
    void: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.table, Mapping):
            raise TypeError(
                f"table must map annotation values to names, got {describe(self.table)}"
            )
        if not self.table:
            raise ValueError("the mapping table is empty: list at least one annotation value")
        table: dict[int, tuple[str, ...]] = {}
        for value, names in self.table.items():
            _check_value(value, "an annotation value")
            if isinstance(names, str) or not isinstance(names, Sequence):
                raise TypeError(
                    f"value {value} must map to a list of category names, got {names!r}"
                )
            if not all(isinstance(n, str) for n in names):
                raise TypeError(f"value {value} must map to category names (str), got {names!r}")
            table[int(value)] = tuple(names)
        listed = [n for names in table.values() for n in names]
        twice = sorted({n for n in listed if listed.count(n) > 1})
        if twice:
            raise ValueError(f"categories listed under more than one value: {_preview(twice)}")
        if self.void is not None:
            _check_value(self.void, "void")
            if self.void in table:
                raise ValueError(f"value {self.void} is both void and a class of the table")
        object.__setattr__(self, "table", dict(sorted(table.items())))

    @property
    def names(self) -> tuple[str, ...]:
        """The class names, in the order of the annotation values."""
        return tuple(" + ".join(names) or f"value {v}" for v, names in self.table.items())

    def apply(self, pred: Segmentation, annotation: torch.Tensor) -> ClassMaps:
        """The class maps of ``pred`` against a label map's values (integer [H, W])."""
        values = _check_annotation(annotation, pred)
        unknown = [
            n
            for names in self.table.values()
            for n in names
            if n != BACKGROUND and n not in pred.categories
        ]
        if unknown:
            raise ValueError(
                f"the mapping table names categories the model does not know: {_preview(unknown)}"
            )
        classes = {v: k for k, v in enumerate(self.table)}
        if self.void is not None:
            classes[self.void] = VOID
        gt = _annotation_classes(values, classes, "the mapping table")
        class_of = {n: k for k, names in enumerate(self.table.values()) for n in names}
        name_of = _category_name(pred)
        predicted = _per_segment(pred, lambda s: class_of.get(name_of(s), VOID))
        return ClassMaps(predicted, gt, self.names, VOID)


#: What :func:`evaluate` takes to relate a prediction to a label map.
ClassMapping = VocMapping | TrimapMapping | LabelMapping


def _check_value(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")


def _category_index(pred: Segmentation, gt: Segmentation) -> list[int]:
    """For each of pred's categories, its index in gt's categories (by name; -1 if absent).

    ValueError naming the categories of pred's segments that gt does not know.
    """
    index = {name: k for k, name in enumerate(gt.categories)}
    unknown = sorted({pred.categories[s.category_id] for s in pred.segments} - set(index))
    if unknown:
        raise ValueError(
            f"the prediction has categories the annotation does not list: {_preview(unknown)}"
        )
    return [index.get(name, -1) for name in pred.categories]


def panoptic_class_maps(pred: Segmentation, gt: Segmentation) -> ClassMaps:
    """Class maps of a prediction against a panoptic annotation (a Segmentation, e.g. read by
    ``segdemo.images.read_panoptic_annotation``), over the annotation's categories.

    A pixel's class is its segment's category (pred's categories matched to gt's by name); gt
    pixels with no segment are void, pred pixels with no segment are none of the classes.
    """
    _check_segmentation(pred, "the prediction")
    _check_segmentation(gt, "the annotation")
    _check_same_size(pred, *gt.size, "the annotation")
    gt = gt.to(pred.device)
    index = _category_index(pred, gt)
    gt_classes = _per_segment(gt, lambda s: VOID if s is None else s.category_id)
    pred_classes = _per_segment(pred, lambda s: VOID if s is None else index[s.category_id])
    return ClassMaps(pred_classes, gt_classes, gt.categories, VOID)


# --------------------------------------------------------------------------- confusion


def _class_index(values: object, name: str, k: int, void: int) -> torch.Tensor:
    """A class map validated and made int64 [H, W] with values in [0, k]: void becomes k."""
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"{name} must be a class map tensor [H, W], got {describe(values)}")
    if values.ndim != 2 or values.dtype not in _INT_DTYPES:
        raise ValueError(f"{name} must be an integer class map [H, W], got {describe(values)}")
    is_void = values == void
    if values.numel():
        low, high = (int(v) for v in torch.aminmax(torch.where(is_void, 0, values)))
        if low < 0 or high >= k:
            bad = ~is_void & ((values < 0) | (values >= k))
            raise ValueError(
                f"{name} holds values {_preview(torch.unique(values[bad]).tolist())} outside the "
                f"{k} classes (void is {void})"
            )
    return torch.where(is_void, k, values.long())


def confusion_matrix(
    pred: torch.Tensor, gt: torch.Tensor, num_classes: int, void: int
) -> torch.Tensor:
    """Pixel counts per (annotation class, predicted class): int64 [K, K + 1] on the maps' device.

    ``pred``, ``gt``: integer class maps [H, W] of the same size on the same device, values in
    [0, K) or ``void``. ``[g, p]`` counts the pixels of annotation class g predicted as p; the
    last column the pixels of class g predicted as none (``pred == void``). Pixels where ``gt``
    is void are not counted. One ``bincount`` of ``gt · (K + 1) + pred``.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, Integral):
        raise TypeError(f"num_classes must be an int, got {num_classes!r}")
    _check_value(void, "void")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if 0 <= void < num_classes:
        raise ValueError(f"void ({void}) must not be one of the {num_classes} classes")
    k = int(num_classes)
    # Void becomes class k: a last column (predicted none) and a last row (not scored, dropped).
    p = _class_index(pred, "pred", k, void)
    g = _class_index(gt, "gt", k, void)
    if p.shape != g.shape or p.device != g.device:
        raise ValueError(f"pred is {describe(pred)} but gt is {describe(gt)}: they must match")
    counts = torch.bincount((g * (k + 1) + p).view(-1), minlength=(k + 1) ** 2)
    return counts.view(k + 1, k + 1)[:k]


@dataclass(frozen=True)
class ClassScores:
    """One class's row: pixel counts and the figures that follow (precision, recall None where
    0/0; IoU and Dice are defined for every row)."""

    label: str
    index: int
    tp: int
    fp: int
    fn: int
    iou: float
    dice: float
    precision: float | None
    recall: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "iou": self.iou,
            "dice": self.dice,
            "precision": self.precision,
            "recall": self.recall,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass(frozen=True)
class SemanticScores:
    """Pixel figures of one photo or a dataset (from a summed :class:`Confusion`).

    ``classes``: one row per class with a pixel in the annotation or the prediction (void
    excluded); ``miou``: mean IoU over those rows; ``pixel_accuracy``: right pixels / scored
    pixels; ``pixels``: the scored (non-void) pixels. None where undefined.
    """

    classes: tuple[ClassScores, ...]
    miou: float | None
    pixel_accuracy: float | None
    pixels: int

    def to_json(self) -> dict[str, Any]:
        return {
            "miou": self.miou,
            "pixel_accuracy": self.pixel_accuracy,
            "pixels": self.pixels,
            "classes": [c.to_json() for c in self.classes],
        }


@dataclass(frozen=True)
class Confusion:
    """A pixel confusion matrix with its class names; ``a + b`` and ``sum(...)`` add photos.

    ``counts``: int64 [K, K + 1] (see :func:`confusion_matrix`), on any device; ``names``: the K
    class names.
    """

    counts: torch.Tensor
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(self.names))
        k = len(self.names)
        if not isinstance(self.counts, torch.Tensor):
            raise TypeError(f"counts must be a tensor [K, K + 1], got {describe(self.counts)}")
        if self.counts.dtype != torch.int64 or tuple(self.counts.shape) != (k, k + 1):
            raise ValueError(
                f"counts must be int64 [{k}, {k + 1}] for {k} classes, got {describe(self.counts)}"
            )

    @classmethod
    def of(cls, maps: ClassMaps) -> Confusion:
        """The confusion of one pair of class maps (one photo)."""
        counts = confusion_matrix(maps.pred, maps.gt, len(maps.names), maps.void)
        return cls(counts, maps.names)

    def __add__(self, other: Confusion) -> Confusion:
        if not isinstance(other, Confusion):
            return NotImplemented
        if other.names != self.names:
            raise ValueError("only confusions over the same classes add up")
        return Confusion(self.counts + other.counts.to(self.counts.device), self.names)

    def __radd__(self, other: object) -> Confusion:
        if isinstance(other, int) and other == 0:  # sum() starts from 0
            return self
        return NotImplemented

    def scores(self) -> SemanticScores:
        """Per-class TP/FP/FN, IoU, Dice, precision, recall; mIoU and pixel accuracy."""
        counts = self.counts.cpu()
        k = len(self.names)
        tp = counts.diagonal().tolist()
        predicted = counts[:, :k].sum(0).tolist()  # pixels predicted as each class
        actual = counts.sum(1).tolist()  # pixels of each class in the annotation
        rows = []
        for c in range(k):
            fp, fn = predicted[c] - tp[c], actual[c] - tp[c]
            if tp[c] + fp + fn == 0:
                continue  # in neither map: not a row
            rows.append(
                ClassScores(
                    label=self.names[c],
                    index=c,
                    tp=tp[c],
                    fp=fp,
                    fn=fn,
                    iou=tp[c] / (tp[c] + fp + fn),
                    dice=2 * tp[c] / (2 * tp[c] + fp + fn),
                    precision=_ratio(tp[c], tp[c] + fp),
                    recall=_ratio(tp[c], tp[c] + fn),
                )
            )
        total = sum(actual)
        return SemanticScores(
            classes=tuple(rows),
            miou=_mean([r.iou for r in rows]),
            pixel_accuracy=_ratio(sum(tp), total),
            pixels=total,
        )


# --------------------------------------------------------------------------- panoptic quality


@dataclass(frozen=True)
class PQSummary:
    """PQ, SQ, RQ averaged over ``n`` classes (those with TP + FP + FN > 0); None if n = 0."""

    pq: float | None
    sq: float | None
    rq: float | None
    n: int

    def to_json(self) -> dict[str, Any]:
        return {"pq": self.pq, "sq": self.sq, "rq": self.rq, "n": self.n}


@dataclass(frozen=True)
class PanopticClassScores:
    """One category's segment counts and PQ = SQ · RQ (SQ None without a TP)."""

    label: str
    index: int
    is_thing: bool
    tp: int
    fp: int
    fn: int
    pq: float
    sq: float | None
    rq: float

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "is_thing": self.is_thing,
            "pq": self.pq,
            "sq": self.sq,
            "rq": self.rq,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass(frozen=True)
class PanopticScores:
    """PQ per class (rows with TP + FP + FN > 0) and averaged over all, things and stuff."""

    classes: tuple[PanopticClassScores, ...]
    all: PQSummary
    things: PQSummary
    stuff: PQSummary

    def to_json(self) -> dict[str, Any]:
        return {
            **self.all.to_json(),
            "things": self.things.to_json(),
            "stuff": self.stuff.to_json(),
            "panoptic_classes": [c.to_json() for c in self.classes],
        }


@dataclass(frozen=True)
class PanopticCounts:
    """Per-category TP / FP / FN segment counts and the sum of the TPs' IoUs (the reference's
    ``PQStat``), over ``names`` (the annotation's categories); ``a + b`` and ``sum(...)`` add
    photos. ``is_thing``: whether any segment of the category said it is a thing."""

    names: tuple[str, ...]
    is_thing: tuple[bool, ...]
    tp: tuple[int, ...]
    fp: tuple[int, ...]
    fn: tuple[int, ...]
    iou: tuple[float, ...]

    def __post_init__(self) -> None:
        for name in ("names", "is_thing", "tp", "fp", "fn", "iou"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
            if len(getattr(self, name)) != len(self.names):
                raise ValueError(f"{name} must have one entry per category ({len(self.names)})")

    def __add__(self, other: PanopticCounts) -> PanopticCounts:
        if not isinstance(other, PanopticCounts):
            return NotImplemented
        if other.names != self.names:
            raise ValueError("only panoptic counts over the same categories add up")

        def add(a: tuple, b: tuple) -> tuple:
            return tuple(x + y for x, y in zip(a, b, strict=True))

        thing = tuple(a or b for a, b in zip(self.is_thing, other.is_thing, strict=True))
        return PanopticCounts(
            self.names,
            thing,
            add(self.tp, other.tp),
            add(self.fp, other.fp),
            add(self.fn, other.fn),
            add(self.iou, other.iou),
        )

    def __radd__(self, other: object) -> PanopticCounts:
        if isinstance(other, int) and other == 0:  # sum() starts from 0
            return self
        return NotImplemented

    def scores(self) -> PanopticScores:
        """PQ = ΣIoU(TP) / (TP + ½FP + ½FN), SQ = ΣIoU(TP) / TP, RQ = TP / (TP + ½FP + ½FN) per
        category with segments, and their means over all, things and stuff (as the reference
        averages: a category without a TP adds SQ 0 to the mean, though its own SQ is None)."""
        rows = []
        for c, name in enumerate(self.names):
            tp, fp, fn, iou = self.tp[c], self.fp[c], self.fn[c], self.iou[c]
            if tp + fp + fn == 0:
                continue
            den = tp + 0.5 * fp + 0.5 * fn
            rows.append(
                PanopticClassScores(
                    name, c, self.is_thing[c], tp, fp, fn, iou / den, _ratio(iou, tp), tp / den
                )
            )
        return PanopticScores(
            tuple(rows),
            _summary(rows),
            _summary([r for r in rows if r.is_thing]),
            _summary([r for r in rows if not r.is_thing]),
        )


def _summary(rows: Sequence[PanopticClassScores]) -> PQSummary:
    return PQSummary(
        pq=_mean([r.pq for r in rows]),
        sq=_mean([r.sq or 0.0 for r in rows]),
        rq=_mean([r.rq for r in rows]),
        n=len(rows),
    )


def panoptic_counts(pred: Segmentation, gt: Segmentation) -> PanopticCounts:
    """Match a prediction's segments to an annotation's, as the COCO reference ``pq_compute``.

    ``pred``, ``gt``: Segmentations of the same size (gt is moved to pred's device); pred's
    categories are matched to gt's by name (ValueError for one gt does not list).
    ``gt.extras["iscrowd"]`` lists gt's crowd segment ids (what
    ``segdemo.images.read_panoptic_annotation`` fills in). gt pixels with no segment are void.
    Only segments with pixels take part. The rules:

    - a predicted and a gt segment (not crowd) of the same category match when IoU > 0.5, where
      the union leaves out the predicted pixels on void:
      ``union = pred_area + gt_area - intersection - pred_on_void``; matches are TPs;
    - an unmatched gt segment is an FN, unless it is crowd;
    - an unmatched predicted segment is an FP, unless more than half of its pixels lie on void or
      on crowd segments of its category (the reference looks at one crowd segment per
      category, the last listed; the same for COCO, with at most one per category and photo).

    Work: one ``bincount`` of the (gt segment, predicted segment) pair of every pixel on the
    device; the rest on the small [gt segments + 1, predicted segments + 1] matrix on the CPU.
    """
    _check_segmentation(pred, "the prediction")
    _check_segmentation(gt, "the annotation")
    _check_same_size(pred, *gt.size, "the annotation")
    gt = gt.to(pred.device)
    category = _category_index(pred, gt)
    crowd_ids = set(gt.extras.get("iscrowd", ()))
    gt_rows, gi = _segment_index(gt)
    pred_rows, pi = _segment_index(pred)
    ng, npr = len(gt_rows), len(pred_rows)
    inter = torch.bincount((gi * npr + pi).view(-1), minlength=ng * npr).view(ng, npr).cpu()

    # Row 0 of inter is gt void, column 0 "no predicted segment"; they get categories -1 / -2,
    # which match nothing.
    gt_cat = torch.tensor([-1] + [s.category_id for s in gt_rows[1:]])
    pred_cat = torch.tensor([-2] + [category[s.category_id] for s in pred_rows[1:]])
    crowd = torch.tensor([False] + [s.id in crowd_ids for s in gt_rows[1:]])
    gt_area, pred_area, on_void = inter.sum(1), inter.sum(0), inter[0]

    union = pred_area[None, :] + gt_area[:, None] - inter - on_void[None, :]
    iou = inter.double() / union.clamp(min=1)
    same = gt_cat[:, None] == pred_cat[None, :]
    match = (iou > 0.5) & same & ~crowd[:, None]
    gt_matched, pred_matched = match.any(1), match.any(0)

    on_crowd = (inter * (crowd[:, None] & same)).sum(0)  # on crowd of the prediction's category
    ignored = 2 * (on_void + on_crowd) > pred_area

    n = len(gt.categories)
    pairs = match.nonzero()
    fn_rows = (gt_area > 0) & ~gt_matched & ~crowd
    fn_rows[0] = False
    fp_cols = (pred_area > 0) & ~pred_matched & ~ignored
    fp_cols[0] = False
    thing = [False] * n
    for s in gt_rows[1:]:
        thing[s.category_id] |= s.is_thing
    for s in pred_rows[1:]:
        thing[category[s.category_id]] |= s.is_thing
    return PanopticCounts(
        names=gt.categories,
        is_thing=tuple(thing),
        tp=torch.bincount(gt_cat[pairs[:, 0]], minlength=n).tolist(),
        fp=torch.bincount(pred_cat[fp_cols], minlength=n).tolist(),
        fn=torch.bincount(gt_cat[fn_rows], minlength=n).tolist(),
        iou=torch.bincount(gt_cat[pairs[:, 0]], weights=iou[match], minlength=n).tolist(),
    )


# --------------------------------------------------------------------------- the whole score


@dataclass(frozen=True)
class Evaluation:
    """The scores of a prediction: pixel figures, and PQ where the annotation is panoptic."""

    semantic: SemanticScores
    panoptic: PanopticScores | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"miou", "pixel_accuracy", "pixels", "classes": [...]}``, plus ``"pq", "sq", "rq",
        "n", "things", "stuff", "panoptic_classes"`` for a panoptic annotation."""
        data = self.semantic.to_json()
        if self.panoptic is not None:
            data.update(self.panoptic.to_json())
        return data


def evaluate(pred: Segmentation, annotation: torch.Tensor, mapping: ClassMapping) -> Evaluation:
    """Score ``pred`` against an annotation's label map (integer [H, W], values as stored) with
    ``mapping``: a VOC class PNG, a trimap, or a label map with its table."""
    if not isinstance(mapping, ClassMapping):
        raise TypeError(
            f"mapping must be a VocMapping, TrimapMapping or LabelMapping, got {describe(mapping)}"
        )
    return Evaluation(Confusion.of(mapping.apply(pred, annotation)).scores())


def evaluate_panoptic(pred: Segmentation, gt: Segmentation) -> Evaluation:
    """Score ``pred`` against a panoptic annotation: pixel figures over its categories and PQ."""
    semantic = Confusion.of(panoptic_class_maps(pred, gt)).scores()
    return Evaluation(semantic, panoptic_counts(pred, gt).scores())


# --------------------------------------------------------------------------- the TP/FP/FN picture


def error_palette(device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 [4, 3]: the colours of :func:`error_map`'s values (row 0 black, never drawn)."""
    return torch.tensor(_ERROR_COLORS, dtype=torch.uint8, device=device)


def error_map(maps: ClassMaps, classes: int | Collection[int] | None = None) -> torch.Tensor:
    """Where the prediction is right or wrong about ``classes``: int32 [H, W] on the maps' device.

    ``classes``: one class index, several, or None for all. 1 = TP (an annotation pixel of a
    chosen class predicted as that class); 2 = FP (a chosen class predicted, wrongly); 3 = FN (a
    pixel of a chosen class predicted as no chosen class); 0 = the rest (right about the other
    classes, or void). With all classes chosen, every wrong pixel is an FP, except those
    predicted as none of the classes (FN). Draw it with ``masks.overlay(image, ids,
    error_palette(device), alpha)``; :data:`ERROR_LABELS` is the legend of 1, 2, 3.
    """
    k = len(maps.names)
    if classes is None:
        chosen = list(range(k))
    elif isinstance(classes, Integral) and not isinstance(classes, bool):
        chosen = [int(classes)]
    elif isinstance(classes, Collection) and not isinstance(classes, str):
        chosen = list(classes)
        for c in chosen:
            _check_value(c, "a class index")
    else:
        raise TypeError(f"classes must be a class index, several or None, got {classes!r}")
    outside = [c for c in chosen if not 0 <= c < k]
    if outside:
        raise ValueError(f"class indices {_preview(outside)} are outside the {k} classes")
    p = torch.where(maps.pred == maps.void, k, maps.pred)
    g = torch.where(maps.gt == maps.void, k, maps.gt)
    table = torch.zeros(k + 1, dtype=torch.bool, device=p.device)
    table[chosen] = True  # index k (void / none) stays unchosen
    gt_in, pred_in = _take(table, g), _take(table, p)
    scored = maps.gt != maps.void
    right = p == g
    out = torch.zeros(p.shape, dtype=torch.int32, device=p.device)
    out[scored & gt_in & right] = 1
    out[scored & pred_in & ~right] = 2
    out[scored & gt_in & ~right & ~pred_in] = 3
    return out
