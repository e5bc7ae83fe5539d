"""The dataset-level files of a run (``--format``), built from the per-photo files on disk.

Every complete photo of the run (:meth:`Job.is_done`) is read back from ``STEM.ids.png`` and
``STEM.segments.json``, one at a time, and only its rows are kept: memory does not grow with the
run's size, a resumed run gets the files of every photo (those of earlier runs too), and both
engines get the same files because they are made from the same per-photo outputs.

- ``voc`` (semantic): ``voc/STEM.png``, one Pascal VOC class PNG per photo;
- ``coco`` (instance): ``coco_instances.json``;
- ``coco-panoptic`` (panoptic): ``coco_panoptic/STEM.png`` per photo, then ``coco_panoptic.json``.

Image ids are the photos' positions in the run (:class:`Photo`); failed photos leave theirs
unused. PNGs are written before the JSON that names them; every file appears atomically.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from segdemo import exports, images
from segdemo.batch.job import Job, write_json
from segdemo.batch.photos import Photo
from segdemo.exports import PhotoEntry

#: The dataset-level formats ``--format`` offers, by name: the task each one holds. ``all`` (the
#: other choice) means the task's own standard format, :data:`STANDARD_FORMATS`.
FORMATS: dict[str, str] = {"voc": "semantic", "coco": "instance", "coco-panoptic": "panoptic"}
STANDARD_FORMATS: dict[str, str] = {task: name for name, task in FORMATS.items()}

#: Where the dataset-level files go, inside the run's output folder.
VOC_FOLDER = "voc"
COCO_INSTANCES_JSON = "coco_instances.json"
COCO_PANOPTIC_JSON = "coco_panoptic.json"
COCO_PANOPTIC_FOLDER = "coco_panoptic"


def dataset_format(requested: str | None, task: str) -> str | None:
    """The dataset-level format ``--format requested`` means for ``task`` (``all``: the task's
    own), or None for none; ValueError naming both when the format does not hold ``task``'s
    results."""
    if requested is None:
        return None
    if requested == "all":
        return STANDARD_FORMATS.get(task)
    if FORMATS[requested] != task:
        fits = [name for name, holds in FORMATS.items() if holds == task] + ["all"]
        raise ValueError(
            f"invalid choice {requested!r} for --task {task}: {requested} holds "
            f"{FORMATS[requested]} results (choose from {', '.join(fits)})"
        )
    return requested


def write_dataset(job: Job, format_name: str | None, photos: Sequence[Photo]) -> list[Path]:
    """Write ``format_name``'s files (a key of :data:`FORMATS`; None: none) for the complete
    photos among ``photos``; nothing when none is complete. ``exports.ExportError`` when the
    results do not fit the format (e.g. two label lists in one COCO file)."""
    entries = _complete(job, photos)
    if format_name == "voc":
        return [
            images.write_atomically(
                job.out / VOC_FOLDER / f"{photo.stem}.png",
                exports.png_bytes(exports.voc_png(entry.seg)),
            )
            for photo, entry in entries
        ]
    if format_name == "coco":
        return _coco_instances(job.out, entries)
    if format_name == "coco-panoptic":
        return _coco_panoptic(job.out, entries)
    return []


def _complete(job: Job, photos: Sequence[Photo]) -> Iterator[tuple[Photo, PhotoEntry]]:
    """Each complete photo with its result read back from disk, one at a time."""
    for photo in photos:
        if job.is_done(photo):
            yield photo, PhotoEntry(photo.image_id, photo.file_name, job.read_result(photo))


def _coco_instances(out: Path, entries: Iterator[tuple[Photo, PhotoEntry]]) -> list[Path]:
    """``coco_instances.json`` from one photo's rows at a time (annotation ids run on)."""
    merged: dict[str, Any] | None = None
    for _, entry in entries:
        data = exports.coco_instances([entry])
        if merged is None:
            merged = {"images": [], "categories": data["categories"], "annotations": []}
        elif data["categories"] != merged["categories"]:
            raise exports.ExportError(
                "all photos of one COCO file must come from the same label list"
            )
        merged["images"] += data["images"]
        for annotation in data["annotations"]:
            annotation["id"] = len(merged["annotations"]) + 1
            merged["annotations"].append(annotation)
    return [] if merged is None else [write_json(out / COCO_INSTANCES_JSON, merged)]


def _coco_panoptic(out: Path, entries: Iterator[tuple[Photo, PhotoEntry]]) -> list[Path]:
    """Each photo's panoptic PNG as it comes, then ``coco_panoptic.json`` naming them all."""
    merged: dict[str, Any] | None = None
    written = []
    for photo, entry in entries:
        name = f"{photo.stem}.png"
        data, (png,) = exports.coco_panoptic([entry], [name])
        if merged is None:
            merged = {"images": [], "annotations": [], "categories": data["categories"]}
        elif data["categories"] != merged["categories"]:
            raise exports.ExportError(
                "all photos of one COCO panoptic file must come from one dataset"
            )
        merged["images"] += data["images"]
        merged["annotations"] += data["annotations"]
        written.append(
            images.write_atomically(out / COCO_PANOPTIC_FOLDER / name, exports.png_bytes(png))
        )
    if merged is None:
        return []
    return [*written, write_json(out / COCO_PANOPTIC_JSON, merged)]
