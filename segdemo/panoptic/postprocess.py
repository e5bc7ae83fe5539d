"""Mask2Former's panoptic post-processing: transformers' answer without its cost.

:func:`postprocess` follows the rules of transformers' ``post_process_panoptic_segmentation``.
transformers resizes every kept query's mask to the full image in float32 and loops over the
queries in Python, so its cost grows with the image size times the number of queries. The
answer is the same when computed from the 384×384 stage grid: a bilinear value is a convex
combination of the four grid values around it, so where the same query wins at all four corners
of a grid cell it wins at every pixel inside, and where a query's mask is above (below) the
threshold at all four corners it is above (below) everywhere inside. Only the cells on a boundary
are evaluated pixel by pixel, exactly as the bilinear resize would; everything else is painted
cell by cell, and each query's own mask is only looked at inside its bounding box. Full-resolution
work is one gather of the id map. The result is transformers' up to float rounding (the bench
line ``panoptic_post_*`` compares the two on the same outputs, in the same run).

Precision: float32 throughout. MaskFormer-style Swin backbones are known to break in fp16/bf16
(transformers issue 47743), and no test here shows that a lower precision keeps the same
segments, so none is used.

Torch only: no model library, gradio, PIL or numpy here.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from numbers import Integral
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from segdemo.checks import describe, fraction
from segdemo.result import Segment, Segmentation

# transformers' defaults for post_process_panoptic_segmentation (Mask2FormerImageProcessor, 5.x)
THRESHOLD = 0.5
MASK_THRESHOLD = 0.5
OVERLAP_THRESHOLD = 0.8
#: transformers first resizes the mask logits to 384×384 ("the preprocessed image size") before
#: the sigmoid, whatever the input size; doing the same keeps our answer equal to theirs.
STAGE_SIZE = (384, 384)

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


def _stage_grid(
    mask_logits: torch.Tensor, scores: torch.Tensor, stage_size: tuple[int, int] | None
) -> torch.Tensor:
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


def _bilinear(
    c00: torch.Tensor,
    c01: torch.Tensor,
    c10: torch.Tensor,
    c11: torch.Tensor,
    wy0: torch.Tensor,
    wy1: torch.Tensor,
    wx0: torch.Tensor,
    wx1: torch.Tensor,
) -> torch.Tensor:
    # the same expression (and so nearly the same rounding) as upsample_bilinear2d's kernel
    return wy0 * (wx0 * c00 + wx1 * c01) + wy1 * (wx0 * c10 + wx1 * c11)


def _winners_in(
    grid: torch.Tensor, ci: torch.Tensor, cj: torch.Tensor, ay: _Axis, ax: _Axis
) -> torch.Tensor:
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
        i, j = ci[lo : lo + step], cj[lo : lo + step]
        corners = torch.stack([grid[i, j], grid[i, j + 1], grid[i + 1, j], grid[i + 1, j + 1]])
        weights = (
            ay.w0[i][:, :, None, None],
            ay.w1[i][:, :, None, None],
            ax.w0[j][:, None, :, None],
            ax.w1[j][:, None, :, None],
        )
        if k <= _CANDIDATES:
            out[lo : lo + step] = _bilinear(*corners[:, :, None, None, :], *weights).argmax(-1)
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
        out[lo : lo + step] = winner
    return out


def _own_areas(
    grid: torch.Tensor,
    logits: torch.Tensor,
    scores: torch.Tensor,
    ay: _Axis,
    ax: _Axis,
    cells: torch.Tensor,
    mask_threshold: float,
) -> torch.Tensor:
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
        above = (grid[i0 : i1 + 2, j0 : j1 + 2, q] >= mask_threshold).view(torch.uint8)
        corners = above[:-1, :-1] + above[1:, :-1]  # how many of a cell's corners are above
        corners += above[:-1, 1:]
        corners += above[1:, 1:]
        box = cells[i0 : i1 + 1, j0 : j1 + 1]
        own[q] = (box * (corners == 4)).sum()
        mixed = (corners & 3).bool() & (box > 0)
        mi, mj = mixed.nonzero(as_tuple=True)
        found.append((mi + i0, mj + j0, torch.full_like(mi, q)))
    if not found:
        return own
    mi, mj, mq = (torch.cat(parts) for parts in zip(*found, strict=True))
    step = max(1, _CHUNK // (ay.table.shape[1] * ax.table.shape[1]))
    for lo in range(0, mi.shape[0], step):
        i, j, q = mi[lo : lo + step], mj[lo : lo + step], mq[lo : lo + step]
        corner = [grid[i, j, q], grid[i, j + 1, q], grid[i + 1, j, q], grid[i + 1, j + 1, q]]
        c00, c01, c10, c11 = (c[:, None, None] for c in corner)
        value = _bilinear(
            c00,
            c01,
            c10,
            c11,
            ay.w0[i][:, :, None],
            ay.w1[i][:, :, None],
            ax.w0[j][:, None, :],
            ax.w1[j][:, None, :],
        )
        hit = (value >= mask_threshold) & ay.used[i][:, :, None] & ax.used[j][:, None, :]
        own.index_add_(0, q, hit.sum((1, 2)))
    return own


def _boxes(
    logits: torch.Tensor, scores: torch.Tensor, mask_threshold: float, gh: int, gw: int
) -> torch.Tensor:
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

    Raises TypeError for an argument of the wrong kind (a threshold that is not a number, logits
    that are not tensors) and ValueError for one that does not fit (a threshold outside [0, 1],
    shapes that disagree with each other or with ``categories``).
    """
    threshold = fraction(threshold, "threshold")
    mask_threshold = fraction(mask_threshold, "mask_threshold")
    overlap_threshold = fraction(overlap_threshold, "overlap_threshold")
    categories = tuple(str(c) for c in categories)
    flags = tuple(bool(f) for f in is_thing)
    fuse = {int(c) for c in label_ids_to_fuse}
    height, width = _check_outputs(class_logits, mask_logits, target_size, categories, flags, fuse)
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
    table, segments = _decide(
        won.tolist(),
        own.tolist(),
        labels.tolist(),
        scores.tolist(),
        overlap_threshold,
        fuse,
        categories,
        flags,
    )
    lut = torch.tensor([0, *table], dtype=torch.int32, device=device)

    # paint: one gather of the per-cell ids, then the boundary pixels
    cell_ids = lut[torch.where(uniform, corner + 1, 0)]
    ids = cell_ids.index_select(1, ax.first).index_select(0, ay.first)
    if ci.numel():
        flat = ay.table[ci][:, :, None] * width + ax.table[cj][:, None, :]
        ids.view(-1)[flat[fine_used]] = lut[fine_won + 1]
    return Segmentation(ids, tuple(segments), categories, "panoptic")


def _decide(
    won: list[int],
    own: list[int],
    labels: list[int],
    scores: list[float],
    overlap_threshold: float,
    fuse: set[int],
    categories: tuple[str, ...],
    is_thing: tuple[bool, ...],
) -> tuple[list[int], list[Segment]]:
    """Segment id per kept query (0 = dropped) and the segment table, transformers' rules."""
    table = [0] * len(won)
    rows: list[dict[str, Any]] = []
    fused: dict[int, int] = {}
    for q, (area, mask_area, label, score) in enumerate(zip(won, own, labels, scores, strict=True)):
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


def _check_outputs(
    class_logits: object,
    mask_logits: object,
    target_size: object,
    categories: tuple[str, ...],
    is_thing: tuple[bool, ...],
    fuse: set[int],
) -> tuple[int, int]:
    """(height, width) of ``target_size`` once the outputs and the label lists fit together.

    TypeError for something of the wrong kind (not a tensor, not an int), ValueError for a
    value of the right kind that does not fit (shape, count, range).
    """
    if not isinstance(class_logits, torch.Tensor):
        raise TypeError(f"class_logits must be a tensor [Q, C + 1], got {describe(class_logits)}")
    if not isinstance(mask_logits, torch.Tensor):
        raise TypeError(f"mask_logits must be a tensor [Q, h, w], got {describe(mask_logits)}")
    if class_logits.ndim != 2:
        raise ValueError(f"class_logits must be a tensor [Q, C + 1], got {describe(class_logits)}")
    if mask_logits.ndim != 3:
        raise ValueError(f"mask_logits must be a tensor [Q, h, w], got {describe(mask_logits)}")
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
        raise ValueError(f"mask_logits must have a non-empty [h, w], got {describe(mask_logits)}")
    bad = sorted(c for c in fuse if not 0 <= c < len(categories))
    if bad:
        raise ValueError(f"label_ids_to_fuse holds {bad}, outside the {len(categories)} categories")
    if not isinstance(target_size, Sequence) or not all(
        isinstance(s, Integral) and not isinstance(s, bool) for s in target_size
    ):
        raise TypeError(f"target_size must be (height, width) ints, got {target_size!r}")
    if len(target_size) != 2 or min(target_size) < 1:
        raise ValueError(f"target_size must be (height, width) positive ints, got {target_size!r}")
    return int(target_size[0]), int(target_size[1])
