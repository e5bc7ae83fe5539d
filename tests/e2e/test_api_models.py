"""/semantic, /instance and /panoptic through gradio_client, with random weights.

Random weights make the segments meaningless, so these check the contract the API gives: the
overlay and cut-out at the photo's size, a legend, a status line naming the model, and a
cut-out whose alpha is exactly the binary mask of the picked segments. The picks are chosen so
that the mask is neither empty nor the whole photo; a comparison of two uniform planes would
hold for any cut-out.
"""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from tests.e2e.conftest import EXAMPLES
from tests.helpers import assert_varied

pytestmark = pytest.mark.e2e
PHOTO = EXAMPLES / "chelsea.png"
SIZE = Image.open(PHOTO).size  # (W, H)


def assert_view(overlay, legend, mask, on_black, cutout) -> np.ndarray:
    """The four images at the photo's size, and the cut-out's alpha exactly the picked mask."""
    for path in (overlay, mask, on_black, cutout):
        assert Image.open(path).size == SIZE
    rgba = np.array(Image.open(cutout))
    assert rgba.shape[-1] == 4
    selected = np.array(Image.open(mask).convert("L")) > 0
    assert_varied(selected, "the binary mask")
    assert np.array_equal(rgba[..., 3] > 0, selected)
    photo = np.array(Image.open(PHOTO).convert("RGB"))
    assert np.array_equal(rgba[..., :3][selected], photo[selected])
    assert "segdemo-legend" in legend
    return selected


def read_zip(path: str, task: str) -> dict[str, bytes]:
    """The files of a tab's ZIP, named after the photo and the task."""
    assert Path(path).name == f"chelsea-{task}.zip"
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def picker_labels(picker) -> list[str]:
    """The picked labels, from the picker output (its value, or an update carrying it)."""
    value = picker.get("value") if isinstance(picker, dict) else picker
    return list(value or [])


def test_semantic_returns_an_overlay_at_the_photos_size(client) -> None:
    photo = handle_file(str(PHOTO))
    # random ResNet-50 weights give several classes here (MobileNetV3's give one, everywhere)
    status, picker, *_ = client.predict(photo, "resnet50", [], 0.5, api_name="/semantic")
    assert "DeepLabV3-ResNet50" in status
    labels = picker_labels(picker)
    assert len(labels) > 1, labels  # by default every class but the background is picked
    status, picker, *view = client.predict(photo, "resnet50", labels[:1], 0.5, api_name="/semantic")
    assert picker_labels(picker) == labels[:1]
    selected = assert_view(*view)
    # the session's result as a ZIP: the same picks make the same mask, and VOC's class PNG
    files = read_zip(client.predict(labels[:1], 0.5, api_name="/semantic_download"), "semantic")
    assert np.array_equal(np.array(Image.open(io.BytesIO(files["chelsea.mask.png"]))) > 0, selected)
    voc = Image.open(io.BytesIO(files["chelsea.voc.png"]))
    assert voc.mode == "P" and voc.size == SIZE


def test_instance_returns_an_overlay_at_the_photos_size(client) -> None:
    photo = handle_file(str(PHOTO))
    args = ("v1", 512, 0.05, [], True)
    status, _classes, picker, _overlay, legend, *_ = client.predict(
        photo, *args, [], 0.5, api_name="/instance"
    )
    assert "Mask R-CNN v1" in status
    # a new photo picks every instance; the legend carries the map that names them on hover
    labels = picker_labels(picker)
    hover = json.loads(html.unescape(legend.split('data-hover="')[1].split('"')[0]))
    assert len(labels) > 1 and sorted(hover["labels"].values()) == sorted(labels)
    first = labels[0]
    status, _classes, picker, *view = client.predict(
        photo, *args, [first], 0.5, api_name="/instance"
    )
    assert picker_labels(picker) == [first]
    assert_view(*view)


def test_panoptic_returns_an_overlay_at_the_photos_size(client) -> None:
    """Random Mask2Former weights are made decisive (segdemo.panoptic.untrained): the photo gets
    things and stuff, and by default every segment is cut out."""
    status, table, picker, *view = client.predict(
        handle_file(str(PHOTO)),
        "facebook/mask2former-swin-tiny-coco-panoptic",
        384,
        0.5,
        [],
        0.5,
        api_name="/panoptic",
    )
    found = re.search(r"(\d+) segments", status)
    assert "Swin-T" in status and found and int(found.group(1)) >= 3, status
    rows = table["data"] if isinstance(table, dict) else table
    assert {row[1] for row in rows} == {"thing", "stuff"}
    labels = [row[0] for row in rows]
    assert sorted(picker_labels(picker)) == sorted(labels)
    selected = assert_view(*view)
    files = read_zip(client.predict(labels, 0.5, api_name="/panoptic_download"), "panoptic")
    assert np.array_equal(np.array(Image.open(io.BytesIO(files["chelsea.mask.png"]))) > 0, selected)
    coco = json.loads(files["chelsea.coco_panoptic.json"])
    assert len(coco["annotations"][0]["segments_info"]) == len(rows) and coco["categories"]
