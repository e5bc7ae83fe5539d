"""Ground-truth annotations: a label-map file → int32 [H, W] tensor with the values as stored.

:func:`read_annotation` decodes through the same safe path as photos (allow-list, limits, EXIF
orientation, first frame) and keeps the stored values: Oxford-IIIT Pet trimaps 1/2/3, Pascal
VOC palette indices with 255 = void, 16-bit ids, colour-coded RGB maps as indices. It refuses
what cannot be a label map (lossy files, photos, colour spaces without class numbers) with an
:class:`~segdemo.images.decode.InputError`. :func:`load_annotation` returns just the values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from segdemo.images.decode import _HIGH_DEPTH, ImageSource, InputError, _decode, _Decoded

__all__ = ["MAX_LABELS", "Annotation", "load_annotation", "read_annotation"]

#: Most distinct values an annotation may hold; more means "a photo, not a label map".
MAX_LABELS = 256

_Colors = tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class Annotation:
    """A ground-truth label map as read from a file.

    - ``values``: int32 [H, W], the values as stored (palette indices for 'P', gray levels for
      'L', 0/1 for '1', the 16-bit values for 'I;16'; see :func:`read_annotation` for RGB).
    - ``mode``: the PIL mode of the file's first frame (what decides how ToTensor scales).
    - ``to_tensor``: ``torchvision.transforms.functional.to_tensor`` of that same decoded image,
      i.e. what the classic tutorial code sees: float32 [C, H, W] values / 255 for 8-bit modes
      (trimap 1, 2, 3 → 0.0039, 0.0078, 0.0118; VOC void 255 → 1.0), 0/1 for '1', but the
      *unscaled* int16/int32 values for 'I;16' / 'I' (65535 wraps to −1 in int16; 'I;16B' is
      read as 'I;16'). [C, H, W]: 3 channels for RGB maps. ``None`` where torchvision cannot
      convert the mode.
    - ``colors``: for colour-coded RGB maps, the (r, g, b) colour of each value, else ``None``.
    """

    values: torch.Tensor
    mode: str
    to_tensor: torch.Tensor | None
    colors: _Colors | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(H, W)."""
        return int(self.values.shape[0]), int(self.values.shape[1])


def _refuse_many(name: str, count: int | None) -> InputError:
    """The refusal for a map with more than MAX_LABELS values (``None``: found from a sample)."""
    many = f"{count}" if count is not None else f"more than {MAX_LABELS}"
    return InputError(
        f"{name} has {many} different values, but a label map has at most {MAX_LABELS} (one per "
        "class or object): it looks like a photo, not a label map. Upload the annotation file "
        "(a PNG whose pixel values are class numbers)."
    )


def _sample_has_too_many(flat: torch.Tensor, sample: int = 65536) -> bool:
    """Whether every 1/k-th value of a large map already holds > MAX_LABELS distinct values.

    Lets a photo be refused without sorting all of its pixels; small maps are not sampled.
    """
    step = flat.numel() // sample
    return step > 1 and torch.unique(flat[::step]).numel() > MAX_LABELS


def _check_distinct(values: torch.Tensor, name: str) -> None:
    """Refuse > MAX_LABELS distinct values; a strided sample rejects photos without a full sort."""
    flat = values.reshape(-1)
    if _sample_has_too_many(flat):
        raise _refuse_many(name, None)
    count = torch.unique(flat).numel()
    if count > MAX_LABELS:
        raise _refuse_many(name, count)


def _label_values(dec: _Decoded) -> tuple[torch.Tensor, _Colors | None]:
    """The stored values of a decoded map as int32 [H, W], and the colours of an RGB-coded one."""
    im, name = dec.image, dec.name
    mode = im.mode
    colors = None
    # np.asarray(..., dtype=np.int32) converts from 8/16 bits: a fresh, writable array.
    if mode in {"1", "L", "P"}:
        values = torch.from_numpy(np.asarray(im, dtype=np.int32))
    elif mode in {"LA", "PA"}:
        values = torch.from_numpy(np.asarray(im.getchannel(0), dtype=np.int32))
    elif mode in _HIGH_DEPTH:
        values = torch.from_numpy(np.asarray(im).astype(np.int32))
        _check_distinct(values, name)
    elif mode == "F":
        arr = np.asarray(im)
        if not (np.isfinite(arr).all() and np.array_equal(arr, np.round(arr))):
            raise InputError(
                f"{name} stores fractional values, not class numbers. Save the annotation as an "
                "8-bit or 16-bit PNG whose pixel values are class numbers."
            )
        values = torch.from_numpy(arr.astype(np.int32))
        _check_distinct(values, name)
    elif mode in {"RGB", "RGBA", "RGBX", "RGBa"}:
        im = im.convert("RGB") if mode == "RGBa" else im
        r, g, b = (torch.from_numpy(np.asarray(im.getchannel(i), dtype=np.int32)) for i in range(3))
        if torch.equal(r, g) and torch.equal(g, b):
            values = r.clone()  # grayscale stored as RGB (also what lossless WebP does)
        else:
            packed = (r << 16) | (g << 8) | b
            flat = packed.reshape(-1)
            if _sample_has_too_many(flat):
                raise _refuse_many(name, None)
            table, inverse = torch.unique(flat, sorted=True, return_inverse=True)
            if table.numel() > MAX_LABELS:
                raise _refuse_many(name, table.numel())
            values = inverse.to(torch.int32).reshape(packed.shape)
            colors = tuple(
                (int(c) >> 16, (int(c) >> 8) & 255, int(c) & 255) for c in table.tolist()
            )
    else:
        raise InputError(
            f"{name} is a colour image ({mode} mode), not a label map. Save the annotation as a "
            "grayscale or palette PNG whose pixel values are class numbers."
        )
    return values, colors


def _torchvision_to_tensor(im: Image.Image) -> torch.Tensor | None:
    """What ``torchvision.transforms.functional.to_tensor`` returns for this decoded image."""
    from torchvision.transforms.functional import to_tensor

    if im.mode in {"I;16B", "I;16L", "I;16N"}:
        # torchvision only knows native-order 'I;16'; same values, other byte order. Not via
        # im.convert("I;16"): PIL 12 clips I;16B → I;16 at 255.
        im = Image.fromarray(np.asarray(im).astype(np.uint16))
    try:
        return to_tensor(im)
    except (TypeError, ValueError, RuntimeError):
        return None


def read_annotation(
    source: ImageSource,
    *,
    size: tuple[int, int] | None = None,
    device: torch.device | str | None = None,
) -> Annotation:
    """Read a ground-truth annotation (label map) with its values as stored.

    Decoded like a photo (same format allow-list, limits, EXIF orientation, first frame), then:

    - 'P' (Pascal VOC): the palette indices, 255 = void kept; 'L': the gray levels (Oxford-IIIT
      Pet trimaps: 1 pet, 2 background, 3 border); '1': 0/1; 'I;16' / 'I': the stored integers;
      'LA' / 'PA': the first band (alpha ignored); 'F': only whole numbers are accepted.
    - RGB/RGBA where R = G = B everywhere: that channel (alpha ignored).
    - Other RGB/RGBA (colour-coded maps): each distinct colour becomes a value 0..k−1 in order
      of the **sorted packed colour** 0xRRGGBB (so black, if present, is 0);
      ``Annotation.colors[v]`` gives the colour of value v.

    Refused with :class:`InputError`: lossy files (JPEG, lossy WebP, JPEG-compressed TIFF:
    compression changes mask values at every edge), maps with more than :data:`MAX_LABELS`
    distinct values (a photo), CMYK/YCbCr/... images, and, when ``size`` = (H, W) of the photo
    is given, any other size.
    """
    dec = _decode(source)
    if dec.lossy:
        raise InputError(
            f"{dec.name} is a {dec.lossy} file: lossy compression changes mask values at every "
            "edge, so it cannot be used as an annotation. Save the annotation as PNG and upload "
            "it again."
        )
    im = dec.image
    if size is not None:
        h, w = (int(s) for s in size)
        if (im.height, im.width) != (h, w):
            turned = (
                " (The sizes match when turned by 90°: one of the files may carry an EXIF "
                "rotation the other lacks.)"
                if (im.height, im.width) == (w, h)
                else ""
            )
            raise InputError(
                f"The annotation {dec.name} is {im.width}×{im.height} pixels but the photo is "
                f"{w}×{h}; use the annotation made for this photo.{turned}"
            )
    values, colors = _label_values(dec)
    to_tensor = _torchvision_to_tensor(im)
    if device is not None:
        values = values.to(device)
        to_tensor = to_tensor.to(device) if to_tensor is not None else None
    return Annotation(values=values, mode=im.mode, to_tensor=to_tensor, colors=colors)


def load_annotation(
    source: ImageSource,
    *,
    size: tuple[int, int] | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """int32 [H, W] label map with the values as stored; see :func:`read_annotation`."""
    return read_annotation(source, size=size, device=device).values
