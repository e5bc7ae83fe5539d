"""Benchmarks of segdemo.masks at 1080p and 4K on a realistic id map with ~20 segments.

Lines (``{size}`` is ``1080p``, ``4k``, or ``HxW`` under ``--size``):

- ``overlay_{size}``: :func:`segdemo.masks.overlay` on a planar image (what ``segdemo.images``
  decodes to), against ``torchvision.utils.draw_segmentation_masks`` given the equivalent
  boolean stack [N, H, W] (built outside the timing) with the same colours and alpha.
- ``overlay_{size}_channels_last``: the same on a channels-last image (an HWC array seen as
  [3, H, W]); no baseline.
- ``colorize_{size}``: :func:`~segdemo.masks.colorize` against ``palette[ids.long()]`` (plain
  torch indexing, then planar).
- ``cutout_{size}``: :func:`~segdemo.masks.cutout` against the plain torch version
  ``cat([image * mask, 255 * mask])``.
- ``binarize_{size}``: :func:`~segdemo.masks.binarize` of 3 ids against ``torch.isin``.

Our own timings also give ``min_ms``, the fastest call: on a machine shared with other busy
processes the median carries their preemptions, the minimum much less. Every line with a
baseline also has ``numpy_median_ms`` and ``numpy_speedup`` (numpy / ours):
the same operation written in plain numpy on CPU arrays (for overlay, the same exact integer
formula), measured in the same run. Extra fields: ``device``, ``threads``, ``omp_wait_policy``
(the environment variable, "" if unset: on a CPU shared with other busy processes, OpenMP's
default spin-waiting can cost milliseconds per parallel op, and ``OMP_WAIT_POLICY=PASSIVE`` or
``--threads 1`` avoids it), ``size`` [H, W], ``segments``.
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable

import numpy as np
import torch

from segdemo import masks
from segdemo.bench.timing import frame_sizes, median_ms, repeats, report, sample_ms, wants

SEGMENTS = 20
ALPHA = 0.6


def make_scene(
    height: int,
    width: int,
    segments: int = SEGMENTS,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(image uint8 [3,H,W], ids int32 [H,W], palette uint8 [segments+1, 3]) on ``device``.

    The id map looks like a real one: ``segments`` overlapping ellipses and rectangles of many
    sizes (later ones on top), 0 where none falls; every id keeps some pixels (frames of a few
    dozen pixels a side and up).
    """
    gen = torch.Generator().manual_seed(seed)
    ids = torch.zeros(height, width, dtype=torch.int32)
    ys = torch.arange(height, dtype=torch.float32)[:, None]
    xs = torch.arange(width, dtype=torch.float32)[None, :]
    centres = []
    for k in range(1, segments + 1):
        u = torch.rand(5, generator=gen).tolist()
        ry, rx = max(1.0, height * (0.05 + 0.25 * u[0])), max(1.0, width * (0.05 + 0.2 * u[1]))
        cy, cx = u[2] * height, u[3] * width
        y0, y1 = max(0, int(cy - ry)), min(height, int(cy + ry) + 1)
        x0, x1 = max(0, int(cx - rx)), min(width, int(cx + rx) + 1)
        if y0 >= y1 or x0 >= x1:
            y0, y1, x0, x1 = 0, 1, 0, 1
        if u[4] < 0.5:  # ellipse
            inside = ((ys[y0:y1] - cy) / ry) ** 2 + ((xs[:, x0:x1] - cx) / rx) ** 2 <= 1
            if not bool(inside.any()):
                inside[0, 0] = True
            ids[y0:y1, x0:x1][inside] = k
        else:  # rectangle
            ids[y0:y1, x0:x1] = k
        centres.append((min(height - 1, int(cy)), min(width - 1, int(cx))))
    counts = torch.bincount(ids.reshape(-1), minlength=segments + 1).tolist()
    side = max(1, min(height, width) // 40)
    for k, (cy, cx) in enumerate(centres, start=1):
        if counts[k] == 0:  # covered by later blobs: give it a small patch on top
            ids[cy : cy + side, cx : cx + side] = k
    image = torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=gen)
    palette = masks.palette(segments + 1)
    return image.to(device), ids.to(device), palette.to(device)


def _overlay_numpy(img: np.ndarray, ids: np.ndarray, pal: np.ndarray, alpha: float) -> np.ndarray:
    a = round(alpha * 128)
    color = pal[ids].transpose(2, 0, 1).astype(np.int16)
    blended = (img.astype(np.int16) * (128 - a) + color * a + 64) >> 7
    return np.where(ids[None] == 0, img, blended.astype(np.uint8))


def _cutout_numpy(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    alpha = mask.astype(np.uint8) * np.uint8(255)
    return np.concatenate([img * mask[None], alpha[None]])


def _compare(
    args: argparse.Namespace,
    name: str,
    ours: Callable[[], object],
    baseline: str,
    theirs: Callable[[], object],
    numpy_version: Callable[[], object],
    **extra: object,
) -> None:
    device = args.device
    times = sample_ms(ours, device=device, **repeats(args))
    ms = statistics.median(times)
    base_ms = median_ms(theirs, device=device, **repeats(args, slow=True))
    np_ms = median_ms(numpy_version, **repeats(args, slow=True))
    report(
        name,
        ms,
        baseline=baseline,
        baseline_ms=base_ms,
        min_ms=round(min(times), 3),
        numpy_median_ms=round(np_ms, 3),
        numpy_speedup=round(np_ms / ms, 2) if ms else None,
        **extra,
    )


def run(args: argparse.Namespace) -> None:
    """Run every mask benchmark that ``--only`` lets through, at each size."""
    sizes = frame_sizes(args)
    for label, (height, width) in sizes.items():
        names = [f"{op}_{label}" for op in ("overlay", "colorize", "cutout", "binarize")] + [
            f"overlay_{label}_channels_last"
        ]
        if not any(wants(args, n) for n in names):
            continue
        _run_size(args, label, height, width)


def _run_size(args: argparse.Namespace, label: str, height: int, width: int) -> None:
    device = args.device
    image, ids, pal = make_scene(height, width, device=device)
    img_np, ids_np, pal_np = image.cpu().numpy(), ids.cpu().numpy(), pal.cpu().numpy()
    extra = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "size": [height, width],
        "segments": SEGMENTS,
    }

    name = f"overlay_{label}"
    if wants(args, name):
        from torchvision.utils import draw_segmentation_masks

        stack = (
            ids[None]
            == torch.arange(1, SEGMENTS + 1, device=device, dtype=ids.dtype)[:, None, None]
        )
        colors = [tuple(int(v) for v in row) for row in pal[1:].tolist()]
        _compare(
            args,
            name,
            lambda: masks.overlay(image, ids, pal, ALPHA),
            "torchvision.draw_segmentation_masks",
            lambda: draw_segmentation_masks(image, stack, alpha=ALPHA, colors=colors),
            lambda: _overlay_numpy(img_np, ids_np, pal_np, ALPHA),
            **extra,
        )
        del stack

    name = f"overlay_{label}_channels_last"
    if wants(args, name):
        hwc_image = image.permute(1, 2, 0).contiguous().permute(2, 0, 1)
        times = sample_ms(
            lambda: masks.overlay(hwc_image, ids, pal, ALPHA), device=device, **repeats(args)
        )
        report(name, statistics.median(times), min_ms=round(min(times), 3), **extra)

    name = f"colorize_{label}"
    if wants(args, name):
        _compare(
            args,
            name,
            lambda: masks.colorize(ids, pal),
            "torch palette[ids.long()]",
            lambda: pal[ids.long()].permute(2, 0, 1).contiguous(),
            lambda: np.ascontiguousarray(pal_np[ids_np].transpose(2, 0, 1)),
            **extra,
        )

    mask = masks.binarize(ids, [1, 5, 9])
    mask_np = mask.cpu().numpy()
    name = f"cutout_{label}"
    if wants(args, name):
        _compare(
            args,
            name,
            lambda: masks.cutout(image, mask),
            "torch cat([image * mask, 255 * mask])",
            lambda: torch.cat([image * mask, (mask * 255).to(torch.uint8)[None]]),
            lambda: _cutout_numpy(img_np, mask_np),
            **extra,
        )

    name = f"binarize_{label}"
    if wants(args, name):
        chosen = torch.tensor([1, 5, 9], dtype=ids.dtype, device=device)
        _compare(
            args,
            name,
            lambda: masks.binarize(ids, [1, 5, 9]),
            "torch.isin",
            lambda: torch.isin(ids, chosen),
            lambda: np.isin(ids_np, [1, 5, 9]),
            **extra,
        )
