"""A video file segmented frame by frame: the Live tab's painting, written as an H.264 MP4.

Each frame goes through :func:`segdemo.live.process_frame`, the very code the webcam stream
runs, so a clip and the camera look the same. Decoding and encoding are PyAV's (FFmpeg inside
its wheel, H.264 by libx264), imported here only when a video is processed: ``python app.py``
and ``import segdemo`` never load it. The sound track is not copied.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch

from segdemo import live
from segdemo.images import InputError
from segdemo.models import Progress

#: Longest clip accepted, in seconds, and most frames (a 30 fps clip at the limit).
MAX_SECONDS = 20
MAX_FRAMES = 600
#: Frames with a longer side are scaled down to it (the model works at a small size anyway).
MAX_SIDE = 1280
#: What a video can be painted as: an MP4 has no transparency, so no "transparent" mode.
MODES = tuple(m for m in live.MODES if m != "transparent")
#: libx264's constant quality (lower is better; 18–23 is visually lossless to good) and speed.
CRF = 20
PRESET = "veryfast"
FALLBACK_FPS = Fraction(25)


@dataclass(frozen=True)
class VideoInfo:
    """What a clip holds: frame size (after :data:`MAX_SIDE`), frame rate, length."""

    width: int
    height: int
    fps: Fraction
    frames: int
    seconds: float


def probe(path: str | Path) -> VideoInfo:
    """The clip's :class:`VideoInfo`, or an InputError saying why it cannot be used.

    The length comes from the container's header; where it has none, it is unknown (0) here,
    and :func:`segment_video` stops at :data:`MAX_FRAMES`.
    """
    av = _pyav()
    name = Path(path).name
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{name} has no video track: upload a video clip.")
            stream = container.streams.video[0]
            fps = stream.average_rate or stream.guessed_rate or FALLBACK_FPS
            seconds = _seconds(container, stream)
            frames = stream.frames or round(seconds * fps)
            if not frames:  # no length in the header (a browser's WebM recording): count
                frames, seconds = _counted(container, stream)
            width, height = stream.codec_context.width, stream.codec_context.height
    except av.FFmpegError:
        raise InputError(
            f"{name} is not a video that can be read: upload an MP4, WebM or MOV clip."
        ) from None
    if not width or not height:
        raise InputError(f"{name} has no picture size: upload a video clip.")
    width, height = _output_size(width, height)
    if seconds > MAX_SECONDS:
        raise InputError(
            f"{name} is {seconds:.1f} s long; the limit is {MAX_SECONDS} s: trim it and try again."
        )
    if frames > MAX_FRAMES:
        raise InputError(
            f"{name} has {frames} frames; the limit is {MAX_FRAMES}: upload a shorter clip."
        )
    return VideoInfo(width, height, Fraction(fps), frames, seconds)


def segment_video(
    path: str | Path,
    out_path: str | Path,
    mode: str = "overlay",
    *,
    progress: Progress | None = None,
    **frame_options: Any,
) -> VideoInfo:
    """Write ``path``'s frames, each painted by :func:`segdemo.live.process_frame` as ``mode``
    asks (``frame_options`` go to it: variant, classes, background, working_size, device,
    precision), to ``out_path`` as an H.264 MP4 (yuv420p, the clip's frame rate). Answers what
    was written. InputError for a clip that cannot be used, before any frame is processed.
    """
    if mode not in MODES:
        raise InputError(
            "An MP4 has no transparency: choose the overlay or a black, blurred or picture "
            "background for a video."
        )
    info = probe(path)
    av = _pyav()
    written = 0
    with av.open(str(out_path), "w", options={"movflags": "faststart"}) as output:
        stream = output.add_stream("libx264", rate=info.fps)
        stream.width, stream.height = info.width, info.height
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(CRF), "preset": PRESET}
        for frame in _frames(path, info):
            if written == MAX_FRAMES:
                raise InputError(
                    f"{Path(path).name} has more than {MAX_FRAMES} frames: upload a shorter clip."
                )
            shown = live.process_frame(frame, mode, **frame_options)
            picture = av.VideoFrame.from_ndarray(
                shown.image.permute(1, 2, 0).contiguous().cpu().numpy(), format="rgb24"
            )
            picture.pts = written
            output.mux(stream.encode(picture))
            written += 1
            if progress is not None:
                total = max(info.frames, written)
                progress(written / total, f"frame {written} of {total}")
        output.mux(stream.encode(None))
    if not written:
        raise InputError(f"{Path(path).name} holds no picture: upload a video clip.")
    return VideoInfo(info.width, info.height, info.fps, written, written / float(info.fps))


def _frames(path: str | Path, info: VideoInfo) -> Iterator[torch.Tensor]:
    """The clip's frames as uint8 [3, info.height, info.width] RGB tensors on the CPU."""
    av = _pyav()
    name = Path(path).name
    with av.open(str(path)) as container:
        decoded = container.decode(video=0)
        while True:
            try:
                frame = next(decoded)
            except StopIteration:
                return
            except av.FFmpegError:
                raise InputError(
                    f"{name} is damaged: a frame could not be decoded. Re-export the clip."
                ) from None
            rgb = frame.to_ndarray(format="rgb24", width=info.width, height=info.height)
            yield torch.from_numpy(rgb).permute(2, 0, 1)


def _seconds(container: Any, stream: Any) -> float:
    """The clip's length from the stream's header, else the container's; 0 when neither says."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # FFmpeg's AV_TIME_BASE: microseconds
    return 0.0


def _counted(container: Any, stream: Any) -> tuple[int, float]:
    """The number of frames and the seconds they span, from the packets (read, not decoded:
    cheap) when the header does not say."""
    frames, end = 0, 0.0
    for packet in container.demux(stream):
        if packet.size and packet.pts is not None and packet.time_base is not None:
            frames += 1
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    return frames, end


def _output_size(width: int, height: int) -> tuple[int, int]:
    """``width`` x ``height`` scaled so its long side is at most :data:`MAX_SIDE`, both even
    (H.264 in yuv420p halves the colour planes)."""
    scale = min(1.0, MAX_SIDE / max(width, height))
    return 2 * max(1, round(width * scale / 2)), 2 * max(1, round(height * scale / 2))


def _pyav() -> Any:
    """PyAV, imported on first use (it loads FFmpeg's libraries: ~100 MB)."""
    import av

    return av
