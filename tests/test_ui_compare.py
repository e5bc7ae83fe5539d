"""The Compare tab and the ground-truth evaluation as Gradio calls them, on crafted results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from segdemo import instance, panoptic, semantic
from segdemo.cache import ResultCache
from segdemo.evaluate import ERROR_LABELS
from segdemo.result import Segment, Segmentation
from segdemo.ui import (
    compare_tab,
    errors,
    evaluate_panel,
    groundtruth_tab,
    instance_tab,
    panoptic_tab,
    semantic_tab,
    session,
)
from tests.test_ui import PHOTO, TRIMAP, assert_varied, click, coco_detections, pixels

COCO_TINY = "facebook/mask2former-swin-tiny-coco-panoptic"
HEIGHT, WIDTH = 300, 451  # chelsea.png
MODELS = ("mobilenet_v3_large", "v1", COCO_TINY)
VOC = semantic.VARIANTS["mobilenet_v3_large"].categories


def crafted_semantic(height: int, width: int) -> Segmentation:
    """cat (left third), dog (middle third), sofa (right third, top half); nothing elsewhere."""
    ids = torch.zeros(height, width, dtype=torch.int32)
    third = width // 3
    ids[:, :third] = 1
    ids[:, third : 2 * third] = 2
    ids[: height // 2, 2 * third :] = 3
    segments = tuple(
        Segment(k, VOC.index(name), name) for k, name in enumerate(("cat", "dog", "sofa"), 1)
    )
    return Segmentation(ids, segments, VOC, "semantic")


def crafted_panoptic(height: int, width: int) -> Segmentation:
    """A cat (thing, left half) and a wall (stuff, right half)."""
    ids = torch.ones(height, width, dtype=torch.int32)
    ids[:, width // 2 :] = 2
    segments = (Segment(1, 0, "cat 1 · 0.90", 0.9, is_thing=True), Segment(2, 1, "wall", 0.8))
    return Segmentation(ids, segments, ("cat", "wall"), "panoptic")


@pytest.fixture
def crafted_models(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The three adapters return crafted results (and log their calls); a fresh result cache."""
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "random")
    monkeypatch.setattr(session, "RESULTS", ResultCache(capacity=8))
    calls: list[str] = []

    def semantic_segment(image: torch.Tensor, variant: str, **_kwargs: Any) -> Segmentation:
        calls.append("semantic")
        return crafted_semantic(int(image.shape[1]), int(image.shape[2]))

    def detect(image: torch.Tensor, variant: str, **_kwargs: Any) -> instance.Detections:
        calls.append("instance")
        return coco_detections(int(image.shape[1]), int(image.shape[2]))

    def panoptic_segment(image: torch.Tensor, checkpoint: str, **_kwargs: Any) -> Segmentation:
        calls.append("panoptic")
        return crafted_panoptic(int(image.shape[1]), int(image.shape[2]))

    monkeypatch.setattr(semantic, "segment", semantic_segment)
    monkeypatch.setattr(instance, "detect", detect)
    monkeypatch.setattr(panoptic, "segment", panoptic_segment)
    return calls


def no_model(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("the model ran again")


# --- Compare ------------------------------------------------------------------------------------


def test_compare_shows_three_overlays_and_a_summary_of_each(crafted_models) -> None:
    status, *overlays_and_summaries, slider, state = compare_tab.compare_kinds(
        PHOTO, *MODELS, "instance"
    )
    overlays, summaries = overlays_and_summaries[:3], overlays_and_summaries[3:]
    assert crafted_models == ["semantic", "instance", "panoptic"]
    assert summaries == [
        "Semantic: cat 33 % · dog 33 % · couch 17 % — one region per class",
        "Instance: dog 1, cat 1, dog 2",
        "Panoptic: cat 1 + wall",
    ]
    photo = np.array(Image.open(PHOTO).convert("RGB"))
    for path in overlays:
        shown = pixels(path)
        assert shown.shape == photo.shape and not np.array_equal(shown, photo)
    assert slider == (state["photo"], overlays[1])  # the kind in focus
    assert np.array_equal(pixels(slider[0]), photo)
    assert "Click a segment" in status
    assert compare_tab.refocus(state, "panoptic") == (state["photo"], overlays[2])


def test_a_photo_run_in_the_model_tabs_is_not_run_again(crafted_models, monkeypatch) -> None:
    semantic_tab.segment_semantic(PHOTO, MODELS[0], [], 0.5)
    instance_tab.segment_instance(
        PHOTO, MODELS[1], instance.DEFAULT_WORKING_SIZE, 0.5, [], True, [], 0.5
    )
    panoptic_tab.segment_panoptic(PHOTO, MODELS[2], panoptic.DEFAULT_WORKING_SIZE, 0.5, [], 0.5)
    assert crafted_models == ["semantic", "instance", "panoptic"]
    for module, name in ((semantic, "segment"), (instance, "detect"), (panoptic, "segment")):
        monkeypatch.setattr(module, name, no_model)
    *_, state = compare_tab.compare_kinds(PHOTO, *MODELS, "semantic")
    assert_varied(state["results"]["semantic"].ids, "the cached semantic id map")
    assert len(state["results"]["instance"]) == 3


def test_a_click_picks_the_class_in_every_kind_where_it_exists(crafted_models) -> None:
    *_, state = compare_tab.compare_kinds(PHOTO, *MODELS, "semantic")
    photo = np.array(Image.open(PHOTO).convert("RGB"))
    # the cat: semantic's left third, Mask R-CNN's middle box, Mask2Former's left half
    status, *overlays, slider, state = compare_tab.pick_class(
        state, "semantic", "instance", click(200, 150)
    )
    assert status == "Picked **cat** — segments: Semantic 1, Instance 1, Panoptic 1."
    assert state["picks"] == {"semantic": [1], "instance": [2], "panoptic": [1]}
    for kind, path in zip(compare_tab.KINDS, overlays, strict=True):
        seg = state["results"][kind]
        picked = np.isin(seg.ids.numpy(), state["picks"][kind])
        shown = pixels(path)
        assert_varied(picked, f"the {kind} cat")
        # only the picked segments are painted: everywhere else is the photo, exactly
        assert np.array_equal(shown[~picked], photo[~picked])
        assert not np.array_equal(shown[picked], photo[picked])
    assert slider == (state["photo"], overlays[0])
    # the sofa (VOC) is "couch", found only in the semantic result
    status, *_, state = compare_tab.pick_class(state, "semantic", "semantic", click(400, 20))
    assert status == "Picked **couch** — segments: Semantic 1. Not found in: Instance, Panoptic."
    assert state["picks"] == {"semantic": [3], "instance": [], "panoptic": []}
    # the same class again shows everything
    status, *overlays, _slider, state = compare_tab.pick_class(
        state, "semantic", "semantic", click(400, 20)
    )
    assert state["picked"] is None and status.startswith("Showing every segment")
    assert not np.array_equal(pixels(overlays[2]), photo)


def test_a_click_before_a_run_says_what_to_do() -> None:
    with pytest.raises(gr.Error, match="Press Compare first"):
        errors.user_errors(compare_tab.pick_class)(None, "semantic", "semantic", click(0, 0))
    assert compare_tab.refocus(None, "panoptic") == gr.skip()


# --- Evaluate against the annotation -------------------------------------------------------------


def trimap_state() -> dict[str, Any]:
    return groundtruth_tab.show_ground_truth(PHOTO, TRIMAP, 1, 0.5)[-1]


def predicted_as(monkeypatch: pytest.MonkeyPatch, ids: torch.Tensor) -> None:
    """DeepLabV3 predicts "cat" where ``ids`` is 1 (and nothing elsewhere); a fresh cache."""
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "random")
    monkeypatch.setattr(session, "RESULTS", ResultCache(capacity=8))
    seg = Segmentation(ids.to(torch.int32), (Segment(1, VOC.index("cat"), "cat"),), VOC, "semantic")
    monkeypatch.setattr(semantic, "segment", lambda *_args, **_kwargs: seg.clone())


def trimap_values() -> torch.Tensor:
    values = torch.from_numpy(np.array(Image.open(TRIMAP)).astype(np.int32))
    assert set(values.unique().tolist()) == {1, 2, 3}
    return values


def score(state: Any, mapping: str = "auto", table: Any = None, json_file: Any = None) -> tuple:
    return errors.user_errors(evaluate_panel.evaluate_model)(
        state, "semantic:mobilenet_v3_large", mapping, ["cat", "dog"], table, json_file
    )


@pytest.mark.parametrize("mapping", ["auto", "trimap"])
def test_a_prediction_that_is_the_annotation_scores_one(monkeypatch, mapping) -> None:
    values = trimap_values()
    predicted_as(monkeypatch, values == 1)
    line, rows, confusion, picture, legend, scores = score(trimap_state(), mapping)
    assert "mIoU 1.000 · pixel accuracy 1.000" in line and "Trimap" in line
    pet, background = (values == 1).sum().item(), (values == 2).sum().item()
    assert rows == [
        ["pet", "1.000", "1.000", "1.000", "1.000", pet, 0, 0],
        ["background", "1.000", "1.000", "1.000", "1.000", background, 0, 0],
    ]
    assert confusion["data"] == [["pet", pet, 0, 0], ["background", 0, background, 0]]
    assert scores["miou"] == 1.0 and scores["pixels"] == pet + background
    assert pixels(picture).shape == (HEIGHT, WIDTH, 3)
    assert ERROR_LABELS[0] in legend


def test_an_undefined_value_is_a_dash_never_zero_or_nan(monkeypatch) -> None:
    predicted_as(monkeypatch, torch.zeros(HEIGHT, WIDTH, dtype=torch.bool))  # no cat anywhere
    line, rows, *_, scores = score(trimap_state())
    pet = next(r for r in rows if r[0] == "pet")
    assert pet[1:5] == ["0.000", "0.000", "—", "0.000"]  # never predicted: precision 0/0
    assert "nan" not in line.lower() and scores["classes"][0]["precision"] is None


def test_a_label_map_table_scores_with_the_users_classes(monkeypatch) -> None:
    values = trimap_values()
    predicted_as(monkeypatch, values != 2)  # the pet and its border
    table = [[1, "cat"], [2, "__background__"], [3, "dog"], ["", ""]]
    line, rows, *_ = score(trimap_state(), "labels", table)
    assert "Label" in line
    assert [r[0] for r in rows] == ["cat", "__background__", "dog"]
    pet, border = (values == 1).sum().item(), (values == 3).sum().item()
    # the border is predicted as cat: cat's false positives, dog's misses, dog never predicted
    assert rows[0][5:] == [pet, border, 0] and rows[0][1] == f"{pet / (pet + border):.3f}"
    assert rows[2][1:] == ["0.000", "0.000", "—", "0.000", 0, 0, border]


def test_a_coco_panoptic_annotation_scores_pq_sq_rq(monkeypatch, tmp_path) -> None:
    """A COCO panoptic PNG + JSON made from the trimap (cat = pet, wall = background, border
    void), and a Mask2Former prediction that is the same: PQ, SQ, RQ 1."""
    values = trimap_values()
    ids = torch.where(values == 3, 0, values).numpy().astype(np.uint8)  # id = R (G = B = 0)
    png = tmp_path / "gt.png"
    Image.fromarray(np.stack([ids, 0 * ids, 0 * ids], axis=-1)).save(png)
    coco = {
        "annotations": [
            {
                "file_name": "gt.png",
                "segments_info": [
                    {"id": 1, "category_id": 17, "iscrowd": 0},
                    {"id": 2, "category_id": 200, "iscrowd": 0},
                ],
            }
        ],
        "categories": [
            {"id": 17, "name": "cat", "isthing": 1},
            {"id": 200, "name": "wall", "isthing": 0},
        ],
    }
    (tmp_path / "gt.json").write_text(json.dumps(coco))
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "random")
    monkeypatch.setattr(session, "RESULTS", ResultCache(capacity=8))
    pred = crafted_panoptic(HEIGHT, WIDTH)
    pred = Segmentation(
        torch.where(values == 1, 1, 2).to(torch.int32), pred.segments, pred.categories, "panoptic"
    )
    monkeypatch.setattr(panoptic, "segment", lambda *_args, **_kwargs: pred.clone())
    state = groundtruth_tab.show_ground_truth(PHOTO, str(png), 1, 0.5)[-1]
    line, rows, *_, scores = errors.user_errors(evaluate_panel.evaluate_model)(
        state, f"panoptic:{COCO_TINY}", "auto", None, None, str(tmp_path / "gt.json")
    )
    assert "PQ 1.000 · SQ 1.000 · RQ 1.000" in line and "mIoU 1.000" in line
    assert [r[0] for r in rows] == ["cat", "wall"]
    assert scores["pq"] == 1.0 and len(scores["panoptic_classes"]) == 2


@pytest.fixture
def no_entry_json(tmp_path: Path) -> str:
    path = tmp_path / "panoptic.json"
    path.write_text(json.dumps({"annotations": [], "categories": []}))
    return str(path)


@pytest.mark.parametrize(
    ("state", "mapping", "table", "use_json", "message"),
    [
        (None, "auto", None, False, "Press Show first"),
        ("trimap", "labels", [[1, "cat"], [2, "__background__"]], False, "holds values 3"),
        ("trimap", "labels", [["one", "cat"]], False, "whole number"),
        ("trimap", "labels", [[1, "unicorn"], [2, ""], [3, ""]], False, "does not know"),
        ("trimap", "labels", [], False, "table is empty"),
        ("other", "auto", None, False, "Auto cannot tell"),
        ("trimap", "auto", None, True, "no annotation for chelsea_trimap.png"),
    ],
)
def test_bad_evaluation_inputs_are_one_sentence(
    monkeypatch, no_entry_json, state, mapping, table, use_json, message
) -> None:
    predicted_as(monkeypatch, trimap_values() == 1)
    loaded = trimap_state() if state else None
    if state == "other":  # values the Ground truth tab cannot name
        loaded["seg"].extras["values"] = [4, 7]
    with pytest.raises(gr.Error, match=message) as error:
        score(loaded, mapping, table, no_entry_json if use_json else None)
    assert error.value.title == errors.TITLE and "Traceback" not in error.value.message
