"""segdemo: semantic, instance and panoptic segmentation, shown and taken away.

    >>> import segdemo
    >>> seg = segdemo.segment("photo.jpg", task="semantic")       # doctest: +SKIP
    >>> segdemo.exports.voc_png(seg).save("photo.voc.png")        # doctest: +SKIP

Importing the package changes nothing in the host process and loads neither torch nor Gradio;
the entry points apply their process settings themselves (see :mod:`segdemo.process`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import os

    import torch

    from segdemo.models import Progress
    from segdemo.result import Segmentation

__all__ = ["exports", "segment"]


def segment(
    photo: str | os.PathLike[str] | torch.Tensor,
    task: str = "semantic",
    model: str | None = None,
    *,
    device: torch.device | str | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> Segmentation:
    """Segment one photo with a task's model: the Python API of the demo.

    ``photo``: a file path (decoded safely, like an upload) or a uint8 [3, H, W] tensor.
    ``task``: "semantic", "instance" or "panoptic"; ``model``: one of the task's models
    (None: the tab's default); ``options``: the task's own (every task: ``precision``, "fp32",
    "bf16" or "auto", see :mod:`segdemo.precision`; instance: ``threshold``, ``classes``,
    ``working_size``; panoptic: ``threshold``, ``working_size``). The id map comes
    back on ``device`` (None: cuda, then mps, then cpu). ValueError names a bad task, model or
    option; ``segdemo.images.InputError`` explains a bad file.
    """
    import torch

    from segdemo import images, tasks

    if task not in tasks.TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {list(tasks.TASKS)}")
    spec = tasks.TASKS[task]
    model = spec.default if model is None else model
    if model not in spec.models:
        raise ValueError(f"unknown {task} model {model!r}; choose one of {list(spec.models)}")
    unknown = sorted(set(options) - spec.options)
    if unknown:
        raise ValueError(
            f"the {task} task takes no option {', '.join(unknown)}; it takes "
            f"{sorted(spec.options) or 'none'}"
        )
    image = photo if isinstance(photo, torch.Tensor) else images.load_image(photo)
    return spec.segment(image, model, device=device, progress=progress, **options)


def __getattr__(name: str) -> Any:
    """``segdemo.exports`` (and other submodules) on first use, so the import stays light."""
    if name == "exports":
        return importlib.import_module("segdemo.exports")
    raise AttributeError(f"module 'segdemo' has no attribute {name!r}")
