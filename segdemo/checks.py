"""Argument checks shared by the adapters and the mask module, with messages that name the value.

Convention: TypeError when a value is not of the kind asked for (a string where a number goes),
ValueError when it is of that kind but wrong (a number outside its range, a tensor of the wrong
shape or dtype).
"""

from __future__ import annotations

import math
from numbers import Real

import torch


def describe(value: object) -> str:
    """How an error message names a value: a tensor by shape, dtype and device, else its type."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}, dtype {value.dtype} on {value.device}"
    return f"a {type(value).__name__}"


def fraction(value: object, name: str) -> float:
    """``value`` as a float in [0, 1] (thresholds, opacities); ``name`` is what the message says."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number in [0, 1], got {value!r}")
    number = float(value)
    if not (math.isfinite(number) and 0.0 <= number <= 1.0):
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return number
