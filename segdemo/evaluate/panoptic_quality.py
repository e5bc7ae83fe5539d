"""Panoptic quality: segments matched as the COCO reference ``pq_compute`` does
(cocodataset/panopticapi), and PQ, SQ and RQ per class and overall.

:func:`panoptic_counts` gives a photo's :class:`PanopticCounts`; counts add up over photos
(``a + b``, ``sum(...)``) and :meth:`PanopticCounts.scores` gives the :class:`PanopticScores`
(all classes, things, stuff).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from segdemo.evaluate.common import _check_same_size, _check_segmentation, _mean, _ratio
from segdemo.evaluate.lookup import _category_index, _segment_index
from segdemo.result import Segmentation


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
