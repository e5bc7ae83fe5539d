"""One-line summaries written from the results, and one pick for the three kinds."""

from __future__ import annotations

import torch
from torchvision.models.detection import MaskRCNN_ResNet50_FPN_V2_Weights
from torchvision.models.segmentation import DeepLabV3_ResNet50_Weights

from segdemo import compare
from segdemo.panoptic.datasets import DATASETS
from segdemo.result import Segment, Segmentation

VOC = tuple(DeepLabV3_ResNet50_Weights.DEFAULT.meta["categories"])
COCO = tuple(MaskRCNN_ResNet50_FPN_V2_Weights.DEFAULT.meta["categories"])
PANOPTIC = tuple(c.name for c in DATASETS["coco"])


def halves() -> torch.Tensor:
    """A 10×20 id map: left half 1 (60 %: columns 0-11), right 2 (40 %)."""
    ids = torch.ones(10, 20, dtype=torch.int32)
    ids[:, 12:] = 2
    return ids


def test_semantic_summary_names_classes_by_share_background_last() -> None:
    ids = halves()
    ids[0, 0] = 3  # 0.5 %: under MIN_SHARE, not named
    table = (
        Segment(1, VOC.index("cat"), "cat"),
        Segment(2, 0, "__background__"),
        Segment(3, VOC.index("sofa"), "sofa"),
    )
    text = compare.summary(Segmentation(ids, table, VOC, "semantic"))
    assert text == "Semantic: cat 60 % · background 40 % — one region per class"


def test_instance_summary_numbers_each_class() -> None:
    ids = halves()
    table = (
        Segment(1, COCO.index("cat"), "cat 1 · 0.9", 0.9, True),
        Segment(2, COCO.index("cat"), "cat 2 · 0.8", 0.8, True),
    )
    assert compare.summary(Segmentation(ids, table, COCO, "instance")) == "Instance: cat 1, cat 2"


def test_panoptic_summary_lists_things_then_stuff_by_area() -> None:
    ids = halves()
    ids[:2, :2] = 3
    wall, floor = PANOPTIC.index("wall-other-merged"), PANOPTIC.index("floor-other-merged")
    cat = PANOPTIC.index("cat")
    table = (
        Segment(1, floor, "floor", 0.9, False),
        Segment(2, wall, "wall", 0.9, False),
        Segment(3, cat, "cat", 0.9, True),
    )
    text = compare.summary(Segmentation(ids, table, PANOPTIC, "panoptic"))
    assert text == "Panoptic: cat 1 + floor-other-merged, wall-other-merged"


def test_empty_results_say_so_and_long_lists_are_counted() -> None:
    assert compare.summary(Segmentation.empty(4, 4, COCO, "instance")) == "Instance: no segment"
    ids = torch.arange(1, 9, dtype=torch.int32).repeat(2, 1)
    table = tuple(Segment(k, COCO.index("dog"), "d", 1 - k / 10, True) for k in range(1, 9))
    text = compare.summary(Segmentation(ids, table, COCO, "instance"))
    assert text == "Instance: dog 1, dog 2, dog 3, dog 4, dog 5, dog 6 + 2 more"


def test_a_click_picks_the_class_in_every_kind_where_it_exists() -> None:
    ids = halves()
    semantic = Segmentation(
        ids,
        (Segment(1, VOC.index("sofa"), "sofa"), Segment(2, 0, "__background__")),
        VOC,
        "semantic",
    )
    instance = Segmentation(
        ids,
        (
            Segment(1, COCO.index("couch"), "couch 1", 0.9, True),
            Segment(2, COCO.index("cat"), "cat 1", 0.8, True),
        ),
        COCO,
        "instance",
    )
    results = {"semantic": semantic, "instance": instance}
    name = compare.class_at(semantic, 3, 3)
    assert name == "couch"  # VOC's "sofa" is COCO's "couch"
    assert compare.picks_for_class(results, name) == {"semantic": [1], "instance": [1]}
    assert compare.picks_for_class(results, compare.class_at(instance, 15, 3)) == {
        "semantic": [],
        "instance": [2],
    }
    assert compare.class_at(semantic, 99, 3) is None
    assert compare.picks_for_class(results, None) == {"semantic": [], "instance": []}
