"""Uploads decoded into the tensors the tabs work on, at most MAX_SIDE on the longest side.

The decoder accepts larger images (``segdemo.images.MAX_SIDE``), but every tab keeps the photo
and its id map in the session's state and renders four full-size images per change: a
40-megapixel photo would cost gigabytes per request. So every tab scales a larger photo down to
MAX_SIDE and its status line says so; an annotation is scaled by nearest pixel, so that its
values are kept.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from torchvision.transforms.v2 import functional as tvf

from segdemo import exports
from segdemo.images import Annotation, load_image, read_annotation
from segdemo.ui.inputs import Upload, require

#: The longest side any tab works on, for the models and the ground truth alike.
MAX_SIDE = 4096


def fitted_size(height: int, width: int) -> tuple[int, int] | None:
    """(H, W) scaled so that the longest side is MAX_SIDE, or None when it already fits."""
    longest = max(height, width)
    if longest <= MAX_SIDE:
        return None
    scale = MAX_SIDE / longest
    return max(1, round(height * scale)), max(1, round(width * scale))


def nearest(values: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``values`` [..., H, W] sampled at ``size`` by nearest pixel centre: values kept exactly."""
    height, width = values.shape[-2:]
    rows = ((torch.arange(size[0], device=values.device) + 0.5) * (height / size[0])).long()
    cols = ((torch.arange(size[1], device=values.device) + 0.5) * (width / size[1])).long()
    return values.index_select(-2, rows.clamp_(max=height - 1)).index_select(
        -1, cols.clamp_(max=width - 1)
    )


def photo_stem(upload: Upload) -> str:
    """The photo's original file name without its extension, made file-name-safe ("photo" when
    nothing is left): what the tab's downloads are named after.

    Gradio keeps an upload's original name as the last part of its path; file data from a caller
    outside Gradio may carry it as ``orig_name``.
    """
    name = upload.get("orig_name") if isinstance(upload, dict) else None
    return exports.slug(Path(name or require(upload, "a photo")).stem, "photo")


def load_photo(upload: Upload) -> tuple[torch.Tensor, str]:
    """The photo as uint8 [3, H, W] on the CPU, fitted to MAX_SIDE, and a note for the status line.

    The note is "" when the photo was not scaled.
    """
    image = load_image(require(upload, "a photo"))
    height, width = int(image.shape[1]), int(image.shape[2])
    size = fitted_size(height, width)
    if size is None:
        return image, ""
    note = f"The photo ({width}×{height}) was scaled to {size[1]}×{size[0]} for the models. "
    return tvf.resize(image, list(size), antialias=True), note


def load_photo_and_annotation(
    photo: Upload, annotation: Upload
) -> tuple[torch.Tensor, Annotation, str]:
    """The photo and its annotation (same size, checked), fitted to MAX_SIDE together.

    The photo is scaled with antialiasing, the annotation (and ToTensor's view of it) by nearest
    pixel, so every value in it is one the file stores. The note says so ("" when not scaled).
    """
    image = load_image(require(photo, "a photo"))
    height, width = int(image.shape[1]), int(image.shape[2])
    labels = read_annotation(require(annotation, "an annotation"), size=(height, width))
    size = fitted_size(height, width)
    if size is None:
        return image, labels, ""
    scaled = replace(
        labels,
        values=nearest(labels.values, size),
        to_tensor=None if labels.to_tensor is None else nearest(labels.to_tensor, size),
    )
    note = (
        f"The photo and its annotation ({width}×{height}) were scaled to {size[1]}×{size[0]}: "
        "the photo smoothed, the annotation by nearest pixel so that its values are kept. "
    )
    return tvf.resize(image, list(size), antialias=True), scaled, note
