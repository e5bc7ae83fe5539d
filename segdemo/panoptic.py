"""Panoptic segmentation with Mask2Former (transformers): every pixel labelled.

Each "thing" (person, car, cat) comes out as its own instance, each kind of "stuff" (sky, road,
grass) as one region: the stuff classes are fused (``label_ids_to_fuse``), or sky would come out
in pieces. The checkpoints are :data:`CHECKPOINTS`; :func:`segment` runs one on an image and
returns the common :class:`~segdemo.result.Segmentation`.

Post-processing is ours (:func:`postprocess`) and gives transformers' answer
(``post_process_panoptic_segmentation``) without its cost. transformers resizes every kept
query's mask to the full image in float32 and loops over the queries in Python (about a second at
1080p). The answer is the same when computed from the 384×384 stage grid: a bilinear value is a
convex combination of the four grid values around it, so where the same query wins at all four
corners of a grid cell it wins at every pixel inside, and where a query's mask is above (below)
the threshold at all four corners it is above (below) everywhere inside. Only the cells on a
boundary are evaluated pixel by pixel, exactly as the bilinear resize would; everything else is
painted cell by cell, and each query's own mask is only looked at inside its bounding box.
Full-resolution work is one gather of the id map. The result is transformers' up to float
rounding (identical id maps on the benchmark scene, ~20× faster at 1080p on 2 CPU cores).

Precision: float32 throughout. MaskFormer-style Swin backbones are known to break in fp16/bf16
(transformers issue 47743), and without a GPU here no test can show that a lower precision keeps
the same segments, so none is used.

Adapter only: no gradio, PIL or numpy here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from segdemo.coco_panoptic import DATASETS
from segdemo.device import choose_device
from segdemo.hub import fetch_pretrained, load_pretrained
from segdemo.models import ModelCache, check_image, seeded
from segdemo.result import Segment, Segmentation
from segdemo.weights import weights_mode

# transformers' defaults for post_process_panoptic_segmentation (Mask2FormerImageProcessor, 5.x)
THRESHOLD = 0.5
MASK_THRESHOLD = 0.5
OVERLAP_THRESHOLD = 0.8
#: transformers first resizes the mask logits to 384×384 ("the preprocessed image size") before
#: the sigmoid, whatever the input size; doing the same keeps our answer equal to theirs.
STAGE_SIZE = (384, 384)

#: The shorter side the image is resized to before the model: the stock processor uses 384; the
#: published PQ was measured at about 800 (COCO; Cityscapes 1024, ADE20K 640).
DEFAULT_WORKING_SIZE = 384
WORKING_SIZES = (384, 800)
LONGEST_EDGE = 1333
SIZE_DIVISOR = 32
_WORKING_RANGE = (128, 1536)

#: SEGDEMO_PANOPTIC_ARCH=tiny (with SEGDEMO_WEIGHTS=random) builds a tiny model: for tests.
ARCH_ENV = "SEGDEMO_PANOPTIC_ARCH"


@dataclass(frozen=True)
class Backbone:
    """Swin backbone dimensions, to build a checkpoint's architecture without its files."""

    embed_dim: int
    depths: tuple[int, ...]
    num_heads: tuple[int, ...]
    window_size: int


SWIN_T = Backbone(96, (2, 2, 6, 2), (3, 6, 12, 24), 7)
SWIN_S = Backbone(96, (2, 2, 18, 2), (3, 6, 12, 24), 7)
SWIN_B = Backbone(128, (2, 2, 18, 2), (4, 8, 16, 32), 12)
SWIN_L = Backbone(192, (2, 2, 18, 2), (6, 12, 24, 48), 12)


@dataclass(frozen=True)
class Checkpoint:
    """A Mask2Former panoptic checkpoint on the Hugging Face Hub and what to say about it."""

    repo_id: str
    title: str
    dataset: str  # key of segdemo.coco_panoptic.DATASETS
    pq: float  # published panoptic quality on the dataset's validation set
    eval_size: int  # shorter side the PQ was measured at
    params_m: int
    description: str
    backbone: Backbone
    num_queries: int = 100


def _coco(size: str, backbone: Backbone, pq: float, params: int, note: str = "",
          queries: int = 100, title: str = "") -> Checkpoint:
    repo = f"facebook/mask2former-swin-{size}-coco-panoptic"
    name = title or f"Swin-{size[0].upper()}"
    return Checkpoint(
        repo, f"COCO · {name}", "coco", pq, 800, params,
        f"COCO panoptic (133 classes: 80 things, 53 stuff), {name} backbone{note}, "
        f"{params} M parameters: PQ {pq} on COCO val2017.",
        backbone, queries,
    )


#: The checkpoints on offer, default first; keys are the Hub repository ids.
CHECKPOINTS: dict[str, Checkpoint] = {
    c.repo_id: c
    for c in (
        _coco("tiny", SWIN_T, 53.2, 47),
        _coco("small", SWIN_S, 54.6, 69),
        _coco("base", SWIN_B, 55.1, 107),
        _coco("base-IN21k", SWIN_B, 56.4, 107, " pretrained on ImageNet-21k",
              title="Swin-B (IN-21k)"),
        _coco("large", SWIN_L, 57.8, 216, " pretrained on ImageNet-21k", queries=200),
        Checkpoint(
            "facebook/mask2former-swin-tiny-cityscapes-panoptic", "Cityscapes · Swin-T",
            "cityscapes", 63.9, 1024, 47,
            "Cityscapes panoptic (street scenes; 19 classes: 8 things, 11 stuff), Swin-T "
            "backbone, 47 M parameters: PQ 63.9 on Cityscapes val.",
            SWIN_T,
        ),
        Checkpoint(
            "facebook/mask2former-swin-large-ade-panoptic", "ADE20K · Swin-L", "ade20k", 48.1,
            640, 216,
            "ADE20K panoptic (indoor and outdoor scenes; 150 classes: 100 things, 50 stuff), "
            "Swin-L backbone pretrained on ImageNet-21k, 216 M parameters: PQ 48.1 on ADE20K val.",
            SWIN_L, 200,
        ),
    )
}
DEFAULT_CHECKPOINT = "facebook/mask2former-swin-tiny-coco-panoptic"

#: For the tab: what panoptic segmentation is and what the working size does.
DESCRIPTION = (
    "Panoptic segmentation labels every pixel: each thing (person, car, cat) as its own "
    "instance in its own colour, each kind of stuff (sky, road, grass) as one region in its "
    "class colour. Mask2Former proposes up to 100 (Swin-L: 200) masks with a class each; "
    "stuff masks of one class are fused. The stock image processor resizes the shorter side "
    "to 384 px, while the published PQ was measured at about 800 px (Cityscapes 1024, ADE20K "
    "640): a working size of 800 finds smaller objects and follows outlines more closely, at "
    "about four times the compute."
)


# ---------------------------------------------------------------------------------------------
# Post-processing
# ---------------------------------------------------------------------------------------------

_CHUNK = 1 << 21  # elements per temporary in the per-pixel boundary work (8 MB of float32)
_CANDIDATES = 4  # queries evaluated per boundary cell (more where the bound allows more)


class _Axis(NamedTuple):
    """How one axis of the stage grid maps to the output: PyTorch's bilinear, align_corners=False.

    Output coordinate t reads grid nodes ``first[t]`` and ``first[t] + 1`` with weights
    ``1 - w`` and ``w``. Grid cell i (between nodes i and i + 1) holds the output coordinates
    ``table[i, :count[i]]``; ``used`` marks them (the rest of the row is padding).
    """

    first: torch.Tensor  # [out] long
    count: torch.Tensor  # [in] long
    table: torch.Tensor  # [in, R] long
    w1: torch.Tensor  # [in, R] float32, weight of node i + 1 (0 on padding)
    w0: torch.Tensor  # [in, R] float32, weight of node i
    used: torch.Tensor  # [in, R] bool


def _source(n_in: int, n_out: int, device: torch.device) -> torch.Tensor:
    """[n_out] float32: the source coordinate of each output one, as upsample_bilinear2d has it
    (align_corners=False, float32 arithmetic like its CPU kernel), clamped at 0."""
    scale = torch.tensor(n_in / n_out, dtype=torch.float32, device=device)
    src = (torch.arange(n_out, device=device, dtype=torch.float32) + 0.5) * scale - 0.5
    return src.clamp_(min=0)


def _sources(n_in: int, n_out: int, device: torch.device) -> torch.Tensor:
    """[n_out] long: the low source index each output coordinate reads (non-decreasing)."""
    return _source(n_in, n_out, device).long().clamp_(max=n_in - 1)


def _axis(n_in: int, n_out: int, device: torch.device) -> _Axis:
    src = _source(n_in, n_out, device)
    first = src.long().clamp_(max=n_in - 1)
    weight = (src - first).clamp_(0, 1)
    count = torch.bincount(first, minlength=n_in)
    start = count.cumsum(0) - count
    offsets = torch.arange(max(int(count.max()), 1), device=device)
    used = offsets < count[:, None]
    table = (start[:, None] + offsets).clamp_(max=n_out - 1)
    w1 = weight[table] * used
    return _Axis(first, count, table, w1, (1 - w1) * used, used)


def _stage_grid(mask_logits: torch.Tensor, scores: torch.Tensor,
                stage_size: tuple[int, int] | None) -> torch.Tensor:
    """[gh + 1, gw + 1, K]: sigmoid(stage-resized logits) × score, last row/column repeated.

    Channels last, so that the per-node work over queries reads contiguous memory; the extra
    row and column make "node i + 1" valid everywhere (PyTorch clamps it to the last node).
    """
    logits = mask_logits.float()[None].contiguous(memory_format=torch.channels_last)
    if stage_size is not None and tuple(logits.shape[-2:]) != tuple(stage_size):
        logits = F.interpolate(logits, size=stage_size, mode="bilinear", align_corners=False)
    _, k, gh, gw = logits.shape
    grid = torch.empty(gh + 1, gw + 1, k, device=logits.device)
    inner = grid[:gh, :gw]
    torch.sigmoid(logits[0].permute(1, 2, 0), out=inner)
    inner.mul_(scores)
    grid[gh, :gw] = grid[gh - 1, :gw]
    grid[:, gw] = grid[:, gw - 1]
    return grid


def _bilinear(c00: torch.Tensor, c01: torch.Tensor, c10: torch.Tensor, c11: torch.Tensor,
              wy0: torch.Tensor, wy1: torch.Tensor, wx0: torch.Tensor, wx1: torch.Tensor,
              ) -> torch.Tensor:
    # the same expression (and so nearly the same rounding) as upsample_bilinear2d's kernel
    return wy0 * (wx0 * c00 + wx1 * c01) + wy1 * (wx0 * c10 + wx1 * c11)


def _winners_in(grid: torch.Tensor, ci: torch.Tensor, cj: torch.Tensor, ay: _Axis,
                ax: _Axis) -> torch.Tensor:
    """[n, R, C]: the winning query at every output pixel of the grid cells (ci, cj).

    Only a few queries can win inside one cell: query a's value is at least its smallest corner
    ``low`` everywhere in the cell, and query j's at most its largest corner ``high_j``, so j can
    win somewhere only if ``high_j ≥ max_a low_a``. The ``_CANDIDATES`` queries with the
    largest corners are evaluated pixel by pixel; cells where more queries pass the bound get all
    of them. Ties go to the lower query index, as with transformers' argmax.
    """
    k = grid.shape[-1]
    n, rows, cols = ci.shape[0], ay.table.shape[1], ax.table.shape[1]
    out = torch.empty(n, rows, cols, dtype=torch.long, device=grid.device)
    if n == 0:
        return out
    step = max(1, _CHUNK // (max(k, 8) * rows * cols))
    for lo in range(0, n, step):
        i, j = ci[lo:lo + step], cj[lo:lo + step]
        corners = torch.stack([grid[i, j], grid[i, j + 1], grid[i + 1, j], grid[i + 1, j + 1]])
        weights = (ay.w0[i][:, :, None, None], ay.w1[i][:, :, None, None],
                   ax.w0[j][:, None, :, None], ax.w1[j][:, None, :, None])
        if k <= _CANDIDATES:
            out[lo:lo + step] = _bilinear(*corners[:, :, None, None, :], *weights).argmax(-1)
            continue
        high = corners.amax(0)  # [m, K]
        bound = corners.amin(0).amax(-1)  # [m]
        best = high.topk(_CANDIDATES + 1, dim=-1)
        enough = best.values[:, _CANDIDATES] < bound  # no query past the candidates can win
        chosen = best.indices[:, :_CANDIDATES].sort(-1).values  # ascending: ties → lower index
        picked = corners.gather(2, chosen.expand(4, -1, -1))  # [4, m, T]
        winner = chosen.gather(
            1, _bilinear(*picked[:, :, None, None, :], *weights).argmax(-1).flatten(1)
        ).view(-1, rows, cols)
        if not bool(enough.all()):
            rest = (~enough).nonzero().squeeze(1)
            every = _bilinear(*corners[:, rest, None, None, :], *(w[rest] for w in weights))
            winner[rest] = every.argmax(-1)
        out[lo:lo + step] = winner
    return out


def _own_areas(grid: torch.Tensor, logits: torch.Tensor, scores: torch.Tensor, ay: _Axis,
               ax: _Axis, cells: torch.Tensor, mask_threshold: float) -> torch.Tensor:
    """[K] long: pixels where each query's (probability × score) is ≥ mask_threshold.

    Per query, only the grid cells that can hold such pixels are looked at: a stage node is a
    convex combination of the model-resolution logits around it, so it can be above only where
    one of those is ≥ logit(mask_threshold / score). Inside that box, cells above at all four
    corners count whole, cells above at one to three corners pixel by pixel.
    """
    k = grid.shape[-1]
    gh, gw = grid.shape[0] - 1, grid.shape[1] - 1
    boxes = _boxes(logits, scores, mask_threshold, gh, gw).tolist()
    own = torch.zeros(k, dtype=torch.long, device=grid.device)
    found = []
    for q, (i0, i1, j0, j1) in enumerate(boxes):
        if i0 > i1 or j0 > j1:
            continue
        above = (grid[i0:i1 + 2, j0:j1 + 2, q] >= mask_threshold).view(torch.uint8)
        corners = above[:-1, :-1] + above[1:, :-1]  # how many of a cell's corners are above
        corners += above[:-1, 1:]
        corners += above[1:, 1:]
        box = cells[i0:i1 + 1, j0:j1 + 1]
        own[q] = (box * (corners == 4)).sum()
        mixed = (corners & 3).bool() & (box > 0)
        mi, mj = mixed.nonzero(as_tuple=True)
        found.append((mi + i0, mj + j0, torch.full_like(mi, q)))
    if not found:
        return own
    mi, mj, mq = (torch.cat(parts) for parts in zip(*found, strict=True))
    step = max(1, _CHUNK // (ay.table.shape[1] * ax.table.shape[1]))
    for lo in range(0, mi.shape[0], step):
        i, j, q = mi[lo:lo + step], mj[lo:lo + step], mq[lo:lo + step]
        corner = [grid[i, j, q], grid[i, j + 1, q], grid[i + 1, j, q], grid[i + 1, j + 1, q]]
        c00, c01, c10, c11 = (c[:, None, None] for c in corner)
        value = _bilinear(
            c00, c01, c10, c11,
            ay.w0[i][:, :, None], ay.w1[i][:, :, None], ax.w0[j][:, None, :], ax.w1[j][:, None, :],
        )
        hit = (value >= mask_threshold) & ay.used[i][:, :, None] & ax.used[j][:, None, :]
        own.index_add_(0, q, hit.sum((1, 2)))
    return own


def _boxes(logits: torch.Tensor, scores: torch.Tensor, mask_threshold: float, gh: int,
           gw: int) -> torch.Tensor:
    """[K, 4] long (i0, i1, j0, j1): the stage-grid cells where query k's weighted probability
    can reach ``mask_threshold`` (empty when i0 > i1), from its model-resolution logits."""
    h, w = logits.shape[1:]
    device = logits.device
    ratio = mask_threshold / scores
    # sigmoid(x) × score ≥ t  ⟺  x ≥ logit(t / score); float32 sigmoid is exactly 1 from ~16.6
    tau = torch.where(ratio < 1, torch.logit(ratio.clamp(max=1)), torch.inf)
    tau = torch.where(ratio == 1, 16.0, tau) - 1e-3  # and a margin for rounding
    hit = logits >= tau[:, None, None]
    rows, cols = hit.any(2), hit.any(1)  # [K, h], [K, w]
    empty = ~rows.any(1)
    r0 = rows.to(torch.uint8).argmax(1)
    r1 = h - 1 - rows.flip(1).to(torch.uint8).argmax(1)
    c0 = cols.to(torch.uint8).argmax(1)
    c1 = w - 1 - cols.flip(1).to(torch.uint8).argmax(1)
    out = []
    for low, high, n_in, n_out in ((r0, r1, h, gh), (c0, c1, w, gw)):
        # stage node t reads model nodes first[t] and first[t] + 1: it can be above only if
        # first[t] is in [low - 1, high]; cell t spans nodes t and t + 1
        first = _sources(n_in, n_out, device)
        node0 = torch.searchsorted(first, low - 1)
        node1 = torch.searchsorted(first, high, right=True) - 1
        out += [(node0 - 1).clamp(min=0), node1.clamp(max=n_out - 1)]
    box = torch.stack(out, 1)
    box[empty, 0], box[empty, 1] = 1, 0
    return box


@torch.no_grad()
def postprocess(
    class_logits: torch.Tensor,
    mask_logits: torch.Tensor,
    *,
    target_size: tuple[int, int],
    threshold: float = THRESHOLD,
    mask_threshold: float = MASK_THRESHOLD,
    overlap_threshold: float = OVERLAP_THRESHOLD,
    label_ids_to_fuse: Collection[int] = (),
    categories: Sequence[str],
    is_thing: Sequence[bool],
    stage_size: tuple[int, int] | None = STAGE_SIZE,
) -> Segmentation:
    """Mask2Former's outputs for one image → a panoptic :class:`Segmentation` of ``target_size``.

    ``class_logits`` [Q, C + 1] (the last class is "no object") and ``mask_logits`` [Q, h, w]
    are one image's ``class_queries_logits`` / ``masks_queries_logits``. The rules are
    transformers' ``post_process_panoptic_segmentation``, with the same defaults:

    1. keep the queries whose best class is not "no object" and whose score (softmax
       probability of that class) is > ``threshold``;
    2. resize their mask logits to ``stage_size`` (transformers: always 384×384; None: keep
       the model's size), sigmoid, resize bilinearly to ``target_size`` and weigh by score;
    3. every pixel goes to the query with the highest weighted probability;
    4. a query becomes a segment if it won pixels and more than ``overlap_threshold`` of its own
       mask (weighted probability ≥ ``mask_threshold``), else its pixels stay 0;
    5. segments are numbered 1, 2, … in query order; the queries of a class in
       ``label_ids_to_fuse`` share one segment.

    Segment labels, as the instance tab's: the category name, numbered for things in segment
    order, and the score ("person 1 · 0.97", "person 2 · 0.95", "sky-other-merged · 0.92"); a
    fused segment's score is its best query's. Runs on ``mask_logits``' device.
    """
    categories = tuple(str(c) for c in categories)
    flags = tuple(bool(f) for f in is_thing)
    fuse = {int(c) for c in label_ids_to_fuse}
    height, width = _check_outputs(class_logits, mask_logits, target_size, categories, flags,
                                   fuse, (threshold, mask_threshold, overlap_threshold))
    device = mask_logits.device
    num_classes = len(categories)

    # 1. kept queries, their class and score
    scores, labels = class_logits.to(device=device, dtype=torch.float32).softmax(-1).max(-1)
    kept = ((labels != num_classes) & (scores > threshold)).nonzero().squeeze(1)
    if kept.numel() == 0:
        return Segmentation.empty(height, width, categories, "panoptic", device)
    scores, labels = scores[kept], labels[kept]
    k = int(kept.numel())

    # 2. the stage grid of weighted probabilities, and how output pixels fall in its cells
    logits = mask_logits[kept].float()
    grid = _stage_grid(logits, scores, stage_size)
    ay = _axis(grid.shape[0] - 1, height, device)
    ax = _axis(grid.shape[1] - 1, width, device)
    cells = ay.count[:, None] * ax.count[None, :]  # output pixels per grid cell
    occupied = cells > 0

    # 3. winners: a cell whose four corners have the same winner is won by it everywhere
    node = grid.argmax(-1)
    corner = node[:-1, :-1]
    uniform = (corner == node[1:, :-1]) & (corner == node[:-1, 1:]) & (corner == node[1:, 1:])
    sure = uniform & occupied
    won = torch.zeros(k, dtype=torch.long, device=device)
    won.index_add_(0, corner[sure], cells[sure])
    ci, cj = (occupied & ~uniform).nonzero(as_tuple=True)
    fine = _winners_in(grid, ci, cj, ay, ax)
    fine_used = ay.used[ci][:, :, None] & ax.used[cj][:, None, :]
    fine_won = fine[fine_used]
    won += torch.bincount(fine_won, minlength=k)

    # 4. each query's own mask area
    own = _own_areas(grid, logits, scores, ay, ax, cells, mask_threshold)

    # 5. which queries become which segments (a Python loop over ≤ Q numbers)
    table, segments = _decide(won.tolist(), own.tolist(), labels.tolist(), scores.tolist(),
                              overlap_threshold, fuse, categories, flags)
    lut = torch.tensor([0, *table], dtype=torch.int32, device=device)

    # paint: one gather of the per-cell ids, then the boundary pixels
    cell_ids = lut[torch.where(uniform, corner + 1, 0)]
    ids = cell_ids.index_select(1, ax.first).index_select(0, ay.first)
    if ci.numel():
        flat = ay.table[ci][:, :, None] * width + ax.table[cj][:, None, :]
        ids.view(-1)[flat[fine_used]] = lut[fine_won + 1]
    return Segmentation(ids, tuple(segments), categories, "panoptic")


def _decide(won: list[int], own: list[int], labels: list[int], scores: list[float],
            overlap_threshold: float, fuse: set[int], categories: tuple[str, ...],
            is_thing: tuple[bool, ...]) -> tuple[list[int], list[Segment]]:
    """Segment id per kept query (0 = dropped) and the segment table, transformers' rules."""
    table = [0] * len(won)
    rows: list[dict[str, Any]] = []
    fused: dict[int, int] = {}
    for q, (area, mask_area, label, score) in enumerate(zip(won, own, labels, scores,
                                                            strict=True)):
        if not (area > 0 and mask_area > 0 and area / mask_area > overlap_threshold):
            continue
        if label in fused:
            table[q] = fused[label]
            rows[fused[label] - 1]["score"] = max(rows[fused[label] - 1]["score"], score)
            continue
        table[q] = len(rows) + 1
        rows.append({"id": table[q], "category_id": label, "score": score})
        if label in fuse:
            fused[label] = table[q]
    numbers: dict[int, int] = {}
    segments = []
    for row in rows:
        label = row["category_id"]
        name = categories[label]
        if is_thing[label]:
            numbers[label] = numbers.get(label, 0) + 1
            name = f"{name} {numbers[label]}"
        score = round(row["score"], 6)
        segments.append(Segment(row["id"], label, f"{name} · {score:.2f}", score, is_thing[label]))
    return table, segments


def _check_outputs(class_logits: object, mask_logits: object, target_size: object,
                   categories: tuple[str, ...], is_thing: tuple[bool, ...], fuse: set[int],
                   thresholds: tuple[float, float, float]) -> tuple[int, int]:
    if not isinstance(class_logits, torch.Tensor) or class_logits.ndim != 2:
        raise ValueError(f"class_logits must be a tensor [Q, C + 1], got {_describe(class_logits)}")
    if not isinstance(mask_logits, torch.Tensor) or mask_logits.ndim != 3:
        raise ValueError(f"mask_logits must be a tensor [Q, h, w], got {_describe(mask_logits)}")
    if class_logits.shape[0] != mask_logits.shape[0]:
        raise ValueError(
            f"class_logits has {class_logits.shape[0]} queries but mask_logits has "
            f"{mask_logits.shape[0]}"
        )
    if class_logits.shape[1] != len(categories) + 1:
        raise ValueError(
            f"class_logits has {class_logits.shape[1]} classes; expected {len(categories)} "
            f"categories + 1 for 'no object'"
        )
    if len(is_thing) != len(categories):
        raise ValueError(f"is_thing has {len(is_thing)} flags for {len(categories)} categories")
    if min(mask_logits.shape[1:], default=0) < 1:
        raise ValueError(f"mask_logits must have a non-empty [h, w], got {_describe(mask_logits)}")
    bad = sorted(c for c in fuse if not 0 <= c < len(categories))
    if bad:
        raise ValueError(f"label_ids_to_fuse holds {bad}, outside the {len(categories)} categories")
    if (not isinstance(target_size, Sequence) or len(target_size) != 2
            or not all(isinstance(s, int) and s > 0 for s in target_size)):
        raise ValueError(f"target_size must be (height, width) positive ints, got {target_size!r}")
    for name, value in zip(("threshold", "mask_threshold", "overlap_threshold"), thresholds,
                           strict=True):
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return int(target_size[0]), int(target_size[1])


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    return f"a {type(value).__name__}"


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


class _Loaded(NamedTuple):
    model: torch.nn.Module
    processor: Any
    categories: tuple[str, ...]
    is_thing: tuple[bool, ...]
    stuff_ids: frozenset[int]
    device: torch.device


_MODELS = ModelCache()


def architecture() -> str:
    """``checkpoint`` (the checkpoint's own dimensions) or ``tiny``, from SEGDEMO_PANOPTIC_ARCH."""
    value = os.environ.get(ARCH_ENV, "checkpoint").strip().lower() or "checkpoint"
    if value not in ("checkpoint", "tiny"):
        raise ValueError(f"{ARCH_ENV} must be 'checkpoint' or 'tiny', got {value!r}")
    if value == "tiny" and weights_mode() != "random":
        raise ValueError(f"{ARCH_ENV}=tiny needs SEGDEMO_WEIGHTS=random (it has no weights)")
    return value


def shipped_labels(checkpoint: str) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """The category names and thing flags shipped for ``checkpoint``'s dataset."""
    cats = DATASETS[_spec(checkpoint).dataset]
    return tuple(c.name for c in cats), tuple(c.is_thing for c in cats)


def random_config(checkpoint: str, *, tiny: bool = False) -> Any:
    """A Mask2FormerConfig with ``checkpoint``'s architecture and the shipped labels (no files).

    ``tiny=True`` shrinks every dimension (for tests); the label list stays the full one.
    """
    from transformers import Mask2FormerConfig, SwinConfig

    spec = _spec(checkpoint)
    names, _ = shipped_labels(checkpoint)
    id2label = dict(enumerate(names))
    stages = ["stage1", "stage2", "stage3", "stage4"]
    if tiny:
        swin = SwinConfig(embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                          window_size=7, out_features=stages)
        return Mask2FormerConfig(
            backbone_config=swin, id2label=id2label, label2id={v: k for k, v in id2label.items()},
            hidden_dim=32, feature_size=32, mask_feature_size=32, encoder_feedforward_dim=32,
            dim_feedforward=32, encoder_layers=1, decoder_layers=2, num_attention_heads=2,
            num_queries=20,
        )
    b = spec.backbone
    swin = SwinConfig(embed_dim=b.embed_dim, depths=list(b.depths), num_heads=list(b.num_heads),
                      window_size=b.window_size, drop_path_rate=0.3, out_features=stages)
    return Mask2FormerConfig(
        backbone_config=swin, id2label=id2label, label2id={v: k for k, v in id2label.items()},
        num_queries=spec.num_queries,
    )


def _build(checkpoint: str, device: torch.device, mode: str, arch: str) -> _Loaded:
    from transformers import Mask2FormerForUniversalSegmentation as cls
    from transformers import Mask2FormerImageProcessor

    spec = _spec(checkpoint)
    if mode == "random":
        config = random_config(checkpoint, tiny=arch == "tiny")
        with seeded():
            model = cls(config)
        processor = Mask2FormerImageProcessor(size_divisor=SIZE_DIVISOR)
    else:
        title = f"Mask2Former {spec.title} panoptic"
        model = load_pretrained(cls, spec.repo_id, title)
        processor = load_pretrained(Mask2FormerImageProcessor, spec.repo_id, title)
    model = model.to(device=device, dtype=torch.float32).eval()
    config = model.config
    categories = tuple(str(config.id2label[i]) for i in range(config.num_labels))
    _, flags = shipped_labels(checkpoint)
    if len(flags) != len(categories):
        raise ValueError(
            f"{spec.repo_id} has {len(categories)} classes but the shipped {spec.dataset} list "
            f"has {len(flags)}: the thing/stuff flags cannot be matched"
        )
    stuff = frozenset(i for i, thing in enumerate(flags) if not thing)
    return _Loaded(model, processor, categories, flags, stuff, device)


def load(checkpoint: str = DEFAULT_CHECKPOINT) -> _Loaded:
    """The model, processor and label list for ``checkpoint``, built once per process.

    Cached per (checkpoint, device, weights mode, architecture). Raises WeightsUnavailable
    (one sentence with the fix) when pretrained weights are not in the store and cannot be had.
    """
    _spec(checkpoint)
    device, mode, arch = choose_device(), weights_mode(), architecture()
    key = (checkpoint, str(device), mode, arch)
    return _MODELS.get(key, lambda: _build(checkpoint, device, mode, arch))


def is_loaded(checkpoint: str = DEFAULT_CHECKPOINT) -> bool:
    """Whether ``checkpoint`` is already built for the current device and weights mode."""
    key = (checkpoint, str(choose_device()), weights_mode(), architecture())
    return _MODELS.loaded(key)


def fetch(checkpoints: Sequence[str] | None = None) -> list[Path]:
    """Download the checkpoints' safetensors and JSON files into the model store (all if None).

    Returns the local snapshot folders; raises WeightsUnavailable for one that cannot be had.
    """
    paths = []
    for key in checkpoints if checkpoints is not None else list(CHECKPOINTS):
        spec = _spec(key)
        paths.append(fetch_pretrained(spec.repo_id, f"Mask2Former {spec.title} panoptic"))
    return paths


# ---------------------------------------------------------------------------------------------
# segment()
# ---------------------------------------------------------------------------------------------


def segment(
    image: torch.Tensor,
    checkpoint: str = DEFAULT_CHECKPOINT,
    *,
    working_size: int | None = None,
    threshold: float = THRESHOLD,
    progress: Callable[[float, str], None] | None = None,
) -> Segmentation:
    """Panoptic segmentation of a uint8 [3, H, W] image → a Segmentation of size (H, W).

    ``working_size``: the shorter side the model sees (None: 384, the stock processor's; 800
    is what the published PQ was measured at); the longer side is capped at 1333. ``threshold``:
    the class score a query needs to become a segment. The id map is on the model's device;
    ``extras`` holds ``timings_ms`` per stage (load, preprocess, model, postprocess), ``model``
    (title), ``checkpoint``, ``weights`` (pretrained / random: show an "untrained weights" banner),
    ``working_size``, ``model_input`` (the size the model saw) and ``device``.
    """
    check_image(image, title="Mask2Former")
    spec = _spec(checkpoint)
    size = _working_size(working_size)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not (
        0.0 <= threshold <= 1.0
    ):
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    report = progress or (lambda fraction, message: None)
    height, width = int(image.shape[1]), int(image.shape[2])
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str, device: torch.device | None = None) -> None:
        nonlocal clock
        if device is not None and device.type == "cuda":
            torch.cuda.synchronize(device)
        now = time.perf_counter()
        timings[name] = round((now - clock) * 1000, 2)
        clock = now

    report(0.0, f"Loading Mask2Former {spec.title}")
    loaded = load(checkpoint)
    device = loaded.device
    lap("load")
    report(0.2, f"Preprocessing (shorter side {size} px)")
    inputs = loaded.processor(
        images=image, size={"shortest_edge": size, "longest_edge": max(LONGEST_EDGE, size)},
        return_tensors="pt", device=device,
    )
    pixel_values = inputs["pixel_values"].to(device=device, dtype=torch.float32)
    lap("preprocess", device)
    report(0.3, f"Running Mask2Former on {pixel_values.shape[-1]}×{pixel_values.shape[-2]}")
    with torch.inference_mode():
        outputs = loaded.model(pixel_values=pixel_values)
    lap("model", device)
    report(0.9, "Post-processing")
    result = postprocess(
        outputs.class_queries_logits[0], outputs.masks_queries_logits[0],
        target_size=(height, width), threshold=threshold,
        label_ids_to_fuse=loaded.stuff_ids, categories=loaded.categories,
        is_thing=loaded.is_thing,
    )
    lap("postprocess", device)
    result.extras.update(
        timings_ms=timings,
        model=f"Mask2Former {spec.title}",
        checkpoint=checkpoint,
        weights=weights_mode(),
        working_size=size,
        model_input=(int(pixel_values.shape[-2]), int(pixel_values.shape[-1])),
        device=str(device),
    )
    report(1.0, f"{len(result)} segments")
    return result


def _spec(checkpoint: str) -> Checkpoint:
    try:
        return CHECKPOINTS[checkpoint]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown panoptic checkpoint {checkpoint!r}; choose one of {list(CHECKPOINTS)}"
        ) from None


def _working_size(value: int | None) -> int:
    if value is None:
        return DEFAULT_WORKING_SIZE
    low, high = _WORKING_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"working_size must be an int in [{low}, {high}] or None, got {value!r}")
    return value


