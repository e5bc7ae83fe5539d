"""What the page is sent: a JPEG overlay, exact PNG masks and cut-outs, only the overlay when
alpha alone changed, and the bench's baseline path."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from segdemo import masks
from segdemo.render import render
from segdemo.ui import encoding, picking
from tests.helpers import assert_varied
from tests.test_ui import three_regions

HEIGHT, WIDTH = 40, 70


@pytest.fixture
def state() -> dict:
    # smooth, like a photo (JPEG is made for those; noise would be its worst case)
    ramp = torch.linspace(0, 255, WIDTH).to(torch.uint8).expand(3, HEIGHT, WIDTH).contiguous()
    return {"image": ramp, "seg": three_regions(HEIGHT, WIDTH), "stem": "p"}


def test_the_mask_and_cut_outs_are_exact_and_the_overlay_a_full_size_jpeg(state) -> None:
    overlay, _legend, mask, on_black, cutout = picking.rerender(state, ["cat", "sky"], 0.5)
    seg, image = state["seg"], state["image"]
    expected = render(image, seg, [1, 3], 0.5, highlight=True)
    assert_varied(expected.mask, "the picked mask")
    assert Image.open(overlay).format == "JPEG" and Image.open(overlay).size == (WIDTH, HEIGHT)
    assert Image.open(mask).mode == "1"
    assert np.array_equal(np.array(Image.open(mask)), expected.mask.numpy())
    assert np.array_equal(np.array(Image.open(cutout)), expected.cutout.permute(1, 2, 0).numpy())
    assert np.array_equal(
        np.array(Image.open(on_black)), masks.on_black(image, expected.mask).permute(1, 2, 0)
    )
    # lossy, but close to the rendered overlay
    error = np.abs(
        np.array(Image.open(overlay), dtype=int) - expected.overlay.permute(1, 2, 0).numpy()
    )
    assert error.mean() < 8


def test_a_change_of_alpha_alone_sends_only_the_overlay(state) -> None:
    first = picking.rerender(state, ["cat"], 0.5)
    again = picking.rerender(state, ["cat"], 0.8)
    assert isinstance(again[0], str) and again[0] != first[0]
    assert all(v == gr.skip() for v in again[2:])  # the mask and cut-outs stay as they are
    picked_again = picking.rerender(state, ["sky"], 0.8)
    assert all(isinstance(v, str) for v in (picked_again[0], *picked_again[2:]))


def test_the_bench_baseline_sends_every_output_as_default_png(state, monkeypatch) -> None:
    monkeypatch.setenv(encoding.BASELINE_ENV, "baseline")
    picking.rerender(state, ["cat"], 0.5)
    values = picking.rerender(state, ["cat"], 0.8)
    files = [values[0], *values[2:]]
    assert all(isinstance(f, str) and Image.open(f).format == "PNG" for f in files)


def test_mask_png_bytes_refuses_what_is_not_a_bool_map() -> None:
    from segdemo.images import mask_png_bytes

    for bad in (torch.zeros(3, 3, dtype=torch.uint8), torch.zeros(1, 3, 3, dtype=torch.bool)):
        with pytest.raises(ValueError, match="bool"):
            mask_png_bytes(bad)


def test_on_the_instance_tab_alpha_or_boxes_alone_send_only_the_overlay() -> None:
    from segdemo.ui import instance_tab
    from tests.test_ui import coco_detections

    dets = coco_detections(30, 60)
    state = {"image": torch.zeros(3, 30, 60, dtype=torch.uint8), "dets": dets, "note": ""}
    state["stem"] = "p"
    *_, first_state = instance_tab.refilter(state, 0.5, [], True, ["dog 1 · 0.90"], 0.5)
    _, _, _, overlay, _, *cutouts, again = instance_tab.refilter(
        first_state, 0.5, [], False, ["dog 1 · 0.90"], 0.8
    )
    assert isinstance(overlay, str) and all(v == gr.skip() for v in cutouts)
    # another pick, or another threshold, changes the cut-outs: they are sent
    for threshold, picked in ((0.5, ["cat 1 · 0.80"]), (0.85, ["dog 1 · 0.90"])):
        *_, mask, on_black, cutout, _ = instance_tab.refilter(
            again, threshold, [], False, picked, 0.8
        )
        assert all(isinstance(v, str) for v in (mask, on_black, cutout))


def test_the_instance_tab_pastes_the_masks_again_only_when_a_filter_changes() -> None:
    from segdemo import instance
    from segdemo.ui import instance_tab
    from tests.test_ui import coco_detections

    dets = coco_detections(30, 60)
    state = {"image": torch.zeros(3, 30, 60, dtype=torch.uint8), "dets": dets, "note": ""}
    state["stem"] = "p"
    *_, first = instance_tab.refilter(state, 0.5, [], True, ["dog 1 · 0.90"], 0.5)
    *_, alpha = instance_tab.refilter(first, 0.5, [], True, ["dog 1 · 0.90"], 0.8)
    *_, picked = instance_tab.refilter(alpha, 0.5, [], True, ["cat 1 · 0.80"], 0.8)
    assert alpha["seg"] is first["seg"] and picked["seg"] is first["seg"]
    for threshold, classes in ((0.85, []), (0.5, ["cat"])):
        *_, changed = instance_tab.refilter(picked, threshold, classes, True, [], 0.8)
        expected = instance.to_segmentation(dets, threshold=threshold, classes=classes or None)
        assert changed["seg"] is not first["seg"]
        assert torch.equal(changed["seg"].ids, expected.ids)
        assert [s.label for s in changed["seg"].segments] == [s.label for s in expected.segments]
