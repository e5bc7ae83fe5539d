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
size). Torch and torchvision only: no gradio, PIL or numpy here.
"""

from __future__ import annotations

import numbers
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection import (
    MaskRCNN,
    MaskRCNN_ResNet50_FPN_V2_Weights,
    MaskRCNN_ResNet50_FPN_Weights,
    maskrcnn_resnet50_fpn,
    maskrcnn_resnet50_fpn_v2,
)
from torchvision.models.detection.roi_heads import expand_boxes, expand_masks
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops.misc import FrozenBatchNorm2d

from segdemo import weights
from segdemo.checks import describe, fraction
from segdemo.device import clock, resolve_device
from segdemo.models import ModelFamily, Progress, TorchvisionVariant, check_image, seeded
from segdemo.result import Segment, Segmentation

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

SCORE_FLOOR = 0.05
"""The lowest score the model keeps (its ``roi_heads.score_thresh``; torchvision's default).
The threshold slider can go down to it without running the model again."""

MASK_THRESHOLD = 0.5
"""A pixel belongs to an instance where its pasted mask probability is > 0.5 (torchvision's
documented use: ``masks > 0.5``)."""

WORKING_SIZES = (800, 640, 512)
"""Short-side sizes offered to the user. 800 is what both models were trained and evaluated at
(the box/mask AP quoted in the descriptions); smaller sizes cut CPU time roughly with the pixel
count, at a cost in accuracy that is not measured here (no weights offline): expect small
objects to be the first lost. 800 stays the default: it is the models' own
``transform.min_size`` (a test checks it), used when ``working_size`` is None."""
DEFAULT_WORKING_SIZE = WORKING_SIZES[0]
WORKING_SIZE_RANGE = (128, 1333)


@dataclass(frozen=True)
class Variant(TorchvisionVariant):
    """One Mask R-CNN model (labels, figures and file from its Weights enum)."""

    # torchvision's builder builds a different backbone for pretrained weights than for
    # weights=None; ``frozen_bn_eps`` mirrors it (see _match_pretrained_architecture).
    frozen_bn_eps: float | None = None

    @property
    def box_ap(self) -> float:
        return float(self.weights.meta["_metrics"]["COCO-val2017"]["box_map"])

    @property
    def mask_ap(self) -> float:
        return float(self.weights.meta["_metrics"]["COCO-val2017"]["mask_map"])

    @property
    def gflops(self) -> float:
        return float(self.weights.meta["_ops"])

    @property
    def file_mb(self) -> float:
        return float(self.weights.meta["_file_size"])

    @property
    def description(self) -> str:
        """One line for the model picker, every figure read from ``weights.meta``."""
        text = (
            f"{self.title}: COCO val2017 box AP {self.box_ap:g}, mask AP {self.mask_ap:g}; "
            f"{self.gflops:.0f} GFLOPs, {self.file_mb:.0f} MB"
        )
        cheapest = min(VARIANTS.values(), key=lambda v: v.gflops)
        priciest = max(VARIANTS.values(), key=lambda v: v.gflops)
        if self is cheapest and priciest is not self:
            text += f" (about {priciest.gflops / self.gflops:.1f}× cheaper than {priciest.key})"
        return text


VARIANTS: Mapping[str, Variant] = MappingProxyType(
    {
        "v2": Variant(
            "v2",
            "Mask R-CNN v2 (ResNet-50 FPN v2)",
            maskrcnn_resnet50_fpn_v2,
            MaskRCNN_ResNet50_FPN_V2_Weights.DEFAULT,
        ),
        "v1": Variant(
            "v1",
            "Mask R-CNN v1 (ResNet-50 FPN)",
            maskrcnn_resnet50_fpn,
            MaskRCNN_ResNet50_FPN_Weights.DEFAULT,
            frozen_bn_eps=0.0,
        ),
    }
)
DEFAULT_VARIANT = "v2"


# --------------------------------------------------------------------------- Detections


@dataclass(frozen=True)
class Detections:
    """The model's raw output for one image, cached so that rendering never re-runs it.

    - ``boxes``: float32 [N, 4], (x0, y0, x1, y1) in original-image pixels;
    - ``scores``: float [N], descending as the model returns them (not required);
    - ``labels``: int64 [N], indices into ``categories`` (the 91 COCO names, 0 = background);
    - ``mask_probs``: float [N, M, M] (M = 28), the ROI head's mask probabilities for each
      box's own class, before pasting into the image;
    - ``image_size``: (H, W) of the original image; ``categories``: the model's label list.

    Index it like supervision's Detections: ``dets[dets.scores > 0.5]``, ``dets[:10]``,
    ``dets[[0, 2]]``, ``dets[3]`` (a Detections of length 1).
    """

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    mask_probs: torch.Tensor
    image_size: tuple[int, int]
    categories: tuple[str, ...]
    extras: dict[str, object] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        named = {
            "boxes": self.boxes,
            "scores": self.scores,
            "labels": self.labels,
            "mask_probs": self.mask_probs,
        }
        for name, value in named.items():
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got a {type(value).__name__}")
        n = self.boxes.shape[0] if self.boxes.ndim == 2 else -1
        if self.boxes.ndim != 2 or self.boxes.shape[1] != 4 or self.boxes.dtype != torch.float32:
            raise ValueError(f"boxes must be float32 [N, 4], got {describe(self.boxes)}")
        if self.scores.shape != (n,) or not self.scores.is_floating_point():
            raise ValueError(f"scores must be a float tensor [{n}], got {describe(self.scores)}")
        if self.labels.shape != (n,) or self.labels.dtype != torch.int64:
            raise ValueError(f"labels must be int64 [{n}], got {describe(self.labels)}")
        m = self.mask_probs
        if (
            m.ndim != 3
            or m.shape[0] != n
            or m.shape[1] != m.shape[2]
            or m.shape[1] < 1
            or not m.is_floating_point()
        ):
            raise ValueError(
                f"mask_probs must be a float tensor [{n}, M, M], got {describe(self.mask_probs)}"
            )
        devices = {t.device for t in named.values()}
        if len(devices) != 1:
            raise ValueError(f"all tensors must be on one device, got {sorted(map(str, devices))}")
        size = tuple(self.image_size)
        if len(size) != 2:
            raise ValueError(f"image_size must be (H, W) with H, W > 0, got {self.image_size!r}")
        if not all(_is_int(s) for s in size):
            raise TypeError(f"image_size must be (H, W) ints, got {self.image_size!r}")
        if not all(s > 0 for s in size):
            raise ValueError(f"image_size must be (H, W) with H, W > 0, got {self.image_size!r}")
        object.__setattr__(self, "image_size", (int(size[0]), int(size[1])))
        object.__setattr__(self, "categories", tuple(self.categories))
        if not self.categories:
            raise ValueError("categories must name at least one class")
        if n:
            low, high = int(self.labels.min()), int(self.labels.max())
            if low < 0 or high >= len(self.categories):
                raise ValueError(
                    f"labels span [{low}, {high}], outside the {len(self.categories)} categories"
                )

    @classmethod
    def empty(
        cls,
        image_size: tuple[int, int],
        categories: Collection[str],
        device: torch.device | str = "cpu",
        mask_size: int = 28,
    ) -> Detections:
        """No detection at all, for an image of ``image_size`` (H, W)."""
        return cls(
            boxes=torch.zeros(0, 4, dtype=torch.float32, device=device),
            scores=torch.zeros(0, dtype=torch.float32, device=device),
            labels=torch.zeros(0, dtype=torch.int64, device=device),
            mask_probs=torch.zeros(0, mask_size, mask_size, dtype=torch.float32, device=device),
            image_size=tuple(image_size),  # type: ignore[arg-type]
            categories=tuple(categories),
        )

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def __getitem__(self, index: int | slice | torch.Tensor | list[int] | list[bool]) -> Detections:
        n = len(self)
        if isinstance(index, bool):
            raise TypeError("index Detections with an int, a slice, or a bool/int tensor or list")
        if _is_int(index):
            i = int(index)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of range for {n} detections")
            index = slice(i % n, i % n + 1)
        elif isinstance(index, (list, tuple)):
            dtype = torch.bool if index and all(isinstance(i, bool) for i in index) else None
            index = torch.as_tensor(index, dtype=dtype or torch.int64, device=self.boxes.device)
        if isinstance(index, torch.Tensor):
            if index.dtype == torch.bool:
                if index.shape != (n,):
                    raise IndexError(f"a boolean index must have shape [{n}], got {index.shape}")
            elif index.is_floating_point() or index.ndim != 1:
                raise IndexError(
                    f"an index tensor must be bool [N] or integer [K], got {describe(index)}"
                )
            index = index.to(self.boxes.device)
        elif not isinstance(index, slice):
            raise TypeError(
                f"index Detections with an int, a slice, or a bool/int tensor or list; got a "
                f"{type(index).__name__}"
            )
        return Detections(
            boxes=self.boxes[index],
            scores=self.scores[index],
            labels=self.labels[index],
            mask_probs=self.mask_probs[index],
            image_size=self.image_size,
            categories=self.categories,
            extras=dict(self.extras),
        )

    @property
    def device(self) -> torch.device:
        return self.boxes.device

    def clone(self) -> Detections:
        """A copy with new tensors: what a shared cache hands out."""
        return Detections(
            boxes=self.boxes.clone(),
            scores=self.scores.clone(),
            labels=self.labels.clone(),
            mask_probs=self.mask_probs.clone(),
            image_size=self.image_size,
            categories=self.categories,
            extras=dict(self.extras),
        )

    def to(self, device: torch.device | str) -> Detections:
        """The same detections with their tensors on ``device``."""
        return Detections(
            boxes=self.boxes.to(device),
            scores=self.scores.to(device),
            labels=self.labels.to(device),
            mask_probs=self.mask_probs.to(device),
            image_size=self.image_size,
            categories=self.categories,
            extras=dict(self.extras),
        )


# --------------------------------------------------------------------------- the model


def _build(spec: Variant, device: torch.device) -> MaskRCNN:
    # One path for both weight modes: build empty (no download), then load a full state dict
    # with strict=True, from the store or the model's own seeded initialisation. Pretrained
    # mode reads the file first, so a missing checkpoint fails before anything is built.
    pretrained = weights.weights_mode() == "pretrained"
    state = weights.load_checkpoint(spec.weights.url, spec.title) if pretrained else None
    with seeded():
        model = spec.builder(weights=None, weights_backbone=None, num_classes=len(spec.categories))
    _match_pretrained_architecture(model, spec)
    model.load_state_dict(model.state_dict() if state is None else state, strict=True)
    # The floor of the score-threshold slider (torchvision's default, set explicitly): the
    # model keeps everything above it, rendering filters further without running it again.
    model.roi_heads.score_thresh = SCORE_FLOOR
    model.eval().requires_grad_(False)
    if device.type == "cpu":
        # oneDNN's CPU convolutions take less time on NHWC (channels-last) tensors; the
        # results are equal up to float rounding.
        model = model.to(memory_format=torch.channels_last)
    return model.to(device)


_MODELS = ModelFamily("Mask R-CNN", VARIANTS, DEFAULT_VARIANT, _build)
get_variant = _MODELS.spec
load_model = _MODELS.load
is_loaded = _MODELS.is_loaded
unload = _MODELS.clear


def _match_pretrained_architecture(model: MaskRCNN, spec: Variant) -> None:
    """Make a ``weights=None`` build the network torchvision builds for ``spec.weights``.

    For v1, torchvision's builder uses FrozenBatchNorm2d in the ResNet body when weights are
    given (BatchNorm2d otherwise) and then sets its eps to 0.0 for COCO_V1 (weights converted
    from Detectron). In eval mode FrozenBatchNorm2d(eps) is BatchNorm2d's formula, so only the
    eps changes the numbers, but the module type keeps the checkpoint's keys loadable as is.
    v2 uses BatchNorm2d either way: nothing to do.
    """
    if spec.frozen_bn_eps is None:
        return
    _freeze_batchnorm(model.backbone.body, spec.frozen_bn_eps)


def _freeze_batchnorm(module: nn.Module, eps: float) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, eps=eps)
            for buffer in ("weight", "bias", "running_mean", "running_var"):
                getattr(frozen, buffer).copy_(getattr(child, buffer).detach())
            setattr(module, name, frozen)
        else:
            _freeze_batchnorm(child, eps)


def _transform_for(model: MaskRCNN, working_size: int | None) -> GeneralizedRCNNTransform:
    """The model's own transform, or a copy resizing the short side to ``working_size``.

    The long-side cap scales with it (800/1333 → working_size/…), keeping the same aspect cap.
    A fresh transform per call keeps the shared cached model untouched (thread-safe).
    """
    base = model.transform
    if working_size is None or (tuple(base.min_size) == (working_size,)):
        return base
    max_size = round(working_size * base.max_size / base.min_size[-1])
    transform = GeneralizedRCNNTransform(
        working_size,
        max_size,
        base.image_mean,
        base.image_std,
        size_divisible=base.size_divisible,
        fixed_size=base.fixed_size,
    )
    # eval(): in training mode postprocess would leave the boxes at the working size.
    return transform.eval()


def detect(
    image: torch.Tensor,
    variant: str = DEFAULT_VARIANT,
    *,
    working_size: int | None = None,
    progress: Progress | None = None,
    device: torch.device | str | None = None,
) -> Detections:
    """Run Mask R-CNN ``variant`` once on ``image`` (uint8 [3, H, W], any device).

    The model runs on ``device`` (default: :func:`segdemo.device.choose_device`); the image is
    moved there and the detections stay there. Keeps every detection above the score floor
    (0.05; at most 100) with its 28×28 mask probabilities, not pasted. ``working_size``: resize
    the short side to this instead of the model's 800 (see WORKING_SIZES: faster on a CPU, less
    accurate on small objects). ``extras`` carries ``variant``, ``model`` (title), ``weights``
    ("pretrained"/"random"), ``working_size`` and ``timings_ms`` (``model``: preprocessing and
    the model). ``progress(fraction, message)`` is told about loading (only when the model is
    not loaded yet), running and done. Bad arguments raise TypeError (wrong kind) or ValueError
    (wrong value) before the model is loaded.
    """
    spec = get_variant(variant)
    check_image(image, title=spec.title, min_size=spec.min_size)
    _check_working_size(working_size)
    where = resolve_device(device)
    model = load_model(spec.key, where, progress)
    transform = _transform_for(model, working_size)
    height, width = int(image.shape[1]), int(image.shape[2])
    with torch.inference_mode():
        start = clock(where)
        raw = _run(model, transform, image.to(where, non_blocking=True))
        ran = clock(where)
    # Small copies made outside inference mode: ordinary tensors, which the caller may edit.
    dets = Detections(
        boxes=raw["boxes"].to(torch.float32).clone(),
        scores=raw["scores"].clone(),
        labels=raw["labels"].clone(),
        mask_probs=raw["masks"][:, 0].clone(),
        image_size=(height, width),
        categories=spec.categories,
        extras={
            "variant": spec.key,
            "model": spec.title,
            "weights": weights.weights_mode(),
            "working_size": int(transform.min_size[-1]),
            "timings_ms": {"model": (ran - start) * 1e3},
        },
    )
    if progress is not None:
        progress(1.0, f"{spec.title}: {len(dets)} detections")
    return dets


def _run(
    model: MaskRCNN, transform: GeneralizedRCNNTransform, image: torch.Tensor
) -> dict[str, torch.Tensor]:
    """GeneralizedRCNN.forward for one image, stopping before the masks are pasted.

    Same steps as torchvision's own forward (transform → backbone → rpn → roi_heads →
    transform.postprocess); the 28×28 masks are taken out before postprocess, which then only
    rescales the boxes to the original size.
    """
    original_size = (int(image.shape[-2]), int(image.shape[-1]))
    pixels = image.to(torch.float32).div(255)
    images, _ = transform([pixels])
    features = model.backbone(images.tensors)
    proposals, _ = model.rpn(images, features)
    detections, _ = model.roi_heads(features, proposals, images.image_sizes)
    result = dict(detections[0])
    masks = result.pop("masks")  # [N, 1, M, M] probabilities of each box's own class
    result = transform.postprocess([result], images.image_sizes, [original_size])[0]
    result["masks"] = masks
    return result


# --------------------------------------------------------------------------- rendering


def to_segmentation(
    dets: Detections,
    *,
    threshold: float = 0.5,
    classes: Collection[int | str] | int | str | None = None,
) -> Segmentation:
    """The detections with ``score >= threshold`` (and in ``classes``) as a Segmentation.

    One segment per kept detection, ids 1..K in descending score order, labelled
    "dog 1 · 0.97" (per-class number in score order); the higher score wins overlapping pixels.
    ``classes``: category indices or names (case-insensitive) to keep; None keeps all. Cheap
    (no model): this is what the threshold slider and the class filter call.
    """
    if not isinstance(dets, Detections):
        raise TypeError(f"dets must be Detections, got a {type(dets).__name__}")
    threshold = _check_threshold(threshold)
    keep = dets.scores >= threshold
    if classes is not None:
        wanted = _class_indices(classes, dets.categories)
        table = torch.zeros(len(dets.categories), dtype=torch.bool, device=dets.device)
        table[list(wanted)] = True
        keep &= table[dets.labels]
    kept = dets[keep]
    # Stable descending sort: among equal scores the earlier detection ranks (and wins) first.
    order = torch.sort(kept.scores, descending=True, stable=True).indices
    kept = kept[order]
    height, width = dets.image_size
    if not len(kept):
        return Segmentation.empty(height, width, dets.categories, "instance", device=dets.device)

    ids = paste_ids(kept.mask_probs, kept.boxes, (height, width))
    counts: dict[int, int] = {}
    segments = []
    for rank, (box, score, label) in enumerate(
        zip(kept.boxes.tolist(), kept.scores.tolist(), kept.labels.tolist(), strict=True)
    ):
        counts[label] = counts.get(label, 0) + 1
        segments.append(
            Segment(
                id=rank + 1,
                category_id=label,
                label=f"{dets.categories[label]} {counts[label]} · {score:.2f}",
                score=score,
                is_thing=True,
                box=(box[0], box[1], box[2], box[3]),
            )
        )
    extras = {"threshold": threshold, **dets.extras}
    return Segmentation(ids, tuple(segments), dets.categories, "instance", extras)


def paste_ids(
    mask_probs: torch.Tensor,
    boxes: torch.Tensor,
    image_size: tuple[int, int],
    *,
    threshold: float = MASK_THRESHOLD,
) -> torch.Tensor:
    """Paste M×M mask probabilities into one int32 id map [H, W], each inside its box only.

    Detection k (0-based, in priority order: the first wins overlaps) gets id k + 1 where its
    pasted probability is > ``threshold``; 0 elsewhere. Same geometry as torchvision's
    ``paste_masks_in_image`` (it reuses ``expand_masks``/``expand_boxes`` with padding 1, the
    int64 truncation of the expanded box, a bilinear resize to the box's integer size), but
    never builds its N×H×W float tensor: the cost is the summed box area, not N·H·W.
    """
    if not isinstance(mask_probs, torch.Tensor) or not isinstance(boxes, torch.Tensor):
        raise TypeError(
            f"need boxes [N, 4] and mask_probs [N, M, M] tensors, got {describe(boxes)} and "
            f"{describe(mask_probs)}"
        )
    n = int(boxes.shape[0]) if boxes.ndim == 2 and boxes.shape[1] == 4 else -1
    if n < 0 or mask_probs.ndim != 3 or mask_probs.shape[0] != n:
        raise ValueError(
            f"need boxes [N, 4] and mask_probs [N, M, M], got {describe(boxes)} and "
            f"{describe(mask_probs)}"
        )
    height, width = image_size
    ids = torch.zeros(height, width, dtype=torch.int32, device=boxes.device)
    if n == 0:
        return ids
    # 1. Pad every mask by one pixel and grow its box by the same factor (M + 2) / M, exactly
    #    as torchvision does, so the resampling grid is the same.
    padded, scale = expand_masks(mask_probs[:, None], padding=1)
    int_boxes = expand_boxes(boxes, scale).to(dtype=torch.int64).tolist()
    # 2. Paint in ascending priority so the first (highest score) detection is written last.
    for k in range(n - 1, -1, -1):
        x0, y0, x1, y1 = int_boxes[k]
        x_lo, y_lo = max(x0, 0), max(y0, 0)
        x_hi, y_hi = min(x1 + 1, width), min(y1 + 1, height)
        if x_lo >= x_hi or y_lo >= y_hi:
            continue  # the box lies outside the image
        # 3. Resize the padded mask to the box's integer size (at least 1×1) and cut out
        #    the part inside the image.
        box_h, box_w = max(y1 - y0 + 1, 1), max(x1 - x0 + 1, 1)
        pasted = F.interpolate(
            padded[k : k + 1], size=(box_h, box_w), mode="bilinear", align_corners=False
        )[0, 0, y_lo - y0 : y_hi - y0, x_lo - x0 : x_hi - x0]
        # 4. Write the id where the mask is on: a view into the id map, touched in-box only.
        ids[y_lo:y_hi, x_lo:x_hi].masked_fill_(pasted > threshold, k + 1)
    return ids


def segment(
    image: torch.Tensor,
    variant: str = DEFAULT_VARIANT,
    *,
    threshold: float = 0.5,
    classes: Collection[int | str] | int | str | None = None,
    working_size: int | None = None,
    progress: Progress | None = None,
    device: torch.device | str | None = None,
) -> Segmentation:
    """:func:`detect` then :func:`to_segmentation`, for callers that do not cache detections."""
    threshold = _check_threshold(threshold)  # bad arguments fail before the model runs
    if classes is not None:
        _class_indices(classes, get_variant(variant).categories)
    dets = detect(image, variant, working_size=working_size, progress=progress, device=device)
    return to_segmentation(dets, threshold=threshold, classes=classes)


# --------------------------------------------------------------------------- validation


def _check_threshold(value: object) -> float:
    return fraction(value, "threshold")


def _check_working_size(value: object) -> None:
    """None, or an int in WORKING_SIZE_RANGE: TypeError for another kind, ValueError outside."""
    if value is None:
        return
    low, high = WORKING_SIZE_RANGE
    if not _is_int(value):
        raise TypeError(f"working_size must be None or an int in [{low}, {high}], got {value!r}")
    if not low <= int(value) <= high:  # type: ignore[call-overload]
        raise ValueError(f"working_size must be None or an int in [{low}, {high}], got {value!r}")


def _class_indices(
    classes: Collection[int | str] | int | str, categories: tuple[str, ...]
) -> set[int]:
    """Category indices for a class filter given as indices and/or names (case-insensitive)."""
    if isinstance(classes, (str, int)):
        classes = [classes]
    if not isinstance(classes, Collection):
        raise TypeError(
            f"classes must be a collection of category names or indices, got a "
            f"{type(classes).__name__}"
        )
    by_name: dict[str, set[int]] = {}
    for index, name in enumerate(categories):
        by_name.setdefault(name.strip().lower(), set()).add(index)
    wanted: set[int] = set()
    for item in classes:
        if isinstance(item, str):
            found = by_name.get(item.strip().lower())
            if found is None:
                sample = ", ".join(c for c in categories[1:8])
                raise ValueError(
                    f"unknown class {item!r}: use one of the {len(categories)} category names "
                    f"({sample}, …) or an index"
                )
            wanted |= found
        elif _is_int(item):
            if not 0 <= int(item) < len(categories):
                raise ValueError(
                    f"class index {item!r} is outside the {len(categories)} categories"
                )
            wanted.add(int(item))
        else:
            raise TypeError(f"classes may hold names or int indices, got {item!r}")
    return wanted


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, torch.Tensor):
        return value.ndim == 0 and not value.is_floating_point() and value.dtype != torch.bool
    return isinstance(value, numbers.Integral)
