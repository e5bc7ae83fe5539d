"""Ground-truth annotations: trimap values, ToTensor scaling, segments per value."""

import pytest
import torch
from torchvision.transforms.functional import to_tensor

from segdemo import groundtruth


def trimap():
    return torch.tensor([[1, 1, 3, 2], [1, 3, 2, 2], [3, 2, 2, 2]], dtype=torch.int32)


def test_trimap_becomes_one_segment_per_value_with_pet_names():
    values = trimap()
    seg = groundtruth.annotation_segmentation(values)
    assert [s.label for s in seg.segments] == ["pet", "background", "border"]
    assert seg.extras["values"] == [1, 2, 3]
    assert seg.task == "groundtruth"
    pet = groundtruth.segment_for_value(seg, 1)
    assert torch.equal(seg.ids == pet, values == 1)
    assert seg.areas() == {1: 3, 2: 6, 3: 3}
    with pytest.raises(ValueError, match="no pixel with value 7"):
        groundtruth.segment_for_value(seg, 7)


def test_value_table_reports_what_to_tensor_returned():
    values = trimap()
    scaled = to_tensor(values.to(torch.uint8).numpy())  # what the lesson's ToTensor gives
    seg = groundtruth.annotation_segmentation(values)
    rows = groundtruth.value_table(seg, scaled)
    assert [r.stored for r in rows] == [1, 2, 3]
    assert [r.to_tensor for r in rows] == pytest.approx([1 / 255, 2 / 255, 3 / 255])
    assert [r.pixels for r in rows] == [3, 6, 3]
    assert sum(r.share for r in rows) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("values", "mode", "names"),
    [
        ([1, 2, 3], "L", ["pet", "background", "border"]),
        ([0, 15, 255], "P", ["__background__", "person", "void"]),
        ([0, 15, 255], "L", ["value 0", "value 15", "value 255"]),
        ([4, 9], "I;16", ["value 4", "value 9"]),
    ],
)
def test_label_names_follow_the_annotation_kind(values, mode, names):
    assert list(groundtruth.label_names(values, mode).values()) == names


def test_the_sentence_depends_on_the_mode():
    assert "255" in groundtruth.why_values_differ("L")
    assert "keeps the values" in groundtruth.why_values_differ("I;16")


def test_category_ids_are_the_stored_values_so_voc_colours_follow_the_file():
    values = torch.tensor([[0, 15], [255, 15]], dtype=torch.int32)
    seg = groundtruth.annotation_segmentation(values, "P")
    assert [s.category_id for s in seg.segments] == [0, 15, 255]
    assert seg.categories[15] == "person" and seg.categories[255] == "void"
    assert len(seg.categories) == 256
    with pytest.raises(ValueError, match=">= 0"):
        groundtruth.annotation_segmentation(torch.tensor([[-1, 2]], dtype=torch.int32))
