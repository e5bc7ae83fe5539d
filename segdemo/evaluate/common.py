"""The small pieces every scoring module shares: argument checks, short lists of values for
error messages, and ratios and means that are None where they are 0/0 (shown as "—")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from numbers import Integral

import torch

from segdemo.checks import describe
from segdemo.result import Segmentation

# The integer dtypes a label map or class map may have.
_INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def _ratio(num: int | float, den: int | float) -> float | None:
    """num / den, or None when den is 0 (an undefined value, shown as "—")."""
    return num / den if den else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _preview(values: Iterable[object], limit: int = 8) -> str:
    """A short list of values for a message: the first ``limit`` and "…" after them."""
    items = list(values)
    shown = ", ".join(str(v) for v in items[:limit])
    return shown + (", …" if len(items) > limit else "")


def _check_segmentation(value: object, name: str) -> None:
    if not isinstance(value, Segmentation):
        raise TypeError(f"{name} must be a Segmentation, got {describe(value)}")


def _check_same_size(pred: Segmentation, height: int, width: int, what: str) -> None:
    if pred.size != (height, width):
        raise ValueError(
            f"{what} is {width}×{height} pixels but the prediction is "
            f"{pred.size[1]}×{pred.size[0]}; use the annotation made for this photo"
        )


def _check_value(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
