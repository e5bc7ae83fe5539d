"""Benchmark suite "instance": Mask R-CNN mask pasting and model latency.

Lines (``{size}`` is ``1080p``, ``4k``, or ``HxW`` under ``--size``):

- ``instance_paste_{size}``: :func:`segdemo.instance.to_segmentation` of 100 detections (what
  the score slider and the class filter call: fast paste, highest score wins, segment table),
  against torchvision's ``paste_masks_in_image`` (an N×H×W float tensor) ``> 0.5`` followed by
  the same highest-score-wins reduction to an id map. Both results are checked equal in the
  run (``equal``). The detections look like a model's: box sides log-uniform between 2% and
  67% of the short side, clipped to the frame, blobby 28×28 probabilities; ``box_mpx`` is
  their summed area (what the fast paste's cost follows). Extra: ``paste_ms`` (the id map
  alone), ``target_ms`` (25 at 1080p) and ``meets_target``. The 4K baseline needs ~6 GB and
  is skipped (``baseline_skipped``) when less than twice that is available.
- ``instance_{variant}_{size}``: :func:`segdemo.instance.detect` + ``to_segmentation`` at the
  default working size (800) on a photo-like frame, against torchvision's own
  ``model([image])`` (the same weights, its NCHW layout, its paste) ``masks > 0.5``. Extra:
  ``model_ms`` (detect alone), ``render_ms`` (to_segmentation of the cached detections) and
  ``rerender_ratio``.
- ``instance_{variant}_{size}_ws{N}``: the same at the smaller working sizes offered on a CPU
  (no baseline; accuracy at those sizes is not measured here).

Random weights unless SEGDEMO_WEIGHTS says otherwise: speed does not depend on the values
(random weights keep 100 detections, the worst case for pasting). The model lines are slow on a
CPU (seconds per call): 3 repeats by default (at most 5 with ``--repeat``), 1 with ``--quick``.
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
from typing import Any

import torch
import torch.nn.functional as F
from torchvision.models.detection.roi_heads import paste_masks_in_image

from segdemo import instance, weights
from segdemo.bench.timing import frame_sizes, median_ms, photo_like, repeats, report, wants
from segdemo.instance import Detections

DETECTIONS = 100
TARGET_MS = {"1080p": 25.0}
MODEL_SIZES = ("1080p",)


def make_detections(
    height: int,
    width: int,
    n: int = DETECTIONS,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> Detections:
    """``n`` model-like detections on an H×W frame, scores descending (as the model returns)."""
    g = torch.Generator().manual_seed(seed)
    short = min(height, width)
    low, high = math.log(0.02 * short), math.log(0.67 * short)
    sides = torch.exp(torch.rand(n, 2, generator=g) * (high - low) + low)  # (w, h), log-uniform
    centres = torch.rand(n, 2, generator=g) * torch.tensor([width, height])
    boxes = torch.cat([centres - sides / 2, centres + sides / 2], dim=1)
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)  # the model clips its boxes to the image
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
    coarse = torch.rand(n, 1, 7, 7, generator=g)
    probs = F.interpolate(coarse, size=(28, 28), mode="bilinear", align_corners=False)[:, 0]
    scores = (torch.rand(n, generator=g) * 0.95 + 0.05).sort(descending=True).values
    labels = torch.randint(1, 91, (n,), generator=g)
    categories = instance.VARIANTS[instance.DEFAULT_VARIANT].categories
    return Detections(
        boxes=boxes,
        scores=scores,
        labels=labels,
        mask_probs=probs,
        image_size=(height, width),
        categories=categories,
    ).to(device)


def torchvision_ids(dets: Detections) -> torch.Tensor:
    """The baseline: torchvision's paste (N×H×W), > 0.5, then the highest score wins a pixel."""
    order = torch.sort(dets.scores, descending=True, stable=True).indices
    pasted = paste_masks_in_image(dets.mask_probs[order, None], dets.boxes[order], dets.image_size)
    masks = pasted[:, 0] > 0.5
    del pasted
    hit = masks.any(dim=0)
    first = masks.to(torch.uint8).argmax(dim=0)  # the first (highest-score) True along N
    return torch.where(hit, first.to(torch.int32) + 1, 0).to(torch.int32)


def run(args: argparse.Namespace) -> None:
    """Run every instance benchmark that ``--only`` lets through."""
    for label, (height, width) in frame_sizes(args).items():
        if wants(args, f"instance_paste_{label}"):
            _paste(args, label, height, width)
    for label, (height, width) in frame_sizes(args, MODEL_SIZES).items():
        for key in instance.VARIANTS:
            _model(args, key, label, height, width)


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _paste(args: argparse.Namespace, label: str, height: int, width: int) -> None:
    device = args.device
    dets = make_detections(height, width, device=device)
    ours = instance.to_segmentation(dets, threshold=0.0)
    boxes = dets.boxes
    box_mpx = float(((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).sum()) / 1e6
    settings = repeats(args)
    ms = median_ms(lambda: instance.to_segmentation(dets, threshold=0.0), device=device, **settings)
    paste_ms = median_ms(
        lambda: instance.paste_ids(dets.mask_probs, dets.boxes, dets.image_size),
        device=device,
        **settings,
    )
    extra: dict[str, Any] = {
        "paste_ms": round(paste_ms, 3),
        "detections": len(dets),
        "segments": len(ours),
        "box_mpx": round(box_mpx, 2),
        "frame_mpx": round(height * width / 1e6, 2),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "size": [height, width],
    }
    if label in TARGET_MS:
        extra["target_ms"] = TARGET_MS[label]
        extra["meets_target"] = ms <= TARGET_MS[label]
    baseline = "torchvision paste_masks_in_image > 0.5 + highest-score-wins argmax"
    # float32 N×H×W, its bool and uint8 copies, and the argmax: ~6 bytes per mask pixel.
    needed = 6 * len(dets) * height * width
    available = _available_bytes() if torch.device(device).type == "cpu" else None
    if available is not None and needed * 2 > available:
        extra["baseline_skipped"] = (
            f"needs ~{needed / 2**30:.1f} GiB, {available / 2**30:.1f} GiB available"
        )
        report(f"instance_paste_{label}", ms, **extra)
        return
    reference = torchvision_ids(dets)
    extra["equal"] = bool(torch.equal(reference, ours.ids))
    del reference
    slow = repeats(args, slow=True)
    baseline_ms = median_ms(lambda: torchvision_ids(dets), device=device, **slow)
    report(f"instance_paste_{label}", ms, baseline=baseline, baseline_ms=baseline_ms, **extra)


def _model(args: argparse.Namespace, key: str, label: str, height: int, width: int) -> None:
    names = [f"instance_{key}_{label}"] + [
        f"instance_{key}_{label}_ws{size}" for size in instance.WORKING_SIZES[1:]
    ]
    if not any(wants(args, name) for name in names):
        return
    device = torch.device(args.device)
    quick = bool(args.quick)
    # Seconds per call on a CPU: 3 repeats (at most 5 under --repeat), 1 under --quick.
    repeat, warmup = (1, 0) if quick else (min(args.repeat, 5) if args.repeat else 3, 1)
    image = photo_like(height, width).to(device)
    spec = instance.get_variant(key)
    model = instance.load_model(key, device)
    common = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "size": [height, width],
        "weights": weights.weights_mode(),
    }

    for name, working_size in zip(names, (None, *instance.WORKING_SIZES[1:]), strict=True):
        if not wants(args, name):
            continue
        last: list[Detections] = []
        model_times: list[float] = []

        def full_run(
            working_size: int | None = working_size, last: list = last, times: list = model_times
        ) -> None:
            dets = instance.detect(image, key, working_size=working_size, device=device)
            instance.to_segmentation(dets)
            times.append(dets.extras["timings_ms"]["model"])
            last[:] = [dets]

        total = median_ms(full_run, repeat=repeat, warmup=warmup, device=device)
        dets = last[0]
        # median_ms also calls the function for its warm-up runs: keep the measured ones only.
        model_ms = statistics.median(model_times[-repeat:])
        render_ms = median_ms(
            lambda dets=dets: instance.to_segmentation(dets),
            repeat=max(repeat, 5),
            warmup=1,
            device=device,
        )
        extra = {
            **common,
            "model_ms": round(model_ms, 1),
            "render_ms": round(render_ms, 2),
            "rerender_ratio": round(render_ms / total, 4),
            "detections": len(dets),
            "working_size": dets.extras["working_size"],
            "model": spec.title,
        }
        if working_size is not None:
            report(name, total, **extra)
            continue
        # torchvision's own pipeline on the same weights: the model as its builder leaves it
        # (NCHW), its forward with its paste, then masks > 0.5 and the highest score wins.
        reference = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
        reference.roi_heads.score_thresh = model.roi_heads.score_thresh

        def baseline(reference: torch.nn.Module = reference) -> None:
            with torch.inference_mode():
                out = reference([image.to(torch.float32) / 255])[0]
            masks = out["masks"][:, 0] > 0.5
            hit = masks.any(dim=0)
            first = masks.to(torch.uint8).argmax(dim=0)
            torch.where(hit, first.to(torch.int32) + 1, 0)

        baseline_ms = median_ms(baseline, repeat=repeat, warmup=warmup, device=device)
        del reference
        report(
            name,
            total,
            baseline="torchvision model([image]) (NCHW, paste_masks_in_image) > 0.5 + argmax",
            baseline_ms=baseline_ms,
            **extra,
        )
