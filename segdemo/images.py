"""The image-IO boundary: the one place that decodes user files and touches PIL/numpy.

Everything the rest of the demo sees is a torch tensor:

- :func:`load_image` → uint8 [3, H, W] RGB on the chosen device, from a file path, a PIL image
  or a numpy array. Decoding is safe by construction: a format allow-list decided by the
  file's content (never its extension), a file-size cap, the pixel / side / aspect caps checked
  from the header *before* any pixel is decoded, PIL's decompression-bomb warning turned into an
  error, EXIF orientation applied, the first frame of animations, every PIL mode made RGB.
- :func:`read_annotation` / :func:`load_annotation` → int32 [H, W] label map with the values as
  stored (Oxford-IIIT Pet trimaps 1/2/3, Pascal VOC palette indices with 255 = void, 16-bit ids).
- :func:`to_numpy_hwc`, :func:`save_png`, :func:`save_label_png`: the way back out, one copy.

Anything a user can get wrong raises :class:`InputError`, whose message names the file, says
what is wrong and what to do. Nothing else here is meant to reach a user: other exceptions are
programming errors (wrong Python type, wrong tensor dtype).
"""

from __future__ import annotations

import base64
import io
import logging
import math
import os
import re
import stat
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "ALLOWED_FORMATS",
    "MAX_ASPECT",
    "MAX_FILE_BYTES",
    "MAX_LABELS",
    "MAX_PIXELS",
    "MAX_SIDE",
    "Annotation",
    "ImageSource",
    "InputError",
    "load_annotation",
    "load_image",
    "read_annotation",
    "save_label_png",
    "save_png",
    "to_numpy_hwc",
]

# --- Limits ------------------------------------------------------------------------------------

#: Formats decoded, as PIL's detected ``Image.format`` (content sniffing, not the extension).
#: MPO is how PIL names many phone-camera JPEGs (a JPEG with extra preview frames).
ALLOWED_FORMATS: frozenset[str] = frozenset({"PNG", "JPEG", "MPO", "WEBP", "BMP", "TIFF", "GIF"})
#: Largest file read at all, checked from the file system before opening.
MAX_FILE_BYTES = 100 * 1024 * 1024
#: Largest image, in pixels (width × height), checked from the header before decoding.
MAX_PIXELS = 40_000_000
#: Longest side, in pixels.
MAX_SIDE = 8192
#: Largest ratio of the longer side to the shorter one.
MAX_ASPECT = 20
#: Most distinct values an annotation may hold; more means "a photo, not a label map".
MAX_LABELS = 256

# PIL warns above MAX_IMAGE_PIXELS and raises above twice that; the warning is made an error
# around every decode below, so PIL refuses what our own header check would refuse anyway.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_ALLOWED_TEXT = "PNG, JPEG, WebP, BMP, TIFF or GIF"
_LOSSY_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG"}

# warnings.catch_warnings swaps process-wide state (before Python 3.14), so two threads decoding
# at once could restore each other's filters and let a bomb warning through. Decodes are
# serialized; the explicit header checks below stand guard even if some other code races us.
_DECODE_LOCK = threading.Lock()

ImageSource = str | os.PathLike | Image.Image | np.ndarray
log = logging.getLogger(__name__)


class InputError(ValueError):
    """A refusal whose message a user can act on: what was wrong and what to do."""


# --- Decoding ----------------------------------------------------------------------------------


@dataclass
class _Decoded:
    """A checked, fully loaded first frame with EXIF orientation applied, plus what we learned."""

    image: Image.Image
    name: str  # for messages: the file name, or "the image" for in-memory sources
    format: str | None  # PIL's detected format; None for arrays and new PIL images
    bits: int | None  # declared bits per sample (TIFF BitsPerSample) where the file says
    signed: bool  # TIFF SampleFormat says signed integers
    lossy: str | None  # "JPEG", "lossy WebP", ... where compression changed the pixel values


@contextmanager
def _guarded(name: str) -> Iterator[None]:
    """Serialize decoding, make PIL's bomb warning an error, map decode failures to InputError."""
    with _DECODE_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except InputError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            # PIL checks the header size in Image.open, before our own check can run; its
            # message carries the pixel count ("Image size (N pixels) exceeds ...").
            found = re.search(r"\((\d+) pixels\)", str(exc))
            count = f"{int(found.group(1)) / 1e6:,.0f} MP" if found else "too many pixels"
            raise InputError(
                f"{name} is too large ({count}); the demo takes at most {MAX_PIXELS / 1e6:.0f} MP "
                f"and {MAX_SIDE} pixels on the longest side. Resize it and upload it again."
            ) from exc
        except MemoryError as exc:
            raise InputError(
                f"{name} is too large to decode with the memory available. "
                "Upload a smaller version."
            ) from exc
        except Exception as exc:
            # PIL's plugins raise a zoo of exceptions on malformed files (OSError, SyntaxError,
            # ValueError, EOFError, IndexError, struct.error, zlib.error ...); all mean "broken".
            raise InputError(
                f"{name} could not be decoded: the file is damaged or incomplete (was the upload "
                f"cut off?). Upload it again, or save it again as PNG or JPEG."
            ) from exc


def _fit(w: int, h: int) -> tuple[int, int]:
    """The largest size with the same aspect ratio that passes the side and pixel caps."""
    scale = min(1.0, MAX_SIDE / max(w, h), math.sqrt(MAX_PIXELS / (w * h)))
    return max(1, int(w * scale)), max(1, int(h * scale))


def _check_size(w: int, h: int, name: str) -> None:
    """Refuse, from the header alone, sizes the demo will not decode."""
    if w <= 0 or h <= 0:
        raise InputError(f"{name} has no pixels ({w}×{h}). Upload a photo.")
    if max(w, h) > MAX_ASPECT * min(w, h):
        ratio = max(w, h) / min(w, h)
        raise InputError(
            f"{name} is {w}×{h} pixels, a {ratio:.0f}:1 strip; the demo takes aspect ratios up "
            f"to {MAX_ASPECT}:1. Crop it closer to the subject and upload it again."
        )
    if max(w, h) > MAX_SIDE or w * h > MAX_PIXELS:
        fw, fh = _fit(w, h)
        raise InputError(
            f"{name} is {w}×{h} pixels ({w * h / 1e6:.1f} MP); the demo takes at most "
            f"{MAX_SIDE} pixels on the longest side and {MAX_PIXELS / 1e6:.0f} MP in all. "
            f"Resize it to {fw}×{fh} or smaller and upload it again."
        )


def _sniff(head: bytes) -> str:
    """Say in words what a file PIL could not identify probably is."""
    if head[4:8] == b"ftyp" and head[8:12] in {b"heic", b"heix", b"hevc", b"mif1", b"msf1"}:
        return "it is a HEIC/HEIF photo; on the phone, export or share it as JPEG"
    if head.startswith(b"%PDF"):
        return "it is a PDF document"
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<svg", b"<?xml")) and b"<svg" in lowered:
        return "it is an SVG drawing; export it as PNG"
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "it is a text file"
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 3:  # a multi-byte character cut at the end of `head`
                return "it is a text file"
    return "the file is damaged or is not an image"


def _webp_lossy(fp: BinaryIO) -> bool:
    """Whether a WebP file's colour data is lossy (a ``VP8 `` chunk) rather than ``VP8L``."""
    fp.seek(12)  # past "RIFF" <size> "WEBP"
    for _ in range(64):  # VP8X files put ICCP/ANIM/ALPH/EXIF chunks first; never walk forever
        header = fp.read(8)
        if len(header) < 8:
            break
        fourcc, size = header[:4], int.from_bytes(header[4:], "little")
        if fourcc == b"VP8L":
            return False
        if fourcc in (b"VP8 ", b"ANMF"):  # animation frames: treat as lossy, we cannot tell cheaply
            return True
        fp.seek(size + (size & 1), os.SEEK_CUR)
    return True


def _lossy_kind(im: Image.Image, fp: BinaryIO | None) -> str | None:
    fmt = im.format
    if fmt in _LOSSY_FORMATS:
        return _LOSSY_FORMATS[fmt]
    if fmt == "WEBP":
        return "lossy WebP" if fp is None or _webp_lossy(fp) else None
    if fmt == "TIFF" and str(im.info.get("compression", "")).lower() in {"jpeg", "tiff_jpeg"}:
        return "JPEG-compressed TIFF"
    return None


def _tiff_tag(im: Image.Image, tag: int) -> int | None:
    value = getattr(im, "tag_v2", {}).get(tag)
    if isinstance(value, tuple):
        value = value[0] if value else None
    return int(value) if value is not None else None


def _finish(im: Image.Image, name: str, fp: BinaryIO | None, *, owned: bool) -> _Decoded:
    """Allow-list, header size check, decode the first frame, EXIF transpose. Inside _guarded."""
    fmt = im.format
    if fmt is not None and fmt not in ALLOWED_FORMATS:
        raise InputError(
            f"{name} is a {fmt} file, which this demo does not read. "
            f"Convert it to PNG or JPEG ({_ALLOWED_TEXT} work) and upload it again."
        )
    _check_size(im.width, im.height, name)
    bits, signed = _tiff_tag(im, 258), _tiff_tag(im, 339) == 2
    if getattr(im, "tell", lambda: 0)() != 0:  # animations and multi-page files: frame 0
        im.seek(0)
    im.load()  # decodes pixels: only now, after every check above
    lossy = _lossy_kind(im, fp)
    if not owned:
        im = im.copy()  # never transpose the caller's image in place
    try:
        ImageOps.exif_transpose(im, in_place=True)
    except Exception:  # a broken EXIF block; the pixels are fine, so show them as stored
        log.warning("%s: unreadable EXIF, orientation not applied", name, exc_info=True)
    return _Decoded(im, name, fmt, bits, signed, lossy)


def _decode_path(path: str | os.PathLike) -> _Decoded:
    path = Path(os.fspath(path))
    name = path.name or str(path)
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise InputError(f"{name} was not found. Upload the file again.") from exc
    except OSError as exc:
        raise InputError(f"{name} could not be opened ({exc.strerror}).") from exc
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{name} is not a file (a folder?). Upload an image file.")
    if st.st_size == 0:
        raise InputError(f"{name} is empty (0 bytes); the upload may have failed. Upload it again.")
    if st.st_size > MAX_FILE_BYTES:
        raise InputError(
            f"{name} is {st.st_size / 2**20:.1f} MB; the limit is {MAX_FILE_BYTES / 2**20:.0f} MB. "
            "Upload a smaller version (a JPEG is usually much smaller)."
        )
    try:
        fp = path.open("rb")
    except OSError as exc:
        raise InputError(f"{name} could not be opened ({exc.strerror}).") from exc
    with fp, _guarded(name):
        try:
            im = Image.open(fp)
        except UnidentifiedImageError as exc:
            fp.seek(0)
            raise InputError(
                f"{name} is not an image this demo can read ({_sniff(fp.read(512))}). "
                f"Upload a {_ALLOWED_TEXT} photo."
            ) from exc
        return _finish(im, name, fp, owned=True)


def _decode_pil(im: Image.Image, name: str | None = None, *, owned: bool = False) -> _Decoded:
    if name is None:
        filename = getattr(im, "filename", "")
        name = Path(filename).name if filename else "the image"
    with _guarded(name):
        return _finish(im, name, getattr(im, "fp", None), owned=owned)


def _pil_from_array(array: np.ndarray) -> Image.Image:
    """Wrap an HWC / HW numpy array in a PIL image (the UI's ``type="numpy"``)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(array).__name__}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.size == 0:
        raise InputError(f"The image has no pixels (array of shape {tuple(array.shape)}).")
    if array.ndim == 3 and array.shape[2] in (2, 3, 4) and array.dtype == np.uint8:
        return Image.fromarray(np.ascontiguousarray(array))  # LA, RGB, RGBA
    if array.ndim == 2 and array.dtype in (np.bool_, np.uint8, np.uint16, np.int32, np.float32):
        return Image.fromarray(np.ascontiguousarray(array))
    raise ValueError(
        "image arrays must be uint8 [H, W, 1|2|3|4], or [H, W] of bool, uint8, uint16, int32 or "
        f"float32; got {array.dtype} {tuple(array.shape)}"
    )


def _decode(source: ImageSource) -> _Decoded:
    if isinstance(source, Image.Image):
        return _decode_pil(source)
    if isinstance(source, np.ndarray):
        return _decode_pil(_pil_from_array(source), "the image", owned=True)
    if isinstance(source, (str, os.PathLike)):
        return _decode_path(source)
    raise TypeError(
        f"expected a file path, a PIL image or a numpy array, got {type(source).__name__}"
    )


# --- Photos ------------------------------------------------------------------------------------

_HIGH_DEPTH = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


def _high_depth_to_l(dec: _Decoded) -> Image.Image:
    """16/32-bit integer or float grayscale → 8-bit 'L', scaled by bit depth, never clipped.

    Integers: v·255 / (2^bits − 1), rounded, where bits is the depth the file declares (TIFF
    BitsPerSample, e.g. 12), else 16 for the 'I;16' modes; for 'I' without a declaration, 16 if
    every value fits 0..65535, else the full 32-bit range. Signed data (TIFF SampleFormat 2, or
    negative values) is offset by 2^(bits−1) first. Floats ('F'): values in [0, 1] are scaled by
    255; any other range is stretched min..max → 0..255; NaN/inf → 0.
    """
    im = dec.image
    arr = np.asarray(im)
    if im.mode == "F":
        a = arr.astype(np.float64)
        finite = np.isfinite(a)
        lo, hi = (float(a[finite].min()), float(a[finite].max())) if finite.any() else (0.0, 0.0)
        if lo >= 0.0 and hi <= 1.0:
            a = a * 255.0
        elif hi > lo:
            a = (a - lo) * (255.0 / (hi - lo))
        else:
            a = np.zeros_like(a)
        out = np.floor(np.where(finite, a, 0.0) + 0.5).clip(0, 255).astype(np.uint8)
        return Image.fromarray(out)
    declared = dec.bits if dec.bits and 1 <= dec.bits <= 32 else None
    if im.mode != "I":  # 16-bit modes: a lookup table, no wide temporaries
        bits = declared if declared and declared <= 16 else 16
        top = (1 << bits) - 1
        lut = (np.minimum(np.arange(65536), top) * 255 + top // 2) // top
        return Image.fromarray(lut.astype(np.uint8)[arr])
    a = arr.astype(np.int64)
    signed = dec.signed or bool(a.size and a.min() < 0)
    fits_16 = not signed and (a.size == 0 or a.max() <= 65535)
    bits = declared or (16 if fits_16 else 32)
    top = (1 << bits) - 1
    low = -(1 << (bits - 1)) if signed else 0
    out = (np.clip(a - low, 0, top) * 255 + top // 2) // top
    return Image.fromarray(out.astype(np.uint8))


def _to_rgb(dec: _Decoded) -> Image.Image:
    """Any PIL mode → 'RGB'. Transparency is composited over white."""
    im = dec.image
    try:
        if im.mode in _HIGH_DEPTH or im.mode == "F":
            im = _high_depth_to_l(dec)
        if im.mode == "La":
            im = im.convert("RGBa")  # PIL has no La → RGBA path; RGBa → RGBA exists
        if im.mode in _ALPHA_MODES or "transparency" in im.info:
            rgba = im.convert("RGBA")
            # Exactly round((c·a + 255·(255 − a)) / 255), PIL's blend with round-half-up.
            out = Image.new("RGB", im.size, (255, 255, 255))
            out.paste(rgba, mask=rgba.getchannel("A"))
            return out
        return im if im.mode == "RGB" else im.convert("RGB")
    except ValueError as exc:  # a colour space PIL cannot convert
        raise InputError(
            f"{dec.name} uses the {im.mode} colour mode, which this demo cannot convert to RGB. "
            "Save it as an ordinary RGB PNG or JPEG and upload it again."
        ) from exc


def _rgb_to_tensor(rgb: Image.Image) -> torch.Tensor:
    """'RGB' PIL image → contiguous uint8 [3, H, W] on the CPU.

    Splitting into planes in PIL and copying each into the tensor's buffer is the cheapest route
    measured (about 2× faster than HWC → CHW permute-copies for a 12 MP photo).
    """
    out = torch.empty((3, rgb.height, rgb.width), dtype=torch.uint8)
    planes = out.numpy()
    for i, band in enumerate(rgb.split()):
        planes[i] = np.asarray(band)
    return out


def load_image(source: ImageSource, *, device: torch.device | str | None = None) -> torch.Tensor:
    """Decode a photo safely into a uint8 RGB tensor [3, H, W] on ``device`` (default CPU).

    ``source`` is a file path (what ``gr.Image(type="filepath")`` hands over), a PIL image or a
    numpy array (HWC uint8 with 1–4 channels, or HW of bool/uint8/uint16/int32/float32); all take
    the same path after decoding. Only the formats in :data:`ALLOWED_FORMATS` are decoded, judged
    by content. The file size, pixel count, longest side and aspect ratio are checked before any
    pixel is decoded (see the module constants).

    Applied on the way: EXIF orientation; the first frame of animated/multi-page files; any mode
    → RGB: palette and 1-bit images are expanded; 16-bit and 32-bit grayscale is rescaled to
    0..255 by its bit depth (65535 → 255, not clipped); floats in [0, 1] are scaled by 255;
    CMYK and YCbCr use PIL's conversions (no ICC colour management); images with transparency
    (RGBA, LA, P or L with a transparent colour) are composited on a **white** background.

    Raises :class:`InputError` for anything a user can fix: empty, truncated or damaged files,
    non-images, unsupported formats, images over the limits.
    """
    dec = _decode(source)
    out = _rgb_to_tensor(_to_rgb(dec))
    return out if device is None else out.to(device)




# --- Annotations -------------------------------------------------------------------------------


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
    colors: tuple[tuple[int, int, int], ...] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(H, W)."""
        return int(self.values.shape[0]), int(self.values.shape[1])


def _refuse_many(name: str, count: int | None) -> InputError:
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


def _label_values(
    dec: _Decoded,
) -> tuple[torch.Tensor, tuple[tuple[int, int, int], ...] | None]:
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
            f"{name} is a {mode} colour image, not a label map. Save the annotation as a "
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


# --- The way out -------------------------------------------------------------------------------


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
    buffer = io.BytesIO()
    preview.save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _atomic_save(im: Image.Image, path: str | os.PathLike, **params: object) -> Path:
    """Write a PNG next to ``path`` and rename it into place: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fp:
            im.save(fp, format="PNG", **params)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_png(image: torch.Tensor, path: str | os.PathLike, *, compress_level: int = 6) -> Path:
    """Write uint8 [1|2|3|4, H, W] or [H, W] as PNG (L, LA, RGB or RGBA by channel count).

    RGBA keeps its alpha (cut-outs). Parent folders are created; the file appears atomically.
    ``compress_level`` 0–9 trades size for speed (1 is several times faster than 6 on photos).
    """
    if image.ndim == 3 and image.shape[0] not in (1, 2, 3, 4):
        raise ValueError(f"expected 1, 2, 3 or 4 channels, got shape {tuple(image.shape)}")
    array = to_numpy_hwc(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    # PIL infers the mode from the shape: [H, W] → L, [H, W, 2|3|4] → LA, RGB, RGBA.
    return _atomic_save(Image.fromarray(array), path, compress_level=compress_level)


def save_label_png(ids: torch.Tensor, path: str | os.PathLike) -> Path:
    """Write an integer id map [H, W] as a lossless PNG that :func:`load_annotation` reads back.

    8-bit grayscale ('L') when every value is ≤ 255, else 16-bit ('I;16'); values must lie in
    0..65535.
    """
    if not isinstance(ids, torch.Tensor) or ids.ndim != 2:
        raise ValueError(f"expected an id map [H, W] tensor, got {getattr(ids, 'shape', ids)!r}")
    if ids.dtype.is_floating_point or ids.dtype.is_complex:
        raise ValueError(f"expected an integer or bool id map, got {ids.dtype}")
    ids = ids.detach()
    if ids.numel():
        lo, hi = int(ids.min()), int(ids.max())
    else:
        lo = hi = 0
    if lo < 0 or hi > 65535:
        raise ValueError(f"id map values must lie in 0..65535 for PNG, got {lo}..{hi}")
    if hi <= 255:
        return _atomic_save(Image.fromarray(ids.to(torch.uint8).cpu().numpy()), path)
    array = ids.to(torch.int32).cpu().numpy().astype(np.uint16)
    return _atomic_save(Image.fromarray(array), path)
