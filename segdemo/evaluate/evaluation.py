"""The whole score of a prediction: :func:`evaluate` against a label map with a mapping,
:func:`evaluate_panoptic` against a panoptic annotation, both an :class:`Evaluation`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from segdemo.checks import describe
from segdemo.evaluate.confusion import Confusion, SemanticScores
from segdemo.evaluate.mappings import ClassMapping, panoptic_class_maps
from segdemo.evaluate.panoptic_quality import PanopticScores, panoptic_counts
from segdemo.result import Segmentation


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
