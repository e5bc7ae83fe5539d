"""The Panoptic tab: transformers Mask2Former, things as instances and stuff as classes."""

from __future__ import annotations

from typing import Any

import gradio as gr

from segdemo import panoptic
from segdemo.result import Segmentation
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
    whole,
)

TABLE_HEADERS = ["label", "kind", "score", "area", "share of image"]


def run(
    photo: Upload, checkpoint: str, working_size: int, picked: list[str] | None, alpha: float,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented idiom
) -> tuple[Any, ...]:
    """Run Mask2Former and render the picked segments (default: the things)."""
    one_of(checkpoint, list(panoptic.CHECKPOINTS), "The Mask2Former checkpoint")
    working_size = int(one_of(whole(working_size), panoptic.WORKING_SIZES, "The working size"))
    picked, alpha = labels_list(picked, "The picked segments"), opacity(alpha)
    image, note = photo_for_models(photo)
    seg = cached(
        "panoptic", image, (checkpoint, int(working_size)),
        lambda: panoptic.segment(
            image, checkpoint, working_size=int(working_size),
            progress=progress_callback(progress),
        ),
    )
    image = image.to(seg.device)
    picker, value = picker_update(seg, picked, [s.label for s in seg.segments if s.is_thing])
    state = {"image": image, "seg": seg}
    values = view_values(image, seg, selected_ids(seg, value), alpha)
    return (status_line(seg, note), segment_rows(seg), picker, *values, state)


def segment_rows(seg: Segmentation) -> list[list[Any]]:
    """The segment table: label, thing/stuff, score, area in pixels and share."""
    areas = seg.areas()
    total = max(1, seg.ids.numel())
    return [
        [s.label, "thing" if s.is_thing else "stuff",
         "" if s.score is None else round(s.score, 3), areas[s.id], f"{areas[s.id] / total:.1%}"]
        for s in seg.segments
    ]


def build() -> None:
    """Lay out the tab and wire its events (inside the caller's Blocks context)."""
    gr.Markdown(panoptic.DESCRIPTION)
    with gr.Row():
        photo = file_image(label="Photo", sources=["upload", "clipboard", "webcam"])
        with gr.Column():
            checkpoint = gr.Dropdown(
                [(f"{c.title} — PQ {c.pq}", k) for k, c in panoptic.CHECKPOINTS.items()],
                value=panoptic.DEFAULT_CHECKPOINT, label="Mask2Former checkpoint",
                info=panoptic.CHECKPOINTS[panoptic.DEFAULT_CHECKPOINT].description,
            )
            working_size = gr.Radio(
                list(panoptic.WORKING_SIZES), value=panoptic.DEFAULT_WORKING_SIZE,
                label="Working size (short side, px): 384 is the stock processor's; the PQ "
                "figures were measured at about 800",
            )
            alpha = gr.Slider(0, 1, value=0.5, step=0.05, label="Overlay opacity")
            go = gr.Button("Segment", variant="primary")
    gr.Examples(PHOTO_EXAMPLES, inputs=[photo], label="Examples (scikit-image, free to use)")
    status = gr.Markdown(min_height=40)
    table = gr.Dataframe(headers=TABLE_HEADERS, label="Segments", interactive=False)
    picked = gr.CheckboxGroup(label="Segments to cut out", choices=[])
    view = result_view("Things and stuff over the photo")
    state = gr.State()

    checkpoint.change(
        lambda key: gr.update(info=panoptic.CHECKPOINTS[key].description), checkpoint,
        checkpoint, api_visibility="private", queue=False, show_progress="hidden",
    )
    go.click(
        user_errors(run), [photo, checkpoint, working_size, picked, alpha],
        [status, table, picked, *view.outputs, state], api_name="panoptic",
        concurrency_id=MODEL_CONCURRENCY_ID, preprocess=False, show_progress_on=[status],
    )
    gr.on(
        [picked.input, alpha.release], user_errors(rerender), [state, picked, alpha],
        view.outputs, api_name="panoptic_render", api_visibility="undocumented",
        show_progress="hidden", trigger_mode="always_last",
    )
    view.overlay.select(
        user_errors(pick_by_click), [state, picked, alpha], [picked, *view.outputs],
        api_visibility="private", show_progress="hidden",
    )
