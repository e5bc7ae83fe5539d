"""Benchmark suite "live": one webcam frame through the Live tab's work, per mode.

Lines ``live_frame_{size}_{mode}`` (``{size}`` is width x height: ``640x480``, or ``--size
HxW`` written as WxH): decode a JPEG frame (a webcam's) with PIL as Gradio does,
:func:`segdemo.live.process_frame` with LRASPP-MobileNetV3-Large at the Live tab's working
size, and encode the result as Gradio encodes the tab's output image (PIL, WebP, alpha kept).
Target: ≤ 100 ms per frame (≥ 10 fps) on a CPU. ``model_ms`` is the adapter's own total
(preprocess, model, postprocess).

The baseline is the same frame with the adapter's default working size (the preset's 520-pixel
short side), so ``speedup`` is what the small working size buys. Runs of ours and of the
baseline alternate, so load from other processes on a shared machine hits both alike. Random
weights unless SEGDEMO_WEIGHTS says otherwise: speed does not depend on the values.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from segdemo import live, semantic, weights
from segdemo.bench.timing import median_ms, photo_like, report, wants

SIZE = (480, 640)  # (H, W): a webcam's usual VGA frame
BASELINE = "the same frame at the preset's working size (short side 520)"
VIDEO_FRAMES = 30


def run(args: argparse.Namespace) -> None:
    """Run every live benchmark that ``--only`` lets through."""
    height, width = tuple(args.size) if args.size else SIZE
    for mode in live.MODES:
        name = f"live_frame_{width}x{height}_{mode}"
        if wants(args, name):
            _mode(args, name, mode, height, width)
    name = f"live_video_{VIDEO_FRAMES}x{width}x{height}_overlay"
    if wants(args, name):
        _video(args, name, height, width)


def _mode(args: argparse.Namespace, name: str, mode: str, height: int, width: int) -> None:
    device = torch.device(args.device)
    repeat = 1 if args.quick else (args.repeat or 9)
    sent = io.BytesIO()
    Image.fromarray(photo_like(height, width).permute(1, 2, 0).numpy()).save(sent, format="jpeg")
    jpeg = sent.getvalue()
    background = photo_like(height, width, seed=1)
    default_size = semantic.get_variant(live.VARIANTS[0]).weights.transforms().resize_size[0]
    model_ms: list[float] = []

    def frame(working_size: int) -> None:
        pixels = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
        image = torch.tensor(pixels).permute(2, 0, 1)  # a copy, as the tab makes of Gradio's
        shown = live.process_frame(
            image, mode, background=background, working_size=working_size, device=device
        )
        if working_size == live.WORKING_SIZE:
            model_ms.append(sum(shown.seg.extras["timings_ms"].values()))
        pixels = shown.image.permute(1, 2, 0).cpu().numpy()
        Image.fromarray(pixels).save(io.BytesIO(), format=live.OUTPUT_FORMAT)

    frame(live.WORKING_SIZE)  # warm-up: model load and one-off setup
    frame(default_size)
    model_ms.clear()
    ours, theirs = [], []
    for _ in range(repeat):
        ours.append(median_ms(lambda: frame(live.WORKING_SIZE), repeat=1, warmup=0, device=device))
        theirs.append(median_ms(lambda: frame(default_size), repeat=1, warmup=0, device=device))
    total = statistics.median(ours)
    report(
        name,
        total,
        baseline=BASELINE,
        baseline_ms=statistics.median(theirs),
        fps=round(1e3 / total, 1),
        model_ms=round(statistics.median(model_ms), 2),
        working_size=live.WORKING_SIZE,
        precision=live.PRECISION,
        model=semantic.get_variant(live.VARIANTS[0]).title,
        device=str(device),
        threads=torch.get_num_threads(),
        weights=weights.weights_mode(),
    )


def _video(args: argparse.Namespace, name: str, height: int, width: int) -> None:
    """A VIDEO_FRAMES-frame H.264 clip through :func:`segdemo.video.segment_video` (decode,
    paint, encode): milliseconds per frame, against the same clip at the preset's working size."""
    import av

    from segdemo import video

    device = torch.device(args.device)
    repeat = 1 if args.quick else (args.repeat or 3)
    default_size = semantic.get_variant(live.VARIANTS[0]).weights.transforms().resize_size[0]
    with tempfile.TemporaryDirectory() as folder:
        clip, out = Path(folder) / "clip.mp4", Path(folder) / "out.mp4"
        with av.open(str(clip), "w") as output:
            stream = output.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            for index in range(VIDEO_FRAMES):
                picture = photo_like(height, width, seed=index).permute(1, 2, 0).numpy()
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts = index
                output.mux(stream.encode(frame))
            output.mux(stream.encode(None))

        def paint(working_size: int) -> None:
            video.segment_video(clip, out, "overlay", working_size=working_size, device=device)

        paint(live.WORKING_SIZE)  # warm-up
        ours = median_ms(lambda: paint(live.WORKING_SIZE), repeat=repeat, warmup=0, device=device)
        theirs = median_ms(lambda: paint(default_size), repeat=repeat, warmup=0, device=device)
    report(
        name,
        ours / VIDEO_FRAMES,
        baseline=f"the same clip at the preset's working size (short side {default_size})",
        baseline_ms=theirs / VIDEO_FRAMES,
        unit="ms per frame",
        fps=round(1e3 * VIDEO_FRAMES / ours, 1),
        working_size=live.WORKING_SIZE,
        precision=live.PRECISION,
        device=str(device),
        threads=torch.get_num_threads(),
        weights=weights.weights_mode(),
    )
