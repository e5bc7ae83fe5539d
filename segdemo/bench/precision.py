"""The precision suite: per task's default model, the bf16-autocast forward against fp32 in the
same run (``precision_<task>``: median model-stage time, baseline fp32) and its agreement with
fp32 on the shipped photos: pixel agreement (semantic), mean matched-instance mask IoU
(instance, every detection above the score floor), segment agreement (panoptic: pixels whose
label is the same). With random weights the logits have tiny margins, so the agreement is a
pessimistic bound: trained weights decide most pixels by a wide margin.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from segdemo import images, instance, panoptic, semantic
from segdemo.bench.timing import repeats, report, wants
from segdemo.precision import native_bf16
from segdemo.result import Segmentation

PHOTOS = ("astronaut.jpg", "chelsea.png", "rocket.jpg")
EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "examples"


def run(args: argparse.Namespace) -> None:
    """Run the precision benchmarks ``--only`` asks for; one JSON line each."""
    if not native_bf16(args.device):
        report("precision_skipped", 0.0, reason=f"{args.device} has no native bfloat16")
        return
    photos = [images.load_image(EXAMPLES / name) for name in PHOTOS]
    counts = repeats(args, slow=True)
    for task in ("semantic", "instance", "panoptic"):
        if wants(args, f"precision_{task}"):
            _compare(task, photos, counts["repeat"], args.device)


def _compare(task: str, photos: list[torch.Tensor], repeat: int, device: torch.device) -> None:
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    agreements = []
    model = ""
    for photo in photos:
        results = {}
        for _ in range(repeat):
            for precision in ("fp32", "bf16"):  # interleaved: the same load on both
                result = _segment(task, photo, precision, device)
                times[precision].append(result.extras["timings_ms"]["model"])
                results[precision] = result
        agreements.append(_agreement(task, results["fp32"], results["bf16"]))
        model = results["fp32"].extras["model"]
    report(
        f"precision_{task}",
        statistics.median(times["bf16"]),
        baseline="fp32 (the same model, same photos, same run)",
        baseline_ms=statistics.median(times["fp32"]),
        model=model,
        agreement=round(statistics.mean(agreements), 4),
        agreement_kind=AGREEMENT[task],
        photos=list(PHOTOS),
        weights="random (agreement is a pessimistic bound)",
    )


AGREEMENT = {
    "semantic": "pixel agreement",
    "instance": "mean IoU of each fp32 mask with its best same-class bf16 mask",
    "panoptic": "segment agreement (pixels with the same label)",
}


def _segment(task: str, photo: torch.Tensor, precision: str, device: torch.device) -> Segmentation:
    if task == "semantic":
        return semantic.segment(photo, precision=precision, device=device)
    if task == "instance":
        dets = instance.detect(photo, precision=precision, device=device)
        return instance.to_segmentation(dets, threshold=instance.SCORE_FLOOR)
    return panoptic.segment(photo, precision=precision, device=device)


def _agreement(task: str, exact: Segmentation, fast: Segmentation) -> float:
    if task == "instance":
        return _matched_iou(exact, fast)
    if task == "panoptic":
        return float((_labels(exact) == _labels(fast)).float().mean())
    return float((exact.ids == fast.ids).float().mean())


def _labels(seg: Segmentation) -> torch.Tensor:
    """The category of every pixel (-1: none), so segment ids numbered differently compare."""
    lut = torch.full((max((s.id for s in seg.segments), default=0) + 1,), -1, dtype=torch.int64)
    for s in seg.segments:
        lut[s.id] = s.category_id
    return lut.to(seg.ids.device)[seg.ids.long()]


def _matched_iou(exact: Segmentation, fast: Segmentation) -> float:
    """Mean over fp32's segments of the best IoU with a bf16 segment of the same class (1.0
    when both are empty)."""
    if not exact.segments:
        return 1.0 if not fast.segments else 0.0
    ious = []
    for s in exact.segments:
        mine = exact.ids == s.id
        best = 0.0
        for t in fast.segments:
            if t.category_id == s.category_id:
                theirs = fast.ids == t.id
                union = int((mine | theirs).sum())
                best = max(best, int((mine & theirs).sum()) / union if union else 0.0)
        ious.append(best)
    return statistics.mean(ious)
