"""Exports read back with the standard readers equal the id map: crafted results with known
answers, odd and empty cases, and real model outputs."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools.coco import COCO
from torchvision.models.segmentation import DeepLabV3_ResNet50_Weights

from segdemo import exports, masks
from segdemo.exports import ExportError, PhotoEntry
from segdemo.images import label_image
from segdemo.result import Segment, Segmentation
from tests.helpers import assert_varied

VOC = tuple(DeepLabV3_ResNet50_Weights.DEFAULT.meta["categories"])


def coco_names() -> tuple[str, ...]:
    from torchvision.models.detection import MaskRCNN_ResNet50_FPN_V2_Weights

    return tuple(MaskRCNN_ResNet50_FPN_V2_Weights.DEFAULT.meta["categories"])


def blocks(height: int, width: int, n: int) -> torch.Tensor:
    """An int32 id map with ids 1..n in rectangles of different sizes and some 0 pixels."""
    ids = torch.zeros(height, width, dtype=torch.int32)
    for k in range(1, n + 1):
        y, x = (k * 7) % (height - 4), (k * 13) % (width - 6)
        ids[y : y + 3 + k % 5, x : x + 4 + k % 7] = k
    return ids


def semantic_seg() -> Segmentation:
    ids = blocks(30, 40, 3)
    table = (Segment(1, 8, "cat"), Segment(2, 12, "dog"), Segment(3, 0, "__background__"))
    return Segmentation(ids, table, VOC, "semantic")


def instance_seg(n: int = 5) -> Segmentation:
    ids = blocks(40, 50, n)
    table = tuple(
        Segment(k, (17, 18, 1)[k % 3], f"thing {k}", 1 - k / 100, True, (0.0, 0.0, 1.0, 1.0))
        for k in range(1, n + 1)
    )
    return Segmentation(ids, table, coco_names(), "instance")


def panoptic_seg() -> Segmentation:
    from segdemo.panoptic import DEFAULT_CHECKPOINT
    from segdemo.panoptic.datasets import DATASETS

    names = tuple(c.name for c in DATASETS["coco"])
    sky = names.index("sky") if "sky" in names else 120
    ids = blocks(36, 48, 4)
    table = (
        Segment(1, 0, "person", 0.9, True),
        Segment(2, 16, names[16], 0.8, True),
        Segment(3, sky, names[sky], 0.7, False),
        Segment(4, 0, "person", 0.6, True),
    )
    return Segmentation(ids, table, names, "panoptic", {"checkpoint": DEFAULT_CHECKPOINT})


# --------------------------------------------------------------------------- VOC


def test_voc_png_holds_the_class_index_with_the_voc_palette():
    seg = semantic_seg()
    assert_varied(seg.ids)
    image = Image.open(io.BytesIO(exports.png_bytes(exports.voc_png(seg))))
    assert image.mode == "P" and image.size == (40, 30)
    expected = torch.tensor([0, 8, 12, 0])[seg.ids.long()].numpy()
    np.testing.assert_array_equal(np.asarray(image), expected)
    palette = np.array(image.getpalette()[: 256 * 3]).reshape(256, 3)
    np.testing.assert_array_equal(palette, masks.palette(256).numpy())


def test_voc_png_refuses_other_tasks():
    with pytest.raises(ExportError, match="semantic result, not a instance"):
        exports.voc_png(instance_seg())


# --------------------------------------------------------------------------- COCO instances


def write_json(tmp_path: Path, data: dict) -> str:
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_coco_instances_load_with_pycocotools_and_decode_to_the_id_map(tmp_path):
    seg = instance_seg()
    assert_varied(seg.ids)
    data = exports.coco_instances([PhotoEntry(7, "a.jpg", seg)])
    coco = COCO(write_json(tmp_path, data))
    assert coco.getImgIds() == [7] and coco.imgs[7]["height"] == 40
    cats = {c["id"]: c["name"] for c in data["categories"]}
    assert cats[17] == "cat" and cats[18] == "dog" and cats[1] == "person"
    assert "N/A" not in cats.values() and "__background__" not in cats.values()
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[7]))
    assert len(anns) == len(seg)
    for ann, s in zip(anns, seg.segments, strict=True):
        expected = (seg.ids == s.id).numpy()
        assert expected.any()
        np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), expected)
        assert ann["category_id"] == s.category_id and ann["score"] == s.score
        assert isinstance(ann["segmentation"]["counts"], str)
        ys, xs = np.nonzero(expected)
        assert ann["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert ann["area"] == expected.sum() and ann["iscrowd"] == 0
    results = coco.loadRes(data["annotations"])
    assert len(results.getAnnIds()) == len(seg)


def test_coco_instances_of_nothing_is_a_valid_file(tmp_path):
    empty = Segmentation.empty(10, 12, coco_names(), "instance")
    data = exports.coco_instances([PhotoEntry(1, "x.png", empty)])
    assert data["annotations"] == [] and len(data["images"]) == 1 and data["categories"]
    COCO(write_json(tmp_path, data))


def test_segments_that_won_no_pixel_are_not_annotations():
    seg = instance_seg(3)
    ids = seg.ids.clone()
    ids[ids == 2] = 0
    data = exports.coco_instances(
        [PhotoEntry(1, "x", Segmentation(ids, seg.segments, seg.categories, "instance"))]
    )
    assert [a["score"] for a in data["annotations"]] == [
        seg.segments[0].score,
        seg.segments[2].score,
    ]


# --------------------------------------------------------------------------- COCO panoptic


def assert_segments_info(infos: list[dict], seg: Segmentation) -> None:
    """COCO panoptic ``segments_info`` of ``seg``: each segment with pixels, in order, with its
    id, the dataset's category id, area, box [x, y, w, h] and iscrowd 0."""
    from segdemo.panoptic.datasets import DATASETS

    dataset = DATASETS["coco"]
    areas = seg.areas()
    shown = [s for s in seg.segments if areas[s.id]]
    assert [i["id"] for i in infos] == [s.id for s in shown]
    for info, s in zip(infos, shown, strict=True):
        ys, xs = np.nonzero(seg.ids.numpy() == s.id)
        box = [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert info == {
            "id": s.id,
            "category_id": dataset[s.category_id].dataset_id,
            "area": len(ys),
            "bbox": box,
            "iscrowd": 0,
        }


def test_coco_panoptic_png_and_json_follow_the_published_format():
    from segdemo.panoptic.datasets import DATASETS

    seg = panoptic_seg()
    assert_varied(seg.ids)
    data, pngs = exports.coco_panoptic([PhotoEntry(3, "p.jpg", seg)], ["p.png"])
    rgb = np.asarray(Image.open(io.BytesIO(exports.png_bytes(pngs[0])))).astype(np.int64)
    decoded = rgb[..., 0] + 256 * rgb[..., 1] + 256**2 * rgb[..., 2]
    np.testing.assert_array_equal(decoded, seg.ids.numpy())
    (annotation,) = data["annotations"]
    assert annotation["image_id"] == 3 and annotation["file_name"] == "p.png"
    dataset = DATASETS["coco"]
    cats = {c["id"]: c for c in data["categories"]}
    assert len(cats) == len(dataset) == 133
    assert_segments_info(annotation["segments_info"], seg)
    for info, s in zip(annotation["segments_info"], seg.segments, strict=True):
        assert cats[info["category_id"]]["isthing"] == int(s.is_thing)
    assert cats[1]["name"] == "person" and cats[1]["isthing"] == 1


def test_coco_panoptic_of_nothing_is_an_all_zero_png():
    from segdemo.panoptic import DEFAULT_CHECKPOINT

    names = panoptic_seg().categories
    empty = Segmentation(
        torch.zeros(5, 6, dtype=torch.int32),
        (),
        names,
        "panoptic",
        {"checkpoint": DEFAULT_CHECKPOINT},
    )
    data, pngs = exports.coco_panoptic([PhotoEntry(1, "e.jpg", empty)], ["e.png"])
    assert data["annotations"][0]["segments_info"] == []
    assert not np.asarray(pngs[0]).any()


def test_ids_past_255_survive_the_panoptic_png_and_the_id_map_png():
    names = panoptic_seg().categories
    ids = torch.zeros(4, 5, dtype=torch.int32)
    ids[0, :2], ids[2, 3] = 300, 70000
    table = (Segment(300, 0, "person", 0.9, True), Segment(70000, 1, names[1], 0.8, True))
    from segdemo.panoptic import DEFAULT_CHECKPOINT

    seg = Segmentation(ids, table, names, "panoptic", {"checkpoint": DEFAULT_CHECKPOINT})
    rgb = np.asarray(exports.panoptic_png(seg)).astype(np.int64)
    np.testing.assert_array_equal(rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2], ids)
    small = ids.clamp(max=60000)
    back = np.asarray(Image.open(io.BytesIO(exports.png_bytes(label_image(small)))))
    np.testing.assert_array_equal(back, small.numpy())
    with pytest.raises(ValueError, match=r"0\.\.65535"):
        label_image(ids)


# --------------------------------------------------------------------------- the ZIP


def test_zip_holds_every_file_named_in_its_readme_and_odd_labels_are_safe():
    seg = instance_seg(3)
    seg = Segmentation(
        seg.ids,
        (
            Segment(1, 17, "cat/../../evil 1 · 0.99", 0.99, True),
            Segment(2, 18, 'dog "2" <b>', 0.5, True),
            Segment(3, 1, "", 0.4, True),
        ),
        seg.categories,
        "instance",
    )
    image = torch.randint(0, 256, (3, *seg.size), dtype=torch.uint8)
    overlay = masks.overlay(image, seg.ids, masks.palette(4), 0.5)
    data = exports.result_zip(image, seg, stem="my photo.jpg", overlay=overlay, selected=[2])
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = archive.namelist()
    assert all(".." not in n and not n.startswith("/") and '"' not in n for n in names)
    readme = archive.read("README.txt").decode()
    for name in names:
        if name != "README.txt" and "/" not in name:
            assert name in readme, name
    assert "my_photo_jpg.cutouts/" in readme
    cutouts = sorted(n for n in names if "/" in n)
    assert len(cutouts) == 3
    for s, name in zip(seg.segments, cutouts, strict=True):
        rgba = np.asarray(Image.open(io.BytesIO(archive.read(name))))
        region = (seg.ids == s.id).numpy()
        assert region.any() and not region.all()
        np.testing.assert_array_equal(rgba[..., 3] == 255, region)
        np.testing.assert_array_equal(rgba[..., :3][region], image.permute(1, 2, 0).numpy()[region])
    ids = np.asarray(Image.open(io.BytesIO(archive.read("my_photo_jpg.ids.png"))))
    np.testing.assert_array_equal(ids, seg.ids.numpy())
    mask = np.asarray(Image.open(io.BytesIO(archive.read("my_photo_jpg.mask.png"))))
    np.testing.assert_array_equal(mask.astype(bool), (seg.ids == 2).numpy())
    COCO_JSON = json.loads(archive.read("my_photo_jpg.coco_instances.json"))
    assert len(COCO_JSON["annotations"]) == 3


# --------------------------------------------------------------------------- real model outputs


def test_real_instance_output_round_trips(monkeypatch, tmp_path):
    """Random Mask R-CNN keeps its detections above the 0.05 floor: a real, non-empty result."""
    from segdemo import instance

    monkeypatch.setenv("SEGDEMO_WEIGHTS", "random")
    image = torch.randint(
        0, 256, (3, 120, 160), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    seg = instance.segment(image, "v1", threshold=0.05, working_size=128, device="cpu")
    assert len(seg) > 1
    assert_varied(seg.ids)
    data = exports.coco_instances([PhotoEntry(1, "r.png", seg)])
    coco = COCO(write_json(tmp_path, data))
    for ann in coco.loadAnns(coco.getAnnIds()):
        segment_id = next(s.id for s in seg.segments if s.score == ann["score"])
        np.testing.assert_array_equal(
            coco.annToMask(ann).astype(bool), (seg.ids == segment_id).numpy()
        )


def test_real_panoptic_output_round_trips(monkeypatch):
    """The tiny random Mask2Former gives a shipped photo real segments, things and stuff."""
    from segdemo import panoptic
    from segdemo.images import load_image
    from tests.e2e.conftest import EXAMPLES

    monkeypatch.setenv("SEGDEMO_WEIGHTS", "random")
    monkeypatch.setenv("SEGDEMO_PANOPTIC_ARCH", "tiny")
    panoptic.unload()
    try:
        seg = panoptic.segment(load_image(EXAMPLES / "rocket.jpg"), device="cpu")
    finally:
        panoptic.unload()
    assert len(seg) >= 3
    assert {s.is_thing for s in seg.segments} == {True, False}
    assert_varied(seg.ids)
    data, pngs = exports.coco_panoptic([PhotoEntry(1, "r.png", seg)], ["r.png"])
    rgb = np.asarray(Image.open(io.BytesIO(exports.png_bytes(pngs[0])))).astype(np.int64)
    np.testing.assert_array_equal(
        rgb[..., 0] + 256 * rgb[..., 1] + 256**2 * rgb[..., 2], seg.ids.numpy()
    )
    assert_segments_info(data["annotations"][0]["segments_info"], seg)
