"""The way out: uint8 tensors (any device) → numpy for the UI, JPEG previews and PNG files.

Each function brings the pixels to the CPU once. PNG files are written atomically (a temporary
file next to the target, renamed into place), so a reader never sees half a file.

Every PNG the demo writes comes from :func:`png_bytes`, its own small PNG writer: each row
"Up"-filtered (its difference with the row above, one numpy subtraction) and the whole
deflated by ISA-L (``isal``) at level 1. At 1080p that is ~10–20 ms for an RGB(A) cut-out where
PIL's encoder takes ~100–200 ms at its level 1 (and ~0.8 s at its default), for files of
about the same size; ISA-L releases the GIL, so files written side by side use every core.
"""

from __future__ import annotations

import base64
import io
import os
import secrets
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from isal import isal_zlib
from PIL import Image

__all__ = [
    "jpeg_bytes",
    "jpeg_data_url",
    "mask_png_bytes",
    "pil_png_bytes",
    "png_bytes",
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


def mask_png_bytes(mask: torch.Tensor) -> bytes:
    """A bool [H, W] mask (any device) as an exact 1-bit black-and-white PNG."""
    if mask.dtype != torch.bool or mask.ndim != 2:
        raise ValueError(f"expected a bool [H, W] mask, got {mask.dtype} {tuple(mask.shape)}")
    height, width = mask.shape
    return _png(np.packbits(mask.detach().cpu().numpy(), axis=-1), width, height, 1, 0)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


#: PIL mode → (PNG colour type, bit depth) for the modes :func:`png_bytes` writes.
PNG_MODES = {
    "1": (0, 1),
    "L": (0, 8),
    "LA": (4, 8),
    "RGB": (2, 8),
    "RGBA": (6, 8),
    "I;16": (0, 16),
    "P": (3, 8),
}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_UP_FILTER = 2
#: The most bytes one IDAT chunk holds (the format allows 2**31 - 1; smaller is as valid).
_IDAT_BYTES = 1 << 24


#: Channels of a uint8 tensor → PNG colour type (grey, grey + alpha, RGB, RGBA).
_TENSOR_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}


def png_bytes(image: Image.Image | torch.Tensor) -> bytes:
    """``image`` as PNG bytes, lossless, fast (see the module docstring).

    ``image``: a uint8 tensor [1|2|3|4, H, W] or [H, W] (any device; grey, grey + alpha, RGB,
    RGBA, as :func:`rgb_image` reads it), or a PIL image in a mode of :data:`PNG_MODES`: "1"
    (1 bit a pixel), "L", "LA", "RGB", "RGBA", "I;16" (16-bit grey) or "P" (its palette and
    transparency are kept). Other modes, dtypes and shapes, and an image without pixels, raise
    ValueError.
    """
    if isinstance(image, torch.Tensor):
        return _tensor_png(image)
    if image.mode not in PNG_MODES:
        raise ValueError(f"cannot write a mode {image.mode!r} image as PNG; convert it first")
    color_type, depth = PNG_MODES[image.mode]
    pixels = np.asarray(image)
    if depth == 1:
        pixels = np.packbits(pixels, axis=-1)
    elif depth == 16:
        pixels = pixels.astype(">u2").view(np.uint8)
    extra = _palette_chunks(image) if image.mode == "P" else []
    return _png(pixels, image.width, image.height, depth, color_type, extra)


def _tensor_png(image: torch.Tensor) -> bytes:
    pixels = _image_pixels(image)
    color_type = 0 if pixels.ndim == 2 else _TENSOR_COLOR_TYPES[pixels.shape[2]]
    return _png(pixels, pixels.shape[1], pixels.shape[0], 8, color_type)


def pil_png_bytes(image: torch.Tensor, *, compress_level: int = 6) -> bytes:
    """uint8 [1|2|3|4, H, W] or [H, W] (any device) through PIL's own PNG encoder: the reference
    the bench's baselines time :func:`png_bytes` against (PIL's default level is 6)."""
    buffer = io.BytesIO()
    rgb_image(image).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def _png(
    pixels: np.ndarray,
    width: int,
    height: int,
    depth: int,
    color_type: int,
    extra: Sequence[bytes] = (),
) -> bytes:
    """The PNG of ``pixels`` (uint8, one row of packed samples per first index), with the
    ``extra`` chunks (already framed) before its data."""
    if width == 0 or height == 0:
        raise ValueError(f"a PNG needs at least one pixel, got {width}×{height}")
    rows = pixels.reshape(height, -1)
    filtered = np.empty((height, rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = _UP_FILTER
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    data = memoryview(isal_zlib.compress(filtered, 1))
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    parts = [_PNG_SIGNATURE, *_png_chunk(b"IHDR", header), *extra]
    for start in range(0, len(data), _IDAT_BYTES):
        parts += _png_chunk(b"IDAT", data[start : start + _IDAT_BYTES])
    return b"".join([*parts, *_png_chunk(b"IEND", b"")])


def _png_chunk(kind: bytes, data: bytes | memoryview) -> list[bytes | memoryview]:
    """One chunk's parts (length, type, data, CRC), for a single join: the data is not copied."""
    crc = isal_zlib.crc32(data, isal_zlib.crc32(kind))
    return [struct.pack(">I", len(data)), kind, data, struct.pack(">I", crc)]


def _palette_chunks(image: Image.Image) -> list[bytes]:
    """PLTE (and tRNS for its transparency) of a mode "P" image, framed."""
    chunks = [b"".join(_png_chunk(b"PLTE", bytes(image.getpalette() or [])))]
    transparent = image.info.get("transparency")
    if isinstance(transparent, int):
        transparent = bytes([255] * transparent + [0])
    if isinstance(transparent, bytes):
        chunks.append(b"".join(_png_chunk(b"tRNS", transparent)))
    return chunks


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
    # PIL infers the mode from the shape: [H, W] → L, [H, W, 2|3|4] → LA, RGB, RGBA.
    return Image.fromarray(_image_pixels(image))


def _image_pixels(image: torch.Tensor) -> np.ndarray:
    """uint8 [1|2|3|4, H, W] or [H, W] → numpy [H, W] (one channel) or [H, W, 2|3|4]."""
    if image.ndim == 3 and image.shape[0] not in _TENSOR_COLOR_TYPES:
        raise ValueError(f"expected 1, 2, 3 or 4 channels, got shape {tuple(image.shape)}")
    array = to_numpy_hwc(image)
    return array[:, :, 0] if array.ndim == 3 and array.shape[2] == 1 else array


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


def save_png(image: torch.Tensor, path: str | os.PathLike) -> Path:
    """Write uint8 [1|2|3|4, H, W] or [H, W] (any device) as PNG (see :func:`png_bytes`).

    Parent folders are created; the file appears atomically.
    """
    return write_atomically(path, png_bytes(image))


def save_label_png(ids: torch.Tensor, path: str | os.PathLike) -> Path:
    """Write an integer id map [H, W] as a lossless PNG (see :func:`label_image`)."""
    return write_atomically(path, png_bytes(label_image(ids)))
