"""Safe decoding of photos: a file path, PIL image or numpy array → uint8 RGB [3, H, W] tensor.

:func:`load_image` is the one door for user photos. Decoding is safe by construction:

- a file-size cap, checked from the file system before the file is opened;
- a format allow-list decided by the file's content (never its extension): ``Image.open`` is
  given only the allowed plugins, so no other plugin ever parses a header;
- the pixel / side / aspect caps, checked from the header before any pixel is decoded;
- the first frame of animations, EXIF orientation applied, every PIL mode made RGB.

Nothing here changes process-wide state: PIL's ``MAX_IMAGE_PIXELS`` and the ``warnings``
filters are left as the process has them, and decodes run in parallel (no lock).

Anything a user can get wrong raises :class:`InputError`, whose message names the file, says
what is wrong and what to do. Other exceptions are programming errors (wrong Python type).
"""

from __future__ import annotations

import logging
import math
import os
import re
import stat
import struct
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
    "MAX_PIXELS",
    "MAX_SIDE",
    "ImageSource",
    "InputError",
    "load_image",
]

# --- Limits ------------------------------------------------------------------------------------

#: The PIL plugins ``Image.open`` may try on a file; no other plugin sees its bytes.
_OPENERS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
#: Formats decoded, as PIL's detected ``Image.format`` (content sniffing, not the extension).
#: MPO is what PIL's JPEG plugin returns for many phone-camera JPEGs (a JPEG with extra preview
#: frames); it has no opener of its own, so it is not in ``_OPENERS``.
ALLOWED_FORMATS: frozenset[str] = frozenset({*_OPENERS, "MPO"})
#: Largest file read at all, checked from the file system before opening.
MAX_FILE_BYTES = 100 * 1024 * 1024
#: Largest image, in pixels (width × height), checked from the header before decoding. It is
#: below PIL's default ``MAX_IMAGE_PIXELS``, so PIL never warns about an image we accept.
MAX_PIXELS = 40_000_000
#: Longest side, in pixels.
MAX_SIDE = 8192
#: Largest ratio of the longer side to the shorter one.
MAX_ASPECT = 20

_ALLOWED_TEXT = "PNG, JPEG, WebP, BMP, TIFF or GIF"
_LOSSY_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG"}
# TGA has no signature at its start; version 2 files end with this footer.
_TGA_FOOTER = b"TRUEVISION-XFILE.\x00"

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
    """Map PIL's decode failures, its bomb refusals and running out of memory to InputError."""
    try:
        yield
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # PIL checks the header size inside Image.open, before our own check can run: above
        # twice its MAX_IMAGE_PIXELS it raises; between 1× and 2× it warns, which reaches us only
        # where the process made that warning an error. The message carries the pixel count
        # ("Image size (N pixels) exceeds ...").
        found = re.search(r"\((\d+) pixels\)", str(exc))
        count = f"{int(found.group(1)) / 1e6:,.0f} MP" if found else "too many pixels"
        raise InputError(
            f"{name} is too large ({count}); the demo takes at most {MAX_PIXELS / 1e6:.0f} MP "
            f"and {MAX_SIDE} pixels on the longest side. Resize it and upload it again."
        ) from exc
    except MemoryError as exc:
        raise InputError(
            f"{name} is too large to decode with the memory available. Upload a smaller version."
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
            f"{name} is too large: {w}×{h} pixels ({w * h / 1e6:.1f} MP); the demo takes at most "
            f"{MAX_SIDE} pixels on the longest side and {MAX_PIXELS / 1e6:.0f} MP in all. "
            f"Resize it to {fw}×{fh} or smaller and upload it again."
        )


def _pil_format(prefix: bytes, tail: bytes) -> str | None:
    """The PIL format whose signature ``prefix`` (a file's first 16 bytes) carries, if any.

    Only each plugin's signature test runs (what ``Image.open`` asks before handing a file to a
    plugin), on bytes already read: no plugin parses the file.
    """
    if tail.endswith(_TGA_FOOTER):
        return "TGA"
    Image.init()  # registers every plugin's signature test; imports only, idempotent
    for fmt, (_, accept) in list(Image.OPEN.items()):
        try:
            if accept is not None and accept(prefix):
                return fmt
        except (SyntaxError, IndexError, TypeError, struct.error):  # what Image.open tolerates
            continue
    return None


def _sniff(fp: BinaryIO) -> str:
    """Say in words what a file that no allowed plugin could open probably is."""
    fp.seek(0)
    head = fp.read(512)
    fp.seek(max(0, fp.seek(0, os.SEEK_END) - len(_TGA_FOOTER)))
    tail = fp.read()
    if head[4:8] == b"ftyp" and head[8:12] in {b"heic", b"heix", b"hevc", b"mif1", b"msf1"}:
        return "it is a HEIC/HEIF photo; on the phone, export or share it as JPEG"
    if head.startswith(b"%PDF"):
        return "it is a PDF document"
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<svg", b"<?xml")) and b"<svg" in lowered:
        return "it is an SVG drawing; export it as PNG"
    fmt = _pil_format(head[:16], tail)
    if fmt in ALLOWED_FORMATS:
        return f"its {fmt} header is damaged"
    if fmt is not None:
        return f"it is in the {fmt} format; convert it to PNG or JPEG"
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
    """The lossy compression that changed the pixel values ("JPEG", "lossy WebP", ...), or None."""
    fmt = im.format
    if fmt in _LOSSY_FORMATS:
        return _LOSSY_FORMATS[fmt]
    if fmt == "WEBP":
        return "lossy WebP" if fp is None or _webp_lossy(fp) else None
    if fmt == "TIFF" and str(im.info.get("compression", "")).lower() in {"jpeg", "tiff_jpeg"}:
        return "JPEG-compressed TIFF"
    return None


def _tiff_tag(im: Image.Image, tag: int) -> int | None:
    """The first value of a TIFF tag, or None for other formats and absent tags."""
    value = getattr(im, "tag_v2", {}).get(tag)
    if isinstance(value, tuple):
        value = value[0] if value else None
    return int(value) if value is not None else None


def _finish(im: Image.Image, name: str, fp: BinaryIO | None, *, owned: bool) -> _Decoded:
    """Allow-list, header size check, decode the first frame, EXIF transpose. Inside _guarded."""
    fmt = im.format
    if fmt is not None and fmt not in ALLOWED_FORMATS:  # a PIL image the caller opened
        raise InputError(
            f"{name} is in the {fmt} format, which this demo does not read. "
            f"Convert it to PNG or JPEG ({_ALLOWED_TEXT} work) and upload it again."
        )
    _check_size(im.width, im.height, name)
    bits, signed = _tiff_tag(im, 258), _tiff_tag(im, 339) == 2
    if im.tell() != 0:  # animations and multi-page files: frame 0
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
    """Check the file, open it with the allowed plugins only, and decode its first frame."""
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
            im = Image.open(fp, formats=_OPENERS)
        except UnidentifiedImageError as exc:
            raise InputError(
                f"{name} is not an image this demo can read ({_sniff(fp)}). "
                f"Upload a {_ALLOWED_TEXT} photo."
            ) from exc
        return _finish(im, name, fp, owned=True)


def _decode_pil(im: Image.Image, name: str | None = None, *, owned: bool = False) -> _Decoded:
    """Check and decode a PIL image; the caller's image is copied before it would be changed."""
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
    """Decode any accepted source: a file path, a PIL image or a numpy array."""
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

    PIL splits the image into planes and each is copied straight into the tensor's buffer, which
    avoids a strided HWC → CHW permute-copy of the whole photo.
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
