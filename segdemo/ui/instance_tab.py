"""The Instance tab: torchvision Mask R-CNN, every object its own mask, colour and label."""

from __future__ import annotations

from typing import Any

import gradio as gr
import torch

from segdemo import instance
from segdemo.models import Progress
from segdemo.precision import DEFAULT_PRECISION
from segdemo.result import Segmentation
from segdemo.ui.downloads import NO_RESULT, zip_file
from segdemo.ui.errors import refusal
from segdemo.ui.inputs import (
    ChoiceRadio,
    NameDropdown,
    NumberSlider,
    Switch,
    Upload,
    opacity_slider,
)
from segdemo.ui.model_tab import ModelTab, progress_callback
from segdemo.ui.photos import load_photo, photo_stem
from segdemo.ui.picking import State, label_at, picker_update, selected_ids, toggled
from segdemo.ui.session import cached
from segdemo.ui.view import status_line, view_values

INTRO = """
**Instance segmentation** finds each object and gives it its own mask: two cats are "cat 1" and
"cat 2", each with its score. The background stays unpainted. The score threshold and the class
filter re-render from the cached detections — the model does not run again.
"""


def segment_instance(
    photo: Upload,
    variant: str,
    working_size: int,
    threshold: float,
    classes: list[str] | None,
    boxes: bool,
    picked: list[str] | None,
    alpha: float,
    precision: str = DEFAULT_PRECISION,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented idiom
) -> tuple[Any, ...]:
    """Instance segmentation: torchvision Mask R-CNN finds each object with its own mask and score.

    Detects once, then shows the detections that pass the filters; the picked ones make the
    binary mask and cut-outs (default: all).

    Args:
        photo: The photo: an http(s) URL or a data: URL of a PNG, JPEG, WebP, BMP, GIF or TIFF.
        variant: The Mask R-CNN: v2 (ResNet-50 FPN v2, default, more accurate) or v1 (faster).
        working_size: The short side in pixels the model sees: 800 (as trained), 640 or 512.
        threshold: The lowest score shown, from 0.05 to 1 (default 0.5).
        classes: COCO class names to keep, e.g. ["cat", "dog"]; empty: every class.
        boxes: Whether the overlay draws each instance's box and label.
        picked: Instance labels to cut out as the result names them, e.g. "cat 1 · 0.97"; none
            (or none found): all.
        alpha: Opacity of the instance colours over the photo, from 0 (photo only) to 1.
        precision: The model's arithmetic: fp32 (exact), bf16 (faster where native) or auto.

    Returns:
        status: model, device, number of detections and stage times
        classes: the classes detected, most confident first, and those kept
        instances to cut out: the picker's labels with their share and the picked ones
        overlay, legend, mask, cut-out on black, transparent cut-out: PNG images and legend HTML
    """
    working_size = int(working_size)  # the radio passes 512.0 as it came
    image, note = load_photo(photo)
    dets = instance_detections(image, variant, working_size, progress_callback(progress), precision)
    state = {"image": image.to(dets.device), "dets": dets, "note": note, "stem": photo_stem(photo)}
    return _show(state, threshold, classes, boxes, picked, alpha, new_image=True)


def instance_detections(
    image: torch.Tensor,
    variant: str,
    working_size: int,
    progress: Progress | None,
    precision: str = DEFAULT_PRECISION,
) -> instance.Detections:
    """Mask R-CNN's detections for ``image`` from the shared cache (computed once per photo,
    variant, working size and precision, whichever tab asks)."""
    return cached(
        "instance",
        image,
        (variant, working_size, precision),
        lambda: instance.detect(
            image, variant, working_size=working_size, precision=precision, progress=progress
        ),
    )


def refilter(
    state: State,
    threshold: float,
    classes: list[str] | None,
    boxes: bool,
    picked: list[str] | None,
    alpha: float,
) -> tuple[Any, ...]:
    """Apply a new threshold, class filter, box switch, pick or alpha to the cached detections."""
    if not state:
        raise gr.Error("Run the model first: there are no detections to filter yet.")
    return _show(state, threshold, classes, boxes, picked, alpha, new_image=False)


def pick_by_click(
    state: State,
    threshold: float,
    classes: list[str] | None,
    boxes: bool,
    picked: list[str] | None,
    alpha: float,
    event: gr.SelectData,
) -> tuple[Any, ...]:
    """Click on the overlay: toggle the instance under the cursor, re-render."""
    picked = toggled(picked, label_at(state, event))
    return refilter(state, threshold, classes, boxes, picked, alpha)


def download_instances(
    state: State,
    threshold: float,
    classes: list[str] | None,
    boxes: bool,
    picked: list[str] | None,
    alpha: float,
) -> str:
    """The detections that pass the filters, the picked ones as mask and cut-out, as a ZIP."""
    if not state:
        raise refusal(NO_RESULT)
    seg, _found, _kept = _filtered(state["dets"], threshold, classes)
    return zip_file(
        state["image"],
        seg,
        stem=state["stem"],
        selected=selected_ids(seg, picked),
        alpha=alpha,
        boxes=boxes,
    )


def _filtered(
    dets: instance.Detections, threshold: float, classes: list[str] | None
) -> tuple[Segmentation, list[str], list[str]]:
    """The detections that pass the filters as a Segmentation; the classes detected above the
    score floor (most confident first) and those of ``classes`` among them."""
    found, kept = _classes(dets, classes)
    return instance.to_segmentation(dets, threshold=threshold, classes=kept or None), found, kept


def _classes(dets: instance.Detections, classes: list[str] | None) -> tuple[list[str], list[str]]:
    """The classes detected above the score floor (most confident first), and those of
    ``classes`` among them."""
    found = list(dict.fromkeys(dets.categories[i] for i in dets.labels.tolist()))
    return found, [c for c in classes or () if c in found]


def _show(
    state: dict[str, Any],
    threshold: float,
    classes: list[str] | None,
    boxes: bool,
    picked: list[str] | None,
    alpha: float,
    *,
    new_image: bool,
) -> tuple[Any, ...]:
    dets: instance.Detections = state["dets"]
    found, kept = _classes(dets, classes)
    if not new_image and state.get("sent", ())[:2] == (threshold, tuple(kept)):
        seg = state["seg"]  # the same filters: the same id map (pasting 100 masks costs ~15 ms)
    else:
        seg = instance.to_segmentation(dets, threshold=threshold, classes=kept or None)
    class_filter = gr.update(choices=found, value=kept)
    every = [s.label for s in seg.segments]
    picker, value = picker_update(seg, picked, every if new_image else (picked or []))
    selected = selected_ids(seg, value)
    # Same segments, same picks: only alpha or the boxes changed, which the overlay alone shows.
    sent = (threshold, tuple(kept), tuple(selected))
    same_cutouts = not new_image and state.get("sent") == sent
    state = {**state, "seg": seg, "sent": sent}
    values = view_values(
        state["image"],
        seg,
        selected,
        alpha,
        boxes=boxes,
        overlay_only=same_cutouts,
        stem=state["stem"],
    )
    status = (
        f"{status_line(seg, state['note'])} · {len(dets)} detections ≥ "
        f"{instance.SCORE_FLOOR:g} · shown ≥ {threshold:g}"
    )
    return (status, class_filter, picker, *values, state)


def build() -> None:
    """Lay out the tab and wire its events (inside the caller's Blocks context)."""
    tab = ModelTab(INTRO)
    with tab.options("Detect"):
        variant = ChoiceRadio(
            [(v.description, k) for k, v in instance.VARIANTS.items()],
            value=instance.DEFAULT_VARIANT,
            label="Mask R-CNN",
        )
        working_size = ChoiceRadio(
            list(instance.WORKING_SIZES),
            value=instance.DEFAULT_WORKING_SIZE,
            label="Working size (short side, px): 800 is what the AP figures were measured "
            "at; smaller is faster on a CPU and loses small objects first",
        )
    with gr.Row():
        threshold = NumberSlider(
            instance.SCORE_FLOOR, 1, value=0.5, step=0.01, label="Score threshold"
        )
        alpha = opacity_slider()
        boxes = Switch(value=True, label="Show boxes and labels")
    classes = NameDropdown(choices=[], multiselect=True, label="Only these classes (empty: all)")
    tab.results("Instances to cut out", "Instances over the photo")
    tab.wire(
        segment_instance,
        "instance",
        options=[variant, working_size],
        alpha=alpha,
        filters=[threshold, classes, boxes],
        before_picker=[classes],
        rerender=refilter,
        click=pick_by_click,
        download=download_instances,
    )
