"""segdemo.render: colours per task, the legend, the HTML legend; numpy references."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest
import torch
from hypothesis import given

from segdemo import masks
from segdemo.render import (
    CLASS_COLORS,
    VOID_COLOR_INDEX,
    LegendEntry,
    label_font_size,
    legend,
    render,
    segment_palette,
)
from segdemo.result import Segment, Segmentation
from segdemo.ui.view import LEGEND_ROWS, by_category, legend_html, share_text
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
    # semantic and ground truth: one colour per category, so the two dogs match; annotations in
    # the VOC colours, a model's classes in Kelly's
    assert colors("groundtruth") == [(0, 0, 0), void, tuple(voc[2]), tuple(voc[2])]
    assert colors("semantic") == [(0, 0, 0), void, CLASS_COLORS[1], CLASS_COLORS[1]]
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


def three_cats(device: torch.device) -> tuple[torch.Tensor, Segmentation]:
    """A grey 60×80 photo with three boxed "cat" instances and one "dog"."""
    ids = torch.zeros(60, 80, dtype=torch.int32, device=device)
    ids[5:25, 5:30], ids[30:55, 5:30], ids[5:55, 40:75] = 1, 2, 3
    ids[40:50, 60:70] = 4
    table = tuple(
        Segment(k, cat, f"{name} {k} · 0.9", 0.9, box=box)
        for k, cat, name, box in (
            (1, 1, "cat", (5.0, 5.0, 30.0, 25.0)),
            (2, 1, "cat", (5.0, 30.0, 30.0, 55.0)),
            (3, 1, "cat", (40.0, 5.0, 75.0, 55.0)),
            (4, 2, "dog", (60.0, 40.0, 70.0, 50.0)),
        )
    )
    seg = Segmentation(ids, table, ("background", "cat", "dog"), "instance")
    image = torch.full((3, 60, 80), 120, dtype=torch.uint8, device=device)
    return image, seg


def test_highlight_brightens_and_outlines_the_picks_and_dims_the_rest(device) -> None:
    image, seg = three_cats(device)
    plain = render(image, seg, [1], 0.5).overlay
    shown = render(image, seg, [1], 0.5, highlight=True)
    assert shown.mask.equal(seg.ids == 1)
    assert torch.equal(shown.overlay, masks.spotlight(plain, shown.mask, outline=1))
    assert torch.equal(shown.overlay[:, 10:20, 10:25], plain[:, 10:20, 10:25])  # inside: kept
    assert (shown.overlay[:, 5, 5:30] == 255).all()  # the outline
    assert torch.equal(shown.overlay[:, 30:55, 5:30], plain[:, 30:55, 5:30] >> 1)  # dimmed
    # nothing picked: the overlay as it is, not a dark photo
    assert torch.equal(render(image, seg, [], 0.5, highlight=True).overlay, plain)


def test_box_labels_have_a_filled_background_in_a_size_that_follows_the_photo(device) -> None:
    image, seg = three_cats(device)
    drawn = render(image, seg, [], 0.0, boxes=True).overlay
    palette = segment_palette(seg)
    # cat 1's label is a filled band of its colour (far more pixels than its 1-px box outline)
    # with the text in white, which reads better on its dark red
    color = palette[1][:, None, None]
    in_color = (drawn == color).all(0)
    assert int(in_color.sum()) > 2 * 2 * (25 + 20)
    assert bool((drawn[:, 5:25, 5:40] == 255).all(0).any())
    assert label_font_size((60, 80)) == 12 and label_font_size((1080, 1920)) == 32


def test_a_long_legend_is_grouped_by_category() -> None:
    entries = [LegendEntry(k, f"wine glass {k}", "#112233", 0.01, "wine glass") for k in range(93)]
    entries += [LegendEntry(100 + k, f"cup {k}", "#445566", 0.001, "cup") for k in range(7)]
    grouped = by_category(entries)
    assert [(e.label, e.color) for e in grouped] == [
        ("wine glass × 93", "#112233"),
        ("cup × 7", "#445566"),
    ]
    assert grouped[0].share == pytest.approx(0.93)
    out = legend_html(entries)
    assert "wine glass × 93" in out and "cup × 7" in out and "wine glass 5" not in out
    assert "wine glass 5" in legend_html(entries[:LEGEND_ROWS])  # a short one names each


def test_share_text_never_rounds_a_segment_away() -> None:
    assert [share_text(s) for s in (0.0, 0.00001, 0.001, 0.25, 1.0)] == [
        "0.0%",
        "<0.1%",
        "0.1%",
        "25.0%",
        "100.0%",
    ]


def test_class_colours_are_distinct_and_far_apart() -> None:
    colors = np.array(CLASS_COLORS, dtype=float)
    assert len(set(CLASS_COLORS)) == 20
    distances = np.linalg.norm(colors[:, None] - colors[None], axis=-1)
    assert np.diag(distances, 1).min() > 75  # neighbouring classes differ clearly
    # VOC's aeroplane (1), cat (8) and chair (9) are dark reds 64 apart; here far more
    trio = [k - 1 for k in (1, 8, 9)]
    assert distances[np.ix_(trio, trio)][np.triu_indices(3, 1)].min() > 100
