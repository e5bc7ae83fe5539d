"""The Semantic tab: torchvision DeepLabV3 gives every pixel a class."""

from __future__ import annotations

from typing import Any

import gradio as gr
import torch

from segdemo import semantic
from segdemo.models import Progress
from segdemo.precision import DEFAULT_PRECISION
from segdemo.result import Segmentation
from segdemo.ui.inputs import ChoiceRadio, Upload, opacity_slider
from segdemo.ui.model_tab import ModelTab, progress_callback
from segdemo.ui.photos import load_photo, photo_stem
from segdemo.ui.picking import picker_update, selected_ids
from segdemo.ui.session import cached
from segdemo.ui.view import status_line, view_values

INTRO = """
**Semantic segmentation** gives every pixel one of the model's classes — here the 21 Pascal VOC
classes of torchvision's DeepLabV3. Two cats would be one "cat" region: telling objects apart is
the Instance tab's job. Pick classes to get their binary mask and cut-out.
"""


def segment_semantic(
    photo: Upload,
    variant: str,
    picked: list[str] | None,
    alpha: float,
    precision: str = DEFAULT_PRECISION,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented idiom
) -> tuple[Any, ...]:
    """Semantic segmentation: torchvision DeepLabV3 gives every pixel one of 21 Pascal VOC classes.

    Renders the picked classes as a binary mask and cut-outs (default: all but background).

    Args:
        photo: The photo: an http(s) URL or a data: URL of a PNG, JPEG, WebP, BMP, GIF or TIFF.
        variant: The DeepLabV3 backbone: resnet50 (default), resnet101 or mobilenet_v3_large.
        picked: Class names to cut out, e.g. ["cat"]; none (or none found): all but background.
        alpha: Opacity of the class colours over the photo, from 0 (photo only) to 1.
        precision: The model's arithmetic: fp32 (exact), bf16 (faster where native) or auto.

    Returns:
        status: model, device, number of segments and stage times
        classes: the picker's classes with their share of the image and the picked ones
        overlay, legend, mask, cut-out on black, transparent cut-out: PNG images and legend HTML
    """
    image, note = load_photo(photo)
    seg = semantic_result(image, variant, progress_callback(progress), precision)
    image = image.to(seg.device)
    default = [s.label for s in seg.segments if s.label != semantic.BACKGROUND]
    picker, value = picker_update(seg, picked, default)
    state = {"image": image, "seg": seg, "stem": photo_stem(photo)}
    values = view_values(image, seg, selected_ids(seg, value), alpha, stem=state["stem"])
    return (status_line(seg, note), picker, *values, state)


def semantic_result(
    image: torch.Tensor,
    variant: str,
    progress: Progress | None,
    precision: str = DEFAULT_PRECISION,
) -> Segmentation:
    """DeepLabV3's result for ``image`` from the shared cache (computed once per photo, variant
    and precision, whichever tab asks)."""
    return cached(
        "semantic",
        image,
        (variant, precision),
        lambda: semantic.segment(image, variant, precision=precision, progress=progress),
    )


def build() -> None:
    """Lay out the tab and wire its events (inside the caller's Blocks context)."""
    tab = ModelTab(INTRO)
    with tab.options("Segment"):
        variant = ChoiceRadio(
            [(v.description, k) for k, v in semantic.VARIANTS.items()],
            value=semantic.DEFAULT_VARIANT,
            label="DeepLabV3 variant",
        )
        alpha = opacity_slider()
    tab.results("Classes to cut out", "Classes over the photo")
    tab.wire(segment_semantic, "semantic", options=[variant], alpha=alpha)
