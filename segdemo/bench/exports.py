"""Benchmarks of segdemo.exports: the task's standard format of one 1080p result, as bytes.

Lines ``export_{format}_{size}`` (``{size}`` is ``1080p``, or ``HxW`` under ``--size``), each the
whole export of one result with :data:`SEGMENTS` segments, cut-outs excluded, encoded to bytes:

- ``export_voc_{size}``: semantic → VOC class PNG;
- ``export_coco_{size}``: instance → COCO instances JSON with RLE masks;
- ``export_coco_panoptic_{size}``: panoptic → COCO panoptic JSON + PNG.

No baseline: the target is the time itself (the ZIP is made when the user asks for it).

``png_cutout_{size}``: :func:`segdemo.images.png_bytes` on an RGBA cut-out of a photo-like
frame with every pixel kept (its worst case), against PIL's PNG encoder at level 1 (what the
page's cut-outs used before), both files' sizes beside.
"""

from __future__ import annotations

import argparse
import json

import torch

from segdemo import exports, masks
from segdemo.bench.masks import make_scene
from segdemo.bench.timing import frame_sizes, median_ms, photo_like, repeats, report, wants
from segdemo.exports import PhotoEntry
from segdemo.images import pil_png_bytes, png_bytes
from segdemo.panoptic import DEFAULT_CHECKPOINT
from segdemo.panoptic.datasets import DATASETS
from segdemo.result import Segment, Segmentation

SEGMENTS = 30


def results(height: int, width: int) -> dict[str, Segmentation]:
    """A semantic, an instance and a panoptic result on one realistic id map of SEGMENTS ids."""
    from torchvision.models.detection import MaskRCNN_ResNet50_FPN_V2_Weights
    from torchvision.models.segmentation import DeepLabV3_ResNet50_Weights

    _, ids, _ = make_scene(height, width, SEGMENTS)
    voc = tuple(DeepLabV3_ResNet50_Weights.DEFAULT.meta["categories"])
    coco = tuple(MaskRCNN_ResNet50_FPN_V2_Weights.DEFAULT.meta["categories"])
    panoptic = DATASETS["coco"]
    ks = range(1, SEGMENTS + 1)
    return {
        "voc": Segmentation(
            ids, tuple(Segment(k, k % len(voc), voc[k % len(voc)]) for k in ks), voc, "semantic"
        ),
        "coco": Segmentation(
            ids,
            tuple(Segment(k, 1 + k % 80, "thing", 1 - k / 100, True) for k in ks),
            coco,
            "instance",
        ),
        "coco_panoptic": Segmentation(
            ids,
            tuple(
                Segment(
                    k,
                    k * 4 % len(panoptic),
                    panoptic[k * 4 % len(panoptic)].name,
                    0.9,
                    panoptic[k * 4 % len(panoptic)].is_thing,
                )
                for k in ks
            ),
            tuple(c.name for c in panoptic),
            "panoptic",
            {"checkpoint": DEFAULT_CHECKPOINT},
        ),
    }


def run(args: argparse.Namespace) -> None:
    """Run every export benchmark that ``--only`` lets through."""
    for label, (height, width) in frame_sizes(args, ("1080p",)).items():
        if wants(args, f"png_cutout_{label}"):
            _png_cutout(args, label, height, width)
        names = [f"export_{fmt}_{label}" for fmt in ("voc", "coco", "coco_panoptic")]
        if not any(wants(args, name) for name in names):
            continue
        segs = results(height, width)
        for fmt, seg in segs.items():
            name = f"export_{fmt}_{label}"
            if not wants(args, name):
                continue
            seg = seg.to(args.device)
            ms = median_ms(lambda seg=seg: _export(seg), **repeats(args, slow=True))
            report(name, ms, size=[height, width], segments=len(seg), device=str(args.device))


def _export(seg: Segmentation) -> int:
    """The standard files of ``seg`` as bytes; their total size."""
    if seg.task == "semantic":
        return len(exports.png_bytes(exports.voc_png(seg)))
    if seg.task == "instance":
        return len(json.dumps(exports.coco_instances([PhotoEntry(1, "p.png", seg)])))
    data, pngs = exports.coco_panoptic([PhotoEntry(1, "p.png", seg)], ["p.png"])
    return len(json.dumps(data)) + len(exports.png_bytes(pngs[0]))


def _png_cutout(args: argparse.Namespace, label: str, height: int, width: int) -> None:
    frame = photo_like(height, width).to(args.device)
    cutout = masks.cutout(frame, torch.ones(height, width, dtype=torch.bool, device=frame.device))
    ours = median_ms(lambda: png_bytes(cutout), **repeats(args))
    base = median_ms(lambda: pil_png_bytes(cutout, compress_level=1), **repeats(args))
    report(
        f"png_cutout_{label}",
        ours,
        baseline="PIL's PNG encoder at compress_level=1",
        baseline_ms=base,
        size=[height, width],
        kb=len(png_bytes(cutout)) // 1000,
        baseline_kb=len(pil_png_bytes(cutout, compress_level=1)) // 1000,
    )
