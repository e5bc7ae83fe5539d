"""/compare and /evaluate through gradio_client against a running `python app.py` (random
weights, the fastest models)."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from tests.e2e.conftest import EXAMPLES

pytestmark = pytest.mark.e2e
PHOTO = EXAMPLES / "chelsea.png"
TRIMAP = EXAMPLES / "chelsea_trimap.png"
FASTEST = ("mobilenet_v3_large", "v1", "facebook/mask2former-swin-tiny-coco-panoptic")


def test_compare_returns_three_overlays_and_three_summaries(client) -> None:
    status, *rest = client.predict(
        handle_file(str(PHOTO)), *FASTEST, "instance", api_name="/compare"
    )
    overlays, summaries, slider = rest[:3], rest[3:6], rest[6]
    assert "DeepLabV3-MobileNetV3-Large" in status and "Mask R-CNN v1" in status
    photo = np.array(Image.open(PHOTO).convert("RGB"))
    for path in overlays:
        assert np.array(Image.open(path).convert("RGB")).shape == photo.shape
    assert [s.split(":")[0] for s in summaries] == ["Semantic", "Instance", "Panoptic"]
    assert all(len(s.split(": ", 1)[1]) > 0 for s in summaries)
    before, after = (item["image"] if isinstance(item, dict) else item for item in slider)
    assert np.array_equal(np.array(Image.open(before).convert("RGB")), photo)
    assert np.array_equal(
        np.array(Image.open(after).convert("RGB")), np.array(Image.open(overlays[1]).convert("RGB"))
    )


def test_evaluate_scores_the_loaded_annotation(client) -> None:
    client.predict(
        handle_file(str(PHOTO)), handle_file(str(TRIMAP)), 1, 0.5, api_name="/groundtruth"
    )
    line, classes, confusion, picture, legend, scores = client.predict(
        "semantic:mobilenet_v3_large",
        "auto",
        ["cat", "dog"],
        {"headers": ["annotation value", "predicted classes"], "data": [[None, ""]]},
        None,
        api_name="/evaluate",
    )
    assert "mIoU" in line and "pixel accuracy" in line and "Trimap" in line
    rows = classes["data"] if isinstance(classes, dict) else classes
    assert {row[0] for row in rows} <= {"pet", "background"} and rows
    assert Image.open(picture).size == Image.open(PHOTO).size
    assert "true positive" in legend
    assert 0 <= scores["pixel_accuracy"] <= 1 and scores["pixels"] > 0
    assert confusion
