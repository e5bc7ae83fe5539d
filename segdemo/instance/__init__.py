"""Instance segmentation with torchvision's Mask R-CNN: an adapter to the shared result type.

Two steps, so that moving a slider never runs the model again:

- :func:`detect` runs the model once and keeps its raw output as :class:`Detections`: boxes in
  original-image pixels, scores, COCO labels and the ROI head's 28×28 mask probabilities
  *before* they are pasted into the image (down to the score floor, 0.05).
- :func:`to_segmentation` turns cached detections into a :class:`Segmentation` for a score
  threshold and a class filter: one segment per kept detection, the higher score winning the
  pixels where masks overlap. It pastes each 28×28 mask inside its own box only, with
  torchvision's exact paste geometry, so results agree; torchvision's ``paste_masks_in_image``
  builds an N×H×W float tensor instead, whose cost grows with the detections times the pixels.

The model runs with its own preprocessing (``GeneralizedRCNNTransform``: normalisation and the
resize of the short side to 800) and its own box post-processing (rescale to the original
size). Torch and torchvision only: no gradio, PIL or numpy here. One job per module:

- :mod:`~segdemo.instance.detections`: the :class:`Detections` type (validated, indexable);
- :mod:`~segdemo.instance.model`: the variants on offer (:data:`VARIANTS`), the working sizes,
  building and loading the models, :func:`detect`;
- :mod:`~segdemo.instance.paste`: :func:`paste_ids`, the masks pasted into one id map;
- :mod:`~segdemo.instance.segmentation`: :func:`to_segmentation`, :func:`segment` (the task
  adapter) and the class filter.

Note: the package attributes are the objects the modules define, bound once at import. A test
that replaces one (``load_model``, say) must patch the module that looks it up:
``segdemo.instance.model.load_model`` is what :func:`detect` calls.
"""

from __future__ import annotations

from segdemo.instance.detections import Detections
from segdemo.instance.model import (
    DEFAULT_VARIANT,
    DEFAULT_WORKING_SIZE,
    SCORE_FLOOR,
    VARIANTS,
    WORKING_SIZES,
    Variant,
    detect,
    get_variant,
    is_loaded,
    load_model,
    unload,
)

# Outside __all__, as before the split (``name as name`` marks a re-export): WORKING_SIZE_RANGE,
# and the private names tests reach through the package (_build, _class_indices).
from segdemo.instance.model import WORKING_SIZE_RANGE as WORKING_SIZE_RANGE
from segdemo.instance.model import _build as _build
from segdemo.instance.paste import MASK_THRESHOLD, paste_ids
from segdemo.instance.segmentation import _class_indices as _class_indices
from segdemo.instance.segmentation import segment, to_segmentation

__all__ = [
    "DEFAULT_VARIANT",
    "DEFAULT_WORKING_SIZE",
    "MASK_THRESHOLD",
    "SCORE_FLOOR",
    "VARIANTS",
    "WORKING_SIZES",
    "Detections",
    "Variant",
    "detect",
    "get_variant",
    "is_loaded",
    "load_model",
    "paste_ids",
    "segment",
    "to_segmentation",
    "unload",
]
