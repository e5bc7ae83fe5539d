"""The one result type: validation on construction, keep (filtering), areas."""

import pytest
import torch

from segdemo.result import Segment, Segmentation

CATS = ("background", "cat", "dog")


def make(ids, segments=None, task="semantic"):
    ids = torch.tensor(ids, dtype=torch.int32)
    if segments is None:
        segments = [Segment(i, i - 1, CATS[i - 1]) for i in range(1, int(ids.max()) + 1)]
    return Segmentation(ids, tuple(segments), CATS, task)


@pytest.mark.parametrize(
    ("ids", "segments", "task", "match"),
    [
        (torch.zeros(3, dtype=torch.int32), (), "semantic", "2-D"),
        (torch.zeros(2, 2, dtype=torch.int64), (), "semantic", "int32"),
        (torch.zeros(2, 2, dtype=torch.int32), (), "depth", "task"),
        (torch.zeros(2, 2, dtype=torch.int32), (Segment(0, 0, "x"),), "semantic", "> 0"),
        (
            torch.zeros(2, 2, dtype=torch.int32),
            (Segment(1, 0, "a"), Segment(1, 1, "b")),
            "semantic",
            "twice",
        ),
        (torch.zeros(2, 2, dtype=torch.int32), (Segment(1, 7, "a"),), "semantic", "category_id"),
        (torch.full((2, 2), 2, dtype=torch.int32), (Segment(1, 0, "a"),), "semantic", "span"),
        (torch.full((2, 2), -1, dtype=torch.int32), (Segment(1, 0, "a"),), "semantic", "span"),
    ],
)
def test_invalid_results_are_refused(ids, segments, task, match):
    with pytest.raises(ValueError, match=match):
        Segmentation(ids, segments, CATS, task)


def test_clone_gives_a_new_id_map_and_the_same_table():
    seg = make([[1, 2, 3], [3, 0, 1]])
    copy = seg.clone()
    assert copy.segments == seg.segments and torch.equal(copy.ids, seg.ids)
    assert copy.ids.data_ptr() != seg.ids.data_ptr()
    copy.ids[0, 0] = 2
    assert seg.ids[0, 0] == 1


def test_areas_count_pixels_and_empty_has_none():
    seg = make([[1, 1, 3], [3, 0, 1]])
    assert seg.areas() == {1: 3, 2: 0, 3: 2}
    empty = Segmentation.empty(4, 5, CATS, "instance")
    assert empty.size == (4, 5) and len(empty) == 0 and empty.areas() == {}
    assert seg.segment(3).label == "dog"
    with pytest.raises(KeyError):
        seg.segment(9)
