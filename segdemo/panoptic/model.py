"""Mask2Former (transformers) as a task adapter: build or load a checkpoint, run it on an image.

One :class:`~segdemo.models.ModelFamily` holds the checkpoints' models, built lazily once per
(checkpoint, device, weights mode, architecture): ``SEGDEMO_WEIGHTS=random`` builds the
checkpoint's architecture with seeded random weights (their heads made decisive by
:func:`~segdemo.panoptic.untrained.make_decisive`, so that photos get segments) and the shipped
label list, and ``SEGDEMO_PANOPTIC_ARCH=tiny`` (random weights only) a tiny one, for tests.
Pretrained weights come from the local model store through :func:`segdemo.hub.load_pretrained`
(safetensors only).

:func:`segment` has the adapters' common shape (see :mod:`segdemo.tasks`): image, checkpoint,
then ``device``, ``progress`` and the task's options ``threshold`` and ``working_size``.

Adapter only: no gradio, PIL or numpy here.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from numbers import Integral
from pathlib import Path
from typing import Any, NamedTuple

import torch

from segdemo.checks import fraction
from segdemo.device import clock, resolve_device
from segdemo.hub import fetch_pretrained, load_pretrained
from segdemo.models import ModelFamily, Progress, check_image, seeded
from segdemo.panoptic.checkpoints import (
    CHECKPOINTS,
    DEFAULT_CHECKPOINT,
    DEFAULT_WORKING_SIZE,
    LONGEST_EDGE,
    SIZE_DIVISOR,
    WORKING_SIZE_RANGE,
    Checkpoint,
    get_checkpoint,
    random_config,
    shipped_labels,
)
from segdemo.panoptic.postprocess import THRESHOLD, postprocess
from segdemo.panoptic.untrained import make_decisive
from segdemo.precision import autocast, resolve_precision
from segdemo.result import Segmentation
from segdemo.weights import weights_mode

#: SEGDEMO_PANOPTIC_ARCH=tiny (with SEGDEMO_WEIGHTS=random) builds a tiny model: for tests.
ARCH_ENV = "SEGDEMO_PANOPTIC_ARCH"


class Loaded(NamedTuple):
    """A checkpoint ready to run: model, image processor, labels and thing/stuff flags."""

    model: torch.nn.Module
    processor: Any
    categories: tuple[str, ...]
    is_thing: tuple[bool, ...]
    stuff_ids: frozenset[int]
    device: torch.device


def architecture() -> str:
    """``checkpoint`` (the checkpoint's own dimensions) or ``tiny``, from SEGDEMO_PANOPTIC_ARCH."""
    value = os.environ.get(ARCH_ENV, "checkpoint").strip().lower() or "checkpoint"
    if value not in ("checkpoint", "tiny"):
        raise ValueError(f"{ARCH_ENV} must be 'checkpoint' or 'tiny', got {value!r}")
    if value == "tiny" and weights_mode() != "random":
        raise ValueError(f"{ARCH_ENV}=tiny needs SEGDEMO_WEIGHTS=random (it has no weights)")
    return value


def _title(spec: Checkpoint) -> str:
    return f"Mask2Former {spec.title}"


def _build(spec: Checkpoint, device: torch.device) -> Loaded:
    from transformers import Mask2FormerForUniversalSegmentation, Mask2FormerImageProcessor

    if weights_mode() == "random":
        config = random_config(spec.repo_id, tiny=architecture() == "tiny")
        with seeded():
            model = Mask2FormerForUniversalSegmentation(config)
            make_decisive(model)
        processor = Mask2FormerImageProcessor(size_divisor=SIZE_DIVISOR)
    else:
        title = f"{_title(spec)} panoptic"
        model = load_pretrained(Mask2FormerForUniversalSegmentation, spec.repo_id, title)
        processor = load_pretrained(Mask2FormerImageProcessor, spec.repo_id, title)
    # float32 on every device: see segdemo.panoptic.postprocess on lower precisions
    model = model.to(device=device, dtype=torch.float32).eval()
    config = model.config
    categories = tuple(str(config.id2label[i]) for i in range(config.num_labels))
    _, flags = shipped_labels(spec.repo_id)
    if len(flags) != len(categories):
        raise ValueError(
            f"{spec.repo_id} has {len(categories)} classes but the shipped {spec.dataset} list "
            f"has {len(flags)}: the thing/stuff flags cannot be matched"
        )
    stuff = frozenset(i for i, thing in enumerate(flags) if not thing)
    return Loaded(model, processor, categories, flags, stuff, device)


_MODELS: ModelFamily[Checkpoint, Loaded] = ModelFamily(
    "Mask2Former panoptic",
    CHECKPOINTS,
    DEFAULT_CHECKPOINT,
    _build,
    context=lambda: (weights_mode(), architecture()),
)
#: ``load(checkpoint=None, device=None, progress=None, *, title=None) -> Loaded``: the model,
#: processor and labels of ``checkpoint`` on ``device``, built once per (checkpoint, device,
#: weights mode, architecture). Raises WeightsUnavailable (one sentence with the fix) when
#: pretrained weights are neither in the store nor downloadable.
load = _MODELS.load
#: ``is_loaded(checkpoint=None, device=None) -> bool``
is_loaded = _MODELS.is_loaded
#: ``unload()``: forget every built model (e.g. to free GPU memory).
unload = _MODELS.clear


def fetch(checkpoints: Sequence[str] | None = None) -> list[Path]:
    """Download the checkpoints' safetensors and JSON files into the model store (all if None).

    Returns the local snapshot folders; raises WeightsUnavailable for one that cannot be had.
    """
    paths = []
    for key in checkpoints if checkpoints is not None else list(CHECKPOINTS):
        spec = get_checkpoint(key)
        paths.append(fetch_pretrained(spec.repo_id, f"{_title(spec)} panoptic"))
    return paths


def segment(
    image: torch.Tensor,
    checkpoint: str = DEFAULT_CHECKPOINT,
    *,
    threshold: float = THRESHOLD,
    working_size: int | None = None,
    precision: str | None = None,
    progress: Progress | None = None,
    device: torch.device | str | None = None,
) -> Segmentation:
    """Panoptic segmentation of a uint8 [3, H, W] image (any device) → a Segmentation of (H, W).

    The model runs on ``device`` (None: :func:`segdemo.device.choose_device`); the image is
    moved there and the id map comes back there. ``working_size``: the shorter side the model
    sees (None: 384, the stock processor's; 800 is about what the published PQ was measured at);
    the longer side is capped at 1333. ``threshold``: the class score a query needs to become a
    segment. ``precision``: "fp32", "bf16" or "auto" for the model's forward (see
    :mod:`segdemo.precision`; None: its default); post-processing runs on float32 logits.
    ``progress(fraction, message)`` hears about loading (only when the model is not
    built yet), running and done.

    ``extras`` holds ``timings_ms`` per stage (load, preprocess, model, postprocess), ``model``
    (title), ``checkpoint``, ``weights`` (pretrained / random: show an "untrained weights"
    banner), ``threshold``, ``working_size``, ``model_input`` (the (H, W) the model saw),
    ``precision`` (what the forward ran in) and ``device``. Bad arguments raise TypeError
    (wrong kind) or ValueError (wrong value) before any model runs.
    """
    spec = get_checkpoint(checkpoint)
    title = _title(spec)
    check_image(image, title=title)
    threshold = fraction(threshold, "threshold")
    size = _working_size(working_size)
    where = resolve_device(device)
    resolved = resolve_precision(precision, where)
    mode = weights_mode()

    start = clock(where)
    loaded = load(checkpoint, where, progress, title=title)
    loaded_at = clock(where)
    if progress is not None:
        progress(0.3, f"Preprocessing (shorter side {size} px)")
    inputs = loaded.processor(
        images=image.to(where),
        return_tensors="pt",
        device=where,
        size={"shortest_edge": size, "longest_edge": max(LONGEST_EDGE, size)},
    )
    pixel_values = inputs["pixel_values"].to(device=where, dtype=torch.float32)
    model_input = (int(pixel_values.shape[-2]), int(pixel_values.shape[-1]))
    prepared = clock(where)
    if progress is not None:
        progress(0.4, f"Running {title} on {model_input[1]}×{model_input[0]}")
    with torch.inference_mode(), autocast(resolved, where):
        outputs = loaded.model(pixel_values=pixel_values)
    ran = clock(where)
    if progress is not None:
        progress(0.9, "Post-processing")
    result = postprocess(
        outputs.class_queries_logits[0].float(),
        outputs.masks_queries_logits[0].float(),
        target_size=(int(image.shape[1]), int(image.shape[2])),
        threshold=threshold,
        label_ids_to_fuse=loaded.stuff_ids,
        categories=loaded.categories,
        is_thing=loaded.is_thing,
    )
    done = clock(where)

    timings = {
        "load": (loaded_at - start) * 1e3,
        "preprocess": (prepared - loaded_at) * 1e3,
        "model": (ran - prepared) * 1e3,
        "postprocess": (done - ran) * 1e3,
    }
    result = dataclasses.replace(
        result,
        extras={
            "timings_ms": {stage: round(ms, 2) for stage, ms in timings.items()},
            "model": title,
            "checkpoint": checkpoint,
            "weights": mode,
            "threshold": threshold,
            "working_size": size,
            "model_input": model_input,
            "precision": resolved,
            "device": str(where),
        },
    )
    if progress is not None:
        progress(1.0, f"{title}: {len(result)} segments")
    return result


def _working_size(value: object) -> int:
    """``value`` as a working size: None means the default; TypeError / ValueError otherwise."""
    if value is None:
        return DEFAULT_WORKING_SIZE
    low, high = WORKING_SIZE_RANGE
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"working_size must be an int in [{low}, {high}] or None, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"working_size must be in [{low}, {high}] or None, got {value!r}")
    return int(value)
