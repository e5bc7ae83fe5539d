"""Panoptic segmentation with Mask2Former (transformers): every pixel labelled.

Each "thing" (person, car, cat) comes out as its own instance, each kind of "stuff" (sky, road,
grass) as one region: the stuff classes are fused (``label_ids_to_fuse``), or sky would come out
in pieces. One job per module:

- :mod:`~segdemo.panoptic.checkpoints`: the checkpoints on offer (:data:`CHECKPOINTS`), their
  published figures and architecture, the working sizes, :func:`random_config`;
- :mod:`~segdemo.panoptic.datasets`: the shipped COCO / Cityscapes / ADE20K label lists;
- :mod:`~segdemo.panoptic.postprocess`: :func:`postprocess`, transformers' panoptic
  post-processing computed on the stage grid;
- :mod:`~segdemo.panoptic.model`: building and loading the models, :func:`segment` (the task
  adapter) and :func:`fetch`.

Note: the package attribute ``postprocess`` is the function; the module of the same name is
``sys.modules["segdemo.panoptic.postprocess"]`` (``from segdemo.panoptic.postprocess import …``
reaches it as usual).
"""

from __future__ import annotations

from segdemo.panoptic.checkpoints import (
    CHECKPOINTS,
    DEFAULT_CHECKPOINT,
    DEFAULT_WORKING_SIZE,
    DESCRIPTION,
    LONGEST_EDGE,
    SIZE_DIVISOR,
    WORKING_SIZE_RANGE,
    WORKING_SIZES,
    Backbone,
    Checkpoint,
    get_checkpoint,
    random_config,
    shipped_labels,
)
from segdemo.panoptic.model import (
    ARCH_ENV,
    Loaded,
    architecture,
    fetch,
    is_loaded,
    load,
    segment,
    unload,
)
from segdemo.panoptic.postprocess import (
    MASK_THRESHOLD,
    OVERLAP_THRESHOLD,
    STAGE_SIZE,
    THRESHOLD,
    postprocess,
)

__all__ = [
    "ARCH_ENV",
    "CHECKPOINTS",
    "DEFAULT_CHECKPOINT",
    "DEFAULT_WORKING_SIZE",
    "DESCRIPTION",
    "LONGEST_EDGE",
    "MASK_THRESHOLD",
    "OVERLAP_THRESHOLD",
    "SIZE_DIVISOR",
    "STAGE_SIZE",
    "THRESHOLD",
    "WORKING_SIZES",
    "WORKING_SIZE_RANGE",
    "Backbone",
    "Checkpoint",
    "Loaded",
    "architecture",
    "fetch",
    "get_checkpoint",
    "is_loaded",
    "load",
    "postprocess",
    "random_config",
    "segment",
    "shipped_labels",
    "unload",
]
