"""The way out: uint8 tensors (any device) → numpy for the UI, JPEG previews and PNG files.

Each function brings the pixels to the CPU once. PNG files are written atomically (a temporary
file next to the target, renamed into place), so a reader never sees half a file.
"""

from __future__ import annotations

import base64
import io
import os
import secrets
from pathlib import Path

import numpy as np
import torch
from PIL import Image

__all__ = [
    "jpeg_bytes",
    "jpeg_data_url",
    "mask_png_bytes",
    "save_label_png",
    "save_png",
    "to_numpy_hwc",
]


def to_numpy_hwc(image: torch.Tensor) -> np.ndarray:
    """uint8 [C, H, W] (any device) → contiguous uint8 [H, W, C] numpy on the CPU; [H, W] → [H, W].

    The layout change happens on the tensor's device and then one copy comes to the CPU. Like
    ``Tensor.numpy()``, the result shares memory with a CPU input that needed no copy (an [H, W]
    tensor, or a [C, H, W] view of HWC memory).
    """
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(image).__name__}")
    if image.dtype != torch.uint8:
        raise ValueError(f"expected a uint8 tensor, got {image.dtype}")
    if image.ndim == 3:
        image = image.permute(1, 2, 0)
    elif image.ndim != 2:
        raise ValueError(f"expected [C, H, W] or [H, W], got shape {tuple(image.shape)}")
    return image.detach().contiguous().cpu().numpy()


def jpeg_data_url(image: torch.Tensor, *, max_side: int = 960, quality: int = 85) -> str:
    """A small JPEG preview of uint8 [3, H, W] (any device) as a ``data:`` URL, for inline HTML.

    Scaled down (never up) so its longest side is at most ``max_side``.
    """
    preview = Image.fromarray(to_numpy_hwc(image))
    preview.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return "data:image/jpeg;base64," + base64.b64encode(_jpeg(preview, quality)).decode("ascii")


def jpeg_bytes(image: torch.Tensor, *, quality: int = 90) -> bytes:
    """uint8 [3, H, W] (any device) as JPEG bytes at full resolution (lossy: for looking at)."""
    return _jpeg(Image.fromarray(to_numpy_hwc(image)), quality)


def mask_png_bytes(mask: torch.Tensor, *, compress_level: int = 6) -> bytes:
    """A bool [H, W] mask (any device) as an exact 1-bit black-and-white PNG."""
    if mask.dtype != torch.bool or mask.ndim != 2:
        raise ValueError(f"expected a bool [H, W] mask, got {mask.dtype} {tuple(mask.shape)}")
    # A bool array makes a mode "1" image directly (convert("1") would dither).
    return png_bytes(Image.fromarray(mask.detach().cpu().numpy()), compress_level=compress_level)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def png_bytes(image: Image.Image, *, compress_level: int = 6) -> bytes:
    """``image`` as PNG bytes (lossless; ``compress_level`` 0–9 trades size for speed)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def write_atomically(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temporary file next to ``path`` and rename it into place, so a reader
    never sees half a file. Parent folders are created; the file gets the user's usual
    permissions (the temporary file is opened with mode "x", not ``mkstemp``'s 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as file:
            file.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def rgb_image(image: torch.Tensor) -> Image.Image:
    """uint8 [1|2|3|4, H, W] or [H, W] (any device) as a PIL image: L, LA, RGB or RGBA by channel
    count (RGBA keeps its alpha, for cut-outs)."""
    if image.ndim == 3 and image.shape[0] not in (1, 2, 3, 4):
        raise ValueError(f"expected 1, 2, 3 or 4 channels, got shape {tuple(image.shape)}")
    array = to_numpy_hwc(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    # PIL infers the mode from the shape: [H, W] → L, [H, W, 2|3|4] → LA, RGB, RGBA.
    return Image.fromarray(array)


def label_image(ids: torch.Tensor) -> Image.Image:
    """An integer id map [H, W] (any device) as a lossless grayscale PIL image that
    ``load_annotation`` reads back: 8-bit ('L') when every value is ≤ 255, else 16-bit
    ('I;16'); values must lie in 0..65535 (ValueError otherwise)."""
    if not isinstance(ids, torch.Tensor) or ids.ndim != 2:
        raise ValueError(f"expected an id map [H, W] tensor, got {getattr(ids, 'shape', ids)!r}")
    if ids.dtype.is_floating_point or ids.dtype.is_complex:
        raise ValueError(f"expected an integer or bool id map, got {ids.dtype}")
    ids = ids.detach()
    lo, hi = (int(v) for v in torch.aminmax(ids.to(torch.int64))) if ids.numel() else (0, 0)
    if lo < 0 or hi > 65535:
        raise ValueError(f"id map values must lie in 0..65535 for PNG, got {lo}..{hi}")
    if hi <= 255:
        return Image.fromarray(ids.to(torch.uint8).cpu().numpy())
    return Image.fromarray(ids.to(torch.int32).cpu().numpy().astype(np.uint16))


def save_png(image: torch.Tensor, path: str | os.PathLike, *, compress_level: int = 6) -> Path:
    """Write uint8 [1|2|3|4, H, W] or [H, W] as PNG (see :func:`rgb_image`).

    Parent folders are created; the file appears atomically. ``compress_level`` 0–9 trades size
    for speed (lower writes faster, higher writes smaller).
    """
    return write_atomically(path, png_bytes(rgb_image(image), compress_level=compress_level))


def save_label_png(ids: torch.Tensor, path: str | os.PathLike) -> Path:
    """Write an integer id map [H, W] as a lossless PNG (see :func:`label_image`)."""
    return write_atomically(path, png_bytes(label_image(ids)))
