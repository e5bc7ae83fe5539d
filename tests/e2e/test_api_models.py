"""/semantic, /instance and /panoptic through gradio_client, with random weights.

Random weights make the segments meaningless, so these check the contract the API gives: the
overlay and cut-out at the photo's size, a legend, a status line naming the model.
"""

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from tests.e2e.conftest import EXAMPLES

pytestmark = pytest.mark.e2e
PHOTO = EXAMPLES / "chelsea.png"
SIZE = Image.open(PHOTO).size  # (W, H)


def assert_view(overlay, legend, mask, on_black, cutout):
    for path in (overlay, mask, on_black, cutout):
        assert Image.open(path).size == SIZE
    rgba = np.array(Image.open(cutout))
    assert rgba.shape[-1] == 4
    selected = np.array(Image.open(mask).convert("L")) > 0
    assert np.array_equal(rgba[..., 3] > 0, selected)
    assert "segdemo-legend" in legend


def test_semantic_returns_an_overlay_at_the_photos_size(client):
    status, _picker, *view, = client.predict(
        handle_file(str(PHOTO)), "mobilenet_v3_large", [], 0.5, api_name="/semantic"
    )
    assert "DeepLabV3-MobileNetV3-Large" in status
    assert_view(*view)


def test_instance_returns_an_overlay_at_the_photos_size(client):
    status, _classes, _picker, *view, hover = client.predict(
        handle_file(str(PHOTO)), "v1", 512, 0.05, [], True, [], 0.5, api_name="/instance"
    )
    assert "Mask R-CNN v1" in status
    assert_view(*view)
    assert hover.count("<title>") >= 1 and "data:image/jpeg;base64," in hover


def test_panoptic_returns_an_overlay_at_the_photos_size(client):
    status, _table, _picker, *view = client.predict(
        handle_file(str(PHOTO)), "facebook/mask2former-swin-tiny-coco-panoptic", 384, [], 0.5,
        api_name="/panoptic",
    )
    assert "Swin-T" in status
    assert_view(*view)
