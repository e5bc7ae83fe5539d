"""What the page is sent, in which format: one place for every tab.

Encoding is most of what a user waits for once a result is cached (PIL's default PNG takes
~0.8 s for one 1080p image), so each output gets the cheapest format that keeps its promise:

- the overlay is a picture to look at: JPEG (q90) at full resolution, ~10 ms at 1080p; the
  exact results are in the tab's ZIP download (``/<tab>_download``);
- the binary mask is exact: a 1-bit PNG, 1/24 of an RGB image's bytes to compress;
- the cut-outs are exact (the transparent one is what its ⬇ button downloads): PNGs from the
  project's fast writer (:func:`segdemo.images.png_bytes`), ~10–20 ms at 1080p.

Every file is written into Gradio's upload folder and handed over as a path, so Gradio serves
it as it is (no second encode, no copy). SEGDEMO_BENCH_ENCODING=baseline brings back the old
path, every output a PNG at PIL's default level and every output sent on every re-render: for
the bench's baselines only.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import torch

from segdemo.images import (
    jpeg_bytes,
    mask_png_bytes,
    pil_png_bytes,
    png_bytes,
    write_atomically,
)

#: Where the tabs write the files they show: inside Gradio's file cache (its upload folder,
#: GRADIO_TEMP_DIR), so Gradio serves them as they are and its ``delete_cache`` schedule
#: removes them with its own files.
OUTPUT_DIR = Path(gr.utils.get_upload_folder()) / "segdemo"
JPEG_QUALITY = 90
BASELINE_ENV = "SEGDEMO_BENCH_ENCODING"


def baseline() -> bool:
    """True when SEGDEMO_BENCH_ENCODING=baseline asks for the old encoding path (bench only)."""
    return os.environ.get(BASELINE_ENV, "").strip().lower() == "baseline"


#: Writes a result's files side by side: zlib and libjpeg release the GIL, so on two cores the
#: two exact PNG cut-outs (~0.15 s each at 1080p) cost about one.
_WRITERS = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="write")


def written(jobs: Sequence[Callable[[], str]]) -> list[str]:
    """Run each file-writing job (:func:`png_file`, :func:`preview_file`, …) side by side; their
    paths, in order."""
    return list(_WRITERS.map(lambda job: job(), jobs))


def output_folder() -> Path:
    """A new, empty folder under OUTPUT_DIR for one answer's files.

    Every answer gets its own: Gradio's own caching names files by their content and rewrites
    them in place, so two requests with the same output could truncate each other's download.
    """
    folder = OUTPUT_DIR / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return folder


def output_file(data: bytes, name: str) -> str:
    """Write ``data`` as the file ``name`` in a folder of its own (:func:`output_folder`); its
    path."""
    return str(write_atomically(output_folder() / name, data))


def png_file(image: torch.Tensor, name: str) -> str:
    """Write uint8 [C, H, W] or [H, W] (any device) as a lossless PNG of its own; its path."""
    # the bench's baseline: what the page was sent before, PIL's PNG at its default level
    data = pil_png_bytes(image) if baseline() else png_bytes(image)
    return output_file(data, f"{name}.png")


def preview_file(image: torch.Tensor, name: str) -> str:
    """Write uint8 [3, H, W] (any device) as a full-resolution JPEG to look at; its path."""
    if baseline():
        return png_file(image, name)
    return output_file(jpeg_bytes(image, quality=JPEG_QUALITY), f"{name}.jpg")


def mask_file(mask: torch.Tensor, name: str) -> str:
    """Write a bool [H, W] mask (any device) as an exact black-and-white PNG; its path."""
    if baseline():
        return png_file(mask.to(torch.uint8) * 255, name)
    return output_file(mask_png_bytes(mask), f"{name}.png")
