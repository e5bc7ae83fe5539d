"""segdemo.video: a clip painted frame by frame into an H.264 MP4; its limits and refusals; the
Live tab's video handler."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import wave
from fractions import Fraction
from pathlib import Path

import av
import gradio as gr
import numpy as np
import pytest
import torch

from segdemo import live, video
from segdemo.images import InputError
from segdemo.ui import live_tab
from tests.helpers import assert_varied
from tests.test_live import halves

ROOT = Path(__file__).resolve().parents[1]


def write_clip(
    path: Path, frames: int = 6, size: tuple[int, int] = (96, 128), fps: int = 10
) -> np.ndarray:
    """Write an H.264 MP4 of ``frames`` frames (a bright bar sweeping over a green ramp);
    the frames as written, uint8 [N, H, W, 3]."""
    height, width = size
    pictures = np.zeros((frames, height, width, 3), np.uint8)
    pictures[..., 1] = np.linspace(0, 255, width, dtype=np.uint8)
    for i in range(frames):
        pictures[i, :, : (i + 1) * width // (frames + 1), 0] = 220
    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "10"}
        for i, picture in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = i
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return pictures


def write_streamed_webm(path: Path, frames: int, fps: int = 10) -> None:
    """A VP9 WebM written as a browser records one, to a stream it cannot seek back in: its
    header then says nothing of its length."""

    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.file = open(path, "wb")  # noqa: SIM115 - closed by close()

        def writable(self) -> bool:
            return True

        def write(self, data: bytes) -> int:  # type: ignore[override]
            return self.file.write(data)

        def close(self) -> None:
            self.file.close()
            super().close()

    with av.open(Unseekable(), "w", format="webm") as output:
        stream = output.add_stream("libvpx-vp9", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i, np.uint8), format="rgb24")
            frame.pts = i
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))


def test_a_clip_without_its_length_in_the_header_is_counted(tmp_path: Path) -> None:
    write_streamed_webm(tmp_path / "recorded.webm", frames=12)
    with av.open(str(tmp_path / "recorded.webm")) as container:
        assert container.duration is None and not container.streams.video[0].frames
    info = video.probe(tmp_path / "recorded.webm")
    assert (info.frames, info.seconds, info.fps) == (12, 1.2, 10)


def read_clip(path: Path) -> tuple[np.ndarray, Fraction]:
    """The frames of ``path`` (uint8 [N, H, W, 3]) and its frame rate."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        return np.stack(frames), stream.average_rate


@pytest.fixture
def known_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The semantic adapter answers a person on the left half (see tests/test_live.py)."""
    monkeypatch.setattr(live.semantic, "segment", halves)


@pytest.mark.usefixtures("known_answer")
def test_each_frame_is_painted_like_a_webcam_frame(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "walk.mp4", frames=7)
    seen: list[float] = []
    info = video.segment_video(
        tmp_path / "walk.mp4", tmp_path / "out.mp4", "black", progress=lambda f, _: seen.append(f)
    )
    frames, fps = read_clip(tmp_path / "out.mp4")
    assert (info.frames, info.width, info.height, info.fps) == (7, 128, 96, 10)
    assert frames.shape == clip.shape and fps == 10
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 7
    # the person (left half) is kept, the rest black; H.264 is lossy, so up to a few levels
    left, right = frames[..., :60, :].astype(int), frames[..., 68:, :].astype(int)
    assert np.abs(left - clip[..., :60, :]).mean() < 4
    assert right.mean() < 4
    assert_varied(torch.from_numpy(frames[:, :, :60, 0]), "the kept half")


def test_random_lraspp_paints_an_overlay_end_to_end(tmp_path: Path, random_weights) -> None:
    clip = write_clip(tmp_path / "in.mp4", frames=3)
    video.segment_video(tmp_path / "in.mp4", tmp_path / "out.mp4", "overlay", working_size=96)
    frames, _ = read_clip(tmp_path / "out.mp4")
    assert frames.shape == clip.shape
    assert np.abs(frames.astype(int) - clip).mean() > 10  # the class colours are painted over


@pytest.mark.usefixtures("known_answer")
def test_large_frames_are_scaled_down_to_even_sizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(video, "MAX_SIDE", 50)
    write_clip(tmp_path / "in.mp4", frames=2, size=(96, 128))
    info = video.segment_video(tmp_path / "in.mp4", tmp_path / "out.mp4", "blur")
    frames, _ = read_clip(tmp_path / "out.mp4")
    assert (info.width, info.height) == (50, 38) and frames.shape[1:3] == (38, 50)


def no_video_track(path: Path) -> None:
    with wave.open(str(path), "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\0\0" * 800)


@pytest.mark.parametrize(
    ("make", "mode", "message"),
    [
        (lambda p: p.write_bytes(b"this is not a video"), "overlay", "is not a video"),
        (lambda p: p.write_bytes(b""), "overlay", "is not a video"),
        (no_video_track, "overlay", "has no video track"),
        (lambda p: write_clip(p, frames=25, fps=1), "overlay", "25.0 s long; the limit is 20 s"),
        (lambda p: write_streamed_webm(p, frames=250), "overlay", "25.0 s long; the limit"),
        (lambda p: write_clip(p, frames=2), "transparent", "An MP4 has no transparency"),
    ],
    ids=[
        "text",
        "empty",
        "sound only",
        "too long",
        "too long, length not in header",
        "transparent",
    ],
)
def test_an_unusable_clip_is_refused_in_one_sentence(
    tmp_path: Path, make, mode: str, message: str
) -> None:
    path = tmp_path / "holiday.mp4"
    make(path)
    with pytest.raises(InputError, match=message) as refused:
        video.segment_video(path, tmp_path / "out.mp4", mode)
    assert str(refused.value).count(". ") <= 1 and "\n" not in str(refused.value)
    assert not (tmp_path / "out.mp4").exists()


def test_too_many_frames_are_refused_before_the_model_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(video, "MAX_FRAMES", 4)
    monkeypatch.setattr(live.semantic, "segment", lambda *a, **k: pytest.fail("the model ran"))
    write_clip(tmp_path / "in.mp4", frames=6)
    with pytest.raises(InputError, match="has 6 frames; the limit is 4"):
        video.segment_video(tmp_path / "in.mp4", tmp_path / "out.mp4")


@pytest.mark.usefixtures("known_answer")
def test_the_live_tab_answers_an_mp4_named_after_the_clip(tmp_path: Path) -> None:
    write_clip(tmp_path / "walk.mp4", frames=3)
    path, summary = live_tab.segment_clip(
        str(tmp_path / "walk.mp4"), live.VARIANTS[0], "overlay", ["person"], None, 256
    )
    assert Path(path).name == "walk-overlay.mp4" and Path(path).exists()
    assert summary.startswith("3 frames · 128×96 at 10 frames/s")
    frames, _ = read_clip(Path(path))
    clip, _ = read_clip(tmp_path / "walk.mp4")
    for painted, frame in zip(frames, clip, strict=True):
        expected = live.process_frame(torch.from_numpy(frame).permute(2, 0, 1), "overlay").image
        assert np.abs(painted.astype(int) - expected.permute(1, 2, 0).numpy()).mean() < 4
    assert np.abs(frames.astype(int) - clip).mean() > 10


@pytest.mark.parametrize(
    ("clip", "mode", "background", "message"),
    [
        (None, "overlay", None, "Upload a video clip first"),
        ("x.mp4", "picture", None, "Upload a background picture first"),
    ],
)
def test_the_live_tab_says_what_is_missing(clip, mode, background, message: str) -> None:
    with pytest.raises(gr.Error, match=message):
        live_tab.segment_clip(clip, live.VARIANTS[0], mode, None, background, 256)


def test_building_the_app_does_not_load_pyav() -> None:
    code = "import sys, app; print('av' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_the_bench_times_a_clip_per_frame(capsys: pytest.CaptureFixture[str]) -> None:
    from segdemo.bench import __main__ as bench_main

    argv = ["--quick", "--size", "48x64", "--suite", "live", "--only", "video", "--device", "cpu"]
    assert bench_main.main(argv) == 0
    (line,) = [json.loads(row) for row in capsys.readouterr().out.splitlines() if row.strip()]
    assert line["name"] == "live_video_30x64x48_overlay" and line["unit"] == "ms per frame"
    for key in ("median_ms", "baseline_median_ms", "speedup", "fps"):
        assert line[key] > 0
