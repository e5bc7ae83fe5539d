"""Pixel figures: the confusion matrix of two class maps and the scores that follow from it.

:class:`Confusion` counts the pixels of every (annotation class, predicted class) pair with one
``bincount``; :meth:`Confusion.scores` gives per-class TP / FP / FN pixels, IoU, Dice,
precision, recall, mIoU and pixel accuracy. Confusions add up (``a + b``, ``sum(...)``): dataset
figures come from the summed matrix, not from means of per-photo IoUs.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any

import torch

from segdemo.checks import describe
from segdemo.evaluate.common import _INT_DTYPES, _check_value, _mean, _preview, _ratio
from segdemo.evaluate.mappings import ClassMaps


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
