"""The Live tab: the webcam as a stream, each frame segmented and painted as it arrives.

Gradio's webcam component captures a frame every ``STREAM_EVERY`` seconds only while the
stream event is not pending (its timer skips the tick otherwise), so a frame that comes while
the previous one is being processed is never captured: frames are dropped, not queued, and the
picture never lags behind the camera. The event keeps Gradio's default trigger mode: "once" or
"always_last" stop a webcam stream after its first frame in Gradio 6.31 (seen in Chromium).
``STREAM_CONCURRENCY`` streams run at once (one per viewer), in their own concurrency group, so
the model tabs' one-at-a-time queue keeps answering beside them.
"""

from __future__ import annotations

import os
import time

import gradio as gr
import numpy as np
import torch

from segdemo import live, semantic, video
from segdemo.ui.encoding import output_folder
from segdemo.ui.errors import refusal, user_errors
from segdemo.ui.inputs import MAX_UPLOAD_MB
from segdemo.ui.model_tab import progress_callback
from segdemo.ui.photos import photo_stem
from segdemo.ui.session import session_state
from segdemo.ui.view import legend_html

INTRO = """
**Live**: your webcam, frame after frame — the classes painted over it, or the chosen classes
(a person, by default) cut out on a transparent, black, blurred or picture background. The model
is LRASPP-MobileNetV3-Large (made for mobile video) or DeepLabV3-MobileNetV3-Large at a small
working size, so it keeps up on a CPU; frames that arrive while one is processed are dropped.
"""
STREAM_EVERY = 0.1  # seconds between frames sent by the browser: at most 10 fps
#: Seconds one stream event may hold its concurrency slot; then it ends and the page joins the
#: queue again, behind any viewer waiting (Gradio's ``time_limit``).
TIME_LIMIT = int(os.environ.get("SEGDEMO_LIVE_TIME_LIMIT", "60"))
STREAM_CONCURRENCY = 2  # viewers streaming at once
MODE_LABELS = {
    "overlay": "Overlay with legend",
    "transparent": "Cut-out on transparent",
    "black": "Cut-out on black",
    "blur": "Cut-out on blurred background",
    "picture": "Cut-out on a background picture",
}
WORKING_SIZES = (160, 256, 320, 520)


def live_frame(
    frame: np.ndarray | None,
    variant: str,
    mode: str,
    classes: list[str] | None,
    background: np.ndarray | None,
    working_size: int,
    clock: dict[str, float] | None,
) -> tuple[np.ndarray | None, str, str, dict[str, float]]:
    """One webcam frame (uint8 [H,W,3] RGB) → (painted frame, fps line, legend HTML, clock).

    ``clock`` is the viewer's state: when their previous frame came back and the smoothed
    frames per second. No frame (the camera not started yet) gives nothing back.
    """
    clock = dict(clock or {})
    if frame is None:
        return None, "", "", clock
    if mode == "picture" and background is None:
        raise gr.Error("Upload a background picture first, or choose another mode.")
    shown = live.process_frame(
        _tensor(frame),
        mode,
        variant=variant,
        classes=classes or live.DEFAULT_CLASSES,
        background=None if background is None else _tensor(background),
        working_size=int(working_size),
    )
    now = time.perf_counter()
    fps = _smoothed_fps(clock, now)
    clock.update(last=now, fps=fps)
    ms = sum(shown.seg.extras["timings_ms"].values())
    extras = shown.seg.extras
    status = (
        f"{fps:.1f} frames/s · model run {ms:.0f} ms · {extras['model']} in {extras['precision']}"
    )
    image = shown.image.permute(1, 2, 0).cpu().numpy()
    return image, status, legend_html(shown.legend), clock


def segment_clip(
    clip: str | None,
    variant: str,
    mode: str,
    classes: list[str] | None,
    background: np.ndarray | None,
    working_size: int,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented idiom
) -> tuple[str, str]:
    """A video clip (its path) → (the painted MP4's path, a summary line), each frame painted
    like a webcam frame (:func:`segdemo.video.segment_video`)."""
    if clip is None:
        raise refusal("Upload a video clip first.")
    if mode == "picture" and background is None:
        raise refusal("Upload a background picture first, or choose another mode.")
    out = output_folder() / f"{photo_stem(clip)}-{mode}.mp4"
    started = time.perf_counter()
    info = video.segment_video(
        clip,
        out,
        mode,
        progress=progress_callback(progress),
        variant=variant,
        classes=classes or live.DEFAULT_CLASSES,
        background=None if background is None else _tensor(background),
        working_size=int(working_size),
    )
    per_frame = (time.perf_counter() - started) * 1000 / info.frames
    summary = (
        f"{info.frames} frames · {info.width}×{info.height} at {float(info.fps):g} frames/s · "
        f"{per_frame:.0f} ms per frame"
    )
    return str(out), summary


def _tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 [3,H,W] from Gradio's uint8 [H,W,3] (or [H,W,4]: the alpha is dropped)."""
    return torch.tensor(image[..., :3]).permute(2, 0, 1)  # a copy: Gradio's array is read-only


def _smoothed_fps(clock: dict[str, float], now: float) -> float:
    """Frames per second between this viewer's frames, smoothed over about five frames."""
    last = clock.get("last")
    if last is None or now <= last:
        return 0.0
    current = 1.0 / (now - last)
    previous = clock.get("fps", 0.0)
    return current if previous == 0.0 else 0.8 * previous + 0.2 * current


def build() -> None:
    """The Live tab's components and its stream event (``api_name="live_frame"``)."""
    gr.Markdown(INTRO)
    voc = [c for c in semantic.get_variant(live.VARIANTS[0]).categories if c != semantic.BACKGROUND]
    with gr.Row():
        with gr.Column():
            camera = gr.Image(
                label="Webcam", sources=["webcam"], streaming=True, type="numpy", height=360
            )
            variant = gr.Radio(
                [(semantic.get_variant(k).description, k) for k in live.VARIANTS],
                value=live.VARIANTS[0],
                label="Model",
            )
            mode = gr.Radio(
                [(MODE_LABELS[m], m) for m in live.MODES], value="overlay", label="Mode"
            )
            classes = gr.Dropdown(
                voc, value=list(live.DEFAULT_CLASSES), multiselect=True, label="Classes to keep"
            )
            background = gr.Image(
                label="Background picture", sources=["upload"], type="numpy", height=160
            )
            working_size = gr.Radio(
                list(WORKING_SIZES),
                value=live.WORKING_SIZE,
                label="Working size (short side the model sees: smaller is faster)",
            )
        with gr.Column():
            shown = gr.Image(label="Live", type="numpy", format=live.OUTPUT_FORMAT, height=360)
            fps = gr.Markdown(elem_id="live-fps")
            legend = gr.HTML()
    with gr.Accordion("A video file instead of the webcam", open=False):
        gr.Markdown(
            f"An MP4, WebM or MOV clip of at most {video.MAX_SECONDS} s, {video.MAX_FRAMES} "
            f"frames and {MAX_UPLOAD_MB} MB: every frame painted with the settings above (frames "
            f"wider than {video.MAX_SIDE} px are scaled down; the sound is dropped), as an H.264 "
            "MP4. "
            "An MP4 has no transparency: the transparent mode is for the webcam only."
        )
        with gr.Row():
            clip = gr.Video(label="Video clip", sources=["upload"], height=240)
            painted = gr.Video(label="Segmented video", height=240, interactive=False)
        clip_button = gr.Button("Segment the video")
        clip_status = gr.Markdown()
    clip_button.click(
        user_errors(segment_clip),
        [clip, variant, mode, classes, background, working_size],
        [painted, clip_status],
        api_name="live_video",
        api_visibility="undocumented",  # callable by name; not one of the MCP tools
        concurrency_id="video",
        concurrency_limit=1,
    )
    clock = session_state()
    camera.stream(
        user_errors(live_frame),
        inputs=[camera, variant, mode, classes, background, working_size, clock],
        outputs=[shown, fps, legend, clock],
        stream_every=STREAM_EVERY,
        time_limit=TIME_LIMIT,
        concurrency_limit=STREAM_CONCURRENCY,
        concurrency_id="live",
        show_progress="hidden",
        api_name="live_frame",
        api_visibility="undocumented",  # a browser's stream, not a tool or a public API
    )
