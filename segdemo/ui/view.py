"""How a result is shown: overlay with legend, mask, cut-outs, the hover map and the status line."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr
import torch

from segdemo.images import jpeg_data_url
from segdemo.render import LegendEntry, render, segment_palette
from segdemo.result import Segmentation
from segdemo.ui.encoding import baseline, mask_file, png_file, preview_file


@dataclass
class ResultView:
    """Overlay + legend, binary mask, cut-out on black and transparent cut-out of one result."""

    overlay: gr.Image
    legend: gr.HTML
    mask: gr.Image
    on_black: gr.Image
    cutout: gr.Image

    @property
    def outputs(self) -> list[gr.components.Component]:
        """The components, in the order of :func:`view_values`."""
        return [self.overlay, self.legend, self.mask, self.on_black, self.cutout]


def result_view(overlay_label: str) -> ResultView:
    """Lay out the result components (inside the caller's Blocks context)."""
    with gr.Row():
        overlay = gr.Image(
            label=f"{overlay_label} — click a segment to pick it",
            format="png",
            interactive=False,
            scale=3,
        )
        legend = gr.HTML(label="Legend")
    with gr.Row():
        mask = gr.Image(label="Binary mask (white = selected)", format="png", interactive=False)
        on_black = gr.Image(label="Cut-out on black", format="png", interactive=False)
        cutout = gr.Image(
            label="Cut-out (transparent PNG — use ⬇ to download)",
            format="png",
            interactive=False,
            image_mode="RGBA",
            buttons=["download", "fullscreen"],
        )
    return ResultView(overlay, legend, mask, on_black, cutout)


def view_values(
    image: torch.Tensor,
    seg: Segmentation,
    selected: Sequence[int],
    alpha: float,
    *,
    boxes: bool = False,
    hover: bool = False,
    overlay_only: bool = False,
) -> tuple[Any, ...]:
    """What a ResultView shows for ``seg`` over ``image`` with ``selected`` segment ids: the
    images as paths of full-resolution files (see :mod:`segdemo.ui.encoding` for the formats).

    ``overlay_only`` (only alpha changed): the mask and cut-outs are skipped, not sent again.
    ``hover`` appends :func:`hover_map_html` of the overlay.
    """
    shown = render(image, seg, selected, alpha, boxes=boxes)
    if overlay_only and not baseline():
        cutouts: tuple[Any, ...] = (gr.skip(), gr.skip(), gr.skip())
    else:
        cutouts = (
            mask_file(shown.mask, "mask"),
            png_file(shown.on_black, "cutout-on-black"),
            png_file(shown.cutout, "cutout"),
        )
    values = (preview_file(shown.overlay, "overlay"), legend_html(shown.legend), *cutouts)
    return (*values, hover_map_html(shown.overlay, seg)) if hover else values


def legend_html(entries: Sequence[LegendEntry]) -> str:
    """A small HTML legend (for ``gr.HTML``): swatch, label, share. Labels are escaped."""
    if not entries:
        return '<div class="segdemo-legend"><em>No segments.</em></div>'
    items = [
        '<span class="segdemo-legend-item" style="display:inline-flex;align-items:center;'
        'margin:0 1em 0.3em 0;white-space:nowrap">'
        f'<span style="display:inline-block;width:0.9em;height:0.9em;margin-right:0.35em;'
        f'border:1px solid #8888;border-radius:2px;background:{_hex_color(e.color)}"></span>'
        f"{html.escape(e.label)}&nbsp;<small>{_percent(e.share)}</small></span>"
        for e in entries
    ]
    return '<div class="segdemo-legend">' + "".join(items) + "</div>"


def _hex_color(color: str) -> str:
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", color):
        raise ValueError(f"legend colour must be '#rrggbb', got {color!r}")
    return color


def _percent(share: float) -> str:
    if 0 < share < 0.001:
        return "&lt;0.1%"
    return f"{share * 100:.1f}%"


HOVER_STYLE = (
    "<style>.segdemo-hover{position:relative;max-width:960px}"
    ".segdemo-hover img{width:100%;display:block}"
    ".segdemo-hover svg{position:absolute;inset:0;width:100%;height:100%}"
    ".segdemo-hover rect{fill:transparent;pointer-events:all}"
    ".segdemo-hover rect:hover{fill:rgba(255,255,255,.3)}</style>"
)


def hover_map_html(overlay: torch.Tensor, seg: Segmentation) -> str:
    """A preview of ``overlay`` (uint8 [3,H,W]) on which hovering a box names its segment.

    The boxes are an SVG layer in the photo's own coordinates, each with a <title> tooltip;
    smaller boxes are drawn last, so they stay reachable inside larger ones.
    """
    height, width = seg.size
    palette = segment_palette(seg).tolist()
    boxed = sorted(
        (s for s in seg.segments if s.box is not None),
        key=lambda s: -(s.box[2] - s.box[0]) * (s.box[3] - s.box[1]),  # type: ignore[index]
    )
    stroke = max(2, round(max(height, width) / 300))
    rects = "".join(
        f'<rect x="{s.box[0]:.1f}" y="{s.box[1]:.1f}" width="{s.box[2] - s.box[0]:.1f}" '
        f'height="{s.box[3] - s.box[1]:.1f}" stroke="#{"".join(f"{c:02x}" for c in palette[s.id])}"'
        f' stroke-width="{stroke}"><title>{html.escape(s.label)}</title></rect>'
        for s in boxed
    )
    return (
        f'{HOVER_STYLE}<div class="segdemo-hover"><img src="{jpeg_data_url(overlay)}" '
        f'alt="instances over the photo"><svg viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="none">{rects}</svg></div>'
    )


def status_line(seg: Segmentation, note: str = "") -> str:
    """The status line: "**Model** on device in precision: N segments · stage times", after
    ``note`` (the precision where the result names one)."""
    timings = " · ".join(
        f"{stage} {ms:.0f} ms" for stage, ms in seg.extras.get("timings_ms", {}).items()
    )
    model = seg.extras.get("model", seg.task)
    precision = seg.extras.get("precision")
    where = seg.device.type + (f" in {precision}" if precision else "")
    return f"{note}**{model}** on {where}: {len(seg)} segments · {timings}"
