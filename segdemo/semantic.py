"""Semantic segmentation with torchvision's DeepLabV3: a thin adapter to :class:`Segmentation`.

Everything the model needs comes from its Weights enum: the label list
(``weights.meta["categories"]``, the 21 Pascal VOC classes with ``__background__``), the
preprocessing (``weights.transforms()``: short side to 520, bilinear with antialias, ImageNet
normalisation) and the checkpoint URL. Nothing here copies those constants.

Pretrained and random weights (``SEGDEMO_WEIGHTS=random``) share one code path: the model is
always built empty, then a state dict is loaded into it with ``strict=True`` — from the model
store, or the model's own seeded initialisation.

The result is one segment per class present, including the background, with segment id =
category index + 1 so that 0 keeps meaning "no segment". Logits are upsampled to the original
image size before the argmax, so the id map matches the photo pixel for pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torchvision.models import WeightsEnum
from torchvision.models.segmentation import (
    LRASPP,
    DeepLabV3,
    DeepLabV3_MobileNet_V3_Large_Weights,
    DeepLabV3_ResNet50_Weights,
    DeepLabV3_ResNet101_Weights,
    LRASPP_MobileNet_V3_Large_Weights,
    deeplabv3_mobilenet_v3_large,
    deeplabv3_resnet50,
    deeplabv3_resnet101,
    lraspp_mobilenet_v3_large,
)
from torchvision.transforms import InterpolationMode

from segdemo import weights
from segdemo.device import clock, resolve_device
from segdemo.models import ModelFamily, Progress, TorchvisionVariant, check_image, seeded
from segdemo.precision import autocast, resolve_precision
from segdemo.result import Segment, Segmentation

BACKGROUND = "__background__"
# Largest upsampled-logits tensor made at once (see upsampled_argmax); 1080p needs 174 MB.
UPSAMPLE_BUDGET_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Variant(TorchvisionVariant):
    """One DeepLabV3 flavour, or LRASPP (made for mobile and live video: no auxiliary head)."""

    has_aux: bool = True

    @property
    def builder_options(self) -> dict[str, Any]:
        """Keywords for ``builder`` beyond the weights: the classes, and the aux head if any."""
        return {"num_classes": len(self.categories), **({"aux_loss": True} if self.has_aux else {})}

    @property
    def description(self) -> str:
        """One line for the UI, built from ``weights.meta`` (metrics, size, parameters)."""
        meta = self.weights.meta
        metrics = "; ".join(
            f"mIoU {values['miou']} on {dataset}" for dataset, values in meta["_metrics"].items()
        )
        return (
            f"{self.title}: {metrics}; {meta['num_params'] / 1e6:.1f} M parameters, "
            f"{meta['_file_size']:.0f} MB download"
        )


VARIANTS: dict[str, Variant] = {
    v.key: v
    for v in (
        Variant(
            "resnet50", "DeepLabV3-ResNet50", deeplabv3_resnet50, DeepLabV3_ResNet50_Weights.DEFAULT
        ),
        Variant(
            "resnet101",
            "DeepLabV3-ResNet101",
            deeplabv3_resnet101,
            DeepLabV3_ResNet101_Weights.DEFAULT,
        ),
        Variant(
            "mobilenet_v3_large",
            "DeepLabV3-MobileNetV3-Large",
            deeplabv3_mobilenet_v3_large,
            DeepLabV3_MobileNet_V3_Large_Weights.DEFAULT,
        ),
        Variant(
            "lraspp_mobilenet_v3_large",
            "LRASPP-MobileNetV3-Large",
            lraspp_mobilenet_v3_large,
            LRASPP_MobileNet_V3_Large_Weights.DEFAULT,
            has_aux=False,
        ),
    )
}
DEFAULT_VARIANT = "resnet50"


def _build(spec: Variant, device: torch.device) -> DeepLabV3 | LRASPP:
    # One path for both weight modes: build empty (no download), then load a full state dict.
    # The build is seeded, so random weights are the same on every load.
    with seeded():
        model = spec.builder(weights=None, weights_backbone=None, **spec.builder_options)
    if weights.weights_mode() == "pretrained":
        state = weights.load_checkpoint(spec.weights.url, spec.title)
    else:
        state = model.state_dict()
    model.load_state_dict(state, strict=True)
    if spec.has_aux:
        # The auxiliary head only serves training; at inference it would cost time for nothing.
        model.aux_classifier = None
    model.eval()
    if device.type == "cpu":
        # oneDNN's CPU convolutions are faster on NHWC (channels-last) tensors.
        model = model.to(memory_format=torch.channels_last)
    # fp32 on CUDA too: half precision was not checked on a GPU to give the same classes.
    return model.to(device)


_MODELS = ModelFamily("DeepLabV3", VARIANTS, DEFAULT_VARIANT, _build)
get_variant = _MODELS.spec
load_model = _MODELS.load
is_loaded = _MODELS.is_loaded
unload = _MODELS.clear


def preprocess(
    image: torch.Tensor, weights: WeightsEnum, short_side: int | None = None
) -> torch.Tensor:
    """``weights.transforms()`` on a uint8 [3,H,W] tensor, on its device: float [1,3,h,w].

    ``short_side`` replaces the preset's resize size (520) when given: a smaller working size
    trades detail for speed (the Live tab).

    Bit-for-bit the preset's result, with fewer passes: the preset resizes in float32, rounds
    back to uint8, then converts to float and normalises. Antialiased bilinear is a convex
    combination, so rounding in float (and clamping, which bicubic needs) is the same as the
    round trip through uint8. The settings are read from the preset, never copied.
    """
    preset = weights.transforms()
    height, width = image.shape[-2:]
    x = image.unsqueeze(0).to(torch.float32)
    if preset.resize_size is not None:
        size = _short_side_size(height, width, short_side or preset.resize_size[0])
        if size != (height, width):
            mode = InterpolationMode(preset.interpolation).value
            smooth = mode in ("bilinear", "bicubic")
            x = F.interpolate(
                x,
                size=size,
                mode=mode,
                align_corners=False if smooth else None,
                antialias=bool(preset.antialias) and smooth,
            )
            x = x.round_().clamp_(0, 255)
    mean = torch.tensor(preset.mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    std = torch.tensor(preset.std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    return x.div_(255).sub_(mean).div_(std)


def _short_side_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    # torchvision's rule for a one-number size: short side -> size, long side scaled, truncated.
    if width <= height:
        return int(short_side * height / width), short_side
    return short_side, int(short_side * width / height)


def upsampled_argmax(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``F.interpolate(logits, size, bilinear).argmax(1)[0]`` in bounded memory: integer [H,W].

    The full upsample is C float32 planes at the original size: 3.4 GB for a 40 MP photo. Above
    UPSAMPLE_BUDGET_BYTES the classes go through in groups, keeping a running maximum. Bilinear
    interpolation treats each class on its own, and a later group only wins a pixel with a
    strictly larger value, so the result is identical to the one-shot argmax (first maximum).
    """
    classes = logits.shape[1]
    per_class = size[0] * size[1] * logits.element_size()
    step = max(1, UPSAMPLE_BUDGET_BYTES // per_class)
    if step >= classes:
        up = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        return up.argmax(dim=1)[0]
    best_value = best_index = torch.empty(0)
    for start in range(0, classes, step):
        up = F.interpolate(
            logits[:, start : start + step], size=size, mode="bilinear", align_corners=False
        )
        value, index = up[0].max(dim=0)  # the first maximum within the group
        index = index.to(torch.int32)  # half the memory of int64
        del up
        if start == 0:
            best_value, best_index = value, index
        else:
            better = value > best_value
            best_value = torch.where(better, value, best_value)
            best_index = torch.where(better, index + start, best_index)
    return best_index


def segment(
    image: torch.Tensor,
    variant: str = DEFAULT_VARIANT,
    *,
    precision: str | None = None,
    progress: Progress | None = None,
    device: torch.device | str | None = None,
    short_side: int | None = None,
) -> Segmentation:
    """Semantic segmentation of a uint8 [3,H,W] image (any device) with DeepLabV3 or LRASPP.

    ``short_side``: the model's working size (see :func:`preprocess`); default the preset's.

    The model runs on ``device`` (default: :func:`segdemo.device.choose_device`); the image is
    moved there and the id map [H,W] comes back there. The id map is a new int32 tensor made
    outside inference mode, held by nothing else: the caller owns it and may edit it in place
    (a cache that shares results hands each caller a copy). ``extras`` carries ``variant``,
    ``model`` (title), ``weights`` ("pretrained"/"random"), ``precision`` (what the forward
    ran in) and ``timings_ms`` (preprocess, model, postprocess). ``precision``: "fp32", "bf16"
    or "auto" (see :mod:`segdemo.precision`; None: its default); the argmax runs in float32.
    ``progress(fraction, message)`` is told about loading (only when the model is not loaded
    yet), running and done.
    """
    spec = get_variant(variant)
    check_image(image, title=spec.title, min_size=spec.min_size)
    where = resolve_device(device)
    resolved = resolve_precision(precision, where)
    model = load_model(spec.key, where, progress)

    height, width = int(image.shape[1]), int(image.shape[2])
    categories = spec.categories
    with torch.inference_mode():
        start = clock(where)
        batch = preprocess(image.to(where), spec.weights, short_side)
        if where.type == "cpu":
            batch = batch.contiguous(memory_format=torch.channels_last)
        prepared = clock(where)
        with autocast(resolved, where):
            logits = model(batch)["out"]
        logits = logits.float()
        ran = clock(where)
        # Upsample the logits to the original size before the argmax (like the reference
        # evaluation) so every photo pixel gets its own decision. NHWC makes the argmax over
        # classes read contiguous memory on the CPU.
        if where.type == "cpu":
            logits = logits.contiguous(memory_format=torch.channels_last)
        best = upsampled_argmax(logits, (height, width))
        del logits
    # A copy made outside inference mode: an ordinary tensor, which the caller may edit.
    ids = best.to(torch.int32, copy=True).add_(1)
    counts = torch.bincount(ids.view(-1), minlength=len(categories) + 1)
    present = (counts[1:] > 0).nonzero().flatten().tolist()
    done = clock(where)

    segments = tuple(
        Segment(
            id=c + 1,
            category_id=c,
            label=categories[c],
            score=None,
            # VOC's 20 classes are countable objects; the background is stuff.
            is_thing=categories[c] != BACKGROUND,
        )
        for c in present
    )
    extras: dict[str, Any] = {
        "variant": spec.key,
        "model": spec.title,
        "weights": weights.weights_mode(),
        "precision": resolved,
        "timings_ms": {
            "preprocess": (prepared - start) * 1e3,
            "model": (ran - prepared) * 1e3,
            "postprocess": (done - ran) * 1e3,
        },
    }
    result = Segmentation(ids, segments, categories, "semantic", extras)
    if progress is not None:
        progress(1.0, f"{spec.title}: {len(segments)} classes found")
    return result
