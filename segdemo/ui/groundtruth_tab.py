"""The Ground truth tab: a photo and its annotation, as the seed lesson teaches them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from segdemo import groundtruth
from segdemo.images import load_image, read_annotation
from segdemo.ui.common import file_image, require, result_view, user_errors, view_values

EXAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "examples"
EXAMPLES = [[str(EXAMPLES_DIR / "chelsea.png"), str(EXAMPLES_DIR / "chelsea_trimap.png")]]
TABLE_HEADERS = ["value as stored", "after ToTensor", "label", "pixels", "share of image"]
INTRO = """
An **annotation** is an image whose pixel values are labels. The Oxford-IIIT Pet trimaps store
**1 = pet, 2 = background, 3 = border**. Pick the value that counts as the object: the binary mask
is `torch.where(annotation == object, 1, 0)`, and the cut-out is the photo times that mask.
Upload a photo with its annotation (trimap, integer label map or Pascal VOC palette PNG — PNG,
not JPEG, so the values survive), or click the example.
"""


def run(
    photo_path: str | None, annotation_path: str | None, object_value: float | None, alpha: float
) -> tuple[Any, ...]:
    """Decode the pair, tabulate the annotation's values and render the chosen object."""
    image = load_image(require(photo_path, "a photo"))
    annotation = read_annotation(
        require(annotation_path, "an annotation"), size=tuple(image.shape[-2:])
    )
    seg = groundtruth.annotation_segmentation(annotation.values, annotation.mode)
    stored: list[int] = seg.extras["values"]  # type: ignore[assignment]
    chosen = _chosen_value(object_value, stored)
    rows = groundtruth.value_table(seg, annotation.to_tensor)
    table = [[r.stored, _rounded(r.to_tensor), r.label, r.pixels, f"{r.share:.1%}"] for r in rows]
    picker = gr.Dropdown(
        choices=[(f"{v} ({seg.segments[k].label})", v) for k, v in enumerate(stored)],
        value=chosen,
    )
    state = {"image": image, "seg": seg}
    return (
        table,
        groundtruth.why_values_differ(annotation.mode),
        picker,
        *_view_values(state, chosen, alpha),
        state,
    )


def rerender(state: dict[str, Any] | None, object_value: float | None, alpha: float):
    """Re-render from the decoded pair when only the object value or alpha changed."""
    if not state:
        raise gr.Error("Press Show first: there is no annotation loaded yet.")
    stored: list[int] = state["seg"].extras["values"]
    return _view_values(state, _chosen_value(object_value, stored), alpha)


def _rounded(value: float | None) -> float | str:
    return "—" if value is None else round(value, 6)


def _chosen_value(object_value: float | None, stored: list[int]) -> int:
    if object_value is None:
        default = groundtruth.DEFAULT_OBJECT_VALUE
        return default if default in stored else stored[0]
    return int(object_value)


def _view_values(state: dict[str, Any], value: int, alpha: float) -> tuple[Any, ...]:
    seg = state["seg"]
    return view_values(state["image"], seg, [groundtruth.segment_for_value(seg, value)], alpha)


def build() -> None:
    """Lay out the tab and wire its events (inside the caller's Blocks context)."""
    gr.Markdown(INTRO)
    with gr.Row():
        photo = file_image(label="Photo", sources=["upload", "clipboard"])
        annotation = file_image(
            label="Annotation (values as stored; a trimap looks almost black)",
            image_mode=None, sources=["upload", "clipboard"],
        )
    with gr.Row():
        object_value = gr.Dropdown(
            label="Object value (counts as 1 in the mask)", choices=[1, 2, 3], value=1,
            allow_custom_value=False,
        )
        alpha = gr.Slider(0, 1, value=0.5, step=0.05, label="Overlay opacity")
        show = gr.Button("Show", variant="primary")
    gr.Examples(EXAMPLES, inputs=[photo, annotation], label="Example: Chelsea the cat (CC0)")
    why = gr.Markdown()
    table = gr.Dataframe(headers=TABLE_HEADERS, label="Annotation values", interactive=False)
    view = result_view("Annotation over the photo")
    state = gr.State()

    show.click(
        user_errors(run), [photo, annotation, object_value, alpha],
        [table, why, object_value, *view.outputs, state], api_name="groundtruth",
    )
    gr.on(
        [object_value.input, alpha.release], user_errors(rerender), [state, object_value, alpha],
        view.outputs, api_name="groundtruth_render", api_visibility="undocumented",
        show_progress="hidden", trigger_mode="always_last",
    )
