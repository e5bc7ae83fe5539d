"""Per-pixel look-ups on the device: integer maps mapped through small tables, a segmentation's
id map turned into a value per segment, a prediction's categories matched to an annotation's by
name. What the mappings and the panoptic matching build their maps with."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from segdemo.evaluate.common import _preview
from segdemo.result import Segment, Segmentation

_MAX_LOOKUP_ID = 1 << 16  # values below this map through a lookup table, see _lookup


def _take(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` for a 1-D table: index_select, several times faster than indexing."""
    if index.dtype not in (torch.int32, torch.int64):
        index = index.to(torch.int32)
    return table.index_select(0, index.reshape(-1)).view(index.shape)


def _lookup(
    values: torch.Tensor, keys: Sequence[int], results: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``results[i]`` wherever ``values == keys[i]``: int64 [H, W] on the values' device, and
    the bool [H, W] mask of the values that are no key (their result is meaningless).

    ``values``: integer [H, W]; ``keys``: sorted, distinct. Values in [0, 2^16) — label maps,
    the models' segment ids — go through a lookup table (one gather); others (COCO panoptic's
    R + 256·G + 256²·B ids) through a ``searchsorted`` against the keys, so no table is big.
    """
    mapped = torch.tensor(results, dtype=torch.int64, device=values.device)
    low, high = (int(v) for v in torch.aminmax(values)) if values.numel() else (0, 0)
    if low >= 0 and high < _MAX_LOOKUP_ID:
        missing = min(results, default=0) - 1  # what no key maps to
        table = torch.full((high + 1,), missing, dtype=torch.int64, device=values.device)
        inside = [i for i, k in enumerate(keys) if 0 <= k <= high]
        table[[keys[i] for i in inside]] = mapped[inside]
        out = _take(table, values)
        return out, out == missing
    known = torch.tensor(keys, dtype=torch.int64, device=values.device)
    where = torch.searchsorted(known, values.long()).clamp_(max=max(len(keys) - 1, 0))
    return _take(mapped, where), _take(known, where) != values


def _segment_index(seg: Segmentation) -> tuple[tuple[Segment | None, ...], torch.Tensor]:
    """Each pixel's row in ``rows`` = (None, *segments sorted by id): int64 [H, W] on seg.device.

    Row 0 (None) is "no segment". ValueError if the id map holds an id the table lacks.
    """
    rows = tuple(sorted(seg.segments, key=lambda s: s.id))
    return (None, *rows), _segment_values(seg, rows, range(len(rows) + 1))


def _segment_values(
    seg: Segmentation, rows: Sequence[Segment], values: Sequence[int]
) -> torch.Tensor:
    """int64 [H, W]: values[0] where no segment, values[i + 1] on the pixels of rows[i]."""
    mapped, stray = _lookup(seg.ids, [0, *(s.id for s in rows)], values)
    if bool(stray.any()):
        missing = torch.unique(seg.ids[stray]).tolist()
        raise ValueError(
            f"the {seg.task} result's id map holds ids its segment table lacks: {_preview(missing)}"
        )
    return mapped


def _per_segment(seg: Segmentation, value: Callable[[Segment | None], int]) -> torch.Tensor:
    """int64 [H, W] on seg.device: ``value(segment)`` at each of its pixels (None: no segment)."""
    rows = tuple(sorted(seg.segments, key=lambda s: s.id))
    return _segment_values(seg, rows, [value(None), *(value(s) for s in rows)])


def _category_index(pred: Segmentation, gt: Segmentation) -> list[int]:
    """For each of pred's categories, its index in gt's categories (by name; -1 if absent).

    ValueError naming the categories of pred's segments that gt does not know.
    """
    index = {name: k for k, name in enumerate(gt.categories)}
    unknown = sorted({pred.categories[s.category_id] for s in pred.segments} - set(index))
    if unknown:
        raise ValueError(
            f"the prediction has categories the annotation does not list: {_preview(unknown)}"
        )
    return [index.get(name, -1) for name in pred.categories]
