"""Mask operations on id maps: binarize, colorize, overlay, cut out, and the palette.

Torch only, on the input's device, O(H·W) whatever the number of segments.

Conventions shared by every function here:

- An id map ``ids`` is an integer tensor [H, W] (int32 usually; other integer dtypes are
  accepted) with values >= 0; 0 = no segment. This module knows id maps only: which segment gets
  which colour is decided by the caller (``segdemo.render``).
- A palette is uint8 [N, 3], one RGB row per id; row 0 is the colour of id 0.
- Images are uint8 [3, H, W], planar (what ``segdemo.images`` decodes to) or any other strides
  (channels-last views of HWC arrays too). Results are new planar (contiguous) tensors on the
  input's device. Arguments are validated first; a bad one raises TypeError (wrong kind) or
  ValueError (wrong value) naming it.

Speed: the work is memory-bandwidth bound, so there is no Python loop over segments across the
frame, no float or N×H×W intermediate, and colours come from ``index_select`` gathers with the
int32 ids (several times faster than ``palette[ids.long()]``). :func:`overlay` gathers each
output value from a small table of every (id, image value) result, so its integer blend is exact
by construction; on the CPU it works in row blocks so that its scratch memory stays in cache and
is not fresh, page-faulting memory at every call. ``python -m segdemo.bench`` measures it all.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence
from numbers import Integral

import torch

from segdemo.checks import describe, fraction

__all__ = [
    "binarize",
    "colorize",
    "cutout",
    "lookup",
    "on_black",
    "overlay",
    "palette",
    "spotlight",
]

_CHUNK_PIXELS = 1 << 18  # work block on the CPU, see _chunk_rows
_CHUNK_PIXELS_GPU = 1 << 22  # elsewhere: bounds scratch memory only
_MAX_TABLE_IDS = 1024  # overlay by a [3, N, 256] result table up to this many ids (768 KB)
_VOC_SIZE = 256
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0  # hue step beyond the VOC colormap
_INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def lookup(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """``table[ids]`` for an integer id map [H, W]: result [H, W, *table.shape[1:]], table's dtype.

    index_select with the int32 ids, which is much faster than ``table[ids.long()]``.
    """
    flat = table.index_select(0, ids.reshape(-1))
    return flat.view(*ids.shape, *table.shape[1:])


# --------------------------------------------------------------------------- palettes


def palette(n: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """``n`` deterministic, visually distinct colours: uint8 [n, 3] on ``device`` (default CPU).

    Rows 0–255 are the Pascal VOC colormap (bit-interleaved, so row k is the colour VOC and most
    segmentation tools draw class k in); row 0 is black, the colour of "no segment". Rows from
    256 on step the hue by the golden ratio with a few saturation/value levels, so neighbours
    differ clearly. The same ``n`` always gives the same colours on every device.
    """
    if isinstance(n, bool) or not isinstance(n, Integral):
        raise TypeError(f"n must be a non-negative int, got {n!r}")
    if n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    n = int(n)
    k = torch.arange(min(n, _VOC_SIZE), dtype=torch.int64)
    rgb = torch.zeros(k.numel(), 3, dtype=torch.int64)
    for bit in range(8):  # VOC: bits 0, 1, 2 of each 3-bit group of k go to r, g, b (MSB first)
        group = (k >> (3 * bit)) & 7
        for channel in range(3):
            rgb[:, channel] |= ((group >> channel) & 1) << (7 - bit)
    if n > _VOC_SIZE:
        rgb = torch.cat([rgb, _golden_colors(torch.arange(_VOC_SIZE, n, dtype=torch.int64))])
    return rgb.to(torch.uint8).to(device)


def _golden_colors(k: torch.Tensor) -> torch.Tensor:
    """HSV colours with hue k·φ (mod 1) and cycling saturation/value, as int64 [len(k), 3]."""
    saturations, values = (0.85, 0.60, 0.95), (0.95, 0.80, 0.65, 0.88)
    rows = [
        colorsys.hsv_to_rgb((i * _GOLDEN) % 1.0, saturations[i % 3], values[(i // 3) % 4])
        for i in k.tolist()
    ]
    return torch.round(torch.tensor(rows, dtype=torch.float64) * 255.0).to(torch.int64)


# --------------------------------------------------------------------------- mask operations


def binarize(ids: torch.Tensor, selected: int | Sequence[int] | torch.Tensor) -> torch.Tensor:
    """bool [H, W] on ``ids.device``: True where ``ids`` is one of the ``selected`` ids.

    ``ids``: integer [H, W], values >= 0. ``selected``: one id, a sequence of ids or an integer
    tensor of them (any device); ids that do not occur (larger than ``ids.max()``, say) are
    fine, an empty selection gives all False. One comparison for a single id, else one lookup in
    a boolean table: O(H·W) whatever the number of ids selected.
    """
    ids = _check_ids(ids)
    wanted = _check_selected(selected)
    high = _max_id(ids)  # also rejects negative ids, whatever the selection
    wanted = [v for v in wanted if v <= high]  # the others match nothing
    if not wanted:
        return torch.zeros(ids.shape, dtype=torch.bool, device=ids.device)
    if len(wanted) == 1:
        return ids == wanted[0]
    table = torch.zeros(high + 1, dtype=torch.bool, device=ids.device)
    table[torch.tensor(wanted, dtype=torch.int64, device=ids.device)] = True
    return lookup(table, ids)


def colorize(ids: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """The palette colour of every pixel: uint8 [3, H, W] (planar, contiguous) on ``ids.device``.

    ``ids``: integer [H, W] with values < ``len(palette)``; ``palette``: uint8 [N, 3] on the same
    device. Id 0 gets palette row 0 like any other id.
    """
    ids = _check_ids(ids)
    _check_palette(palette, ids)
    height, width = ids.shape
    planes = palette.T.contiguous()  # [3, N]: one gather per output plane, no temporaries
    out = torch.empty((3, height, width), dtype=torch.uint8, device=ids.device)
    flat = ids.reshape(-1)
    for c in range(3):
        torch.index_select(planes[c], 0, flat, out=out[c].view(-1))
    return out


def overlay(
    image: torch.Tensor, ids: torch.Tensor, palette: torch.Tensor, alpha: float
) -> torch.Tensor:
    """``image`` with every segment painted in its palette colour at opacity ``alpha``.

    ``image``: uint8 [3, H, W] (planar or any other strides); ``ids``: integer [H, W] on the same
    device with values < ``len(palette)``; ``palette``: uint8 [N, 3] on that device; ``alpha``
    in [0, 1]. Returns a new uint8 [3, H, W] (planar, contiguous) on the image's device. Pixels
    with id 0 keep the image's value exactly; the others are, exactly (integer math, the same on
    every device)::

        a = round(alpha * 128)
        out = (image * (128 - a) + color * a + 64) >> 7
    """
    image = _check_image(image)
    ids = _check_ids(ids, like=image)
    top = _check_palette(palette, ids)
    a = _check_alpha(alpha)
    out = torch.empty(image.shape, dtype=torch.uint8, device=image.device)
    if top < _MAX_TABLE_IDS:
        _overlay_by_table(image, ids, palette[: top + 1], a, out)
    else:
        _overlay_by_lanes(image, ids, palette[: top + 1], a, out)
    return out


def _overlay_by_table(
    image: torch.Tensor, ids: torch.Tensor, palette: torch.Tensor, a: int, out: torch.Tensor
) -> None:
    """Overlay as one gather per plane from a table of every (id, image value) pair's result.

    ``table[c, k, v]`` is the blended value of channel c for id k over image value v (v itself
    for id 0), so the formula is exact by construction and each pixel costs an add and a
    gather. 3·N·256 bytes: for N up to _MAX_TABLE_IDS.
    """
    width = image.shape[2]
    value = torch.arange(256, dtype=torch.int32, device=image.device)
    table = (value * (128 - a) + palette.T.to(torch.int32)[:, :, None] * a + 64) >> 7
    table[:, 0] = value
    table = table.to(torch.uint8).contiguous()  # [3, N, 256]
    scratch = torch.empty((3, _chunk_rows(image) * width), dtype=ids.dtype, device=ids.device)
    for y0, y1 in _row_chunks(image):
        n = (y1 - y0) * width
        index = scratch[:, :n]
        # id·256 + v for the three planes in one op (the ids broadcast over the planes)
        torch.add(image[:, y0:y1].reshape(3, n), ids[y0:y1].reshape(1, n), alpha=256, out=index)
        for c in range(3):
            torch.index_select(table[c].view(-1), 0, index[c], out=out[c, y0:y1].view(-1))


def _overlay_by_lanes(
    image: torch.Tensor, ids: torch.Tensor, palette: torch.Tensor, a: int, out: torch.Tensor
) -> None:
    """Overlay in int16 arithmetic, for palettes too long for :func:`_overlay_by_table`.

    One gather per pixel of a table whose rows pack four int16 lanes in one 8-byte word: the
    colour terms color·a + 64 of r, g, b and the image weight 128 − a (id 0: 64, 64, 64, 128,
    which gives the image back exactly); then out = (terms + image·weight) >> 7, every sum
    <= 255·128 + 64, inside int16.
    """
    width = image.shape[2]
    lanes = torch.empty((palette.shape[0], 4), dtype=torch.int16, device=image.device)
    lanes[:, :3] = palette.to(torch.int16) * a + 64
    lanes[:, 3] = 128 - a
    lanes[0, :3] = 64
    lanes[0, 3] = 128
    packed = lanes.view(torch.int64).view(-1)
    size = _chunk_rows(image) * width
    words = torch.empty(size, dtype=torch.int64, device=image.device)
    acc = torch.empty((3, size), dtype=torch.int16, device=image.device)
    weight = torch.empty(size, dtype=torch.int16, device=image.device)
    for y0, y1 in _row_chunks(image):
        n = (y1 - y0) * width
        torch.index_select(packed, 0, ids[y0:y1].reshape(-1), out=words[:n])
        per_pixel = words[:n].view(torch.int16).view(n, 4)
        terms = acc[:, :n]
        for c in range(3):  # unpack to contiguous planes: strided int16 math is much slower
            terms[c].copy_(per_pixel[:, c])
        weight[:n].copy_(per_pixel[:, 3])
        terms.addcmul_(image[:, y0:y1].reshape(3, n), weight[:n])
        terms >>= 7
        out[:, y0:y1].copy_(terms.view(3, y1 - y0, width))


def cutout(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """RGBA uint8 [4, H, W] (planar) on the image's device: the image where ``mask``, else clear.

    ``image``: uint8 [3, H, W]; ``mask``: bool [H, W] on the same device. Alpha is 255 inside the
    mask and 0 outside, where RGB is 0 too (so a PNG of it compresses well).
    """
    image = _check_image(image)
    mask = _check_mask(mask, image)
    flags = mask.view(torch.uint8)  # bool is one byte, 0 or 1: a free reinterpretation
    _, height, width = image.shape
    out = torch.empty((4, height, width), dtype=torch.uint8, device=image.device)
    torch.mul(image, flags, out=out[:3])
    torch.mul(flags, 255, out=out[3])
    return out


def on_black(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The image where ``mask``, black elsewhere: uint8 [3, H, W] (planar) on the image's device.

    What segmentation tutorials compute as ``image * mask``. ``image``: uint8 [3, H, W];
    ``mask``: bool [H, W] on the same device.
    """
    image = _check_image(image)
    mask = _check_mask(mask, image)
    _, height, width = image.shape
    out = torch.empty((3, height, width), dtype=torch.uint8, device=image.device)
    return torch.mul(image, mask.view(torch.uint8), out=out)


def spotlight(image: torch.Tensor, mask: torch.Tensor, *, outline: int = 1) -> torch.Tensor:
    """``image`` with ``mask`` in the spotlight: uint8 [3, H, W] (planar) on the image's device.

    Pixels inside ``mask`` keep their value; those outside are dimmed to half (``value >> 1``);
    mask pixels within ``outline`` pixels of the outside are white, so a picked segment shows as
    an outlined, bright region. ``image``: uint8 [3, H, W]; ``mask``: bool [H, W] on the same
    device; ``outline`` >= 0 (0: no outline).
    """
    image = _check_image(image)
    mask = _check_mask(mask, image)
    if isinstance(outline, bool) or not isinstance(outline, Integral) or outline < 0:
        raise ValueError(f"outline must be an int >= 0, got {outline!r}")
    out = torch.where(mask, image, image >> 1)
    if outline:
        near_outside = ~mask
        for _ in range(outline):
            near_outside = _dilated(near_outside)
        out.masked_fill_(mask & near_outside, 255)
    return out


def _dilated(mask: torch.Tensor) -> torch.Tensor:
    """bool [H, W]: ``mask`` grown by one pixel in the 8 directions (a 3x3 square), same device.

    Two passes of shifted ORs (rows, then columns): a few cheap bool ops, where a max-pool over
    a float copy of a 1080p mask costs ~0.2 s on a CPU.
    """
    rows = mask.clone()
    rows[1:] |= mask[:-1]
    rows[:-1] |= mask[1:]
    grown = rows.clone()
    grown[:, 1:] |= rows[:, :-1]
    grown[:, :-1] |= rows[:, 1:]
    return grown


# --------------------------------------------------------------------------- helpers


def _chunk_rows(image: torch.Tensor) -> int:
    """Rows per block of work: about _CHUNK_PIXELS pixels on the CPU (_CHUNK_PIXELS_GPU elsewhere).

    On the CPU, scratch buffers of a few MB stay in cache and in malloc's free lists, while
    frame-sized ones are fresh memory at every call whose page faults cost more than the math;
    blocks much smaller pay per-op overhead instead.
    """
    _, height, width = image.shape
    budget = _CHUNK_PIXELS if image.device.type == "cpu" else _CHUNK_PIXELS_GPU
    return max(1, min(height, budget // max(width, 1)))


def _row_chunks(image: torch.Tensor) -> list[tuple[int, int]]:
    """[(y0, y1), …] covering the image's rows in blocks of :func:`_chunk_rows`."""
    height = image.shape[1]
    step = _chunk_rows(image)
    return [(y0, min(height, y0 + step)) for y0 in range(0, height, step)]


def _check_ids(ids: object, like: torch.Tensor | None = None) -> torch.Tensor:
    """Validate an id map; return it as int32 or int64 (the index dtypes of index_select)."""
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"ids must be a 2-D integer tensor [H, W], got {describe(ids)}")
    if ids.ndim != 2:
        raise ValueError(f"ids must be a 2-D integer tensor [H, W], got {describe(ids)}")
    if ids.dtype not in _INT_DTYPES:
        raise ValueError(f"ids must have an integer dtype, got {ids.dtype}")
    if like is not None:
        if ids.device != like.device:
            raise ValueError(f"ids are on {ids.device} but the image is on {like.device}")
        if tuple(ids.shape) != tuple(like.shape[-2:]):
            raise ValueError(
                f"ids are {tuple(ids.shape)} but the image is {tuple(like.shape[-2:])} (H, W)"
            )
    if ids.dtype not in (torch.int32, torch.int64):
        ids = ids.to(torch.int32)
    return ids


def _id_range(ids: torch.Tensor) -> tuple[int, int]:
    """(min, max) of a non-empty id map, one pass; ValueError if an id is negative."""
    low, high = (int(v) for v in torch.aminmax(ids))
    if low < 0:
        raise ValueError(f"ids must be >= 0 (0 = no segment), got a minimum of {low}")
    return low, high


def _max_id(ids: torch.Tensor) -> int:
    return _id_range(ids)[1] if ids.numel() else 0


def _check_palette(palette: object, ids: torch.Tensor | None = None) -> int:
    """Validate a palette (and that it covers ``ids``); return the largest id (0 if none)."""
    if not isinstance(palette, torch.Tensor):
        raise TypeError(f"palette must be a tensor [N, 3], got {describe(palette)}")
    if palette.ndim != 2 or palette.shape[1] != 3:
        raise ValueError(f"palette must be a tensor [N, 3], got {describe(palette)}")
    if palette.dtype != torch.uint8:
        raise ValueError(f"palette must be uint8, got {palette.dtype}")
    if palette.shape[0] == 0:
        raise ValueError("palette must have at least one row (the colour of id 0)")
    if ids is not None:
        if palette.device != ids.device:
            raise ValueError(f"palette is on {palette.device} but the ids are on {ids.device}")
        top = _max_id(ids)
        if top >= palette.shape[0]:
            raise ValueError(f"ids go up to {top} but the palette has only {palette.shape[0]} rows")
        return top
    return 0


def _check_image(image: object) -> torch.Tensor:
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be an RGB tensor [3, H, W], got {describe(image)}")
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"image must be an RGB tensor [3, H, W], got {describe(image)}")
    if image.dtype != torch.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    return image


def _check_mask(mask: object, image: torch.Tensor) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a 2-D bool tensor [H, W], got {describe(mask)}")
    if mask.ndim != 2:
        raise ValueError(f"mask must be a 2-D bool tensor [H, W], got {describe(mask)}")
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be bool, got {mask.dtype}")
    if mask.device != image.device:
        raise ValueError(f"mask is on {mask.device} but the image is on {image.device}")
    if tuple(mask.shape) != tuple(image.shape[-2:]):
        raise ValueError(
            f"mask is {tuple(mask.shape)} but the image is {tuple(image.shape[-2:])} (H, W)"
        )
    return mask


def _check_alpha(alpha: object) -> int:
    """alpha in [0, 1] → its 7-bit fixed-point weight round(alpha · 128)."""
    return round(fraction(alpha, "alpha") * 128)


def _check_selected(selected: object) -> list[int]:
    """The selected ids as a list of non-negative ints."""
    if isinstance(selected, torch.Tensor):
        if selected.dtype not in _INT_DTYPES or selected.ndim > 1:
            raise ValueError(
                f"selected must be an integer tensor of ids (0-D or 1-D), got {describe(selected)}"
            )
        values = [int(v) for v in selected.reshape(-1).tolist()]
    elif isinstance(selected, Integral) and not isinstance(selected, bool):
        values = [int(selected)]
    elif isinstance(selected, Sequence) and not isinstance(selected, (str, bytes)):
        values = []
        for v in selected:
            if isinstance(v, bool) or not isinstance(v, Integral):
                raise TypeError(f"selected ids must be ints, got {v!r} in {selected!r}")
            values.append(int(v))
    else:
        raise TypeError(
            f"selected must be an int, a sequence of ints or an integer tensor, got {selected!r}"
        )
    bad = [v for v in values if v < 0]
    if bad:
        raise ValueError(f"selected ids must be >= 0, got {bad[0]}")
    return sorted(set(values))
