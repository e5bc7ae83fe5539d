"""Shared pytest fixtures."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import DEVICES


@pytest.fixture(params=DEVICES, scope="session")
def device(request: pytest.FixtureRequest) -> torch.device:
    """Each test that takes ``device`` runs on the CPU and, where there is one, on a CUDA GPU.

    Session-scoped so Hypothesis tests can take it (it is a plain value, nothing to reset).
    """
    return torch.device(request.param)
