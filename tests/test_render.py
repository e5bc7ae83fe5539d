"""segdemo.render: colours per task, the legend, the HTML legend; numpy references."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest
import torch
from hypothesis import given

from segdemo.render import VOID_COLOR_INDEX, LegendEntry, legend, segment_palette
from segdemo.result import Segment, Segmentation
from segdemo.ui.view import legend_html
from tests.test_masks import SETTINGS, as_tensor, scenes, voc_colormap_ref


def test_segment_palette_per_task(device: torch.device) -> None:
    voc = voc_colormap_ref(300)
    ids = torch.tensor([[0, 1, 2, 3]], dtype=torch.int32, device=device)
    cats = ("background", "sky", "dog")
    table = (
        Segment(1, 0, "background"),
        Segment(2, 2, "dog", 0.9, is_thing=True),
        Segment(3, 2, "dog", 0.8, is_thing=True),
    )

    def colors(task: str) -> list[tuple[int, ...]]:
        pal = segment_palette(Segmentation(ids, table, cats, task))  # type: ignore[arg-type]
        assert pal.dtype == torch.uint8 and pal.shape == (4, 3) and pal.device == ids.device
        return [tuple(row) for row in pal.tolist()]

    void = tuple(voc[VOID_COLOR_INDEX])
    # semantic and ground truth: one colour per category, so the two dogs match
    assert colors("semantic") == [(0, 0, 0), void, tuple(voc[2]), tuple(voc[2])]
    assert colors("groundtruth") == colors("semantic")
    # instance: one colour per segment id
    assert colors("instance") == [(0, 0, 0), *(tuple(voc[k]) for k in (1, 2, 3))]
    # panoptic: stuff by category, things by id past the categories' rows
    assert colors("panoptic") == [(0, 0, 0), void, tuple(voc[3 + 2]), tuple(voc[3 + 3])]
    empty = segment_palette(Segmentation.empty(2, 2, cats, "semantic", device=device))
    assert empty.tolist() == [[0, 0, 0]]


@SETTINGS
@given(scene=scenes(min_side=0))
def test_legend_matches_numpy(device: torch.device, scene: tuple[np.ndarray, ...]) -> None:
    _, ids, pal = scene
    top = int(pal.shape[0]) - 1
    # the table holds every id up to the palette's last row, in a shuffled order, so some
    # segments won no pixel and the order is not sorted
    order = list(np.random.default_rng(top).permutation(np.arange(1, top + 1)))
    table = tuple(Segment(int(k), 0, f"<seg {k}>", score=0.5) for k in order)
    seg = Segmentation(as_tensor(ids, device), table, ("thing",), "instance")
    entries = legend(seg, as_tensor(pal, device))
    assert [e.id for e in entries] == [s.id for s in table]
    counts = np.bincount(ids.ravel(), minlength=top + 1)
    for e in entries:
        assert e.label == f"<seg {e.id}>"
        assert e.color == "#{:02x}{:02x}{:02x}".format(*pal[e.id])
        assert e.share == pytest.approx(counts[e.id] / ids.size if ids.size else 0.0)
    assert sum(e.share for e in entries) <= 1 + 1e-9


def test_legend_html_escapes_and_shows_shares() -> None:
    entries = [
        LegendEntry(1, "<script>alert(1)</script>", "#ff0000", 0.25),
        LegendEntry(2, "dog 1 · 0.88 & cat", "#00ff00", 0.00001),
    ]
    out = legend_html(entries)
    assert "<script>" not in out and html.escape("<script>alert(1)</script>") in out
    assert "dog 1 · 0.88 &amp; cat" in out and "25.0%" in out and "&lt;0.1%" in out
    assert re.search(r"background:#ff0000", out)
    assert "No segments" in legend_html([])


SEG = Segmentation(torch.zeros(4, 5, dtype=torch.int32), (Segment(2, 0, "a"),), ("a",), "semantic")


def test_legend_refuses_a_palette_without_a_row_per_segment() -> None:
    with pytest.raises(ValueError, match=r"2 rows .* id 2"):
        legend(SEG, torch.zeros(2, 3, dtype=torch.uint8))


def test_legend_html_refuses_a_colour_that_is_not_hex() -> None:
    with pytest.raises(ValueError, match="'red'"):
        legend_html([LegendEntry(1, "a", "red", 0.1)])
