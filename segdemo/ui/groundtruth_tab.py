"""The Ground truth tab: a photo and its annotation, and what the annotation's values mean.

An annotation is an image whose pixel values are labels (Oxford-IIIT Pet trimaps: 1 pet,
2 background, 3 border); the binary mask of one object is ``torch.where(annotation == value, 1,
0)`` and the cut-out is the photo times that mask.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from segdemo import groundtruth
from segdemo.ui import evaluate_panel
from segdemo.ui.downloads import download_row, zip_file
from segdemo.ui.errors import CLEAR_TOASTS_JS, STATUS_CLASS, refusal, user_errors
from segdemo.ui.inputs import (
    EXAMPLES_DIR,
    RawImage,
    Upload,
    WholeNumberDropdown,
    opacity_slider,
    require,
)
from segdemo.ui.photos import load_photo_and_annotation, photo_stem
from segdemo.ui.picking import State
from segdemo.ui.session import session_state
from segdemo.ui.view import result_view, view_values

EXAMPLES = [[str(EXAMPLES_DIR / "chelsea.png"), str(EXAMPLES_DIR / "chelsea_trimap.png"), 1, 0.5]]
TABLE_HEADERS = ["value as stored", "after ToTensor", "label", "pixels", "share of image"]
NOT_LOADED = "Press Show first: there is no annotation loaded yet."
INTRO = """
An **annotation** is an image whose pixel values are labels. The Oxford-IIIT Pet trimaps store
**1 = pet, 2 = background, 3 = border**. Pick the value that counts as the object: the binary mask
is `torch.where(annotation == object, 1, 0)`, and the cut-out is the photo times that mask.
Upload a photo with its annotation (trimap, integer label map or Pascal VOC palette PNG — PNG,
not JPEG, so the values survive), or click the example.
"""


def show_ground_truth(
    photo: Upload, annotation: Upload, object_value: int | None, alpha: float
) -> tuple[Any, ...]:
    """Ground truth: what a segmentation annotation stores, and the mask and cut-out of one value.

    Decodes a photo and its annotation (an image of the same size whose pixel values are labels),
    tabulates the values and renders the chosen object value. No model runs.

    Args:
        photo: The photo: an http(s) URL or a data: URL of a PNG, JPEG, WebP, BMP, GIF or TIFF.
        annotation: Its label map, same size: trimap, integer label map or VOC palette PNG (URL).
        object_value: The value that is the object (Pet trimaps: 1 pet, 2 background, 3 border).
        alpha: Opacity of the value colours over the photo, from 0 (photo only) to 1.

    Returns:
        status: the sizes, the annotation's mode, its distinct values and the object value shown
        values: a table of each value as stored, after ToTensor, its label, pixels and share
        why: why ToTensor's values differ from those stored
        object value: the value shown (1 when the one asked for does not occur)
        overlay, legend, mask, cut-out on black, transparent cut-out: PNG images and legend HTML
    """
    image, labels, scaled = load_photo_and_annotation(photo, annotation)
    seg = groundtruth.annotation_segmentation(labels.values, labels.mode)
    stored: list[int] = seg.extras["values"]  # type: ignore[assignment]
    chosen = _chosen_value(object_value, stored)
    absent = (
        f"Value {object_value} does not occur in this annotation; showing {chosen}. "
        if object_value is not None and chosen != object_value
        else ""
    )
    rows = groundtruth.value_table(seg, labels.to_tensor)
    table = [[r.stored, _rounded(r.to_tensor), r.label, r.pixels, f"{r.share:.1%}"] for r in rows]
    picker = gr.update(
        choices=[(f"{v} ({seg.segments[k].label})", v) for k, v in enumerate(stored)],
        value=chosen,
    )
    state = {
        "image": image,
        "seg": seg,
        "stem": photo_stem(photo),
        "values": labels.values,
        "mode": labels.mode,
        "annotation": require(annotation, "an annotation"),
        "summary": f"Photo {image.shape[2]}×{image.shape[1]} · annotation mode {labels.mode} · "
        f"{len(stored)} distinct values",
    }
    return (
        f"{absent}{scaled}{_status(state, chosen)}",
        table,
        groundtruth.why_values_differ(labels.mode),
        picker,
        *_view_values(state, chosen, alpha),
        state,
    )


def _status(state: dict[str, Any], value: int) -> str:
    """The status line of the decoded pair showing object ``value``."""
    return f"{state['summary']} · object value {value}"


def rerender(state: State, object_value: int | None, alpha: float) -> tuple[Any, ...]:
    """Re-render from the decoded pair when only the object value or alpha changed: the status
    line and the view."""
    if not state:
        raise gr.Error(NOT_LOADED)
    stored: list[int] = state["seg"].extras["values"]
    value = _chosen_value(object_value, stored)
    return (_status(state, value), *_view_values(state, value, alpha))


def pick_by_click(state: State, alpha: float, event: gr.SelectData) -> tuple[Any, ...]:
    """Click on the overlay: the value under the cursor becomes the object value; the status
    line, that value and the view."""
    if not state:
        raise gr.Error(NOT_LOADED)
    seg = state["seg"]
    height, width = seg.size
    x, y = (int(v) for v in event.index)
    segment_id = int(seg.ids[min(max(y, 0), height - 1), min(max(x, 0), width - 1)])
    value = seg.extras["values"][segment_id - 1]
    return (_status(state, value), value, *_view_values(state, value, alpha))


def download_ground_truth(state: State, object_value: int | None, alpha: float) -> str:
    """The decoded pair with the object value's mask and cut-out, as a ZIP."""
    if not state:
        raise refusal(NOT_LOADED)
    seg = state["seg"]
    value = _chosen_value(object_value, seg.extras["values"])
    return zip_file(
        state["image"],
        seg,
        stem=state["stem"],
        selected=[groundtruth.segment_for_value(seg, value)],
        alpha=alpha,
    )


def _rounded(value: float | None) -> float | str:
    return "—" if value is None else round(value, 6)


def _chosen_value(object_value: int | None, stored: list[int]) -> int:
    """The user's value if the annotation has it, else 1 (the trimaps' pet), else the first."""
    if object_value in stored:
        return object_value
    default = groundtruth.DEFAULT_OBJECT_VALUE
    return default if default in stored else stored[0]


def _view_values(state: dict[str, Any], value: int, alpha: float) -> tuple[Any, ...]:
    seg = state["seg"]
    selected = [groundtruth.segment_for_value(seg, value)]
    return view_values(state["image"], seg, selected, alpha, stem=state["stem"])


def build() -> None:
    """Lay out the tab and wire its events (inside the caller's Blocks context)."""
    gr.Markdown(INTRO)
    with gr.Row():
        photo = RawImage(
            label="Photo", type="filepath", sources=["upload", "clipboard"], elem_id="gt-photo"
        )
        annotation = RawImage(
            label="Annotation (values as stored; a trimap looks almost black)",
            type="filepath",
            image_mode=None,
            sources=["upload", "clipboard"],
            elem_id="gt-annotation",
        )
    with gr.Row():
        object_value = WholeNumberDropdown(
            label="Object value (counts as 1 in the mask; or click the overlay)",
            choices=[1, 2, 3],
            value=1,
            allow_custom_value=False,
            elem_id="gt-object-value",
        )
        alpha = opacity_slider()
        show = gr.Button("Show", variant="primary")
    examples = gr.Column()
    status = gr.Markdown(min_height=40, elem_classes=[STATUS_CLASS])
    why = gr.Markdown()
    table = gr.Dataframe(headers=TABLE_HEADERS, label="Annotation values", interactive=False)
    view = result_view("Annotation over the photo")
    downloads = download_row()
    state = session_state()
    with gr.Accordion("Score a model against this annotation", open=False):
        evaluate_panel.build(state)

    inputs = [photo, annotation, object_value, alpha]
    outputs = [status, table, why, object_value, *view.outputs, state]
    show.click(
        user_errors(show_ground_truth),
        inputs,
        outputs,
        api_name="groundtruth",
        show_progress_on=[status],
    ).success(None, js=CLEAR_TOASTS_JS, queue=False)
    with examples:
        gr.Examples(
            EXAMPLES,
            inputs,
            outputs,
            user_errors(show_ground_truth),
            run_on_click=True,
            cache_examples=False,
            visible_columns=[0, 1],
            label="Example: Chelsea the cat (CC0) — click to run",
        )
    gr.on(
        [object_value.input, alpha.release],
        user_errors(rerender),
        [state, object_value, alpha],
        [status, *view.outputs],
        api_name="groundtruth_render",
        api_visibility="undocumented",
        show_progress="hidden",
        trigger_mode="always_last",
    )
    view.overlay.select(
        user_errors(pick_by_click),
        [state, alpha],
        [status, object_value, *view.outputs],
        api_visibility="private",
        show_progress="hidden",
    )
    downloads.wire(download_ground_truth, [state, object_value, alpha], "groundtruth")
