"""Live segmentation of one video frame: overlay, or the chosen classes cut out on a background.

What the Live tab and the ``live`` bench run per frame, without Gradio. The model is the
semantic adapter (:func:`segdemo.semantic.segment`) at a small working size; the painting is
:mod:`segdemo.masks` and :mod:`segdemo.render`, like every other tab. Everything stays on the
frame's device: the background blur is torchvision's ``gaussian_blur`` on the same tensor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torchvision.transforms.v2.functional import gaussian_blur

from segdemo import masks, semantic
from segdemo.render import LegendEntry, legend, segment_palette
from segdemo.result import Segmentation

#: The semantic variants fast enough for live video; the first is the default.
VARIANTS = ("lraspp_mobilenet_v3_large", "mobilenet_v3_large")
#: What a frame becomes: the class colours over it, or the chosen classes on a background.
MODES = ("overlay", "transparent", "black", "blur", "picture")
#: Short side the model sees (the preset's 520 costs about 5x the time): chosen for speed.
WORKING_SIZE = 256
DEFAULT_CLASSES = ("person",)
#: The forward's precision: bf16 autocast where the hardware has it natively, fp32 elsewhere
#: (see segdemo.precision). A live picture values speed over the last pixel, and DeepLabV3 in
#: bf16 agreed with fp32 on 99 % of pixels even with random weights (tiny logit margins).
PRECISION = "auto"
OVERLAY_ALPHA = 0.5
#: How the Live tab sends frames back (Gradio encodes them with PIL): WebP keeps the alpha.
OUTPUT_FORMAT = "webp"
BLUR_SHRINK = 4  # the blur runs at 1/4 of the frame's size: 16x fewer pixels, same look
BLUR_KERNEL = 9  # pixels at that size (about 36 at the frame's): a room becomes unreadable


@dataclass(frozen=True)
class LiveFrame:
    """One processed frame: ``image`` uint8 [3,H,W] (RGB) or [4,H,W] (RGBA, mode
    "transparent") on the frame's device, the model's result and the overlay's legend."""

    image: torch.Tensor
    seg: Segmentation
    legend: list[LegendEntry]


def process_frame(
    frame: torch.Tensor,
    mode: str = "overlay",
    *,
    variant: str = VARIANTS[0],
    classes: Sequence[str] = DEFAULT_CLASSES,
    background: torch.Tensor | None = None,
    working_size: int = WORKING_SIZE,
    device: torch.device | str | None = None,
    precision: str = PRECISION,
    options: Mapping[str, Any] | None = None,
) -> LiveFrame:
    """Segment ``frame`` (uint8 [3,H,W], any device) and paint it as ``mode`` asks.

    ``classes``: VOC class names kept by the cut-out modes. ``background``: uint8 [3,h,w] (any
    size, any device) for mode "picture", stretched to the frame. ``precision``: see
    :data:`PRECISION`. ``options``: extra keywords
    for the semantic adapter, passed through unchanged. The frame is moved to ``device`` once
    and the result comes back there.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    if mode == "picture" and background is None:
        raise ValueError("mode 'picture' needs a background picture")
    seg = semantic.segment(
        frame,
        variant,
        device=device,
        short_side=working_size,
        precision=precision,
        **dict(options or {}),
    )
    frame = frame.to(seg.device)
    palette = segment_palette(seg)
    entries = legend(seg, palette)
    if mode == "overlay":
        return LiveFrame(masks.overlay(frame, seg.ids, palette, OVERLAY_ALPHA), seg, entries)
    keep = masks.binarize(seg.ids, [s.id for s in seg.segments if s.label in set(classes)])
    if mode == "transparent":
        image = masks.cutout(frame, keep)
    elif mode == "black":
        image = masks.on_black(frame, keep)
    else:
        picture = mode == "picture" and background is not None
        behind = _stretched(background, frame) if picture else _blurred(frame)
        image = torch.where(keep, frame, behind)
    return LiveFrame(image, seg, entries)


def _blurred(frame: torch.Tensor) -> torch.Tensor:
    """uint8 [3,H,W]: ``frame`` under a wide Gaussian blur, on its device.

    A wide kernel at full size costs more than the model on a CPU; shrinking first, blurring,
    then stretching back gives the same soft background for a fraction of the work.
    """
    height, width = frame.shape[-2:]
    small = _resized(frame, (max(1, height // BLUR_SHRINK), max(1, width // BLUR_SHRINK)))
    return _resized(gaussian_blur(small, [BLUR_KERNEL, BLUR_KERNEL]), (height, width))


def _stretched(picture: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """uint8 [3,H,W]: ``picture`` resized to ``frame``'s size, on its device."""
    picture = picture.to(frame.device)
    if picture.shape[-2:] == frame.shape[-2:]:
        return picture
    return _resized(picture, tuple(frame.shape[-2:]))


def _resized(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 [3,h,w] → uint8 [3,*size], bilinear with antialias, on the image's device."""
    resized = F.interpolate(image.unsqueeze(0).float(), size=size, mode="bilinear", antialias=True)
    return resized[0].round_().clamp_(0, 255).to(torch.uint8)
