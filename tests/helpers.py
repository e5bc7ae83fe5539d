"""Helpers shared by the test files: the device list, the rule for comparing masks, a guard
that no model runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

#: Every test that takes a device runs on the CPU and, where there is one, on a CUDA GPU.
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param(
        "cuda",
        id="cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    ),
]


def assert_varied(values: np.ndarray | torch.Tensor, what: str = "the map") -> None:
    """The rule for every comparison of masks or id maps: neither empty nor one value everywhere
    (comparing an empty or uniform map proves nothing)."""
    array = (
        values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    )
    assert array.any(), f"{what} is empty (all 0): comparing it proves nothing"
    assert len(np.unique(array)) > 1, f"{what} is one value everywhere: compare a varied one"


def forbid_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every task's model fail the test if it runs (for errors that must come first)."""
    from segdemo import tasks

    def no_model(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a model ran despite a usage error")

    for task, spec in list(tasks.TASKS.items()):
        monkeypatch.setitem(tasks.TASKS, task, dataclasses.replace(spec, segment=no_model))
