"""The Panoptic tab: transformers Mask2Former, things as instances and stuff as classes."""

from __future__ import annotations

from typing import Any

import gradio as gr
import torch

from segdemo import panoptic
from segdemo.models import Progress
from segdemo.precision import DEFAULT_PRECISION
from segdemo.result import Segmentation
from segdemo.ui.inputs import ChoiceDropdown, ChoiceRadio, NumberSlider, Upload, opacity_slider
from segdemo.ui.model_tab import ModelTab, progress_callback
from segdemo.ui.photos import load_photo, photo_stem
from segdemo.ui.picking import picker_update, selected_ids
from segdemo.ui.session import cached
from segdemo.ui.view import share_text, status_line, view_values

TABLE_HEADERS = ["label", "kind", "score", "area", "share of image"]


def segment_panoptic(
    photo: Upload,
    checkpoint: str,
    working_size: int,
    threshold: float,
    picked: list[str] | None,
    alpha: float,
    precision: str = DEFAULT_PRECISION,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented idiom
) -> tuple[Any, ...]:
    """Panoptic segmentation: Mask2Former gives things (each object) and stuff (sky, road) masks.

    Renders the picked segments as a binary mask and cut-outs (default: all of them).

    Args:
        photo: The photo: an http(s) URL or a data: URL of a PNG, JPEG, WebP, BMP, GIF or TIFF.
        checkpoint: The Mask2Former checkpoint on the Hugging Face Hub (COCO, Cityscapes, ADE20K).
        working_size: The short side in pixels the model sees: 384 (fast) or 800 (closer to PQ).
        threshold: The class score, from 0 to 1, a query needs to become a segment.
        picked: Labels to cut out as the result names them, e.g. "cat 1 · 0.97"; empty: all.
        alpha: Opacity of the segment colours over the photo, from 0 (photo only) to 1.
        precision: The model's arithmetic: fp32 (exact), bf16 (faster where native) or auto.

    Returns:
        status: model, device, number of segments and stage times
        segments: a table of label, thing or stuff, score, area in pixels and share of the image
        segments to cut out: the picker's labels with their share and the picked ones
        overlay, legend, mask, cut-out on black, transparent cut-out: PNG images and legend HTML
    """
    working_size = int(working_size)  # the radio passes 512.0 as it came
    image, note = load_photo(photo)
    seg = panoptic_result(
        image, checkpoint, working_size, progress_callback(progress), precision, threshold
    )
    image = image.to(seg.device)
    picker, value = picker_update(seg, picked, [s.label for s in seg.segments])
    state = {"image": image, "seg": seg, "stem": photo_stem(photo)}
    values = view_values(image, seg, selected_ids(seg, value), alpha, stem=state["stem"])
    return (status_line(seg, note), segment_rows(seg), picker, *values, state)


def panoptic_result(
    image: torch.Tensor,
    checkpoint: str,
    working_size: int,
    progress: Progress | None,
    precision: str = DEFAULT_PRECISION,
    threshold: float = panoptic.THRESHOLD,
) -> Segmentation:
    """Mask2Former's result for ``image`` from the shared cache (computed once per photo,
    checkpoint, working size, precision and score threshold, whichever tab asks)."""
    return cached(
        "panoptic",
        image,
        (checkpoint, working_size, precision, threshold),
        lambda: panoptic.segment(
            image,
            checkpoint,
            working_size=working_size,
            threshold=threshold,
            precision=precision,
            progress=progress,
        ),
    )


def segment_rows(seg: Segmentation) -> list[list[Any]]:
    """The segment table: label, thing/stuff, score, area in pixels and share; highest score
    first (segments without a score last)."""
    areas = seg.areas()
    total = max(1, seg.ids.numel())
    return [
        [
            s.label,
            "thing" if s.is_thing else "stuff",
            "" if s.score is None else round(s.score, 3),
            areas[s.id],
            share_text(areas[s.id] / total),
        ]
        for s in sorted(seg.segments, key=lambda s: 1.0 if s.score is None else -s.score)
    ]


def build() -> None:
    """Lay out the tab and wire its events (inside the caller's Blocks context)."""
    tab = ModelTab(panoptic.DESCRIPTION)
    with tab.options("Segment"):
        checkpoint = ChoiceDropdown(
            [(f"{c.title} — PQ {c.pq}", k) for k, c in panoptic.CHECKPOINTS.items()],
            value=panoptic.DEFAULT_CHECKPOINT,
            label="Mask2Former checkpoint",
            info=panoptic.CHECKPOINTS[panoptic.DEFAULT_CHECKPOINT].description,
        )
        working_size = ChoiceRadio(
            list(panoptic.WORKING_SIZES),
            value=panoptic.DEFAULT_WORKING_SIZE,
            label="Working size (short side, px): 384 is the stock processor's; the PQ "
            "figures were measured at about 800",
        )
        threshold = NumberSlider(
            0,
            1,
            value=panoptic.THRESHOLD,
            step=0.01,
            label="Score threshold (lower: more segments)",
        )
        alpha = opacity_slider()
    table = gr.Dataframe(headers=TABLE_HEADERS, label="Segments", interactive=False, max_height=260)
    tab.results("Segments to cut out", "Things and stuff over the photo")
    checkpoint.change(
        lambda key: gr.update(info=panoptic.CHECKPOINTS[key].description),
        checkpoint,
        checkpoint,
        api_visibility="private",
        queue=False,
        show_progress="hidden",
    )
    tab.wire(
        segment_panoptic,
        "panoptic",
        options=[checkpoint, working_size, threshold],
        alpha=alpha,
        before_picker=[table],
    )
