"""The Instance tab: torchvision Mask R-CNN, every object its own mask, colour and label."""

from __future__ import annotations

from typing import Any

import gradio as gr

from segdemo import instance
from segdemo.ui.common import (
    MODEL_CONCURRENCY_ID,
    PHOTO_EXAMPLES,
    Upload,
    cached,
    file_image,
    label_at,
    labels_list,
    number_in,
    one_of,
    opacity,
    photo_for_models,
    picker_update,
    progress_callback,
    result_view,
    selected_ids,
    status_line,
    toggled,
    user_errors,
    view_values,
    whole,
)

INTRO = """
**Instance segmentation** finds each object and gives it its own mask: two cats are "cat 1" and
"cat 2", each with its score. The background stays unpainted. The score threshold and the class
filter re-render from the cached detections — the model does not run again.
"""


def run(
    photo: Upload, variant: str, working_size: int, threshold: float, classes: list[str] | None,
    boxes: bool, picked: list[str] | None, alpha: float,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented idiom
) -> tuple[Any, ...]:
    """Detect with Mask R-CNN once, then show the detections that pass the filters."""
    one_of(variant, list(instance.VARIANTS), "The Mask R-CNN variant")
    working_size = int(one_of(whole(working_size), instance.WORKING_SIZES, "The working size"))
    number_in(threshold, instance.SCORE_FLOOR, 1, "The score threshold")  # before the model runs
    opacity(alpha)
    image, note = photo_for_models(photo)
    dets = cached(
        "instance", image, (variant, int(working_size)),
        lambda: instance.detect(
            image, variant, working_size=int(working_size), progress=progress_callback(progress)
        ),
    )
    state = {"image": image.to(dets.device), "dets": dets, "note": note}
    return _show(state, threshold, classes, boxes, picked, alpha, new_image=True)


def refilter(
    state: dict[str, Any] | None, threshold: float, classes: list[str] | None, boxes: bool,
    picked: list[str] | None, alpha: float,
) -> tuple[Any, ...]:
    """Apply a new threshold, class filter, box switch, pick or alpha to the cached detections."""
    if not state:
        raise gr.Error("Run the model first: there are no detections to filter yet.")
    return _show(state, threshold, classes, boxes, picked, alpha, new_image=False)


def _show(
    state: dict[str, Any], threshold: object, classes: object, boxes: object,
    picked: object, alpha: object, *, new_image: bool,
) -> tuple[Any, ...]:
    threshold = number_in(threshold, instance.SCORE_FLOOR, 1, "The score threshold")
    classes = labels_list(classes, "The class filter")
    picked, alpha = labels_list(picked, "The picked instances"), opacity(alpha)
    boxes = bool(one_of(boxes, [True, False], "Show boxes"))
    dets: instance.Detections = state["dets"]
    # The class filter lists every class detected above the score floor, most confident first.
    found = list(dict.fromkeys(dets.categories[i] for i in dets.labels.tolist()))
    classes = [c for c in classes if c in found]
    seg = instance.to_segmentation(dets, threshold=threshold, classes=classes or None)
    state = {**state, "seg": seg}
    class_filter = gr.update(choices=found, value=classes)
    picker, value = picker_update(seg, picked, [] if new_image else (picked or []))
    values = view_values(
        state["image"], seg, selected_ids(seg, value), alpha, boxes=boxes, hover=True
    )
    status = status_line(seg, state["note"]) + f" · {len(dets)} detections ≥ " \
        f"{instance.SCORE_FLOOR:g} · shown ≥ {threshold:g}"
    return (status, class_filter, picker, *values, state)


def pick_by_click(
    state: dict[str, Any] | None, threshold: float, classes: list[str] | None, boxes: bool,
    picked: list[str] | None, alpha: float, event: gr.SelectData,
) -> tuple[Any, ...]:
    """Click on the overlay: toggle the instance under the cursor, re-render."""
    picked = toggled(picked, label_at(state, event))
    return refilter(state, threshold, classes, boxes, picked, alpha)


def build() -> None:
    """Lay out the tab and wire its events (inside the caller's Blocks context)."""
    gr.Markdown(INTRO)
    with gr.Row():
        photo = file_image(label="Photo", sources=["upload", "clipboard", "webcam"])
        with gr.Column():
            variant = gr.Radio(
                [(v.description, k) for k, v in instance.VARIANTS.items()],
                value=instance.DEFAULT_VARIANT, label="Mask R-CNN",
            )
            working_size = gr.Radio(
                list(instance.WORKING_SIZES), value=instance.DEFAULT_WORKING_SIZE,
                label="Working size (short side, px): 800 is what the AP figures were measured "
                "at; smaller is faster on a CPU and loses small objects first",
            )
            go = gr.Button("Detect", variant="primary")
    gr.Examples(PHOTO_EXAMPLES, inputs=[photo], label="Examples (scikit-image, free to use)")
    status = gr.Markdown(min_height=40)
    with gr.Row():
        threshold = gr.Slider(
            instance.SCORE_FLOOR, 1, value=0.5, step=0.01, label="Score threshold"
        )
        alpha = gr.Slider(0, 1, value=0.5, step=0.05, label="Overlay opacity")
        boxes = gr.Checkbox(value=True, label="Show boxes and labels")
    classes = gr.Dropdown(
        choices=[], multiselect=True, label="Only these classes (empty: all)",
    )
    picked = gr.CheckboxGroup(label="Instances to cut out", choices=[])
    view = result_view("Instances over the photo")
    with gr.Accordion("Hover map: point at a box to name its object", open=True):
        hover = gr.HTML()
    state = gr.State()

    outputs = [status, classes, picked, *view.outputs, hover, state]
    go.click(
        user_errors(run), [photo, variant, working_size, threshold, classes, boxes, picked, alpha],
        outputs, api_name="instance", concurrency_id=MODEL_CONCURRENCY_ID, preprocess=False,
        show_progress_on=[status],
    )
    gr.on(
        [threshold.release, classes.input, boxes.input, picked.input, alpha.release],
        user_errors(refilter), [state, threshold, classes, boxes, picked, alpha], outputs,
        api_name="instance_render", api_visibility="undocumented", show_progress="hidden",
        trigger_mode="always_last",
    )
