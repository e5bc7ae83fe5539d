"""The Mask R-CNN models: the variants on offer, building and loading them, and :func:`detect`.

:func:`detect` runs the model once and keeps its raw output as
:class:`~segdemo.instance.detections.Detections`, down to the score floor (0.05), with the 28×28
mask probabilities not pasted. The model runs with its own preprocessing
(``GeneralizedRCNNTransform``: normalisation and the resize of the short side to 800, or to the
chosen working size) and its own box post-processing (rescale to the original size). Models are
built under the seed lock (:func:`segdemo.models.seeded`) and cached by a
:class:`~segdemo.models.ModelFamily`. Torch and torchvision only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import torch
from torch import nn
from torchvision.models.detection import (
    MaskRCNN,
    MaskRCNN_ResNet50_FPN_V2_Weights,
    MaskRCNN_ResNet50_FPN_Weights,
    maskrcnn_resnet50_fpn,
    maskrcnn_resnet50_fpn_v2,
)
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops.misc import FrozenBatchNorm2d

from segdemo import weights
from segdemo.device import clock, resolve_device
from segdemo.instance.detections import Detections, _is_int
from segdemo.models import ModelFamily, Progress, TorchvisionVariant, check_image, seeded
from segdemo.precision import autocast, resolve_precision

__all__ = [
    "DEFAULT_VARIANT",
    "DEFAULT_WORKING_SIZE",
    "SCORE_FLOOR",
    "VARIANTS",
    "WORKING_SIZES",
    "WORKING_SIZE_RANGE",
    "Variant",
    "detect",
    "get_variant",
    "is_loaded",
    "load_model",
    "unload",
]

SCORE_FLOOR = 0.05
"""The lowest score the model keeps (its ``roi_heads.score_thresh``; torchvision's default).
The threshold slider can go down to it without running the model again."""

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
    precision: str | None = None,
    progress: Progress | None = None,
    device: torch.device | str | None = None,
) -> Detections:
    """Run Mask R-CNN ``variant`` once on ``image`` (uint8 [3, H, W], any device).

    The model runs on ``device`` (default: :func:`segdemo.device.choose_device`); the image is
    moved there and the detections stay there. Keeps every detection above the score floor
    (0.05; at most 100) with its 28×28 mask probabilities, not pasted. ``working_size``: resize
    the short side to this instead of the model's 800 (see WORKING_SIZES: faster on a CPU, less
    accurate on small objects). ``precision``: "fp32", "bf16" or "auto" for the network (see
    :mod:`segdemo.precision`; None: its default); the transform and the box rescaling stay
    float32, and boxes, scores and mask probabilities come back float32. ``extras`` carries
    ``variant``, ``model`` (title), ``weights`` ("pretrained"/"random"), ``working_size``,
    ``precision`` (what the network ran in) and ``timings_ms`` (``model``: preprocessing and
    the model). ``progress(fraction, message)`` is told about loading (only when the model is
    not loaded yet), running and done. Bad arguments raise TypeError (wrong kind) or ValueError
    (wrong value) before the model is loaded.
    """
    spec = get_variant(variant)
    check_image(image, title=spec.title, min_size=spec.min_size)
    _check_working_size(working_size)
    where = resolve_device(device)
    resolved = resolve_precision(precision, where)
    model = load_model(spec.key, where, progress)
    transform = _transform_for(model, working_size)
    height, width = int(image.shape[1]), int(image.shape[2])
    with torch.inference_mode():
        start = clock(where)
        raw = _run(model, transform, image.to(where, non_blocking=True), resolved)
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
            "precision": resolved,
            "timings_ms": {"model": (ran - start) * 1e3},
        },
    )
    if progress is not None:
        progress(1.0, f"{spec.title}: {len(dets)} detections")
    return dets


def _run(
    model: MaskRCNN, transform: GeneralizedRCNNTransform, image: torch.Tensor, precision: str
) -> dict[str, torch.Tensor]:
    """GeneralizedRCNN.forward for one image, stopping before the masks are pasted.

    Same steps as torchvision's own forward (transform → backbone → rpn → roi_heads →
    transform.postprocess); the 28×28 masks are taken out before postprocess, which then only
    rescales the boxes to the original size. The network runs under autocast to ``precision``
    (resolved); the transform and the rescaling in float32.
    """
    original_size = (int(image.shape[-2]), int(image.shape[-1]))
    pixels = image.to(torch.float32).div(255)
    images, _ = transform([pixels])
    with autocast(precision, image.device):
        features = model.backbone(images.tensors)
        proposals, _ = model.rpn(images, features)
        detections, _ = model.roi_heads(features, proposals, images.image_sizes)
    result = {k: v.float() if v.is_floating_point() else v for k, v in detections[0].items()}
    masks = result.pop("masks")  # [N, 1, M, M] probabilities of each box's own class
    result = transform.postprocess([result], images.image_sizes, [original_size])[0]
    result["masks"] = masks
    return result


def _check_working_size(value: object) -> None:
    """None, or an int in WORKING_SIZE_RANGE: TypeError for another kind, ValueError outside."""
    if value is None:
        return
    low, high = WORKING_SIZE_RANGE
    if not _is_int(value):
        raise TypeError(f"working_size must be None or an int in [{low}, {high}], got {value!r}")
    if not low <= int(value) <= high:  # type: ignore[call-overload]
        raise ValueError(f"working_size must be None or an int in [{low}, {high}], got {value!r}")
