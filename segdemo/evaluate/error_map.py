"""The TP / FP / FN picture: :func:`error_map` marks every pixel for a choice of classes, to
draw with ``masks.overlay`` and :func:`error_palette`; :data:`ERROR_LABELS` names the colours."""

from __future__ import annotations

from collections.abc import Collection
from numbers import Integral

import torch

from segdemo.evaluate.common import _check_value, _preview
from segdemo.evaluate.lookup import _take
from segdemo.evaluate.mappings import ClassMaps

#: Legend of :func:`error_map`'s values 1, 2, 3 (0 = right background or void: not drawn).
ERROR_LABELS: tuple[str, ...] = (
    "true positive: the right class",
    "false positive: a chosen class predicted where it is not",
    "false negative: a chosen class missed",
)
# Okabe–Ito colours (readable with colour-blindness): bluish green, vermillion, blue.
_ERROR_COLORS = ((0, 0, 0), (0, 158, 115), (213, 94, 0), (0, 114, 178))


def error_palette(device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 [4, 3]: the colours of :func:`error_map`'s values (row 0 black, never drawn)."""
    return torch.tensor(_ERROR_COLORS, dtype=torch.uint8, device=device)


def error_map(maps: ClassMaps, classes: int | Collection[int] | None = None) -> torch.Tensor:
    """Where the prediction is right or wrong about ``classes``: int32 [H, W] on the maps' device.

    ``classes``: one class index, several, or None for all. 1 = TP (an annotation pixel of a
    chosen class predicted as that class); 2 = FP (a chosen class predicted, wrongly); 3 = FN (a
    pixel of a chosen class predicted as no chosen class); 0 = the rest (right about the other
    classes, or void). With all classes chosen, every wrong pixel is an FP, except those
    predicted as none of the classes (FN). Draw it with ``masks.overlay(image, ids,
    error_palette(device), alpha)``; :data:`ERROR_LABELS` is the legend of 1, 2, 3.
    """
    k = len(maps.names)
    if classes is None:
        chosen = list(range(k))
    elif isinstance(classes, Integral) and not isinstance(classes, bool):
        chosen = [int(classes)]
    elif isinstance(classes, Collection) and not isinstance(classes, str):
        chosen = list(classes)
        for c in chosen:
            _check_value(c, "a class index")
    else:
        raise TypeError(f"classes must be a class index, several or None, got {classes!r}")
    outside = [c for c in chosen if not 0 <= c < k]
    if outside:
        raise ValueError(f"class indices {_preview(outside)} are outside the {k} classes")
    p = torch.where(maps.pred == maps.void, k, maps.pred)
    g = torch.where(maps.gt == maps.void, k, maps.gt)
    table = torch.zeros(k + 1, dtype=torch.bool, device=p.device)
    table[chosen] = True  # index k (void / none) stays unchosen
    gt_in, pred_in = _take(table, g), _take(table, p)
    scored = maps.gt != maps.void
    right = p == g
    out = torch.zeros(p.shape, dtype=torch.int32, device=p.device)
    out[scored & gt_in & right] = 1
    out[scored & pred_in & ~right] = 2
    out[scored & gt_in & ~right & ~pred_in] = 3
    return out
