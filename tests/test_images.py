"""The image-IO boundary: every PIL mode, EXIF orientation, hostile files, annotations, export.

Every fixture file is built in tmp_path at test time; expected pixels are written out by hand.
"""

from __future__ import annotations

import io
import os
import re
import struct
import subprocess
import sys
import threading
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from segdemo import images
from segdemo.images import (
    InputError,
    decode,
    load_annotation,
    load_image,
    read_annotation,
    save_label_png,
    save_png,
    to_numpy_hwc,
)
from tests.helpers import DEVICES

Builder = Callable[[Path], Path]


# --- Fixture helpers ---------------------------------------------------------------------------


def _save(im: Image.Image, path: Path, **params: object) -> Path:
    im.save(path, **params)
    return path


def _from_bytes(mode: str, size: tuple[int, int], values: list, dtype: str) -> Image.Image:
    return Image.frombytes(mode, size, np.array(values, dtype=dtype).tobytes())


def _pixels(mode: str, rows: list[list]) -> Image.Image:
    """A small image of ``mode`` with the given rows of pixel values."""
    h, w = len(rows), len(rows[0])
    im = Image.new(mode, (w, h))
    im.putdata([p for row in rows for p in row])
    return im


def _palette(entries: dict[int, tuple[int, int, int]]) -> list[int]:
    flat = [0] * 768
    for index, rgb in entries.items():
        flat[3 * index : 3 * index + 3] = rgb
    return flat


def _p_image(rows: list[list[int]], entries: dict[int, tuple[int, int, int]]) -> Image.Image:
    im = Image.fromarray(np.array(rows, dtype=np.uint8)).convert("P")
    im.putpalette(_palette(entries))
    # fromarray + convert("P") keeps the indices as given; check we built what we meant.
    assert np.array_equal(np.asarray(im), np.array(rows)), "palette fixture indices changed"
    return im


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width×height but whose data is a few bytes: no pixels exist."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + _chunk(b"IEND", b"")
    )


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _hwc(image: torch.Tensor) -> list:
    assert image.dtype == torch.uint8 and image.ndim == 3 and image.shape[0] == 3
    assert image.is_contiguous()
    return image.permute(1, 2, 0).tolist()


def _gray(rows: list[list[int]]) -> list:
    return [[[v, v, v] for v in row] for row in rows]


# --- Every mode to RGB, pixel-exact ------------------------------------------------------------

RED, GREEN, BLUE, WHITE = (200, 0, 0), (0, 200, 0), (10, 20, 30), (255, 255, 255)


def _gif_two_frames(path: Path) -> Path:
    first = _p_image([[1, 2]], {1: RED, 2: GREEN})
    second = _p_image([[2, 1]], {1: RED, 2: GREEN})
    # optimize=False: PIL's GIF writer would otherwise renumber the palette (1, 2 → 0, 1).
    return _save(
        first,
        path / "anim.gif",
        save_all=True,
        append_images=[second],
        duration=50,
        optimize=False,
    )


MODE_CASES = [
    pytest.param(
        lambda p: _save(
            Image.fromarray(np.array([[[255, 0, 0], [1, 2, 3]]], np.uint8)), p / "a.png"
        ),
        [[[255, 0, 0], [1, 2, 3]]],
        id="RGB-png",
    ),
    pytest.param(
        lambda p: _save(_pixels("L", [[0, 7], [128, 255]]), p / "a.png"),
        _gray([[0, 7], [128, 255]]),
        id="L-png",
    ),
    pytest.param(
        lambda p: _save(_pixels("1", [[0, 1, 0]]), p / "a.png"),
        _gray([[0, 255, 0]]),
        id="1-png",
    ),
    pytest.param(
        lambda p: _save(
            _p_image([[0, 1], [2, 255]], {0: BLUE, 1: RED, 2: GREEN, 255: WHITE}), p / "a.png"
        ),
        [[list(BLUE), list(RED)], [list(GREEN), list(WHITE)]],
        id="P-palette-png",
    ),
    pytest.param(
        lambda p: _save(_p_image([[0, 1]], {0: BLUE, 1: RED}), p / "a.png", transparency=0),
        [[list(WHITE), list(RED)]],
        id="P-transparent-index-png",
    ),
    pytest.param(_gif_two_frames, [[list(RED), list(GREEN)]], id="GIF-first-frame"),
    pytest.param(
        lambda p: _save(_pixels("LA", [[(10, 0), (10, 255), (0, 128)]]), p / "a.png"),
        _gray([[255, 10, 127]]),  # over white: round((l·a + 255·(255 − a)) / 255)
        id="LA-png-over-white",
    ),
    pytest.param(
        lambda p: _save(
            _pixels(
                "RGBA", [[(200, 100, 50, 0), (200, 100, 50, 255), (0, 0, 0, 128), (255, 0, 0, 51)]]
            ),
            p / "a.png",
        ),
        [[[255, 255, 255], [200, 100, 50], [127, 127, 127], [255, 204, 204]]],
        id="RGBA-png-over-white",
    ),
    pytest.param(
        lambda p: _save(
            _pixels("CMYK", [[(0, 0, 0, 0), (0, 0, 0, 255), (255, 0, 0, 0), (0, 255, 0, 0)]]),
            p / "a.tif",
        ),
        [[[255, 255, 255], [0, 0, 0], [0, 255, 255], [255, 0, 255]]],
        id="CMYK-tiff",
    ),
    pytest.param(
        lambda p: _save(_from_bytes("I;16", (4, 1), [0, 257, 32896, 65535], "<u2"), p / "a.png"),
        _gray([[0, 1, 128, 255]]),  # v / 257: rescaled by the 16-bit depth, not clipped at 255
        id="I;16-png",
    ),
    pytest.param(
        lambda p: _save(_from_bytes("I;16B", (4, 1), [0, 257, 32896, 65535], ">u2"), p / "a.tif"),
        _gray([[0, 1, 128, 255]]),
        id="I;16B-tiff",
    ),
    pytest.param(
        lambda p: _save(_from_bytes("I", (3, 1), [-(2**31), 0, 2**31 - 1], "<i4"), p / "a.tif"),
        _gray([[0, 128, 255]]),  # signed 32-bit: the whole range maps onto 0..255
        id="I-int32-tiff",
    ),
    pytest.param(
        lambda p: _save(_from_bytes("F", (3, 1), [0.0, 0.5, 1.0], "<f4"), p / "a.tif"),
        _gray([[0, 128, 255]]),
        id="F-unit-range-tiff",
    ),
    pytest.param(
        lambda p: _save(_from_bytes("F", (3, 1), [-1.0, 1.0, 3.0], "<f4"), p / "a.tif"),
        _gray([[0, 128, 255]]),  # outside [0, 1]: stretched min..max
        id="F-stretched-tiff",
    ),
    pytest.param(
        lambda p: _save(Image.fromarray(np.array([[[9, 8, 7], [6, 5, 4]]], np.uint8)), p / "a.bmp"),
        [[[9, 8, 7], [6, 5, 4]]],
        id="RGB-bmp",
    ),
    pytest.param(
        lambda p: _save(
            Image.fromarray(np.array([[[9, 8, 7], [6, 5, 4]]], np.uint8)),
            p / "a.webp",
            lossless=True,
        ),
        [[[9, 8, 7], [6, 5, 4]]],
        id="RGB-webp-lossless",
    ),
    pytest.param(
        lambda p: _save(_pixels("L", [[0, 255]]), p / "photo.jpg", format="PNG"),
        _gray([[0, 255]]),  # a PNG named .jpg: the content decides, not the extension
        id="PNG-named-jpg",
    ),
]


@pytest.mark.parametrize(("build", "expected"), MODE_CASES)
def test_load_image_converts_every_mode_to_rgb_exactly(
    tmp_path: Path, build: Builder, expected: list
) -> None:
    assert _hwc(load_image(build(tmp_path))) == expected


def test_jpeg_loads_as_rgb(tmp_path: Path) -> None:
    path = _save(Image.new("RGB", (16, 8), (128, 64, 32)), tmp_path / "a.jpg", quality=95)
    image = load_image(path)
    assert image.shape == (3, 8, 16) and image.dtype == torch.uint8
    assert (image.int() - torch.tensor([128, 64, 32]).view(3, 1, 1)).abs().max() <= 2


@pytest.mark.parametrize("device", DEVICES)
def test_load_image_puts_the_tensor_on_the_device(tmp_path: Path, device: str) -> None:
    path = _save(Image.fromarray(_noise(5, 7)), tmp_path / "a.png")
    image = load_image(path, device=device)
    assert image.device.type == device and image.shape == (3, 5, 7)
    assert np.array_equal(to_numpy_hwc(image), _noise(5, 7))


ARRAY_CASES = [
    pytest.param(np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8), [[[1, 2, 3], [4, 5, 6]]], id="HWC3"),
    pytest.param(np.array([[0, 9]], np.uint8), _gray([[0, 9]]), id="HW-uint8"),
    pytest.param(np.array([[[0], [9]]], np.uint8), _gray([[0, 9]]), id="HWC1"),
    pytest.param(
        np.array([[[1, 2, 3, 255], [1, 2, 3, 0]]], np.uint8),
        [[[1, 2, 3], [255, 255, 255]]],
        id="HWC4-over-white",
    ),
    pytest.param(np.array([[False, True]]), _gray([[0, 255]]), id="HW-bool"),
    pytest.param(np.array([[0, 65535]], np.uint16), _gray([[0, 255]]), id="HW-uint16"),
    pytest.param(np.array([[0, 65535]], np.int32), _gray([[0, 255]]), id="HW-int32-16bit-data"),
]


@pytest.mark.parametrize(("array", "expected"), ARRAY_CASES)
def test_arrays_take_the_same_path(array: np.ndarray, expected: list) -> None:
    assert _hwc(load_image(array)) == expected


def test_pil_input_takes_the_same_path_and_is_not_modified(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _save(_pixels("L", [[10, 20, 30], [40, 50, 60]]), tmp_path / "a.png", exif=exif)
    with Image.open(path) as im:
        image = load_image(im)
        assert im.size == (3, 2)  # the caller's image is not transposed in place
    assert _hwc(image) == _gray([[40, 10], [50, 20], [60, 30]])
    ycbcr = Image.new("YCbCr", (2, 1), (128, 128, 128))
    assert _hwc(load_image(ycbcr)) == _gray([[128, 128]])


# --- EXIF orientation --------------------------------------------------------------------------

SOURCE = [[10, 20, 30], [40, 50, 60]]  # 3 wide, 2 tall
ORIENTED = {
    1: SOURCE,
    2: [[30, 20, 10], [60, 50, 40]],  # mirrored
    3: [[60, 50, 40], [30, 20, 10]],  # turned 180°
    6: [[40, 10], [50, 20], [60, 30]],  # turned 90° clockwise
    8: [[30, 60], [20, 50], [10, 40]],  # turned 90° counter-clockwise
}


@pytest.mark.parametrize("orientation", sorted(ORIENTED))
@pytest.mark.parametrize("suffix", ["png", "tif", "webp"])
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int, suffix: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    params: dict[str, object] = {"exif": exif}
    if suffix == "webp":
        params["lossless"] = True
    path = _save(_pixels("L", SOURCE), tmp_path / f"a.{suffix}", **params)
    assert _hwc(load_image(path)) == _gray(ORIENTED[orientation])


def test_broken_exif_block_still_shows_the_pixels(tmp_path: Path) -> None:
    path = _save(_pixels("L", SOURCE), tmp_path / "a.png", exif=b"garbage!!")
    assert _hwc(load_image(path)) == _gray(SOURCE)


# --- Hostile and over-limit inputs -------------------------------------------------------------


def _truncated_png(p: Path) -> Path:
    whole = _save(Image.fromarray(_noise(64, 64)), p / "whole.png")
    return _write(p / "cut.png", whole.read_bytes()[: whole.stat().st_size // 2])


def _broken_crc_png(p: Path) -> Path:
    data = bytearray(_save(Image.fromarray(_noise(16, 16)), p / "whole.png").read_bytes())
    data[-20] ^= 0xFF  # inside the last IDAT chunk
    return _write(p / "broken.png", bytes(data))


# Refused from the file system, the signature or the header: no pixel is ever decoded.
HOSTILE_IMAGES = [
    pytest.param(lambda p: _write(p / "photo.png", b""), r"photo\.png is empty", id="empty"),
    pytest.param(
        lambda p: _write(p / "photo.png", b"hello, I am not a picture\n" * 10),
        r"photo\.png is not an image .*text file.*Upload a PNG, JPEG",
        id="text-named-png",
    ),
    pytest.param(
        lambda p: _write(p / "x.png", b'<?xml version="1.0"?><svg xmlns="x"></svg>'),
        r"SVG drawing",
        id="svg",
    ),
    pytest.param(
        lambda p: _write(p / "IMG_0001.png", b"\x00\x00\x00\x18ftypheic" + bytes(64)),
        r"HEIC.*JPEG",
        id="heic",
    ),
    pytest.param(
        lambda p: _write(p / "x.png", bytes(range(256)) * 4),
        r"damaged or is not an image",
        id="binary-garbage",
    ),
    pytest.param(
        lambda p: _write(p / "zero.png", _png_header_only(0, 5)), r"zero\.png", id="zero-width"
    ),
    pytest.param(
        lambda p: _write(p / "bomb.png", _png_header_only(100_000, 100_000)),
        r"bomb\.png is too large \(10,000 MP\)",
        id="bomb-100000x100000",
    ),
    pytest.param(
        lambda p: _write(p / "bomb.png", _png_header_only(12_000, 8_000)),
        r"bomb\.png is too large: 12000×8000 pixels \(96\.0 MP\).*Resize it to 7745×5163",
        # between 1× and 2× PIL's default limit: PIL warns (its business), our check refuses
        marks=pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
        id="pil-warning-range",
    ),
    pytest.param(
        lambda p: _write(p / "big.png", _png_header_only(8000, 6000)),
        r"big\.png is too large: 8000×6000 pixels \(48\.0 MP\).*40 MP in all",
        id="over-pixel-cap",
    ),
    pytest.param(
        lambda p: _write(p / "wide.png", _png_header_only(9000, 1000)),
        r"9000×1000 pixels .*8192 pixels on the longest side.*Resize it to 8192×910",
        id="over-side-cap",
    ),
    pytest.param(
        lambda p: _write(p / "strip.png", _png_header_only(10_000, 2)),
        r"10000×2 pixels, a 5000:1 strip.*20:1",
        id="extreme-aspect",
    ),
    pytest.param(
        lambda p: _write(p / "tall.png", _png_header_only(3, 100)),
        r"3×100 pixels, a 33:1 strip",
        id="tall-aspect",
    ),
    pytest.param(
        lambda p: _save(Image.new("RGB", (16, 16)), p / "icon.ico"),
        r"icon\.ico is not an image this demo can read \(it is in the ICO format; convert it to "
        r"PNG or JPEG\)\. Upload a PNG, JPEG, WebP, BMP, TIFF or GIF photo\.",
        id="ico",
    ),
    pytest.param(
        lambda p: _save(Image.new("RGB", (4, 4)), p / "photo.png", format="PPM"),
        r"photo\.png is not an image .*the PPM format",  # the content names it, not the extension
        id="ppm-named-png",
    ),
    pytest.param(
        lambda p: _save(Image.new("RGB", (4, 4)), p / "a.tga"), r"the TGA format", id="tga"
    ),
    pytest.param(
        lambda p: _save(Image.new("RGB", (4, 4)), p / "layers.psd", format="ICO"),
        r"layers\.psd .*the ICO format",
        id="ico-named-psd",
    ),
    pytest.param(
        lambda p: _write(p / "x.png", b"\x89PNG\r\n\x1a\n" + bytes(40)),
        r"x\.png is not an image .*its PNG header is damaged",
        id="png-cut-in-header",
    ),
    pytest.param(lambda p: p / "missing.png", r"missing\.png was not found", id="missing"),
    pytest.param(lambda p: p, r"not a file", id="folder"),
]


def _assert_clear(message: str) -> None:
    assert "Traceback" not in message and "cannot identify" not in message
    assert "decompression bomb" not in message
    assert re.search(r"\ba [AEIOU]", message) is None, message  # "an ICO", never "a ICO"


def _record_decodes(monkeypatch: pytest.MonkeyPatch, *, refuse: bool) -> list[tuple[int, int]]:
    """Record the size of every pixel decode (``load``); with ``refuse``, make each one fail."""
    Image.init()  # first: importing some plugins builds (and loads) in-memory images
    decoded: list[tuple[int, int]] = []

    def patch(cls: type[Image.Image]) -> None:
        original = cls.load

        def load(self: Image.Image) -> object:
            decoded.append(self.size)
            if refuse:
                raise AssertionError("decoded")
            return original(self)

        monkeypatch.setattr(cls, "load", load)

    patch(Image.Image)
    patch(ImageFile.ImageFile)
    return decoded


@pytest.mark.parametrize(("build", "match"), HOSTILE_IMAGES)
def test_hostile_files_are_refused_with_a_clear_message(
    tmp_path: Path, build: Builder, match: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = build(tmp_path)
    decoded = _record_decodes(monkeypatch, refuse=True)
    with pytest.raises(InputError, match=match) as info:
        load_image(path)
    assert decoded == []  # refused before any pixel decode was attempted
    _assert_clear(str(info.value))


# Refused while decoding the pixels: the header was fine.
DAMAGED_IMAGES = [
    pytest.param(_truncated_png, r"cut\.png could not be decoded: .*damaged", id="truncated-png"),
    pytest.param(_broken_crc_png, r"could not be decoded", id="broken-crc-png"),
]


@pytest.mark.parametrize(("build", "match"), DAMAGED_IMAGES)
def test_damaged_files_are_refused_with_a_clear_message(
    tmp_path: Path, build: Builder, match: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = build(tmp_path)
    decoded = _record_decodes(monkeypatch, refuse=False)
    with pytest.raises(InputError, match=match) as info:
        load_image(path)
    assert decoded  # the refusal came from the decode itself
    _assert_clear(str(info.value))


def test_pil_image_of_a_format_outside_the_allow_list_is_refused(tmp_path: Path) -> None:
    path = _save(Image.new("RGB", (16, 16)), tmp_path / "icon.ico")
    with Image.open(path) as im, pytest.raises(InputError, match="in the ICO format") as info:
        load_image(im)
    _assert_clear(str(info.value))


def test_pil_bomb_warning_made_an_error_by_the_process_is_a_clear_refusal(tmp_path: Path) -> None:
    path = _write(tmp_path / "huge.png", _png_header_only(12_000, 8_000))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # e.g. python -W error
        with pytest.raises(InputError, match=r"huge\.png is too large \(96 MP\)") as info:
            load_image(path)
    _assert_clear(str(info.value))


def test_file_size_cap_is_checked_before_opening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _save(Image.fromarray(_noise(32, 32)), tmp_path / "a.png")
    monkeypatch.setattr(decode, "MAX_FILE_BYTES", 1024)
    with pytest.raises(InputError, match=r"a\.png is .* MB; the limit is"):
        load_image(path)


@pytest.mark.parametrize(
    ("array", "error", "match"),
    [
        (np.zeros((0, 5, 3), np.uint8), InputError, "no pixels"),
        (np.zeros((2, 100, 3), np.uint8), InputError, "50:1 strip"),
        (np.zeros((2, 2, 3), np.float64), ValueError, "float64"),
        (np.zeros((2, 2, 5), np.uint8), ValueError, "uint8"),
    ],
)
def test_bad_arrays_are_refused(array: np.ndarray, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        load_image(array)


def test_wrong_source_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="file path, a PIL image or a numpy array"):
        load_image(12)  # type: ignore[arg-type]


def test_decoding_leaves_global_warning_filters_alone(tmp_path: Path) -> None:
    limit, before = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    load_image(_save(_pixels("L", [[1]]), tmp_path / "a.png"))
    with pytest.raises(InputError):
        load_image(_write(tmp_path / "big.png", _png_header_only(8000, 6000)))
    assert warnings.filters == before
    assert limit == Image.MAX_IMAGE_PIXELS


def test_importing_the_package_changes_no_process_wide_state() -> None:
    # Everything segdemo.images imports is imported first, so only its own effect is measured.
    code = """
import warnings
import numpy, torch
from PIL import Image, ImageOps
import segdemo
limit, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
import segdemo.images
assert Image.MAX_IMAGE_PIXELS == limit == 1024 * 1024 * 1024 // 4 // 3, Image.MAX_IMAGE_PIXELS
assert warnings.filters == filters, warnings.filters
print("unchanged")
"""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip() == "unchanged", done.stderr


def test_our_pixel_cap_is_stricter_than_pils_default() -> None:
    # So PIL never warns about an image we accept, and its warning needs no handling of ours.
    assert decode.MAX_PIXELS < 1024 * 1024 * 1024 // 4 // 3  # PIL's default MAX_IMAGE_PIXELS
    assert decode.MAX_PIXELS <= decode.MAX_SIDE**2


def test_a_slow_decode_does_not_stall_other_decodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = _save(Image.fromarray(_noise(600, 800)), tmp_path / "big.png")
    small = _save(_pixels("L", [[1, 2]]), tmp_path / "small.png")
    started, release = threading.Event(), threading.Event()
    original = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile) -> object:
        if self.size == (800, 600):  # only the big file's decode is held up
            started.set()
            release.wait(timeout=60)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    results: dict[str, torch.Tensor | BaseException] = {}

    def run(key: str, path: Path) -> None:
        try:
            results[key] = load_image(path)
        except BaseException as exc:
            results[key] = exc

    slow = threading.Thread(target=run, args=("big", big), daemon=True)
    slow.start()
    try:
        assert started.wait(timeout=60), "the big decode never started"
        quick = threading.Thread(target=run, args=("small", small), daemon=True)
        quick.start()
        quick.join(timeout=15)
        assert not quick.is_alive(), "the small decode waited for the big one"
        assert slow.is_alive() and "big" not in results  # still held up in its decode
        small_image = results["small"]
        assert isinstance(small_image, torch.Tensor) and _hwc(small_image) == _gray([[1, 2]])
    finally:
        release.set()
        slow.join(timeout=60)
    big_image = results["big"]
    assert isinstance(big_image, torch.Tensor) and np.array_equal(
        to_numpy_hwc(big_image), _noise(600, 800)
    )


# --- Annotations -------------------------------------------------------------------------------


def test_trimap_values_are_kept_and_to_tensor_shows_the_lesson(tmp_path: Path) -> None:
    path = _save(_pixels("L", [[1, 2], [3, 1]]), tmp_path / "trimap.png")
    annotation = read_annotation(path, size=(2, 2))
    assert annotation.mode == "L" and annotation.size == (2, 2) and annotation.colors is None
    assert annotation.values.dtype == torch.int32
    assert annotation.values.tolist() == [[1, 2], [3, 1]]
    assert annotation.to_tensor is not None
    expected = torch.tensor([[[1, 2], [3, 1]]], dtype=torch.float32) / 255
    assert torch.equal(annotation.to_tensor, expected)  # 0.0039, 0.0078, 0.0118
    assert torch.equal(load_annotation(path), annotation.values)


def test_voc_palette_indices_with_void_are_kept(tmp_path: Path) -> None:
    rows = [[0, 15, 15], [255, 0, 1]]  # background, person, void, aeroplane
    im = _p_image(rows, {0: (0, 0, 0), 1: (128, 0, 0), 15: (192, 128, 128), 255: (224, 224, 192)})
    annotation = read_annotation(_save(im, tmp_path / "2007_000032.png"))
    assert annotation.mode == "P"
    assert annotation.values.tolist() == rows
    assert annotation.to_tensor is not None and annotation.to_tensor[0, 1, 0].item() == 1.0


LABEL_CASES = [
    pytest.param(
        lambda p: _save(_from_bytes("I;16", (3, 1), [0, 300, 65535], "<u2"), p / "ids.png"),
        "I;16",
        [[0, 300, 65535]],
        [[0, 300, -1]],  # ToTensor keeps int16 values (and wraps)
        id="I;16-png",
    ),
    pytest.param(
        lambda p: _save(_from_bytes("I;16B", (3, 1), [0, 300, 65535], ">u2"), p / "ids.tif"),
        "I;16B",
        [[0, 300, 65535]],
        [[0, 300, -1]],
        id="I;16B-tiff",
    ),
    pytest.param(
        lambda p: _save(_pixels("1", [[0, 1, 1]]), p / "mask.png"),
        "1",
        [[0, 1, 1]],
        [[0.0, 1.0, 1.0]],
        id="1-bit",
    ),
    pytest.param(
        lambda p: _save(Image.fromarray(np.array([[[3, 3, 3], [7, 7, 7]]], np.uint8)), p / "g.png"),
        "RGB",
        [[3, 7]],
        None,
        id="RGB-gray",
    ),
    pytest.param(
        lambda p: _save(_pixels("LA", [[(1, 255), (2, 0)]]), p / "la.png"),
        "LA",
        [[1, 2]],
        None,
        id="LA-first-band",
    ),
    pytest.param(
        lambda p: _save(_pixels("L", [[0, 1], [2, 3]]), p / "lossless.webp", lossless=True),
        "RGB",
        [[0, 1], [2, 3]],
        None,  # WebP has no gray mode: stored as R = G = B
        id="lossless-webp",
    ),
    pytest.param(
        lambda p: _save(_from_bytes("F", (2, 1), [4.0, 9.0], "<f4"), p / "f.tif"),
        "F",
        [[4, 9]],
        [[4.0, 9.0]],
        id="F-whole-numbers",
    ),
]


@pytest.mark.parametrize(("build", "mode", "values", "converted"), LABEL_CASES)
def test_label_maps_keep_their_stored_values(
    tmp_path: Path, build: Builder, mode: str, values: list, converted: list | None
) -> None:
    annotation = read_annotation(build(tmp_path))
    assert annotation.mode == mode
    assert annotation.values.dtype == torch.int32 and annotation.values.tolist() == values
    assert annotation.to_tensor is not None
    if converted is not None:
        assert annotation.to_tensor[0].tolist() == converted


def test_colour_coded_maps_become_indices_in_sorted_colour_order(tmp_path: Path) -> None:
    red, black, green = (255, 0, 0), (0, 0, 0), (0, 128, 0)
    rgb = np.array([[red, black], [green, red]], np.uint8)
    annotation = read_annotation(_save(Image.fromarray(rgb), tmp_path / "classes.png"))
    assert annotation.colors == (black, green, red)  # 0x000000 < 0x008000 < 0xFF0000
    assert annotation.values.tolist() == [[2, 0], [1, 2]]


def test_annotation_gif_first_frame_and_exif_rotation(tmp_path: Path) -> None:
    assert load_annotation(_gif_two_frames(tmp_path)).tolist() == [[1, 2]]
    exif = Image.Exif()
    exif[0x0112] = 6
    rows = [[1, 2, 3], [4, 5, 6]]
    im = _p_image(rows, {i: (i, i, i) for i in range(7)})
    path = _save(im, tmp_path / "rotated.png", exif=exif)
    # Turned like the photo would be, and compared with the photo's size after turning.
    assert load_annotation(path, size=(3, 2)).tolist() == [[4, 1], [5, 2], [6, 3]]


@pytest.mark.parametrize("device", DEVICES)
def test_annotation_on_the_device(tmp_path: Path, device: str) -> None:
    path = _save(_pixels("L", [[1, 2]]), tmp_path / "trimap.png")
    annotation = read_annotation(path, device=device)
    assert annotation.values.device.type == device
    assert annotation.to_tensor is not None and annotation.to_tensor.device.type == device


def _many_values_16(p: Path) -> Path:
    ramp = np.arange(1000, dtype=np.uint16).reshape(25, 40)
    return _save(Image.fromarray(ramp), p / "ids.png")


HOSTILE_ANNOTATIONS = [
    pytest.param(
        lambda p: _save(_pixels("L", [[1, 2], [3, 1]]), p / "trimap.jpg", quality=100),
        None,
        r"trimap\.jpg is a JPEG file: lossy compression changes mask values.*PNG",
        id="jpeg",
    ),
    pytest.param(
        lambda p: _save(_pixels("L", [[1, 2], [3, 1]]), p / "mask.png", format="JPEG"),
        None,
        r"mask\.png is a JPEG file",
        id="jpeg-named-png",
    ),
    pytest.param(
        lambda p: _save(_pixels("L", [[1, 2], [3, 1]]), p / "mask.webp", quality=90),
        None,
        r"lossy WebP",
        id="lossy-webp",
    ),
    pytest.param(
        lambda p: _save(Image.new("RGB", (16, 16)), p / "mask.tif", compression="jpeg"),
        None,
        r"JPEG-compressed TIFF",
        id="jpeg-tiff",
    ),
    pytest.param(
        lambda p: _save(Image.new("L", (451, 300)), p / "trimap.png"),
        (600, 902),
        r"trimap\.png is 451×300 pixels but the photo is 902×600; use the annotation",
        id="size-mismatch",
    ),
    pytest.param(
        lambda p: _save(Image.new("L", (3, 2)), p / "trimap.png"),
        (3, 2),
        r"turned by 90°",
        id="size-mismatch-turned",
    ),
    pytest.param(
        lambda p: _save(Image.fromarray(_noise(64, 64)), p / "photo.png"),
        None,
        r"photo\.png has 4096 different values.*looks like a photo",
        id="photo-as-annotation",
    ),
    pytest.param(
        lambda p: _save(Image.fromarray(_noise(400, 400)), p / "big.png", compress_level=0),
        None,
        r"big\.png has more than 256 different values",  # refused from a sample
        id="large-photo-as-annotation",
    ),
    pytest.param(
        _many_values_16, None, r"ids\.png has 1000 different values", id="16-bit-1000-values"
    ),
    pytest.param(
        lambda p: _save(Image.new("CMYK", (2, 2)), p / "c.tif"),
        None,
        r"c\.tif is a colour image \(CMYK mode\), not a label map",
        id="cmyk",
    ),
    pytest.param(
        lambda p: _save(_from_bytes("F", (2, 1), [0.25, 1.0], "<f4"), p / "f.tif"),
        None,
        r"fractional values",
        id="fractional-floats",
    ),
    pytest.param(
        lambda p: _write(p / "trimap.png", b"not a png"),
        None,
        r"trimap\.png is not an image",
        id="text",
    ),
]


@pytest.mark.parametrize(("build", "size", "match"), HOSTILE_ANNOTATIONS)
def test_bad_annotations_are_refused_with_a_clear_message(
    tmp_path: Path, build: Builder, size: tuple[int, int] | None, match: str
) -> None:
    with pytest.raises(InputError, match=match):
        load_annotation(build(tmp_path), size=size)


def test_lossless_webp_with_alpha_is_not_mistaken_for_lossy(tmp_path: Path) -> None:
    im = _pixels("RGBA", [[(1, 1, 1, 255), (2, 2, 2, 0)]])
    # exact=True: without it libwebp zeroes the colour under alpha 0, even when lossless.
    path = _save(im, tmp_path / "a.webp", lossless=True, exact=True)
    assert load_annotation(path).tolist() == [[1, 2]]
    with pytest.raises(InputError, match="lossy WebP"):
        load_annotation(_save(im, tmp_path / "b.webp", quality=100))


# --- The way out -------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_to_numpy_hwc(device: str) -> None:
    chw = torch.arange(2 * 3 * 4, dtype=torch.uint8, device=device).reshape(2, 3, 4)
    out = to_numpy_hwc(chw)
    assert out.shape == (3, 4, 2) and out.dtype == np.uint8 and out.flags.c_contiguous
    assert np.array_equal(out, chw.cpu().numpy().transpose(1, 2, 0))
    hw = chw[0, :, ::2]  # a non-contiguous [H, W]
    assert np.array_equal(to_numpy_hwc(hw), chw[0, :, ::2].cpu().numpy())
    assert to_numpy_hwc(hw).flags.c_contiguous


@pytest.mark.parametrize(
    ("tensor", "match"),
    [
        (torch.zeros(3, 2, 2), "uint8"),
        (torch.zeros(1, 3, 2, 2, dtype=torch.uint8), "shape"),
    ],
)
def test_to_numpy_hwc_refuses_what_it_cannot_show(tensor: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        to_numpy_hwc(tensor)


@pytest.mark.parametrize(
    ("channels", "mode"), [(None, "L"), (1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")]
)
def test_save_png_round_trips_exactly(tmp_path: Path, channels: int | None, mode: str) -> None:
    shape = (5, 6) if channels is None else (channels, 5, 6)
    image = torch.randint(
        0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    path = save_png(image, tmp_path / "out" / "x.png")
    assert path == tmp_path / "out" / "x.png"
    assert [p.name for p in path.parent.iterdir()] == ["x.png"]  # no temporary left behind
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == mode
        stored = np.asarray(im)
    expected = image.numpy() if image.ndim == 2 else image.permute(1, 2, 0).numpy()
    assert np.array_equal(stored, expected.squeeze(-1) if channels == 1 else expected)


def _pil_image(mode: str, height: int, width: int, seed: int) -> Image.Image:
    """A random ``mode`` image (for "P": a random palette and a transparent index)."""
    rng = np.random.default_rng(seed)
    channels = {"LA": 2, "RGB": 3, "RGBA": 4}.get(mode)
    if mode == "1":
        return Image.fromarray(rng.random((height, width)) < 0.5)
    if mode == "I;16":
        values = rng.integers(0, 65536, (height, width), dtype=np.uint16)
        return Image.fromarray(values)
    shape = (height, width) if channels is None else (height, width, channels)
    image = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode)
    if mode == "P":
        image.putpalette(rng.integers(0, 256, 768, dtype=np.uint8).tolist())
        image.info["transparency"] = 7
    return image


@pytest.mark.parametrize("mode", sorted(images.encode.PNG_MODES))
@pytest.mark.parametrize(("height", "width"), [(1, 1), (3, 17), (40, 9), (64, 130)])
def test_png_bytes_round_trips_every_mode_exactly(mode: str, height: int, width: int) -> None:
    image = _pil_image(mode, height, width, seed=height * width)
    data = images.png_bytes(image)
    with Image.open(io.BytesIO(data)) as check:
        check.verify()  # chunk CRCs and structure
    with Image.open(io.BytesIO(data)) as back:
        assert back.format == "PNG" and back.mode == image.mode and back.size == image.size
        assert np.array_equal(np.asarray(back), np.asarray(image))
        if mode == "P":
            assert back.getpalette() == image.getpalette()
            assert back.info["transparency"] == 7


@pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_png_bytes_agrees_with_libpng(channels: int) -> None:
    """A second decoder, libpng (torchvision's), reads the same pixels as PIL does."""
    from torchvision.io import decode_png

    image = torch.randint(
        0, 256, (channels, 37, 53), dtype=torch.uint8, generator=torch.Generator().manual_seed(3)
    )
    data = images.png_bytes(image)
    assert torch.equal(decode_png(torch.frombuffer(bytearray(data), dtype=torch.uint8)), image)


def test_png_bytes_splits_a_long_stream_into_idat_chunks(monkeypatch) -> None:
    monkeypatch.setattr(images.encode, "_IDAT_BYTES", 100)
    image = _pil_image("RGB", 30, 40, seed=1)
    data = images.png_bytes(image)
    assert data.count(b"IDAT") > 10
    with Image.open(io.BytesIO(data)) as back:
        assert np.array_equal(np.asarray(back), np.asarray(image))


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (Image.new("F", (2, 2)), "mode 'F'"),
        (Image.new("CMYK", (2, 2)), "mode 'CMYK'"),
        (Image.new("RGB", (0, 3)), "at least one pixel"),
    ],
)
def test_png_bytes_refuses_what_it_cannot_write(image: Image.Image, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        images.png_bytes(image)


@pytest.mark.parametrize(
    ("ids", "mode"),
    [
        (torch.tensor([[0, 1], [255, 3]], dtype=torch.int32), "L"),
        (torch.tensor([[0, 256], [65535, 3]], dtype=torch.int64), "I;16"),
        (torch.tensor([[False, True]]), "L"),
    ],
)
def test_save_label_png_round_trips_through_load_annotation(
    tmp_path: Path, ids: torch.Tensor, mode: str
) -> None:
    path = save_label_png(ids, tmp_path / "ids.png")
    with Image.open(path) as im:
        assert im.mode == mode
    assert torch.equal(load_annotation(path), ids.to(torch.int32))


@pytest.mark.parametrize(
    "ids",
    [
        torch.tensor([[-1, 0]]),
        torch.tensor([[0, 65536]]),
        torch.zeros(2, 2, 2, dtype=torch.int32),
        torch.zeros(2, 2),
    ],
)
def test_save_label_png_refuses_what_png_cannot_hold(tmp_path: Path, ids: torch.Tensor) -> None:
    with pytest.raises(ValueError):
        save_label_png(ids, tmp_path / "ids.png")


_FAST = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_FAST
@given(
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    channels=st.sampled_from([3, 4]),
    seed=st.integers(0, 2**31),
)
def test_saved_images_load_back_exactly(
    tmp_path: Path, h: int, w: int, channels: int, seed: int
) -> None:
    if max(h, w) > images.MAX_ASPECT * min(h, w):
        return
    generator = torch.Generator().manual_seed(seed)
    image = torch.randint(0, 256, (channels, h, w), dtype=torch.uint8, generator=generator)
    if channels == 4:
        image[3] = 255  # opaque: compositing on white is then the identity
    loaded = load_image(save_png(image, tmp_path / "x.png"))
    assert torch.equal(loaded, image[:3])


@_FAST
@given(
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    pool=st.lists(st.integers(0, 65535), min_size=1, max_size=8),
    seed=st.integers(0, 2**31),
)
def test_saved_label_maps_load_back_exactly(
    tmp_path: Path, h: int, w: int, pool: list[int], seed: int
) -> None:
    if max(h, w) > images.MAX_ASPECT * min(h, w):
        return
    generator = torch.Generator().manual_seed(seed)
    ids = torch.tensor(pool)[torch.randint(0, len(pool), (h, w), generator=generator)]
    assert torch.equal(load_annotation(save_label_png(ids, tmp_path / "ids.png")), ids.int())


def test_written_files_appear_whole_with_the_usual_permissions(tmp_path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    path = save_png(torch.zeros(3, 2, 2, dtype=torch.uint8), tmp_path / "deep" / "x.png")
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in path.parent.iterdir()] == ["x.png"]  # no temporary file left
