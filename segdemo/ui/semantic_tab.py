"""The Semantic tab: torchvision DeepLabV3 gives every pixel a class."""

from __future__ import annotations

from typing import Any

import gradio as gr

from segdemo import semantic
from segdemo.ui.common import (
    MODEL_CONCURRENCY_ID,
    PHOTO_EXAMPLES,
    Upload,
    cached,
    file_image,
    labels_list,
    one_of,
    opacity,
    photo_for_models,
    pick_by_click,
    picker_update,
    progress_callback,
    rerender,
    result_view,
    selected_ids,
    status_line,
    user_errors,
    view_values,
)

INTRO = """
**Semantic segmentation** gives every pixel one of the model's classes — here the 21 Pascal VOC
classes of torchvision's DeepLabV3. Two cats would be one "cat" region: telling objects apart is
the Instance tab's job. Pick classes to get their binary mask and cut-out.
"""


def run(
    photo: Upload, variant: str, picked: list[str] | None, alpha: float,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented idiom
) -> tuple[Any, ...]:
    """Run DeepLabV3 on the photo and render the picked classes (default: all but background)."""
    one_of(variant, list(semantic.VARIANTS), "The DeepLabV3 variant")
    picked, alpha = labels_list(picked, "The picked classes"), opacity(alpha)
    image, note = photo_for_models(photo)
    seg = cached(
        "semantic", image, (variant,),
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
    gr.Markdown(INTRO)
    with gr.Row():
        photo = file_image(label="Photo", sources=["upload", "clipboard", "webcam"])
        with gr.Column():
            variant = gr.Radio(
                [(v.description, k) for k, v in semantic.VARIANTS.items()],
                value=semantic.DEFAULT_VARIANT, label="DeepLabV3 variant",
            )
            alpha = gr.Slider(0, 1, value=0.5, step=0.05, label="Overlay opacity")
            go = gr.Button("Segment", variant="primary")
    gr.Examples(PHOTO_EXAMPLES, inputs=[photo], label="Examples (scikit-image, free to use)")
    status = gr.Markdown(min_height=40)
    picked = gr.CheckboxGroup(label="Classes to cut out", choices=[])
    view = result_view("Classes over the photo")
    state = gr.State()

    go.click(
        user_errors(run), [photo, variant, picked, alpha], [status, picked, *view.outputs, state],
        api_name="semantic", concurrency_id=MODEL_CONCURRENCY_ID, preprocess=False,
        show_progress_on=[status],
    )
    gr.on(
        [picked.input, alpha.release], user_errors(rerender), [state, picked, alpha],
        view.outputs, api_name="semantic_render", api_visibility="undocumented",
        show_progress="hidden", trigger_mode="always_last",
    )
    view.overlay.select(
        user_errors(pick_by_click), [state, picked, alpha], [picked, *view.outputs],
        api_visibility="private", show_progress="hidden",
    )
