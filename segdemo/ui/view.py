"""How a result is shown: overlay with legend, mask, cut-outs, the hover map and the status line."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr
import torch

from segdemo.exports import slug
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


#: The CSS class of every result overlay (see :data:`VIEW_CSS`, :data:`SCROLL_TO_RESULT_JS`).
OVERLAY_CLASS = "segdemo-overlay"
#: Page styles of the result view: the transparent cut-out on a checkerboard, a thin frame around
#: the mask images (an all-white or all-black mask is still visibly a picture), long legends and
#: pickers in a scrolling box so that 100 segments do not push the page down; a status line
#: with room for Gradio's Error badge; short boxes (the download's file) kept short.
VIEW_CSS = """
.segdemo-checkerboard img { background: repeating-conic-gradient(#d6d6d6 0 25%, #fff 0 50%)
                                        0 0 / 16px 16px; }
.segdemo-outlined img { outline: 1px solid #8888; }
.segdemo-scroll { max-height: 8em; overflow-y: auto; }
.segdemo-status { padding-right: 6em; }
.segdemo-short { max-height: 7em; overflow-y: auto; }
"""
#: Bring the visible result overlay into view (run in the browser after a run succeeds).
SCROLL_TO_RESULT_JS = (
    "() => { const shown = [...document.querySelectorAll('." + OVERLAY_CLASS + "')]"
    ".find(e => e.offsetParent);"
    " if (shown) shown.scrollIntoView({behavior: 'smooth', block: 'start'}); }"
)


def result_view(overlay_label: str) -> ResultView:
    """Lay out the result components (inside the caller's Blocks context)."""
    with gr.Row():
        overlay = gr.Image(
            label=f"{overlay_label} — click a segment to pick it",
            format="png",
            interactive=False,
            scale=3,
            elem_classes=[OVERLAY_CLASS],
        )
        legend = gr.HTML(label="Legend", elem_classes=["segdemo-scroll"])
    with gr.Row():
        mask = gr.Image(
            label="Binary mask (white = selected)",
            format="png",
            interactive=False,
            elem_classes=["segdemo-outlined"],
        )
        on_black = gr.Image(
            label="Cut-out on black",
            format="png",
            interactive=False,
            elem_classes=["segdemo-outlined"],
        )
        cutout = gr.Image(
            label="Cut-out (transparent PNG — use ⬇ to download)",
            format="png",
            interactive=False,
            image_mode="RGBA",
            buttons=["download", "fullscreen"],
            elem_classes=["segdemo-checkerboard"],
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
    stem: str = "photo",
) -> tuple[Any, ...]:
    """What a ResultView shows for ``seg`` over ``image`` with ``selected`` segment ids: the
    images as paths of full-resolution files (see :mod:`segdemo.ui.encoding` for the formats),
    named for their download after :func:`file_stem`. The overlay shows the picks (``render``'s
    ``highlight``).

    ``overlay_only`` (only alpha changed): the mask and cut-outs are skipped, not sent again.
    ``hover`` appends :func:`hover_map_html` of the overlay.
    """
    shown = render(image, seg, selected, alpha, boxes=boxes, highlight=True)
    name = file_stem(stem, seg, selected)
    if overlay_only and not baseline():
        cutouts: tuple[Any, ...] = (gr.skip(), gr.skip(), gr.skip())
    else:
        cutouts = (
            mask_file(shown.mask, f"{name}-mask"),
            png_file(shown.on_black, f"{name}-cutout-on-black"),
            png_file(shown.cutout, f"{name}-cutout"),
        )
    values = (preview_file(shown.overlay, f"{name}-overlay"), legend_html(shown.legend), *cutouts)
    return (*values, hover_map_html(shown.overlay, seg)) if hover else values


#: Above this many rows the legend names each category once ("wine glass × 93").
LEGEND_ROWS = 24


def file_stem(stem: str, seg: Segmentation, selected: Sequence[int]) -> str:
    """What the shown files are named after: ``stem`` (the photo's), and the picked segments'
    category when they share one, e.g. "chelsea-cat"."""
    picked = set(selected)
    names = {seg.categories[s.category_id] for s in seg.segments if s.id in picked}
    return f"{stem}-{slug(names.pop())}" if len(names) == 1 else stem


def legend_html(entries: Sequence[LegendEntry]) -> str:
    """A small HTML legend (for ``gr.HTML``): swatch, label, share. Labels are escaped.

    More than :data:`LEGEND_ROWS` entries are grouped by category (:func:`by_category`).
    """
    if not entries:
        return '<div class="segdemo-legend"><em>No segments.</em></div>'
    if len(entries) > LEGEND_ROWS:
        entries = by_category(entries)
    items = [
        '<span class="segdemo-legend-item" style="display:inline-flex;align-items:center;'
        'margin:0 1em 0.3em 0;white-space:nowrap">'
        f'<span style="display:inline-block;width:0.9em;height:0.9em;margin-right:0.35em;'
        f'border:1px solid #8888;border-radius:2px;background:{_hex_color(e.color)}"></span>'
        f"{html.escape(e.label)}&nbsp;<small>{html.escape(share_text(e.share))}</small></span>"
        for e in entries
    ]
    return '<div class="segdemo-legend">' + "".join(items) + "</div>"


def by_category(entries: Sequence[LegendEntry]) -> list[LegendEntry]:
    """One entry per category of ``entries``, in order of first appearance: labelled
    "name × count" when it has several segments, with the first one's colour and the summed
    share. Entries without a category are their own group."""
    groups: dict[str, list[LegendEntry]] = {}
    for e in entries:
        groups.setdefault(e.category or e.label, []).append(e)
    return [
        LegendEntry(
            id=members[0].id,
            label=name if len(members) == 1 else f"{name} × {len(members)}",
            color=members[0].color,
            share=sum(e.share for e in members),
            category=name,
        )
        for name, members in groups.items()
    ]


def _hex_color(color: str) -> str:
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", color):
        raise ValueError(f"legend colour must be '#rrggbb', got {color!r}")
    return color


def share_text(share: float) -> str:
    """A share of the image (0–1) as "12.3%", or "<0.1%" for a small non-zero one."""
    if 0 < share < 0.001:
        return "<0.1%"
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
    count = f"{len(seg)} segment{'' if len(seg) == 1 else 's'}"
    if not len(seg) and "threshold" in seg.extras:
        count += f" (none scored above {seg.extras['threshold']:g})"
    return f"{note}**{model}** on {where}: {count} · {timings}"
