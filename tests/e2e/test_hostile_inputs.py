"""Hostile and broken inputs against the real server, through its public API.

Every refusal must (1) say in words what is wrong (matched below), (2) carry no traceback and no
"unexpected error" stand-in, and (3) leave the server answering the next good request. Every file
is built in tmp_path at test time (no binary fixtures). Traffic goes only to the loopback server
that the e2e conftest starts; every loop is bounded in count and in time.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import struct
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from tests.e2e.conftest import EXAMPLES, ROOT

pytestmark = pytest.mark.e2e

PHOTO = EXAMPLES / "chelsea.png"
TRIMAP = EXAMPLES / "chelsea_trimap.png"
MAX_FILE_SIZE = 25 * 1024 * 1024  # app.py: launch(max_file_size="25mb")
GENERIC = "Something went wrong on the server"
TRACEBACK = re.compile(r'Traceback|File "[^"]*", line \d+')
BOMB_SECONDS = 8  # a real decode of 10 gigapixels would take minutes and tens of GB
RESULT_TIMEOUT_S = 60


# --- Files, built at test time -------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its length and a valid CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose valid IHDR claims width×height RGB, with a token IDAT: a decompression bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _chunk(b"IEND", b"")
    )


def jpeg_header_only(width: int, height: int) -> bytes:
    """A baseline JPEG whose SOF0 claims width×height (3 components) and holds no real scan."""
    sof = (
        b"\xff\xc0"
        + struct.pack(">HBHHB", 17, 8, height, width, 3)
        + bytes([1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0])
    )
    sos = b"\xff\xda" + struct.pack(">HB", 12, 3) + bytes([1, 0, 2, 0, 3, 0, 0, 0x3F, 0])
    return b"\xff\xd8" + sof + sos + b"\0" * 16 + b"\xff\xd9"


def tiff_header_only(width: int, height: int) -> bytes:
    """An uncompressed 8-bit grayscale little-endian TIFF whose IFD claims width×height."""
    long_tags = [(256, width), (257, height), (273, 8), (278, height), (279, 0xFFFFFFFF)]
    short_tags = [(258, 8), (259, 1), (262, 1)]
    entries = sorted([(t, 4, v) for t, v in long_tags] + [(t, 3, v) for t, v in short_tags])
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        packed = struct.pack("<I", value) if kind == 4 else struct.pack("<HH", value, 0)
        ifd += struct.pack("<HHI", tag, kind, 1) + packed
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\0\0\0\0" + b"\0" * 64


def bmp_header_only(width: int, height: int) -> bytes:
    """A 24-bit BMP whose BITMAPINFOHEADER claims width×height."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + 64, 0, 0, 54) + info + b"\0" * 64


def encoded(array: np.ndarray, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **params)
    return buffer.getvalue()


def trimap() -> np.ndarray:
    return np.array(Image.open(TRIMAP))


SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
    b'width="64" height="64"><rect width="64" height="64" fill="red"/></svg>\n'
)

Make = Callable[[], bytes]

# (id, endpoint, which input is hostile, file name, content, what the message must say)
FILE_CASES: list[tuple[str, str, str, str, Make, str]] = [
    (
        "text-renamed-png",
        "/groundtruth",
        "photo",
        "notes.png",
        lambda: b"Dear diary, today I renamed a text file.\n" * 20,
        r"notes\.png is not an image .*\(it is a text file\)",
    ),
    (
        "empty",
        "/groundtruth",
        "photo",
        "empty.png",
        lambda: b"",
        r"empty\.png is empty \(0 bytes\)",
    ),
    (
        "truncated-png",
        "/groundtruth",
        "photo",
        "cut.png",
        lambda: PHOTO.read_bytes()[: PHOTO.stat().st_size // 2],
        r"cut\.png could not be decoded: the file is damaged or incomplete",
    ),
    (
        "png-signature-only",
        "/groundtruth",
        "photo",
        "sig.png",
        lambda: PHOTO.read_bytes()[:8],
        r"sig\.png is not an image .*damaged",
    ),
    (
        "png-bomb-100000x100000",
        "/groundtruth",
        "photo",
        "bomb.png",
        lambda: png_header_only(100_000, 100_000),
        r"bomb\.png is too large \(10,000 MP\)",
    ),
    (
        "png-49-megapixels",
        "/groundtruth",
        "photo",
        "big.png",
        lambda: png_header_only(7000, 7000),
        r"big\.png is too large: 7000×7000 pixels \(49\.0 MP\).*40 MP in all",
    ),
    (
        "png-side-9000x600",
        "/groundtruth",
        "photo",
        "wide.png",
        lambda: png_header_only(9000, 600),
        r"wide\.png is too large: 9000×600 pixels.*8192 pixels on the longest side.*8192×546",
    ),
    (
        "png-strip-9000x10",
        "/groundtruth",
        "photo",
        "strip.png",
        lambda: encoded(np.zeros((10, 9000, 3), np.uint8), "PNG"),
        r"strip\.png is 9000×10 pixels, a 900:1 strip.*up to 20:1",
    ),
    (
        "jpeg-bomb",
        "/groundtruth",
        "photo",
        "bomb.jpg",
        lambda: jpeg_header_only(65_000, 65_000),
        r"bomb\.jpg is too large",
    ),
    (
        "tiff-bomb",
        "/groundtruth",
        "photo",
        "bomb.tif",
        lambda: tiff_header_only(100_000, 100_000),
        r"bomb\.tif is too large",
    ),
    (
        "bmp-bomb",
        "/groundtruth",
        "photo",
        "bomb.bmp",
        lambda: bmp_header_only(100_000, 100_000),
        r"bomb\.bmp is too large",
    ),
    (
        "svg",
        "/groundtruth",
        "photo",
        "drawing.svg",
        lambda: SVG,
        r"drawing\.svg is not an image .*SVG drawing; export it as PNG",
    ),
    (
        "svg-renamed-png",
        "/groundtruth",
        "photo",
        "drawing.png",
        lambda: SVG,
        r"drawing\.png is not an image .*SVG drawing",
    ),
    (
        "pdf-renamed-png",
        "/groundtruth",
        "photo",
        "scan.png",
        lambda: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n",
        r"scan\.png .*PDF document",
    ),
    (
        "heic",
        "/groundtruth",
        "photo",
        "phone.heic",
        lambda: b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64,
        r"phone\.heic .*HEIC/HEIF",
    ),
    (
        "annotation-jpeg",
        "/groundtruth",
        "annotation",
        "trimap.jpg",
        lambda: encoded(trimap(), "JPEG", quality=95),
        r"trimap\.jpg is a JPEG file: lossy compression .*Save the annotation as PNG",
    ),
    (
        "annotation-jpeg-renamed-png",
        "/groundtruth",
        "annotation",
        "trimap.png",
        lambda: encoded(trimap(), "JPEG", quality=100),
        r"trimap\.png is a JPEG file: lossy",
    ),
    (
        "annotation-other-size",
        "/groundtruth",
        "annotation",
        "small.png",
        lambda: encoded(np.ones((10, 12), np.uint8), "PNG"),
        r"annotation small\.png is 12×10 pixels but the photo is 451×300",
    ),
    (
        "annotation-turned-90",
        "/groundtruth",
        "annotation",
        "turned.png",
        lambda: encoded(np.ascontiguousarray(trimap().T), "PNG"),
        r"turned\.png is 300×451 pixels but the photo is 451×300.*turned by 90°",
    ),
    (
        "annotation-is-a-photo",
        "/groundtruth",
        "annotation",
        "photo_again.png",
        lambda: PHOTO.read_bytes(),
        r"photo_again\.png has .* different values.*not a label map",
    ),
    (
        "annotation-bomb",
        "/groundtruth",
        "annotation",
        "bomb_trimap.png",
        lambda: png_header_only(100_000, 100_000),
        r"bomb_trimap\.png is too large",
    ),
    (
        "annotation-text",
        "/groundtruth",
        "annotation",
        "labels.png",
        lambda: b"1 1 2 2 3 3\n",
        r"labels\.png is not an image .*text file",
    ),
    (
        "semantic-bomb",
        "/semantic",
        "photo",
        "bomb.png",
        lambda: png_header_only(100_000, 100_000),
        r"bomb\.png is too large \(10,000 MP\)",
    ),
    (
        "semantic-strip",
        "/semantic",
        "photo",
        "strip.png",
        lambda: png_header_only(9000, 10),
        r"strip\.png is 9000×10 pixels, a 900:1 strip",
    ),
    (
        "semantic-text",
        "/semantic",
        "photo",
        "notes.png",
        lambda: b"not a photo at all\n",
        r"notes\.png is not an image .*text file",
    ),
    (
        "semantic-empty",
        "/semantic",
        "photo",
        "empty.png",
        lambda: b"",
        r"empty\.png is empty \(0 bytes\)",
    ),
]


# --- Calls --------------------------------------------------------------------------------------


def groundtruth(
    client: Client,
    photo: Path | None,
    annotation: Path | None,
    value: object = 1,
    alpha: object = 0.5,
) -> tuple[Any, ...]:
    photo = handle_file(str(photo)) if photo is not None else None
    annotation = handle_file(str(annotation)) if annotation is not None else None
    return client.predict(photo, annotation, value, alpha, api_name="/groundtruth")


def semantic(
    client: Client,
    photo: Path | None,
    variant: object = "mobilenet_v3_large",
    picked: Sequence[str] = (),
    alpha: object = 0.5,
) -> tuple[Any, ...]:
    photo = handle_file(str(photo)) if photo is not None else None
    return client.predict(photo, variant, list(picked), alpha, api_name="/semantic")


def assert_cutout_is_region(outputs: Sequence[Any], value: int = 1) -> None:
    """A /groundtruth answer is right: its cut-out's alpha is exactly the trimap's region."""
    status, *_, cutout = outputs
    assert "451×300" in status
    region = trimap() == value
    assert region.any() and not region.all(), f"the trimap's value {value} is not a region"
    assert np.array_equal(np.array(Image.open(cutout))[..., 3], np.where(region, 255, 0))


def assert_still_serving(client: Client) -> None:
    assert_cutout_is_region(groundtruth(client, PHOTO, TRIMAP))


def assert_clean_refusal(error: AppError, pattern: str) -> str:
    """The message names the problem, shows no traceback and is not the generic stand-in."""
    message = str(error)
    assert re.search(pattern, message), f"{message!r} does not match {pattern!r}"
    assert not TRACEBACK.search(message), message
    assert GENERIC not in message, message
    assert getattr(error, "title", None) != "Unexpected error", message
    return message


# --- Files --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "slot", "name", "make", "pattern"),
    [pytest.param(*case[1:], id=case[0]) for case in FILE_CASES],
)
def test_hostile_file_is_refused_clearly_and_the_server_keeps_serving(
    client, tmp_path, endpoint, slot, name, make, pattern
) -> None:
    bad = tmp_path / name
    bad.write_bytes(make())
    started = time.monotonic()
    with pytest.raises(AppError) as refused:
        if endpoint == "/semantic":
            semantic(client, bad)
        elif slot == "photo":
            groundtruth(client, bad, TRIMAP)
        else:
            groundtruth(client, PHOTO, bad)
    elapsed = time.monotonic() - started
    assert_clean_refusal(refused.value, pattern)
    # header-only bombs are refused from the header: nothing is decoded, so it is quick
    assert elapsed < BOMB_SECONDS, f"the refusal took {elapsed:.1f}s"
    assert_still_serving(client)


@pytest.mark.parametrize(
    ("missing", "pattern"),
    [("photo", r"Please add a photo first"), ("annotation", r"Please add an annotation first")],
)
def test_missing_upload_is_asked_for(client, missing, pattern) -> None:
    with pytest.raises(AppError) as refused:
        if missing == "photo":
            groundtruth(client, None, TRIMAP)
        else:
            groundtruth(client, PHOTO, None)
    assert_clean_refusal(refused.value, pattern)
    assert_still_serving(client)


@pytest.mark.parametrize(
    "name",
    [
        "<img src=x onerror=alert(1)>.png",
        "&lt;img src=x onerror=alert(1)&gt;.png",
        'Tom & Jerry\'s "cat" <b>.png',
    ],
    ids=["img-onerror", "pre-escaped", "ampersand-quote-bold"],
)
def test_file_name_with_html_comes_back_escaped(client, tmp_path, name) -> None:
    bad = tmp_path / name
    bad.write_bytes(b"<script>alert(1)</script> & not an image\n")
    with pytest.raises(AppError) as refused:
        groundtruth(client, bad, TRIMAP)
    message = assert_clean_refusal(refused.value, r"is not an image .*text file")
    # gr.Error renders its message as HTML: nothing in it may open a tag, and every "&" taken
    # from the name must arrive as an entity (Gradio strips "<" and ">" from upload names, so
    # the app's own html.escape is what this checks for "&")
    assert "<" not in message and ">" not in message, message
    assert not re.search(r"&(?!amp;|lt;|gt;|quot;|#x27;|#39;)", message), message
    if "&" in name:
        assert "&amp;" in message, message
    assert_still_serving(client)


def test_photo_over_max_file_size_is_refused_with_the_limit(client, server_url, tmp_path) -> None:
    """25 MB is Gradio's limit (launch(max_file_size=...)): it refuses before the app runs."""
    big = tmp_path / "huge.png"
    with big.open("wb") as out:
        out.write(png_header_only(4000, 3000))
        out.write(b"\xa5" * (MAX_FILE_SIZE + 1024 * 1024))
    # gradio_client reads the limit from the server's config and refuses to send the file
    limit = rf"exceeds the maximum file size of {MAX_FILE_SIZE} bytes"
    with pytest.raises(ValueError, match=limit):
        groundtruth(client, big, TRIMAP)
    # a client that does not check (curl, a script): the server's upload route answers 413
    with big.open("rb") as fh:
        response = httpx.post(
            f"{server_url}gradio_api/upload",
            files={"files": ("huge.png", fh, "image/png")},
            timeout=60,
        )
    assert response.status_code == 413, (response.status_code, response.text[:500])
    assert f"maximum allowed size of {MAX_FILE_SIZE} bytes" in response.text
    assert not TRACEBACK.search(response.text)
    assert_still_serving(client)


# --- Values the browser never sends ---------------------------------------------------------------
# Gradio's own checks (slider range, radio/dropdown choices) refuse these before the function
# runs, with the input's name added; the hand checks name the value where Gradio checks nothing
# (a slider given text or NaN, the object value, whose choices come from the annotation).

VALUE_CASES = [
    pytest.param(
        "/groundtruth",
        {"alpha": 5.0},
        r"Overlay opacity: Value 5\.0 is greater than maximum",
        id="gt-alpha-5",
    ),
    pytest.param(
        "/groundtruth",
        {"alpha": -0.5},
        r"Overlay opacity: Value -0\.5 is less than minimum",
        id="gt-alpha-neg",
    ),
    pytest.param(
        "/groundtruth",
        {"alpha": "abc"},
        r"Overlay opacity must be a number, got 'abc'",
        id="gt-alpha-text",
    ),
    pytest.param(
        "/groundtruth",
        {"value": "abc"},
        r"Object value must be a whole number.*'abc'",
        id="gt-value-text",
    ),
    pytest.param(
        "/semantic",
        {"variant": "nope"},
        r"DeepLabV3 variant: .*'nope'.*not in the list of choices",
        id="sem-variant",
    ),
    pytest.param(
        "/semantic",
        {"alpha": 1.5},
        r"Overlay opacity: Value 1\.5 is greater than maximum",
        id="sem-alpha-1.5",
    ),
]


@pytest.mark.parametrize(("endpoint", "override", "pattern"), VALUE_CASES)
def test_out_of_range_api_value_gets_a_message_naming_it(
    client, endpoint, override, pattern
) -> None:
    with pytest.raises(AppError) as refused:
        if endpoint == "/semantic":
            semantic(client, PHOTO, **override)
        else:
            groundtruth(client, PHOTO, TRIMAP, **override)
    assert_clean_refusal(refused.value, pattern)
    assert_still_serving(client)


# --- Paths the upload route never produced --------------------------------------------------------


def _raw_call(server_url: str, api: str, data: list[Any]) -> str:
    """POST /gradio_api/call/<api> and read its event stream (bounded by timeouts)."""
    base = f"{server_url}gradio_api/call/{api}"
    # json.dumps writes NaN as the JSON extension NaN, which the server's parser reads
    body = json.dumps({"data": data})
    response = httpx.post(
        base, content=body, headers={"content-type": "application/json"}, timeout=30
    )
    response.raise_for_status()
    event_id = response.json()["event_id"]
    return httpx.get(f"{base}/{event_id}", timeout=RESULT_TIMEOUT_S).text


def _uploaded(server_url: str, path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        response = httpx.post(
            f"{server_url}gradio_api/upload", files={"files": (path.name, fh)}, timeout=30
        )
    response.raise_for_status()
    return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}}


def test_nan_opacity_is_refused_with_its_name(client, server_url) -> None:
    """gradio_client will not send NaN (it is not JSON); a script can, and Gradio's range check
    lets it through (every comparison with NaN is false), so the slider's own check names it."""
    photo, annotation = _uploaded(server_url, PHOTO), _uploaded(server_url, TRIMAP)
    stream = _raw_call(server_url, "groundtruth", [photo, annotation, 1, float("nan")])
    assert "event: error" in stream and "event: complete" not in stream, stream[:500]
    message = _error_message(stream)
    assert re.search(r"Overlay opacity must be a finite number, got nan", message), message
    assert_still_serving(client)


GUARD = r"not uploaded by a user: only files uploaded to this app can be used"


def _error_message(stream: str) -> str:
    """The message of the stream's error event ("" when it carries none)."""
    data = stream.split("event: error", 1)[1].split("data:", 1)[1].strip().splitlines()[0]
    payload = json.loads(data)
    return (payload or {}).get("error") or "" if isinstance(payload, dict) else ""


@pytest.mark.parametrize("outside", ["real-png", "/etc/passwd", "app-source"])
def test_file_data_pointing_outside_the_uploads_is_refused_by_the_guard(
    client, server_url, tmp_path, outside
) -> None:
    """File data whose path the upload route never produced is refused by Gradio's path guard
    (before any input is preprocessed), with a message saying so. The first case is a real PNG
    that our decoder would accept, so the refusal can only be the guard's."""
    if outside == "real-png":
        path = tmp_path / "chelsea.png"
        shutil.copyfile(PHOTO, path)
        assert Image.open(path).size == (451, 300)  # a real image, readable by the server
    else:
        path = Path(outside if outside.startswith("/") else ROOT / "app.py")
    photo, annotation = _uploaded(server_url, PHOTO), _uploaded(server_url, TRIMAP)
    good = _raw_call(server_url, "groundtruth", [photo, annotation, 1, 0.5])
    assert "event: complete" in good, good[:500]  # the raw route works with real uploads
    outside_data = {"path": str(path), "meta": {"_type": "gradio.FileData"}}
    stream = _raw_call(server_url, "groundtruth", [outside_data, annotation, 1, 0.5])
    assert "event: error" in stream and "event: complete" not in stream, stream[:500]
    message = _error_message(stream)
    assert re.search(GUARD, message), message
    assert str(path) in message  # it names the file
    assert "root:" not in stream and "demo.launch" not in stream  # nothing of the file leaks
    assert not TRACEBACK.search(stream)
    assert_still_serving(client)


def test_file_data_with_a_loopback_url_is_not_fetched(client, server_url) -> None:
    """A URL in file data is fetched only from public hosts (Gradio's SSRF guard, safehttpx):
    a loopback URL is refused. That refusal is a plain ValueError inside Gradio, so with
    show_error=False its answer is an error event without a message."""
    annotation = _uploaded(server_url, TRIMAP)
    url_data = {"path": "http://127.0.0.1:9/photo.png", "meta": {"_type": "gradio.FileData"}}
    stream = _raw_call(server_url, "groundtruth", [url_data, annotation, 1, 0.5])
    assert "event: error" in stream and "event: complete" not in stream, stream[:500]
    assert not TRACEBACK.search(stream)
    assert_still_serving(client)


# --- Several queued at once --------------------------------------------------------------------


def test_queued_requests_good_and_bad_all_answer_correctly(client, tmp_path) -> None:
    """Eight requests submitted together: the queue (max_size=32) holds them all, and the
    ground-truth event serves them one at a time (default_concurrency_limit=1), each with its
    own answer. Calls that really run at the same time are tested in tests/test_ui.py."""
    text = tmp_path / "text.png"
    text.write_bytes(b"plain text, not pixels\n")
    small = tmp_path / "small.png"
    Image.fromarray(np.ones((10, 12), np.uint8)).save(small)
    values = [1, 3, 2, 1, 3, 2]
    good = [
        client.submit(
            handle_file(str(PHOTO)), handle_file(str(TRIMAP)), v, 0.5, api_name="/groundtruth"
        )
        for v in values
    ]
    bad = [
        (
            client.submit(
                handle_file(str(text)), handle_file(str(TRIMAP)), 1, 0.5, api_name="/groundtruth"
            ),
            r"text\.png is not an image",
        ),
        (
            client.submit(
                handle_file(str(PHOTO)), handle_file(str(small)), 1, 0.5, api_name="/groundtruth"
            ),
            r"small\.png is 12×10 pixels",
        ),
    ]
    for job, value in zip(good, values, strict=True):
        assert_cutout_is_region(job.result(timeout=RESULT_TIMEOUT_S), value)
    for job, pattern in bad:
        with pytest.raises(AppError) as refused:
            job.result(timeout=RESULT_TIMEOUT_S)
        assert_clean_refusal(refused.value, pattern)
    assert_still_serving(client)
