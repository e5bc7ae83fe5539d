"""The Ray engine: the same job on a Ray cluster, with Ray Data.

    photo list ──► ray.data.from_items ──► map_batches(PhotoWorker, actor pool) ──► outcomes
                                              │
                                              └─ each actor: the local pipeline (decode ∥ model
                                                 ∥ write) on its batch, the same Job, the same
                                                 files

:class:`PhotoWorker` is a callable class, so Ray Data runs it in a pool of actors, each loading
the model once (on its first photo; the adapters keep it for the process) and reusing it for
every batch; it asks for one GPU per actor when the cluster has GPUs. Each photo's outcome comes
back as a row (image id, reason); a photo's failure is a row like any other, never fatal to the
job. Missing weights are: the run stops as the local engine's does.

The photos are local paths, which every node must see at the same place (one machine, or a
shared file system); so must the output folder. Without an address, :func:`run` starts a small
local Ray instance (2 CPUs, no dashboard) for the run and stops it after; with ``address`` (or
``RAY_ADDRESS``) it joins that cluster. The ``SEGDEMO_*`` variables go to the workers with the
job (the weights mode, the device).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from segdemo.batch import local
from segdemo.batch.job import Job, Outcome
from segdemo.batch.photos import Photo
from segdemo.weights import WeightsUnavailable

#: What to tell a user whose Python lacks Ray Data.
INSTALL_HINT = (
    "the Ray engine needs Ray Data: install it with "
    "`pip install -r requirements-scale.txt` (the pinned ray[data])"
)

#: CPUs of the Ray instance started when no cluster address is given.
LOCAL_CPUS = 2

#: Photos an actor takes at a time, by default: enough for its pipeline to overlap.
BATCH_SIZE = 4


class RayUnavailable(RuntimeError):
    """Ray Data is not installed; the message says how to install it."""


def require_ray() -> ModuleType:
    """The ``ray`` module with Ray Data loaded, or :class:`RayUnavailable`."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise RayUnavailable(INSTALL_HINT) from None
    return ray


class PhotoWorker:
    """A Ray Data actor: runs ``job`` on batches of photo rows (path, image_id, file_name,
    stem) and returns their outcome rows (image_id, reason: "" for done, fatal)."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        photos = [
            Photo(Path(str(path)), int(image_id), str(file_name), str(stem))
            for path, image_id, file_name, stem in zip(
                batch["path"], batch["image_id"], batch["file_name"], batch["stem"], strict=True
            )
        ]
        reasons = {p.image_id: "" for p in photos}
        fatal = ""
        try:
            for outcome in local.run(self.job, photos):
                reasons[outcome.photo.image_id] = outcome.reason or ""
        except WeightsUnavailable as error:
            fatal = str(error)
        return {
            "image_id": np.array(list(reasons), dtype=np.int64),
            "reason": np.array([fatal or r for r in reasons.values()], dtype=object),
            "fatal": np.full(len(reasons), bool(fatal)),
        }


def run(
    job: Job,
    photos: Sequence[Photo],
    *,
    address: str | None = None,
    concurrency: int | None = None,
    batch_size: int = BATCH_SIZE,
) -> Iterator[Outcome]:
    """Run ``job`` on ``photos`` with Ray Data, yielding each photo's outcome as its batch
    finishes (outcomes carry no file list: the files are on the workers' side).

    ``concurrency``: actors in the pool (default: one per GPU of the cluster, else one per
    CPU); ``batch_size``: photos an actor takes at a time. :class:`WeightsUnavailable` when a
    worker has no weights.
    """
    if not photos:
        return
    ray = require_ray()
    started = _connect(ray, address)
    try:
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        size = concurrency or max(1, gpus or int(resources.get("CPU", 1)))
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the run's own bar counts the photos
        context.print_on_execution_start = False
        rows = [
            {"path": str(p.path), "image_id": p.image_id, "file_name": p.file_name, "stem": p.stem}
            for p in photos
        ]
        by_id = {p.image_id: p for p in photos}
        actor: dict[str, Any] = {"num_gpus": 1} if gpus else {"num_cpus": 1}
        outcomes = ray.data.from_items(rows).map_batches(
            PhotoWorker,
            fn_constructor_kwargs={"job": job},
            batch_size=batch_size,
            compute=ray.data.ActorPoolStrategy(size=size),
            udf_modifying_row_count=False,
            **actor,
        )
        for batch in outcomes.iter_batches(batch_size=None, batch_format="numpy"):
            for image_id, reason, fatal in zip(
                batch["image_id"], batch["reason"], batch["fatal"], strict=True
            ):
                if fatal:
                    raise WeightsUnavailable(str(reason))
                yield Outcome(by_id[int(image_id)], reason=str(reason) or None)
    finally:
        if started:
            ray.shutdown()


def _connect(ray: ModuleType, address: str | None) -> bool:
    """Join ``address`` (or ``RAY_ADDRESS``), or start a local instance of :data:`LOCAL_CPUS`
    CPUs; True when this call connected (and so must disconnect), False when this process was
    connected already."""
    if ray.is_initialized():
        return False
    env = {"env_vars": {k: v for k, v in os.environ.items() if k.startswith("SEGDEMO_")}}
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, runtime_env=env, log_to_driver=False)
    else:
        ray.init(num_cpus=LOCAL_CPUS, include_dashboard=False, runtime_env=env, log_to_driver=False)
    return True
