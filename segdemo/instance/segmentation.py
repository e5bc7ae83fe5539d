"""Detections to the shared result type: :func:`to_segmentation`, :func:`segment`, the class filter.

:func:`to_segmentation` turns cached detections into a :class:`~segdemo.result.Segmentation`
for a score threshold and a class filter (no model: this is what the sliders call): one segment
per kept detection, the higher score winning the pixels where masks overlap.
:func:`segment` is :func:`~segdemo.instance.model.detect` then :func:`to_segmentation`, with its
arguments checked before the model is loaded.
"""

from __future__ import annotations

from collections.abc import Collection

import torch

from segdemo.checks import fraction
from segdemo.instance.detections import Detections, _is_int
from segdemo.instance.model import DEFAULT_VARIANT, detect, get_variant
from segdemo.instance.paste import paste_ids
from segdemo.models import Progress
from segdemo.result import Segment, Segmentation

__all__ = ["segment", "to_segmentation"]


def to_segmentation(
    dets: Detections,
    *,
    threshold: float = 0.5,
    classes: Collection[int | str] | int | str | None = None,
) -> Segmentation:
    """The detections with ``score >= threshold`` (and in ``classes``) as a Segmentation.

    One segment per kept detection, ids 1..K in descending score order, labelled
    "dog 1 · 0.97" (per-class number in score order); the higher score wins overlapping pixels.
    ``classes``: category indices or names (case-insensitive) to keep; None keeps all. Cheap
    (no model): this is what the threshold slider and the class filter call.
    """
    if not isinstance(dets, Detections):
        raise TypeError(f"dets must be Detections, got a {type(dets).__name__}")
    threshold = _check_threshold(threshold)
    keep = dets.scores >= threshold
    if classes is not None:
        wanted = _class_indices(classes, dets.categories)
        table = torch.zeros(len(dets.categories), dtype=torch.bool, device=dets.device)
        table[list(wanted)] = True
        keep &= table[dets.labels]
    kept = dets[keep]
    # Stable descending sort: among equal scores the earlier detection ranks (and wins) first.
    order = torch.sort(kept.scores, descending=True, stable=True).indices
    kept = kept[order]
    height, width = dets.image_size
    if not len(kept):
        return Segmentation.empty(height, width, dets.categories, "instance", device=dets.device)

    ids = paste_ids(kept.mask_probs, kept.boxes, (height, width))
    counts: dict[int, int] = {}
    segments = []
    for rank, (box, score, label) in enumerate(
        zip(kept.boxes.tolist(), kept.scores.tolist(), kept.labels.tolist(), strict=True)
    ):
        counts[label] = counts.get(label, 0) + 1
        segments.append(
            Segment(
                id=rank + 1,
                category_id=label,
                label=f"{dets.categories[label]} {counts[label]} · {score:.2f}",
                score=score,
                is_thing=True,
                box=(box[0], box[1], box[2], box[3]),
            )
        )
    extras = {"threshold": threshold, **dets.extras}
    return Segmentation(ids, tuple(segments), dets.categories, "instance", extras)


def segment(
    image: torch.Tensor,
    variant: str = DEFAULT_VARIANT,
    *,
    threshold: float = 0.5,
    classes: Collection[int | str] | int | str | None = None,
    working_size: int | None = None,
    precision: str | None = None,
    progress: Progress | None = None,
    device: torch.device | str | None = None,
) -> Segmentation:
    """:func:`detect` then :func:`to_segmentation`, for callers that do not cache detections."""
    threshold = _check_threshold(threshold)  # bad arguments fail before the model runs
    if classes is not None:
        _class_indices(classes, get_variant(variant).categories)
    dets = detect(
        image,
        variant,
        working_size=working_size,
        precision=precision,
        progress=progress,
        device=device,
    )
    return to_segmentation(dets, threshold=threshold, classes=classes)


# --------------------------------------------------------------------------- validation


def _check_threshold(value: object) -> float:
    return fraction(value, "threshold")


def _class_indices(
    classes: Collection[int | str] | int | str, categories: tuple[str, ...]
) -> set[int]:
    """Category indices for a class filter given as indices and/or names (case-insensitive)."""
    if isinstance(classes, (str, int)):
        classes = [classes]
    if not isinstance(classes, Collection):
        raise TypeError(
            f"classes must be a collection of category names or indices, got a "
            f"{type(classes).__name__}"
        )
    by_name: dict[str, set[int]] = {}
    for index, name in enumerate(categories):
        by_name.setdefault(name.strip().lower(), set()).add(index)
    wanted: set[int] = set()
    for item in classes:
        if isinstance(item, str):
            found = by_name.get(item.strip().lower())
            if found is None:
                sample = ", ".join(c for c in categories[1:8])
                raise ValueError(
                    f"unknown class {item!r}: use one of the {len(categories)} category names "
                    f"({sample}, …) or an index"
                )
            wanted |= found
        elif _is_int(item):
            if not 0 <= int(item) < len(categories):
                raise ValueError(
                    f"class index {item!r} is outside the {len(categories)} categories"
                )
            wanted.add(int(item))
        else:
            raise TypeError(f"classes may hold names or int indices, got {item!r}")
    return wanted
