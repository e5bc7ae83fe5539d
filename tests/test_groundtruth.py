"""Ground-truth annotations: trimap values, ToTensor scaling, segments per value.

Every test that compares id maps or masks first asserts that they are neither empty nor uniform;
the one-value annotation, a legitimate degenerate case, has a test of its own.
"""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms.functional import to_tensor

from segdemo import groundtruth


def trimap() -> torch.Tensor:
    return torch.tensor([[1, 1, 3, 2], [1, 3, 2, 2], [3, 2, 2, 2]], dtype=torch.int32)


def assert_informative(*maps: torch.Tensor) -> None:
    """Neither empty (no pixel, or nothing but 0/False) nor uniform (one value everywhere)."""
    for m in maps:
        assert m.numel() > 0 and m.unique().numel() > 1, f"empty or uniform: {m}"


def test_trimap_becomes_one_segment_per_value_with_pet_names():
    values = trimap()
    seg = groundtruth.annotation_segmentation(values)
    assert [s.label for s in seg.segments] == ["pet", "background", "border"]
    assert seg.extras["values"] == [1, 2, 3]
    assert seg.task == "groundtruth"
    pet = groundtruth.segment_for_value(seg, 1)
    assert_informative(seg.ids, values == 1)
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
    with pytest.raises(ValueError, match="2-D label map"):
        groundtruth.annotation_segmentation(torch.zeros(1, 2, 2, dtype=torch.int32))
    with pytest.raises(TypeError, match="got a list"):
        groundtruth.annotation_segmentation([[1, 2]])  # type: ignore[arg-type]


def test_segment_ids_rank_the_values_of_a_label_map(device: torch.device) -> None:
    g = torch.Generator().manual_seed(3)
    stored = torch.tensor([0, 7, 15, 255], dtype=torch.int32)
    values = stored[torch.randint(0, 4, (20, 30), generator=g)].to(device)
    values[:5, :5] = 15  # a blob, like a real annotation
    seg = groundtruth.annotation_segmentation(values, "P")
    expected = (torch.searchsorted(stored.to(device), values) + 1).to(torch.int32)
    assert_informative(values, expected)
    assert seg.ids.device == values.device
    assert torch.equal(seg.ids, expected)
    assert seg.extras["values"] == [0, 7, 15, 255]
    for value in (0, 7, 15, 255):
        mask = values == value
        assert_informative(mask)
        assert torch.equal(seg.ids == groundtruth.segment_for_value(seg, value), mask)


def test_one_value_everywhere_is_one_segment_everywhere() -> None:
    seg = groundtruth.annotation_segmentation(torch.full((3, 4), 2, dtype=torch.int32))
    assert [(s.id, s.category_id, s.label) for s in seg.segments] == [(1, 2, "background")]
    assert bool((seg.ids == 1).all())
    assert seg.areas() == {1: 12}
