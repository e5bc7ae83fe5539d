"""The arithmetic a model's forward runs in: ``fp32`` (exact), ``bf16`` (autocast) or ``auto``.

Reduced precision is autocast around the model's forward only; pre- and post-processing stay
float32, so ids, scores and boxes come out as usual. It pays only on hardware with native
bfloat16: CPUs with avx512_bf16 or AMX, and CUDA GPUs (bf16 where the GPU supports it, else
fp16). Elsewhere ``bf16`` is refused with one sentence and ``auto`` means ``fp32``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import torch

#: What a caller may ask for.
PRECISIONS = ("fp32", "bf16", "auto")
#: What the app uses when the caller does not say (see the README's "Speed" section).
DEFAULT_PRECISION = "fp32"
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def native_bf16(device: torch.device) -> bool:
    """True when ``device`` runs bfloat16 natively: avx512_bf16 / AMX CPUs, CUDA GPUs (which
    fall back to fp16 where bf16 is not native)."""
    if device.type == "cpu":
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    return device.type == "cuda"


def resolve_precision(precision: str | None, device: torch.device) -> str:
    """The precision ``precision`` means on ``device``: "fp32", "bf16" or "fp16" (CUDA only).

    None means DEFAULT_PRECISION. ValueError (one sentence with what to do) for an unknown name
    or for ``bf16`` on a device without native bfloat16.
    """
    precision = DEFAULT_PRECISION if precision is None else precision
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if precision == "fp32" or (precision == "auto" and not native_bf16(device)):
        return "fp32"
    if not native_bf16(device):
        raise ValueError(
            f"bf16 needs native bfloat16 (a CPU with avx512_bf16 or AMX, or a CUDA GPU) and "
            f"{device.type} has none here; choose fp32 or auto."
        )
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return "fp16"
    return "bf16"


@contextmanager
def autocast(resolved: str, device: torch.device) -> Iterator[None]:
    """Autocast to ``resolved`` (from :func:`resolve_precision`) on ``device``; fp32: nothing."""
    if resolved == "fp32":
        context = nullcontext()
    else:
        context = torch.autocast(device.type, dtype=_DTYPES[resolved])
    with context:
        yield
