"""The precision suite's agreement measures, on crafted results with known answers."""

from __future__ import annotations

import argparse

import pytest
import torch

from segdemo.bench import precision as suite
from segdemo.result import Segment, Segmentation


def seg(ids: list[list[int]], classes: dict[int, int]) -> Segmentation:
    segments = tuple(Segment(i, c, f"class {c}", 0.9, True) for i, c in classes.items())
    names = tuple(f"class {c}" for c in range(5))
    return Segmentation(torch.tensor(ids, dtype=torch.int32), segments, names, "instance", {})


def test_matched_iou_pairs_each_mask_with_its_best_same_class_mask() -> None:
    exact = seg([[1, 1, 2, 2]], {1: 3, 2: 4})
    fast = seg([[2, 1, 1, 0]], {1: 4, 2: 3})  # renumbered; class 3 lost a pixel, 4 moved
    # class 3: {0,1} vs {0} → 1/2; class 4: {2,3} vs {1,2} → 1/3
    assert suite._matched_iou(exact, fast) == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert suite._matched_iou(exact, exact) == 1.0
    empty = seg([[0, 0, 0, 0]], {})
    assert suite._matched_iou(empty, empty) == 1.0 and suite._matched_iou(exact, empty) == 0.0


def test_segment_agreement_compares_labels_not_ids() -> None:
    exact = seg([[1, 1, 2, 0]], {1: 3, 2: 4})
    fast = seg([[2, 2, 1, 1]], {2: 3, 1: 4})
    assert suite._agreement("panoptic", exact, fast) == 0.75


def test_without_native_bf16_the_suite_says_so(monkeypatch, capsys) -> None:
    monkeypatch.setattr(suite, "native_bf16", lambda device: False)
    suite.run(argparse.Namespace(device=torch.device("cpu"), only=[], quick=True, repeat=0))
    assert '"precision_skipped"' in capsys.readouterr().out
