"""/groundtruth through gradio_client against a running `python app.py`."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from tests.e2e.conftest import EXAMPLES
from tests.helpers import assert_varied

pytestmark = pytest.mark.e2e


def call(
    client: Client, photo: Path, annotation: Path, value: int = 1, alpha: float = 0.5
) -> tuple[Any, ...]:
    return client.predict(
        handle_file(str(photo)),
        handle_file(str(annotation)),
        value,
        alpha,
        api_name="/groundtruth",
    )


def test_cutout_alpha_is_exactly_the_trimaps_pet_region(client) -> None:
    status, table, why, _picker, overlay, legend, mask, on_black, cutout = call(
        client, EXAMPLES / "chelsea.png", EXAMPLES / "chelsea_trimap.png"
    )
    trimap = np.array(Image.open(EXAMPLES / "chelsea_trimap.png"))
    assert_varied(trimap == 1, "the trimap's pet region")
    photo = np.array(Image.open(EXAMPLES / "chelsea.png").convert("RGB"))
    rgba = np.array(Image.open(cutout))
    assert rgba.shape == (*trimap.shape, 4)
    assert np.array_equal(rgba[..., 3], np.where(trimap == 1, 255, 0))
    assert np.array_equal(rgba[..., :3][trimap == 1], photo[trimap == 1])
    assert np.array_equal(np.array(Image.open(mask).convert("L")) > 0, trimap == 1)
    black = np.array(Image.open(on_black).convert("RGB"))
    assert np.array_equal(black, photo * (trimap == 1)[..., None])
    assert Image.open(overlay).size == (trimap.shape[1], trimap.shape[0])
    rows = table["data"] if isinstance(table, dict) else table
    assert [row[0] for row in rows] == [1, 2, 3]
    assert [row[2] for row in rows] == ["pet", "background", "border"]
    assert rows[0][1] == pytest.approx(1 / 255, abs=1e-6)
    assert "255" in why
    assert "451×300" in status
    assert "pet" in legend and "border" in legend


def test_another_object_value_selects_the_border(client) -> None:
    *_, cutout = call(client, EXAMPLES / "chelsea.png", EXAMPLES / "chelsea_trimap.png", 3)
    trimap = np.array(Image.open(EXAMPLES / "chelsea_trimap.png"))
    assert_varied(trimap == 3, "the trimap's border region")
    assert np.array_equal(np.array(Image.open(cutout))[..., 3] > 0, trimap == 3)


@pytest.mark.parametrize(
    ("photo_bytes", "name", "message"),
    [
        (b"this is not an image", "photo.png", "not an image"),
        (b"", "empty.png", "empty"),
    ],
)
def test_bad_files_get_a_clear_message_and_the_server_keeps_serving(
    client, tmp_path, photo_bytes, name, message
) -> None:
    from gradio_client.exceptions import AppError

    bad = tmp_path / name
    bad.write_bytes(photo_bytes)
    with pytest.raises(AppError, match=message):
        call(client, bad, EXAMPLES / "chelsea_trimap.png")
    # the server is still up and answers the next good request
    assert call(client, EXAMPLES / "chelsea.png", EXAMPLES / "chelsea_trimap.png")[1]


def test_annotation_of_another_size_is_refused_clearly(client, tmp_path) -> None:
    from gradio_client.exceptions import AppError

    small = tmp_path / "small_trimap.png"
    Image.fromarray(np.ones((10, 12), np.uint8)).save(small)
    with pytest.raises(AppError, match="photo"):
        call(client, EXAMPLES / "chelsea.png", small)


def test_the_download_is_the_sessions_last_result(server_url) -> None:
    """gradio_client keeps one session per Client: the run's state is there for the download."""
    client = Client(server_url, verbose=False)
    call(client, EXAMPLES / "chelsea.png", EXAMPLES / "chelsea_trimap.png", 3)
    path = client.predict(3, 0.5, api_name="/groundtruth_download")
    assert Path(path).name == "chelsea-groundtruth.zip"
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    readme = files["README.txt"].decode()
    for name in ("chelsea.ids.png", "chelsea.mask.png", "chelsea.cutout.png", "chelsea.cutouts/"):
        assert f"{name}: " in readme
    trimap = np.array(Image.open(EXAMPLES / "chelsea_trimap.png"))
    assert_varied(trimap == 3, "the trimap's border region")
    cutout = np.array(Image.open(io.BytesIO(files["chelsea.cutout.png"])))
    assert np.array_equal(cutout[..., 3] > 0, trimap == 3)
    assert np.array_equal(np.array(Image.open(io.BytesIO(files["chelsea.ids.png"]))), trimap)


def test_a_download_before_a_run_says_what_to_do(server_url) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Press Show first"):
        Client(server_url, verbose=False).predict(1, 0.5, api_name="/groundtruth_download")
