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
not a row. Everything has a JSON form (:meth:`Evaluation.to_json`). One job per module:

- :mod:`~segdemo.evaluate.mappings`: the mappings, :class:`ClassMaps`,
  :func:`panoptic_class_maps` and the class constants (:data:`VOID`, :data:`BACKGROUND`,
  :data:`VOC_CLASSES`, :data:`PET_CLASSES`);
- :mod:`~segdemo.evaluate.confusion`: :func:`confusion_matrix`, :class:`Confusion` and its
  :class:`SemanticScores` / :class:`ClassScores`;
- :mod:`~segdemo.evaluate.panoptic_quality`: :func:`panoptic_counts`, :class:`PanopticCounts`
  and its :class:`PanopticScores` / :class:`PanopticClassScores` / :class:`PQSummary`;
- :mod:`~segdemo.evaluate.error_map`: :func:`error_map`, :func:`error_palette`,
  :data:`ERROR_LABELS`;
- :mod:`~segdemo.evaluate.evaluation`: :class:`Evaluation`, :func:`evaluate`,
  :func:`evaluate_panoptic`;
- :mod:`~segdemo.evaluate.lookup` and :mod:`~segdemo.evaluate.common`: the private pieces
  they share (per-pixel look-ups through small tables; argument checks, messages, 0/0-safe
  ratios).

Note: the package attribute ``error_map`` is the function; the module of the same name is
``sys.modules["segdemo.evaluate.error_map"]`` (``from segdemo.evaluate.error_map import …``
reaches it as usual).
"""

from __future__ import annotations

from segdemo.evaluate.confusion import ClassScores, Confusion, SemanticScores, confusion_matrix
from segdemo.evaluate.error_map import ERROR_LABELS, error_map, error_palette
from segdemo.evaluate.evaluation import Evaluation, evaluate, evaluate_panoptic
from segdemo.evaluate.mappings import (
    BACKGROUND,
    PET_CLASSES,
    VOC_CLASSES,
    VOID,
    ClassMapping,
    ClassMaps,
    LabelMapping,
    TrimapMapping,
    VocMapping,
    panoptic_class_maps,
)
from segdemo.evaluate.panoptic_quality import (
    PanopticClassScores,
    PanopticCounts,
    PanopticScores,
    PQSummary,
    panoptic_counts,
)

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
