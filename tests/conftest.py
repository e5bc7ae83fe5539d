"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers import DEVICES


@pytest.fixture(params=DEVICES, scope="session")
def device(request: pytest.FixtureRequest) -> torch.device:
    """Each test that takes ``device`` runs on the CPU and, where there is one, on a CUDA GPU.

    Session-scoped so Hypothesis tests can take it (it is a plain value, nothing to reset).
    """
    return torch.device(request.param)


@pytest.fixture
def random_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Seeded random weights, no network, model stores in ``tmp_path``, the default device."""
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "random")
    monkeypatch.setenv("SEGDEMO_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.delenv("SEGDEMO_DEVICE", raising=False)
