"""The Live tab: its stream event's settings and the per-frame handler."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest

from segdemo import semantic
from segdemo.bench.timing import photo_like
from segdemo.ui import build_demo, live_tab
from segdemo.ui.errors import user_errors
from tests.helpers import assert_varied


@pytest.fixture(scope="module")
def live_event() -> object:
    demo = build_demo()
    return next(fn for fn in demo.fns.values() if fn.api_name == "live_frame")


def test_the_stream_drops_frames_and_stops_at_its_time_limit(live_event) -> None:
    # The browser captures no frame while one is pending (frames are dropped, not queued); the
    # default trigger mode, since "once" and "always_last" end a webcam stream after one frame.
    assert live_event.trigger_mode == "multiple"
    assert live_event.stream_every == live_tab.STREAM_EVERY
    assert live_event.time_limit == live_tab.TIME_LIMIT
    # Its own group: streams never wait behind the model tabs' one-at-a-time queue.
    assert live_event.concurrency_id == "live"
    assert live_event.concurrency_limit == live_tab.STREAM_CONCURRENCY >= 2
    camera = live_event.inputs[0]
    assert isinstance(camera, gr.Image) and camera.streaming and camera.sources == ["webcam"]


def frame() -> np.ndarray:
    return photo_like(60, 80).permute(1, 2, 0).numpy()


@pytest.mark.usefixtures("random_weights")
@pytest.mark.parametrize(("mode", "channels"), [("overlay", 3), ("transparent", 4), ("blur", 3)])
def test_a_frame_comes_back_painted_with_its_rate(mode: str, channels: int) -> None:
    # Random weights find one class, whatever it is: keep every class so the cut-out shows it.
    every = list(semantic.get_variant("lraspp_mobilenet_v3_large").categories)
    args = ("lraspp_mobilenet_v3_large", mode, every, None, 64)
    image, status, legend, clock = live_tab.live_frame(frame(), *args, {})
    assert image.shape == (60, 80, channels) and image.dtype == np.uint8
    assert_varied(image, "the painted frame")
    assert "frames/s" in status and "LRASPP-MobileNetV3-Large" in status
    assert "segdemo-legend" in legend
    _, status, _, clock = live_tab.live_frame(frame(), *args, clock)
    assert clock["fps"] > 0 and status.startswith(f"{clock['fps']:.1f} frames/s")


def test_no_frame_yet_gives_nothing_and_keeps_the_clock() -> None:
    clock = {"last": 1.0, "fps": 5.0}
    assert live_tab.live_frame(None, "x", "overlay", None, None, 64, clock) == (None, "", "", clock)


def test_picture_mode_without_a_picture_is_one_sentence() -> None:
    handler = user_errors(live_tab.live_frame)
    with pytest.raises(gr.Error, match="Upload a background picture first"):
        handler(frame(), "lraspp_mobilenet_v3_large", "picture", None, None, 64, {})


@pytest.mark.parametrize(
    ("clock", "now", "expected"),
    [
        ({}, 10.0, 0.0),  # the first frame: no rate yet
        ({"last": 10.0}, 10.5, 2.0),
        ({"last": 10.0, "fps": 4.0}, 10.5, 0.8 * 4.0 + 0.2 * 2.0),
        ({"last": 10.0, "fps": 4.0}, 10.0, 0.0),  # a clock that did not move
    ],
)
def test_the_rate_is_smoothed(clock: dict[str, float], now: float, expected: float) -> None:
    assert live_tab._smoothed_fps(clock, now) == pytest.approx(expected)
