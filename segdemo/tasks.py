"""The model-backed tasks in one table: their models, defaults, how to run and fetch them.

The CLI reads it; each tab wires the same adapter functions directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from segdemo import instance, panoptic, semantic, store
from segdemo.result import Segmentation


@dataclass(frozen=True)
class TaskModels:
    """One task's models (key → one-line description), its default, ``run`` and ``fetch``.

    ``run(image, model, **options)`` returns a Segmentation; ``fetch(model)`` the local files.
    """

    models: Mapping[str, str]
    default: str
    run: Callable[..., Segmentation]
    fetch: Callable[[str], Path | str]


def _semantic(image: torch.Tensor, model: str, **_: object) -> Segmentation:
    return semantic.segment(image, model)


def _instance(image: torch.Tensor, model: str, *, score_threshold: float = 0.5,
              **_: object) -> Segmentation:
    return instance.segment(image, model, score_threshold=score_threshold)


def _panoptic(image: torch.Tensor, model: str, **_: object) -> Segmentation:
    return panoptic.segment(image, model)


def _fetch_torchvision(variants: Mapping[str, store.TorchvisionVariant]) -> Callable[[str], Path]:
    def fetch(model: str) -> Path:
        spec = variants[model]
        return store.fetch_checkpoint(spec.weights.url, spec.title)

    return fetch


TASKS: dict[str, TaskModels] = {
    "semantic": TaskModels(
        {k: v.description for k, v in semantic.VARIANTS.items()}, semantic.DEFAULT_VARIANT,
        _semantic, _fetch_torchvision(semantic.VARIANTS),
    ),
    "instance": TaskModels(
        {k: v.description for k, v in instance.VARIANTS.items()}, instance.DEFAULT_VARIANT,
        _instance, _fetch_torchvision(instance.VARIANTS),
    ),
    "panoptic": TaskModels(
        {k: v.description for k, v in panoptic.CHECKPOINTS.items()}, panoptic.DEFAULT_CHECKPOINT,
        _panoptic, lambda model: panoptic.fetch([model])[0],
    ),
}


def model_names() -> list[str]:
    """Every model as "task/model", the names `python -m segdemo fetch` takes."""
    return [f"{task}/{model}" for task, spec in TASKS.items() for model in spec.models]
