"""Benchmarks of segdemo.batch: photos per second through a whole folder run.

- ``batch_local_photos_per_s``: the pipelined local engine (:func:`segdemo.batch.local.run`)
  on :data:`PHOTOS` photos of varied sizes, against the sequential loop in the same run (each
  photo decoded, segmented and written before the next starts: :meth:`Job.process` in turn).
- ``batch_ray_photos_per_s``: the Ray engine on the same photos, on a local Ray instance
  already started (actor start-up and model loading included); only where Ray Data is installed.

The photos are resized and cropped copies of the shipped examples (``assets/examples``), in a
temporary folder; the model is the fast semantic one (``mobilenet_v3_large``), with cut-outs
written, as a CLI run writes them. ``median_ms`` is per photo (the run's time / photos);
``photos_per_s`` is the rate.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterable
from pathlib import Path

from PIL import Image

from segdemo.batch import local
from segdemo.batch import ray as ray_engine
from segdemo.batch.job import Job, Outcome
from segdemo.batch.photos import Photo, plan_photos
from segdemo.bench.timing import median_ms, report, wants

PHOTOS = 32
MODEL = "mobilenet_v3_large"
EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "examples"
#: (longest side, crop fraction kept) of the copies, cycled: small thumbnails to 1080p-like.
SIZES = ((320, 1.0), (480, 0.8), (640, 0.9), (800, 0.7), (1024, 1.0), (1280, 0.85))


def make_photos(folder: Path, count: int = PHOTOS) -> list[Photo]:
    """``count`` JPEG and PNG copies of the examples, each cropped and resized differently."""
    sources = [*sorted(EXAMPLES.glob("*.jpg")), EXAMPLES / "chelsea.png"]
    for k in range(count):
        with Image.open(sources[k % len(sources)]) as source:
            image = source.convert("RGB")
        side, keep = SIZES[k % len(SIZES)]
        width, height = image.size
        left, top = int((1 - keep) * width * (k % 3) / 2), int((1 - keep) * height * (k % 2))
        image = image.crop((left, top, left + int(keep * width), top + int(keep * height)))
        scale = side / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)))
        image.save(folder / f"photo{k:02d}.{'jpg' if k % 2 else 'png'}")
    return plan_photos([folder])


def run(args: argparse.Namespace) -> None:
    """Run the batch benchmarks that ``--only`` lets through."""
    names = ("batch_local_photos_per_s", "batch_ray_photos_per_s")
    if not any(wants(args, name) for name in names):
        return
    with tempfile.TemporaryDirectory(prefix="segdemo-bench-batch-") as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        photos = make_photos(root / "in", 4 if args.quick else PHOTOS)
        job = Job("semantic", MODEL, root / "out", {"device": str(args.device)})
        job.process(photos[0])  # load the model: both loops start warm
        rounds = 1 if args.quick else 3
        extra = {"photos": len(photos), "model": MODEL, "device": str(args.device)}
        if wants(args, names[0]):
            timing = {"repeat": rounds, "warmup": 0, "device": args.device}
            ours = median_ms(lambda: _all_ok(local.run(job, photos)), **timing)
            theirs = median_ms(lambda: _all_ok(job.process(p) for p in photos), **timing)
            report(
                names[0],
                ours / len(photos),
                baseline="sequential loop (decode, segment, write one photo at a time)",
                baseline_ms=theirs / len(photos),
                photos_per_s=round(len(photos) * 1e3 / ours, 2),
                baseline_photos_per_s=round(len(photos) * 1e3 / theirs, 2),
                **extra,
            )
        if wants(args, names[1]) and _has_ray():
            import ray

            ray.init(num_cpus=ray_engine.LOCAL_CPUS, include_dashboard=False, log_to_driver=False)
            try:
                job = Job("semantic", MODEL, root / "ray")
                ms = median_ms(lambda: _all_ok(ray_engine.run(job, photos)), repeat=1, warmup=0)
            finally:
                ray.shutdown()
            report(
                names[1],
                ms / len(photos),
                photos_per_s=round(len(photos) * 1e3 / ms, 2),
                actors=ray_engine.LOCAL_CPUS,
                **extra,
            )


def _all_ok(outcomes: Iterable[Outcome]) -> None:
    """Run ``outcomes`` through; a failed photo would make the timing meaningless."""
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise RuntimeError(f"{failed[0].photo.path}: {failed[0].reason}")


def _has_ray() -> bool:
    try:
        ray_engine.require_ray()
    except ray_engine.RayUnavailable:
        return False
    return True
