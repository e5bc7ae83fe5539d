"""Benchmark suite "panoptic": Mask2Former post-processing and model latency.

Lines (``{size}`` is ``1080p``, ``4k``, or ``HxW`` under ``--size``):

- ``panoptic_post_{size}``: :func:`segdemo.panoptic.postprocess` of crafted model outputs (100
  queries, masks at the model's output resolution for the stock 384 working size, e.g. 96×176
  for a 16:9 frame; ~30 segments: 24 things, stuff split over several queries that fuse, low
  scores that are dropped) against transformers' ``post_process_panoptic_segmentation`` on the
  same outputs, in the same run. Extra: ``segments``, ``same_segments`` (same id → class
  table), ``agreement`` (share of pixels with the same id), ``min_segment_iou``, ``target_ms``
  (50 at 1080p) and ``meets_target``.
- ``panoptic_model_{size}`` (1080p only unless ``--size``): :func:`segdemo.panoptic.segment`
  with the default checkpoint's architecture (Swin-T) against transformers' own pipeline on the
  same model (its processor, the forward, ``post_process_panoptic_segmentation``), end to end on
  a shipped photo (``rocket.jpg``) stretched to the frame size. Both must find segments and
  agree, or the line fails. Extra: ``segments`` (ours) and ``baseline_segments``; the median
  stage timings of ``segment`` (``preprocess_ms``, ``model_ms``, ``postprocess_ms``) and of
  the baseline's post-processing (``baseline_postprocess_ms``): the model's time, the same in
  both, dilutes the end-to-end ratio, the more so on a CPU;
  ``same_segments`` and ``agreement`` (share of pixels with the same id) of the two
  post-processings of the same forward output without fusion, since transformers' fused
  numbering can give two segments one id (after a fused stuff query it carries on counting from
  the earlier segment's id). Single runs of ours and of the baseline alternate, so load from
  other processes on a shared machine hits both alike. Slow on a CPU: 3 repeats by default
  (after one warm-up run of each), 1 with ``--quick``.
- ``panoptic_model_{size}_ws800``: the same at working size 800, without a baseline; about four
  times the pixels of the stock 384, so it runs only when asked for by name (``--only ws800``).

The models run on ``--device`` (passed to ``load`` and ``segment``; the environment is left
alone).

Random weights unless SEGDEMO_WEIGHTS says otherwise: the model's speed does not depend on the
values, and random Mask2Former weights give photos segments (see
:mod:`segdemo.panoptic.untrained`), so both post-processings work on real output.
"""

from __future__ import annotations

import argparse
import math
import statistics
import types
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from segdemo import panoptic, weights
from segdemo.bench.timing import (
    frame_sizes,
    median_ms,
    repeats,
    report,
    sample_ms,
    synchronized_clock,
    wants,
)
from segdemo.images import load_image
from segdemo.panoptic.datasets import COCO_PANOPTIC
from segdemo.result import Segmentation

MODEL_SIZES = ("1080p",)
TARGET_MS = {"1080p": 50.0}
QUERIES = 100
BASELINE = "transformers.post_process_panoptic_segmentation"
#: The shipped photo the model lines run on (stretched to the frame size).
BENCH_PHOTO = "rocket.jpg"
EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "examples"

NAMES = tuple(c.name for c in COCO_PANOPTIC)
THING = tuple(c.is_thing for c in COCO_PANOPTIC)
STUFF = frozenset(i for i, thing in enumerate(THING) if not thing)


def mask_size(
    height: int, width: int, working_size: int = panoptic.DEFAULT_WORKING_SIZE
) -> tuple[int, int]:
    """The mask logits' size for an H×W image: the model input (shorter side ``working_size``,
    longer side capped at 1333, both rounded up to 32) divided by 4."""
    short, long = sorted((height, width))
    new_short, new_long = working_size, int(working_size * long / short)
    if new_long > panoptic.LONGEST_EDGE:
        new_short, new_long = int(panoptic.LONGEST_EDGE * short / long), panoptic.LONGEST_EDGE
    new_h, new_w = (new_short, new_long) if height <= width else (new_long, new_short)
    div = panoptic.SIZE_DIVISOR
    return math.ceil(new_h / div) * div // 4, math.ceil(new_w / div) * div // 4


def _logit(score: float) -> float:
    # class logit that gives ``score`` against 133 zero logits
    return math.log(score * len(NAMES) / (1 - score))


def crafted_outputs(
    h: int, w: int, *, queries: int = QUERIES, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Model-like outputs ([Q, 134], [Q, h, w]) of a street scene with about 30 segments.

    24 things (ellipses on a jittered 4×6 grid, classes person/car/bicycle/dog/...), 10 stuff
    queries for 7 stuff classes (sky in three pieces, building in two: they must fuse), 6
    low-score queries (dropped), and "no object" for the rest; smooth logits with some noise.
    """
    g = torch.Generator().manual_seed(seed)
    y = ((torch.arange(h) + 0.5) / h)[:, None]
    x = ((torch.arange(w) + 0.5) / w)[None, :]
    cls = torch.zeros(queries, len(NAMES) + 1)
    cls[:, -1] = 10.0
    masks = torch.randn(queries, h, w, generator=g) - 8
    shapes = []
    for row in range(4):
        for col in range(6):
            cy = 0.42 + (row + 0.5) * 0.14 + 0.02 * (torch.rand(1, generator=g).item() - 0.5)
            cx = (col + 0.5) / 6 + 0.03 * (torch.rand(1, generator=g).item() - 0.5)
            ry = 0.03 + 0.035 * torch.rand(1, generator=g).item()
            rx = 0.025 + 0.05 * torch.rand(1, generator=g).item()
            shapes.append(1 - ((y - cy) / ry) ** 2 - ((x - cx) / rx) ** 2)
    covered = torch.stack(shapes).amax(0).clamp(min=0)
    stuff = [  # class, y0, y1, x0, x1
        ("sky-other-merged", 0.0, 0.22, 0.0, 0.4),
        ("sky-other-merged", 0.0, 0.22, 0.4, 0.75),
        ("sky-other-merged", 0.0, 0.22, 0.75, 1.0),
        ("building-other-merged", 0.22, 0.42, 0.0, 0.5),
        ("building-other-merged", 0.22, 0.42, 0.5, 0.8),
        ("tree-merged", 0.22, 0.42, 0.8, 1.0),
        ("pavement-merged", 0.42, 0.6, 0.0, 1.0),
        ("road", 0.6, 0.85, 0.0, 0.7),
        ("grass-merged", 0.6, 0.85, 0.7, 1.0),
        ("wall-other-merged", 0.85, 1.0, 0.0, 1.0),
    ]
    q = 0
    for name, y0, y1, x0, x1 in stuff:
        y0, x0 = (v - 1 if v == 0 else v for v in (y0, x0))  # bands at the border run past it
        y1, x1 = (v + 1 if v == 1 else v for v in (y1, x1))
        edge = torch.minimum(torch.minimum(y - y0, y1 - y), torch.minimum(x - x0, x1 - x))
        masks[q] = (80 * edge - 40 * covered).clamp(-12, 12) + 0.3 * torch.randn(h, w, generator=g)
        cls[q] = 0
        cls[q, NAMES.index(name)] = _logit(0.85 + 0.1 * torch.rand(1, generator=g).item())
        q += 1
    kinds = ["person", "car", "bicycle", "dog", "person", "motorcycle", "bus", "cat"]
    for t, shape in enumerate(shapes):
        masks[q] = (10 * shape).clamp(-12, 12) + 0.3 * torch.randn(h, w, generator=g)
        cls[q] = 0
        cls[q, NAMES.index(kinds[t % len(kinds)])] = _logit(
            0.6 + 0.39 * torch.rand(1, generator=g).item()
        )
        q += 1
    for _ in range(6):  # low scores: dropped by the threshold
        cls[q] = 0
        cls[q, NAMES.index("kite")] = _logit(0.3)
        q += 1
    return cls, masks


def transformers_post(
    cls: torch.Tensor, masks: torch.Tensor, size: tuple[int, int]
) -> dict[str, Any]:
    """The baseline: transformers' panoptic post-processing of the same outputs."""
    from transformers import Mask2FormerImageProcessor

    outputs = types.SimpleNamespace(
        class_queries_logits=cls[None], masks_queries_logits=masks[None]
    )
    return Mask2FormerImageProcessor().post_process_panoptic_segmentation(
        outputs, label_ids_to_fuse=set(STUFF), target_sizes=[size]
    )[0]


def ours_post(cls: torch.Tensor, masks: torch.Tensor, size: tuple[int, int]) -> Segmentation:
    """Ours: :func:`segdemo.panoptic.postprocess` of the outputs."""
    return panoptic.postprocess(
        cls, masks, target_size=size, label_ids_to_fuse=STUFF, categories=NAMES, is_thing=THING
    )


def run(args: argparse.Namespace) -> None:
    """Run every panoptic benchmark that ``--only`` lets through."""
    for label, (height, width) in frame_sizes(args).items():
        if wants(args, f"panoptic_post_{label}"):
            _post(args, label, height, width)
    for label, (height, width) in frame_sizes(args, MODEL_SIZES).items():
        _model(args, label, height, width)


def _post(args: argparse.Namespace, label: str, height: int, width: int) -> None:
    device = torch.device(args.device)
    h, w = mask_size(height, width)
    cls, masks = (t.to(device) for t in crafted_outputs(h, w))
    size = (height, width)
    mine = ours_post(cls, masks, size)
    ref = transformers_post(cls, masks, size)
    ref_ids = ref["segmentation"].to(device=device, dtype=torch.int32)
    same = {s.id: s.category_id for s in mine.segments} == {
        s["id"]: s["label_id"] for s in ref["segments_info"]
    }
    ious = []
    for s in mine.segments:
        a, b = mine.ids == s.id, ref_ids == s.id
        ious.append((a & b).sum().item() / max((a | b).sum().item(), 1))
    agreement = (mine.ids == ref_ids).float().mean().item()
    del ref, ref_ids
    ms = median_ms(lambda: ours_post(cls, masks, size), device=device, **repeats(args))
    baseline_ms = median_ms(
        lambda: transformers_post(cls, masks, size), device=device, **repeats(args, slow=True)
    )
    extra: dict[str, Any] = {
        "segments": len(mine),
        "things": sum(s.is_thing for s in mine.segments),
        "queries": int(cls.shape[0]),
        "mask_size": [h, w],
        "same_segments": same,
        "agreement": round(agreement, 6),
        "min_segment_iou": round(min(ious, default=0.0), 6),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "size": [height, width],
    }
    if label in TARGET_MS:
        extra["target_ms"] = TARGET_MS[label]
        extra["meets_target"] = ms <= TARGET_MS[label]
    report(f"panoptic_post_{label}", ms, baseline=BASELINE, baseline_ms=baseline_ms, **extra)


def _photo(height: int, width: int, name: str = BENCH_PHOTO) -> torch.Tensor:
    """A uint8 [3,H,W] frame: the shipped photo ``name`` stretched (bilinear) to H×W."""
    image = load_image(EXAMPLES / name)[None].float()
    frame = F.interpolate(image, size=(height, width), mode="bilinear", align_corners=False)
    return frame[0].round_().clamp_(0, 255).to(torch.uint8)


def agreement(
    loaded: panoptic.Loaded, image: torch.Tensor, size: tuple[int, int]
) -> dict[str, Any]:
    """Our post-processing against transformers' on one forward output of ``image``, unfused.

    Raises AssertionError when either finds no segment or they disagree: a speedup over an
    empty or a different answer means nothing.
    """
    inputs = loaded.processor(
        images=image,
        return_tensors="pt",
        device=image.device,
        size={
            "shortest_edge": panoptic.DEFAULT_WORKING_SIZE,
            "longest_edge": panoptic.LONGEST_EDGE,
        },
    )
    with torch.inference_mode():
        outputs = loaded.model(pixel_values=inputs["pixel_values"].to(image.device))
    mine = panoptic.postprocess(
        outputs.class_queries_logits[0],
        outputs.masks_queries_logits[0],
        target_size=size,
        categories=loaded.categories,
        is_thing=loaded.is_thing,
    )
    ref = loaded.processor.post_process_panoptic_segmentation(
        outputs, label_ids_to_fuse=set(), target_sizes=[size]
    )[0]
    ref_ids = ref["segmentation"].to(device=mine.ids.device, dtype=torch.int32)
    same = {s.id: s.category_id for s in mine.segments} == {
        s["id"]: s["label_id"] for s in ref["segments_info"]
    }
    share = (mine.ids == ref_ids).float().mean().item()
    assert len(mine) > 0 and ref["segments_info"], "the model found no segment to compare"
    assert same and share >= 0.999, f"ours and transformers' disagree ({same=}, {share=:.4f})"
    return {"same_segments": same, "agreement": round(share, 6)}


def _model(args: argparse.Namespace, label: str, height: int, width: int) -> None:
    names = {f"panoptic_model_{label}": None, f"panoptic_model_{label}_ws800": 800}
    asked = [name for name in names if wants(args, name)]
    asked = [n for n in asked if names[n] is None or any("ws800" in o for o in args.only)]
    if not asked:
        return
    device = torch.device(args.device)
    repeat, warmup = (1, 0) if args.quick else (args.repeat or 3, 1)
    image = _photo(height, width).to(device)
    key = panoptic.DEFAULT_CHECKPOINT
    loaded = panoptic.load(key, device)
    clock = synchronized_clock(device)
    common: dict[str, Any] = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "size": [height, width],
        "weights": weights.weights_mode(),
        "architecture": panoptic.architecture(),
        "checkpoint": key,
        **agreement(loaded, image, (height, width)),
    }
    for name in asked:
        working = names[name]
        results: list[Segmentation] = []
        refs: list[dict[str, Any]] = []
        post_ms: list[float] = []  # the baseline's post-processing alone, per run

        def ours(working: int | None = working, results: list[Segmentation] = results) -> None:
            results.append(panoptic.segment(image, key, working_size=working, device=device))

        def theirs(refs: list[dict[str, Any]] = refs, post_ms: list[float] = post_ms) -> None:
            inputs = loaded.processor(
                images=image,
                return_tensors="pt",
                device=device,
                size={
                    "shortest_edge": panoptic.DEFAULT_WORKING_SIZE,
                    "longest_edge": panoptic.LONGEST_EDGE,
                },
            )
            with torch.inference_mode():
                outputs = loaded.model(pixel_values=inputs["pixel_values"].to(device))
            start = clock()
            refs.append(
                loaded.processor.post_process_panoptic_segmentation(
                    outputs, label_ids_to_fuse=set(loaded.stuff_ids), target_sizes=[(height, width)]
                )[0]
            )
            post_ms.append((clock() - start) * 1e3)

        # single runs of ours and of the baseline alternate: load from other processes on a
        # shared machine hits both alike
        runs = [ours] if working is not None else [ours, theirs]
        for _ in range(warmup):
            for fn in runs:
                fn()
        times: list[list[float]] = [[] for _ in runs]
        for _ in range(repeat):
            for fn, samples in zip(runs, times, strict=True):
                samples += sample_ms(fn, repeat=1, warmup=0, device=device)
        measured = [r.extras["timings_ms"] for r in results[-repeat:]]
        extra: dict[str, Any] = {
            **common,
            "working_size": working or panoptic.DEFAULT_WORKING_SIZE,
            "segments": len(results[-1]),
            **{
                f"{stage}_ms": round(statistics.median(t[stage] for t in measured), 2)  # type: ignore[index]
                for stage in ("preprocess", "model", "postprocess")
            },
        }
        if working is not None:
            report(name, statistics.median(times[0]), **extra)
            continue
        baseline_segments = len(refs[-1]["segments_info"])
        assert len(results[-1]) > 0 and baseline_segments > 0, "a pipeline found no segment"
        report(
            name,
            statistics.median(times[0]),
            baseline="transformers Mask2FormerImageProcessor + model + "
            "post_process_panoptic_segmentation",
            baseline_ms=statistics.median(times[1]),
            baseline_segments=baseline_segments,
            baseline_postprocess_ms=round(statistics.median(post_ms[-repeat:]), 2),
            **extra,
        )
