"""How a result is shown: overlay with legend, mask, cut-outs, the hover map and the status line."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import gradio as gr
import torch

from segdemo.exports import slug
from segdemo.render import LegendEntry, render
from segdemo.result import Segmentation
from segdemo.ui.encoding import baseline, mask_file, png_file, preview_file, written


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
.segdemo-tip { position: fixed; z-index: 1000; display: none; pointer-events: none;
               padding: 2px 8px; border-radius: 4px; background: #000c; color: #fff;
               font-size: 14px; white-space: nowrap; }
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
    overlay_only: bool = False,
    stem: str = "photo",
) -> tuple[Any, ...]:
    """What a ResultView shows for ``seg`` over ``image`` with ``selected`` segment ids: the
    images as paths of full-resolution files (see :mod:`segdemo.ui.encoding` for the formats),
    named for their download after :func:`file_stem`. The overlay shows the picks (``render``'s
    ``highlight``).

    ``overlay_only`` (only alpha changed): the mask and cut-outs are skipped, not sent again.
    The legend carries :func:`hover_data`, with which the page names the segment under the
    pointer on the overlay.
    """
    shown = render(image, seg, selected, alpha, boxes=boxes, highlight=True)
    name = file_stem(stem, seg, selected)
    jobs = [partial(preview_file, shown.overlay, f"{name}-overlay")]
    if not (overlay_only and not baseline()):
        jobs += [
            partial(mask_file, shown.mask, f"{name}-mask"),
            partial(png_file, shown.on_black, f"{name}-cutout-on-black"),
            partial(png_file, shown.cutout, f"{name}-cutout"),
        ]
    overlay, *cutouts = written(jobs)
    legend = legend_html(shown.legend, hover=hover_data(seg))
    return (overlay, legend, *(cutouts or (gr.skip(), gr.skip(), gr.skip())))


#: Above this many rows the legend names each category once ("wine glass × 93").
LEGEND_ROWS = 24


def file_stem(stem: str, seg: Segmentation, selected: Sequence[int]) -> str:
    """What the shown files are named after: ``stem`` (the photo's), and the picked segments'
    category when they share one, e.g. "chelsea-cat"."""
    picked = set(selected)
    names = {seg.categories[s.category_id] for s in seg.segments if s.id in picked}
    return f"{stem}-{slug(names.pop())}" if len(names) == 1 else stem


def legend_html(entries: Sequence[LegendEntry], hover: str | None = None) -> str:
    """A small HTML legend (for ``gr.HTML``): swatch, label, share. Labels are escaped.

    More than :data:`LEGEND_ROWS` entries are grouped by category (:func:`by_category`).
    ``hover`` (:func:`hover_data`) rides along as the legend's ``data-hover`` attribute.
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
    data = f' data-hover="{html.escape(hover)}"' if hover else ""
    return f'<div class="segdemo-legend"{data}>' + "".join(items) + "</div>"


#: The long side of the id map the page keeps for naming segments on hover: about one cell per
#: 6 px of a 1000-px overlay, ~50 kB per result at most.
HOVER_SIDE = 160


def hover_data(seg: Segmentation) -> str:
    """JSON for the page's hover labels: the id map shrunk (nearest) to at most
    :data:`HOVER_SIDE` on its long side, as base64 of little-endian uint16 (``w``, ``h``,
    ``ids``), and each segment's label by id (``labels``). See :data:`PAGE_JS`."""
    height, width = seg.size
    scale = min(1.0, HOVER_SIDE / max(height, width))
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    rows = torch.arange(h, device=seg.ids.device) * height // h
    cols = torch.arange(w, device=seg.ids.device) * width // w
    small = seg.ids[rows][:, cols].clamp(0, 65535).to(torch.int32).cpu().numpy()
    ids = base64.b64encode(small.astype("<u2").tobytes()).decode("ascii")
    labels = {s.id: s.label for s in seg.segments}
    return json.dumps({"w": w, "h": h, "ids": ids, "labels": labels}, separators=(",", ":"))


#: Runs once when the page loads: a tooltip that names the segment under the pointer on any
#: result overlay, read from the ``data-hover`` of the legend beside it (:func:`hover_data`;
#: the overlay image may be letterboxed in its box, hence the fit); and Enter in a number box
#: (a slider's) commits it, as leaving the box does — Gradio acts on the latter only.
PAGE_JS = """
() => {
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && event.target.matches('input[type=number]')) event.target.blur();
  });
  const tip = document.createElement('div');
  tip.className = 'segdemo-tip';
  document.body.appendChild(tip);
  const maps = new WeakMap();
  const decode = (legend) => {
    const raw = legend.dataset.hover;
    let map = maps.get(legend);
    if (!map || map.raw !== raw) {
      const data = JSON.parse(raw);
      const bytes = atob(data.ids);
      const ids = new Uint16Array(bytes.length / 2);
      for (let i = 0; i < ids.length; i++)
        ids[i] = bytes.charCodeAt(2 * i) | (bytes.charCodeAt(2 * i + 1) << 8);
      map = {raw, w: data.w, h: data.h, ids, labels: data.labels};
      maps.set(legend, map);
    }
    return map;
  };
  const legendFor = (img) => {
    for (let box = img.parentElement; box; box = box.parentElement) {
      const legend = box.querySelector('.segdemo-legend[data-hover]');
      if (legend) return legend;
    }
    return null;
  };
  const label = (event) => {
    const img = event.target.closest && event.target.closest('.OVERLAY img');
    const legend = img && img.naturalWidth ? legendFor(img) : null;
    if (!legend) return null;
    const map = decode(legend);
    const r = img.getBoundingClientRect();
    const s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
    const w = img.naturalWidth * s, h = img.naturalHeight * s;
    const x = (event.clientX - r.left - (r.width - w) / 2) / w;
    const y = (event.clientY - r.top - (r.height - h) / 2) / h;
    if (x < 0 || y < 0 || x >= 1 || y >= 1) return null;
    return map.labels[map.ids[Math.floor(y * map.h) * map.w + Math.floor(x * map.w)]] || null;
  };
  document.addEventListener('mousemove', (event) => {
    const text = label(event);
    tip.style.display = text ? 'block' : 'none';
    if (!text) return;
    tip.textContent = text;
    tip.style.left = event.clientX + 14 + 'px';
    tip.style.top = event.clientY + 14 + 'px';
  });
}
""".replace("OVERLAY", OVERLAY_CLASS)


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
