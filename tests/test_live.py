"""segdemo.live: one frame segmented and painted per mode; the live bench suite."""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch

from segdemo import live, masks, semantic
from segdemo.bench.timing import photo_like
from segdemo.render import segment_palette
from segdemo.result import Segment, Segmentation
from tests.helpers import DEVICES, assert_varied

VOC = semantic.get_variant(live.VARIANTS[0]).categories
PERSON = VOC.index("person")


def halves(image: torch.Tensor, variant: str, **options: Any) -> Segmentation:
    """Stand-in for the adapter with a known answer: a person on the left, background right.

    Random weights give a map of one class, where a cut-out is all or nothing; the painting is
    what these tests check, so the id map must be varied. The adapter itself runs in
    test_the_real_adapter_runs_at_the_working_size.
    """
    device = torch.device(options.get("device") or "cpu")
    height, width = image.shape[-2:]
    ids = torch.ones((height, width), dtype=torch.int32, device=device)
    ids[:, : width // 2] = PERSON + 1
    segments = (
        Segment(1, 0, VOC[0], None, False),
        Segment(PERSON + 1, PERSON, "person", None, True),
    )
    return Segmentation(ids, segments, VOC, "semantic", {"model": "halves", "timings_ms": {}})


@pytest.fixture
def known_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live.semantic, "segment", halves)


@pytest.mark.usefixtures("known_answer")
@pytest.mark.parametrize("device", DEVICES)
def test_overlay_is_the_mask_modules_overlay_with_a_legend(device: str) -> None:
    frame = photo_like(48, 64)
    shown = live.process_frame(frame, "overlay", device=device)
    expected = masks.overlay(
        frame.to(device), shown.seg.ids, segment_palette(shown.seg), live.OVERLAY_ALPHA
    )
    assert torch.equal(shown.image, expected)
    assert [e.label for e in shown.legend] == [VOC[0], "person"]
    assert [round(e.share, 2) for e in shown.legend] == [0.5, 0.5]


@pytest.mark.usefixtures("known_answer")
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["transparent", "black", "blur", "picture"])
def test_cutout_keeps_the_chosen_classes_and_replaces_the_rest(mode: str, device: str) -> None:
    frame = photo_like(48, 64).to(device)
    picture = photo_like(30, 40, seed=7)
    shown = live.process_frame(frame, mode, background=picture, device=device)
    keep = shown.seg.ids == PERSON + 1
    assert_varied(keep, "the kept area")
    rgb = shown.image[:3]
    assert torch.equal(rgb[:, keep], frame[:, keep])
    if mode == "transparent":
        assert shown.image.shape == (4, 48, 64)
        assert torch.equal(shown.image[3], keep.to(torch.uint8) * 255)
        assert not rgb[:, ~keep].any()
    elif mode == "black":
        assert not rgb[:, ~keep].any()
    elif mode == "picture":
        stretched = torch.nn.functional.interpolate(
            picture[None].float(), size=(48, 64), mode="bilinear", antialias=True
        )[0]
        expected = stretched.round().clamp(0, 255).to(torch.uint8).to(device)
        assert torch.equal(rgb[:, ~keep], expected[:, ~keep])
    else:  # a blur smooths the noise: neighbouring pixels differ less than in the frame
        outside = rgb[:, :, 40:].float()
        assert not torch.equal(outside, frame[:, :, 40:].float())
        assert outside.diff(dim=2).abs().mean() < frame[:, :, 40:].float().diff(dim=2).abs().mean()


@pytest.mark.usefixtures("known_answer")
def test_classes_choose_what_is_kept() -> None:
    frame = photo_like(48, 64)
    shown = live.process_frame(frame, "black", classes=[VOC[0]])
    assert not shown.image[:, :, :32].any() and torch.equal(
        shown.image[:, :, 32:], frame[:, :, 32:]
    )
    shown = live.process_frame(frame, "black", classes=["cat"])
    assert not shown.image.any()


@pytest.mark.usefixtures("known_answer")
def test_options_reach_the_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def spy(image: torch.Tensor, variant: str, **options: Any) -> Segmentation:
        seen.update(options, variant=variant)
        return halves(image, variant, **options)

    monkeypatch.setattr(live.semantic, "segment", spy)
    live.process_frame(photo_like(24, 32), variant="mobilenet_v3_large", options={"extra": 1})
    assert seen == {
        "variant": "mobilenet_v3_large",
        "device": None,
        "short_side": live.WORKING_SIZE,
        "precision": live.PRECISION,
        "extra": 1,
    }


@pytest.mark.parametrize(
    ("mode", "background", "match"),
    [
        ("sepia", None, "unknown mode 'sepia'"),
        ("picture", None, "needs a background picture"),
    ],
)
def test_bad_requests_are_clear_errors(mode: str, background: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        live.process_frame(photo_like(24, 32), mode, background=background)


@pytest.mark.usefixtures("random_weights")
@pytest.mark.parametrize("variant", live.VARIANTS)
def test_the_real_adapter_runs_at_the_working_size(variant: str) -> None:
    frame = photo_like(60, 80)
    shown = live.process_frame(frame, "overlay", variant=variant, working_size=64)
    assert shown.image.shape == (3, 60, 80) and shown.image.dtype == torch.uint8
    assert shown.seg.ids.shape == (60, 80)
    assert shown.seg.extras["model"] == semantic.get_variant(variant).title
    assert shown.legend and not torch.equal(shown.image, frame)


@pytest.mark.usefixtures("random_weights")
def test_bench_suite_prints_the_contract_keys(capsys: pytest.CaptureFixture[str]) -> None:
    from segdemo.bench import __main__ as bench_main

    argv = ["--quick", "--size", "48x64", "--suite", "live", "--only", "blur", "--device", "cpu"]
    assert bench_main.main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert [line["name"] for line in lines] == ["live_frame_64x48_blur"]
    line = lines[0]
    for key in ("median_ms", "baseline_median_ms", "speedup", "fps", "model_ms", "working_size"):
        assert line[key] > 0
    assert line["model"] == "LRASPP-MobileNetV3-Large"
