"""Relating a prediction to an annotation: two class maps over the annotation's classes.

A mapping turns a prediction (a :class:`~segdemo.result.Segmentation` of any task) and an
annotation's label map into a :class:`ClassMaps`: :class:`VocMapping` (Pascal VOC class PNGs),
:class:`TrimapMapping` (Oxford-IIIT Pet trimaps), :class:`LabelMapping` (any label map with a
table the user fills in); :func:`panoptic_class_maps` does the same for a panoptic annotation.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch

from segdemo.checks import describe
from segdemo.evaluate.common import (
    _INT_DTYPES,
    _check_same_size,
    _check_segmentation,
    _check_value,
    _preview,
)
from segdemo.evaluate.lookup import _category_index, _lookup, _per_segment
from segdemo.groundtruth import TRIMAP_NAMES, VOC_NAMES, VOC_VOID
from segdemo.result import Segment, Segmentation

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
