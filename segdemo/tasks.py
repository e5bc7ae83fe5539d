"""The model-backed tasks in one table: their adapter, models, defaults, options and fetch.

Every adapter has one shape (:class:`Segmenter`): ``segment(image, model, *, device, progress,
**options) -> Segmentation``, where ``options`` are the task's own keywords (listed in
:attr:`TaskModels.options`). The tabs, the CLI and the batch engines all call it through here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from segdemo import instance, panoptic, semantic, weights
from segdemo.models import Progress, TorchvisionVariant
from segdemo.result import Segmentation


class Segmenter(Protocol):
    """A task adapter: uint8 [3, H, W] image (any device) → Segmentation at the image's size.

    The model runs on ``device`` (None: :func:`segdemo.device.choose_device`) and the id map
    comes back there. ``progress(fraction, message)`` hears about loading and running. Bad
    arguments raise ValueError (TypeError for a wrong type) before any model runs.
    """

    def __call__(
        self,
        image: torch.Tensor,
        model: str,
        /,
        *,
        device: torch.device | str | None = None,
        progress: Progress | None = None,
        **options: object,
    ) -> Segmentation: ...


@dataclass(frozen=True)
class TaskModels:
    """One task: ``segment`` (the adapter), its ``models`` (key → one-line description), the
    ``default`` model, the keyword ``options`` ``segment`` takes besides ``device`` and
    ``progress``, and ``fetch(model)``, which brings the model's files into the store."""

    segment: Segmenter
    models: Mapping[str, str]
    default: str
    options: frozenset[str]
    fetch: Callable[[str], Path]


def _fetch_torchvision(variants: Mapping[str, TorchvisionVariant]) -> Callable[[str], Path]:
    def fetch(model: str) -> Path:
        spec = variants[model]
        return weights.fetch_checkpoint(spec.weights.url, spec.title)

    return fetch


TASKS: dict[str, TaskModels] = {
    "semantic": TaskModels(
        semantic.segment,  # type: ignore[arg-type]
        {k: v.description for k, v in semantic.VARIANTS.items()},
        semantic.DEFAULT_VARIANT,
        frozenset({"precision"}),
        _fetch_torchvision(semantic.VARIANTS),
    ),
    "instance": TaskModels(
        instance.segment,  # type: ignore[arg-type]
        {k: v.description for k, v in instance.VARIANTS.items()},
        instance.DEFAULT_VARIANT,
        frozenset({"threshold", "classes", "working_size", "precision"}),
        _fetch_torchvision(instance.VARIANTS),
    ),
    "panoptic": TaskModels(
        panoptic.segment,  # type: ignore[arg-type]
        {k: v.description for k, v in panoptic.CHECKPOINTS.items()},
        panoptic.DEFAULT_CHECKPOINT,
        frozenset({"threshold", "working_size", "precision"}),
        lambda model: panoptic.fetch([model])[0],
    ),
}


def model_names() -> list[str]:
    """Every model as "task/model", the names `python -m segdemo fetch` takes."""
    return [f"{task}/{model}" for task, spec in TASKS.items() for model in spec.models]
