"""Benchmark suite "semantic": DeepLabV3 per variant on a photo-like frame.

Lines ``semantic_{variant}_{size}`` (``{size}`` is ``1080p``, or ``HxW`` under ``--size``): a
full :func:`segdemo.semantic.segment` run (``median_ms``) and its stages (``preprocess_ms``,
``model_ms``, ``postprocess_ms``), the time to re-render the cached result with
:func:`segdemo.render.render` (``render_ms``: overlay, mask, cut-outs and legend, what a
rendering-only slider costs) and ``rerender_ratio`` = render / full run (target < 5%).

The baseline is torchvision's documented pipeline on the same weights: ``weights.transforms()``
on the tensor, the model as its builder leaves it (auxiliary head on, NCHW), ``F.interpolate``
to the original size and the argmax. Single runs of ours and of the baseline alternate, so load
from other processes on a shared machine hits both alike.

Random weights unless SEGDEMO_WEIGHTS says otherwise: speed does not depend on the values.
Slow on a CPU (seconds per ResNet run): 3 repeats by default, 1 with ``--quick``, after one
warm-up run.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import torch
import torch.nn.functional as F

from segdemo import semantic, weights
from segdemo.bench.timing import frame_sizes, median_ms, photo_like, report, wants

BASELINE = "torchvision transforms() + model (aux head, NCHW) + interpolate + argmax"


def run(args: argparse.Namespace) -> None:
    """Run every semantic benchmark that ``--only`` lets through."""
    sizes = frame_sizes(args, ("1080p",))
    for label, (height, width) in sizes.items():
        for key in semantic.VARIANTS:
            if wants(args, f"semantic_{key}_{label}"):
                _variant(args, key, label, height, width)


def _reference_model(spec: semantic.Variant, ours: torch.nn.Module) -> torch.nn.Module:
    """torchvision's model as its builder makes it (aux head, NCHW) with our weights."""
    with torch.random.fork_rng(devices=[]):
        model = spec.builder(weights=None, weights_backbone=None, **spec.builder_options)
    model.load_state_dict(ours.state_dict(), strict=False)  # the aux head stays as built
    return model.eval().to(next(ours.parameters()).device)


def _variant(args: argparse.Namespace, key: str, label: str, height: int, width: int) -> None:
    device = torch.device(args.device)
    # One warm-up even under --quick: a first run pays one-off setup (oneDNN, cuDNN) that would
    # swamp a single timed run.
    repeat, warmup = (1, 1) if args.quick else (args.repeat or 3, 1)
    image = photo_like(height, width).to(device)
    spec = semantic.get_variant(key)
    reference = _reference_model(spec, semantic.load_model(key, device))
    stages: dict[str, list[float]] = {"preprocess": [], "model": [], "postprocess": []}
    last: list[Any] = []

    def ours() -> None:
        result = semantic.segment(image, key, device=device)
        for stage, ms in result.extras["timings_ms"].items():
            stages[stage].append(ms)
        last[:] = [result]

    def theirs() -> None:
        with torch.inference_mode():
            batch = spec.weights.transforms()(image).unsqueeze(0)
            logits = reference(batch)["out"]
            logits = F.interpolate(
                logits, size=(height, width), mode="bilinear", align_corners=False
            )
            logits.argmax(dim=1)

    for _ in range(warmup):
        ours()
        theirs()
    totals, baselines = [], []
    for values in stages.values():
        values.clear()
    for _ in range(repeat):
        totals.append(median_ms(ours, repeat=1, warmup=0, device=device))
        baselines.append(median_ms(theirs, repeat=1, warmup=0, device=device))
    total = statistics.median(totals)
    seg = last[0]
    extra: dict[str, Any] = {
        **{f"{stage}_ms": round(statistics.median(v), 2) for stage, v in stages.items()},
        "device": str(device),
        "threads": torch.get_num_threads(),
        "size": [height, width],
        "weights": weights.weights_mode(),
        "model": spec.title,
        "segments": len(seg),
    }
    try:
        from segdemo.render import render
    except ImportError as error:  # the render module is not there yet: say so, do not fail
        extra["render_skipped"] = str(error)
    else:
        selected = [s.id for s in seg.segments[:2]]
        render_ms = median_ms(
            lambda: render(image, seg, selected, 0.5),
            repeat=max(repeat, 5),
            warmup=1,
            device=device,
        )
        extra["render_ms"] = round(render_ms, 2)
        extra["rerender_ratio"] = round(render_ms / total, 4)
    report(
        f"semantic_{key}_{label}",
        total,
        baseline=BASELINE,
        baseline_ms=statistics.median(baselines),
        **extra,
    )
