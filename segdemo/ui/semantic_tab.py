"""The Semantic tab: torchvision DeepLabV3 gives every pixel a class."""

from __future__ import annotations

from typing import Any

import gradio as gr

from segdemo import semantic
from segdemo.ui.inputs import ChoiceRadio, Upload, opacity_slider
from segdemo.ui.model_tab import ModelTab, progress_callback
from segdemo.ui.photos import load_photo
from segdemo.ui.picking import picker_update, selected_ids
from segdemo.ui.session import cached
from segdemo.ui.view import status_line, view_values

INTRO = """
**Semantic segmentation** gives every pixel one of the model's classes — here the 21 Pascal VOC
classes of torchvision's DeepLabV3. Two cats would be one "cat" region: telling objects apart is
the Instance tab's job. Pick classes to get their binary mask and cut-out.
"""


def run(
    photo: Upload,
    variant: str,
    picked: list[str] | None,
    alpha: float,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented idiom
) -> tuple[Any, ...]:
    """Run DeepLabV3 on the photo and render the picked classes (default: all but background)."""
    image, note = load_photo(photo)
    seg = cached(
        "semantic",
        image,
        (variant,),
        lambda: semantic.segment(image, variant, progress=progress_callback(progress)),
    )
    image = image.to(seg.device)
    default = [s.label for s in seg.segments if s.label != semantic.BACKGROUND]
    picker, value = picker_update(seg, picked, default)
    state = {"image": image, "seg": seg}
    values = view_values(image, seg, selected_ids(seg, value), alpha)
    return (status_line(seg, note), picker, *values, state)


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
    tab.wire(run, "semantic", options=[variant], alpha=alpha)
