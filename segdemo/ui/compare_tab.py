"""The Compare tab: one photo, the three kinds side by side, one click picks a class in all three.

The results come from the same cache as the Semantic, Instance and Panoptic tabs (same keys), so
a photo already run there with the same model is not run again. The summaries and the class
picks are :mod:`segdemo.compare`'s; the overlays are drawn as every tab draws them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr
import torch

from segdemo import compare, instance, masks, panoptic, semantic
from segdemo.models import Progress
from segdemo.render import segment_palette
from segdemo.result import Segmentation
from segdemo.ui.encoding import png_file
from segdemo.ui.errors import refusal, user_errors
from segdemo.ui.inputs import PHOTO_EXAMPLES, ChoiceDropdown, ChoiceRadio, RawImage, Upload
from segdemo.ui.instance_tab import instance_detections
from segdemo.ui.model_tab import MODEL_CONCURRENCY_ID
from segdemo.ui.panoptic_tab import panoptic_result
from segdemo.ui.photos import load_photo
from segdemo.ui.picking import State
from segdemo.ui.semantic_tab import semantic_result
from segdemo.ui.session import session_state

#: The three kinds, in the order of the page, and their titles.
KINDS: tuple[str, ...] = ("semantic", "instance", "panoptic")
TITLES = {"semantic": "Semantic", "instance": "Instance", "panoptic": "Panoptic"}
MODEL_LABELS = {
    "semantic": "DeepLabV3 variant",
    "instance": "Mask R-CNN",
    "panoptic": "Mask2Former checkpoint",
}
#: Opacity of the overlays; the Instance tab's default score threshold.
ALPHA = 0.5
INSTANCE_THRESHOLD = 0.5
# The Compare tab's per-session state is {"image", "results": {kind: Segmentation}, "photo":
# PNG path, "overlays": {kind: PNG path}, "picked": class name or None, "picks": {kind: ids}}.
CLICK_HINT = "Click a segment in any overlay to pick its class in all three."
NO_RESULT = "Press Compare first: there are no results to pick from yet."
INTRO = """
**The three kinds side by side** on one photo: *semantic* paints every pixel with a class,
*instance* separates the objects, *panoptic* does both. Click a segment in any overlay to pick
its class in all three (click it again to show everything); the slider compares the photo with
the overlay of the kind in focus. A photo already run in another tab with the same model is not
run again.
"""


def compare_kinds(
    photo: Upload,
    semantic_variant: str,
    instance_variant: str,
    panoptic_checkpoint: str,
    focus: str,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented idiom
) -> tuple[Any, ...]:
    """Compare the three kinds of segmentation on one photo: DeepLabV3, Mask R-CNN, Mask2Former.

    Runs the three models (each result cached, shared with the other tabs) and says in one line
    per kind what it found.

    Args:
        photo: The photo: an http(s) URL or a data: URL of a PNG, JPEG, WebP, BMP, GIF or TIFF.
        semantic_variant: The DeepLabV3 backbone: resnet50 (default), resnet101 or
            mobilenet_v3_large.
        instance_variant: The Mask R-CNN: v2 (default, more accurate) or v1 (faster).
        panoptic_checkpoint: The Mask2Former checkpoint on the Hugging Face Hub.
        focus: The kind the before/after slider shows: semantic, instance or panoptic.

    Returns:
        status: the three models, the device and what to do next
        semantic, instance, panoptic overlays: PNG images of each result over the photo
        semantic, instance, panoptic summaries: one line each, e.g. "Instance: cat 1, cat 2"
        slider: the photo and the overlay of the kind in focus
    """
    image, note = load_photo(photo)
    chosen = (semantic_variant, instance_variant, panoptic_checkpoint)
    models = dict(zip(KINDS, chosen, strict=True))
    results = {
        kind: model_result(kind, image, models[kind], _stage(progress, step, kind))
        for step, kind in enumerate(KINDS)
    }
    image = image.to(results["semantic"].device)
    names = " · ".join(f"**{seg.extras.get('model', kind)}**" for kind, seg in results.items())
    status = f"{note}{names} on {image.device.type}. {CLICK_HINT}"
    state = {"image": image, "results": results, "photo": png_file(image, "photo")}
    state = _with_picks(state, None)
    summaries = [compare.summary(results[kind]) for kind in KINDS]
    return (status, *_overlays(state), *summaries, _slider(state, focus), state)


def model_result(kind: str, image: torch.Tensor, model: str, progress: Progress) -> Segmentation:
    """The result of ``kind``'s ``model`` on ``image`` with the tabs' default options, from the
    cache the Semantic, Instance and Panoptic tabs share (instances: those scoring at least
    INSTANCE_THRESHOLD)."""
    if kind == "semantic":
        return semantic_result(image, model, progress)
    if kind == "instance":
        dets = instance_detections(image, model, instance.DEFAULT_WORKING_SIZE, progress)
        return instance.to_segmentation(dets, threshold=INSTANCE_THRESHOLD)
    return panoptic_result(image, model, panoptic.DEFAULT_WORKING_SIZE, progress)


def model_choices(kind: str) -> list[tuple[str, str]]:
    """(title, key) of ``kind``'s models, the default first."""
    if kind == "semantic":
        choices = [(v.description, k) for k, v in semantic.VARIANTS.items()]
        default = semantic.DEFAULT_VARIANT
    elif kind == "instance":
        choices = [(v.description, k) for k, v in instance.VARIANTS.items()]
        default = instance.DEFAULT_VARIANT
    else:
        choices = [(f"{c.title} — PQ {c.pq}", k) for k, c in panoptic.CHECKPOINTS.items()]
        default = panoptic.DEFAULT_CHECKPOINT
    return sorted(choices, key=lambda choice: choice[1] != default)


def pick_class(state: State, focus: str, kind: str, event: gr.SelectData) -> tuple[Any, ...]:
    """A click on ``kind``'s overlay: pick the class under it in all three kinds (the picked
    class again, or no segment: show every segment). Answers the status, the three overlays,
    the slider and the state."""
    if not state:
        raise refusal(NO_RESULT)
    x, y = (int(v) for v in event.index)
    name = compare.class_at(state["results"][kind], x, y)
    state = _with_picks(state, None if name == state["picked"] else name)
    return (_pick_status(state), *_overlays(state), _slider(state, focus), state)


def refocus(state: State, focus: str) -> Any:
    """The slider for the kind in focus (nothing to change before the first run)."""
    return _slider(state, focus) if state else gr.skip()


def _stage(progress: gr.Progress, step: int, kind: str) -> Progress:
    """The progress callback of the ``step``-th model: "Semantic (1/3) loading …"."""
    title = f"{TITLES[kind]} ({step + 1}/{len(KINDS)})"
    progress(step / len(KINDS), desc=f"{title} …")
    return lambda fraction, message: progress(
        (step + fraction) / len(KINDS), desc=f"{title} {message}"
    )


def _with_picks(state: dict[str, Any], name: str | None) -> dict[str, Any]:
    """The state with class ``name`` picked (None: all shown) and the overlays drawn for it."""
    results: dict[str, Segmentation] = state["results"]
    picks = compare.picks_for_class(results, name)
    image = state["image"]
    overlays = {}
    for kind, seg in results.items():
        ids = seg.ids
        if name is not None:  # only the picked segments are painted
            ids = torch.where(masks.binarize(ids, picks[kind]), ids, 0)
        overlays[kind] = png_file(
            masks.overlay(image, ids, segment_palette(seg), ALPHA), f"{kind}-overlay"
        )
    return {**state, "picked": name, "picks": picks, "overlays": overlays}


def _overlays(state: dict[str, Any]) -> list[str]:
    return [state["overlays"][kind] for kind in KINDS]


def _slider(state: dict[str, Any], focus: str) -> tuple[str, str]:
    return (state["photo"], state["overlays"][focus])


def _pick_status(state: dict[str, Any]) -> str:
    """What was picked, in how many segments of each kind, and where it was not found."""
    name = state["picked"]
    if name is None:
        return f"Showing every segment. {CLICK_HINT}"
    picks: dict[str, list[int]] = state["picks"]
    found = [f"{TITLES[k]} {len(picks[k])}" for k in KINDS if picks[k]]
    missing = [TITLES[k] for k in KINDS if not picks[k]]
    line = f"Picked **{name}** — segments: {', '.join(found)}."
    return line + (f" Not found in: {', '.join(missing)}." if missing else "")


def build() -> None:
    """Lay out the tab and wire its events (inside the caller's Blocks context)."""
    gr.Markdown(INTRO)
    with gr.Row():
        photo = RawImage(label="Photo", type="filepath", sources=["upload", "clipboard", "webcam"])
        with gr.Column():
            models = [
                ChoiceDropdown(
                    model_choices(kind),
                    value=model_choices(kind)[0][1],
                    label=f"{TITLES[kind]}: {MODEL_LABELS[kind]}",
                )
                for kind in KINDS
            ]
            button = gr.Button("Compare", variant="primary")
    gr.Examples(PHOTO_EXAMPLES, inputs=[photo], label="Examples (scikit-image, free to use)")
    status = gr.Markdown(min_height=40)
    overlays, summaries = [], []
    with gr.Row():
        for kind in KINDS:
            with gr.Column():
                overlays.append(
                    gr.Image(
                        label=f"{TITLES[kind]} — click a segment to pick its class",
                        format="png",
                        interactive=False,
                    )
                )
                summaries.append(gr.Markdown())
    focus = ChoiceRadio(
        [(TITLES[k], k) for k in KINDS], value=KINDS[0], label="Before / after: the kind in focus"
    )
    slider = gr.ImageSlider(label="Photo / overlay", type="filepath", interactive=False)
    state = session_state()
    button.click(
        user_errors(compare_kinds),
        [photo, *models, focus],
        [status, *overlays, *summaries, slider, state],
        api_name="compare",
        concurrency_id=MODEL_CONCURRENCY_ID,
        show_progress_on=[status],
    )
    for kind, overlay in zip(KINDS, overlays, strict=True):
        overlay.select(
            user_errors(_clicked(kind)),
            [state, focus],
            [status, *overlays, slider, state],
            api_visibility="private",
            show_progress="hidden",
        )
    focus.input(
        user_errors(refocus),
        [state, focus],
        slider,
        api_visibility="private",
        show_progress="hidden",
    )


def _clicked(kind: str) -> Callable[..., tuple[Any, ...]]:
    """:func:`pick_class` for a click on ``kind``'s overlay."""

    def clicked(state: State, focus: str, event: gr.SelectData) -> tuple[Any, ...]:
        return pick_class(state, focus, kind, event)

    return clicked
