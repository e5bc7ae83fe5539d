"""The one per-photo job of a batch run: decode → segment → write, and what "done" means.

Both engines run :class:`Job`: the local engine calls its three stages from a pipeline
(:meth:`Job.decode` and :meth:`Job.write` in worker threads, :meth:`Job.segment` in the calling
thread), the Ray engine calls :meth:`Job.process` inside its actors. One job, one writer: the
engines cannot write different files for the same photo.

A photo's outputs, in ``out``: ``STEM.overlay.png``, ``STEM.ids.png``, ``STEM.cutouts/ID-LABEL.png``
(unless ``cutouts`` is off) and, last, ``STEM.segments.json``. Every file appears atomically
(a temporary name, then a rename), and the segment table is written after all the others, so
its presence, naming this photo, means the photo is complete (:meth:`Job.is_done`): an
interrupted run leaves no half file, and no photo counted as done that is not.

The table holds what the dataset-level files need besides the id map (the full label list,
the panoptic checkpoint), so they can be built from the files alone (:meth:`Job.read_result`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from segdemo import exports, images, masks, render, tasks
from segdemo.batch.photos import Photo
from segdemo.result import Segment, Segmentation
from segdemo.weights import WeightsUnavailable

#: What marks a photo complete: written last, it names the photo it belongs to.
TABLE_SUFFIX = ".segments.json"


@dataclass(frozen=True)
class Outcome:
    """What became of one photo: the files written, or the one-sentence ``reason`` it failed."""

    photo: Photo
    files: tuple[Path, ...] = ()
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class Job:
    """Segment photos with ``task``'s ``model`` (adapter keywords ``options``) and write each
    one's outputs to ``out``; ``alpha`` is the overlay's opacity, ``cutouts`` whether to write
    one transparent PNG per segment. Picklable: the Ray engine ships it to its actors."""

    task: str
    model: str
    out: Path
    options: dict[str, Any] = field(default_factory=dict)
    alpha: float = 0.5
    cutouts: bool = True

    # ------------------------------------------------------------------ the three stages

    def decode(self, photo: Photo) -> torch.Tensor:
        """The photo as uint8 [3, H, W] on the CPU; ``images.InputError`` says what is wrong."""
        return images.load_image(photo.path)

    def segment(self, image: torch.Tensor) -> Segmentation:
        """The task's adapter on one decoded photo (the model is loaded once per process)."""
        return tasks.TASKS[self.task].segment(image, self.model, **self.options)

    def write(self, photo: Photo, image: torch.Tensor, seg: Segmentation) -> tuple[Path, ...]:
        """Overlay, id map, cut-outs, then the segment table (see the module docstring)."""
        stem = self.out / photo.stem
        image = image.to(seg.device)
        palette = render.segment_palette(seg)
        written = [
            images.save_png(
                masks.overlay(image, seg.ids, palette, self.alpha), f"{stem}.overlay.png"
            ),
            images.save_label_png(seg.ids, f"{stem}.ids.png"),
        ]
        if self.cutouts:
            folder = self.out / f"{photo.stem}.cutouts"
            for s in seg.segments:
                cut = masks.cutout(image, masks.binarize(seg.ids, s.id))
                name = f"{s.id:03d}-{exports.slug(s.label)}.png"
                written.append(images.save_png(cut, folder / name))
        written.append(write_json(self.table_path(photo), self.table(photo, seg), indent=1))
        return tuple(written)

    def process(self, photo: Photo) -> Outcome:
        """The whole job for one photo. A photo's own failure comes back as the outcome's
        reason; missing weights (:class:`WeightsUnavailable`, no photo can work) are raised."""
        try:
            image = self.decode(photo)
            return Outcome(photo, self.write(photo, image, self.segment(image)))
        except WeightsUnavailable:
            raise
        except Exception as error:
            return Outcome(photo, reason=failure_reason(error))

    # ------------------------------------------------------------------ the files on disk

    def table_path(self, photo: Photo) -> Path:
        return self.out / f"{photo.stem}{TABLE_SUFFIX}"

    def table(self, photo: Photo, seg: Segmentation) -> dict[str, Any]:
        """The segment table file's content: the photo, the run's model and the segments."""
        data: dict[str, Any] = {
            "image": str(photo.path),
            "task": seg.task,
            "size": list(seg.size),
            "model": seg.extras.get("model"),
            "weights": seg.extras.get("weights"),
            "segments": exports.segment_table(seg),
            "categories": list(seg.categories),
        }
        if "checkpoint" in seg.extras:
            data["checkpoint"] = seg.extras["checkpoint"]
        return data

    def is_done(self, photo: Photo) -> bool:
        """Whether ``photo``'s outputs are complete: its segment table is there and names it
        (a table left by another photo that had this stem in an earlier run does not count)."""
        try:
            data = json.loads(self.table_path(photo).read_text())
        except (OSError, ValueError):
            return False
        return isinstance(data, dict) and data.get("image") == str(photo.path)

    def read_result(self, photo: Photo) -> Segmentation:
        """A complete photo's result, read back from ``STEM.ids.png`` and its segment table."""
        data = json.loads(self.table_path(photo).read_text())
        ids = images.load_annotation(self.out / f"{photo.stem}.ids.png")
        segments = tuple(
            Segment(
                row["id"],
                row["category_id"],
                row["label"],
                row["score"],
                row["is_thing"],
                tuple(row["box"]) if row["box"] else None,
            )
            for row in data["segments"]
        )
        extras = {k: data[k] for k in ("model", "weights", "checkpoint") if k in data}
        return Segmentation(ids, segments, tuple(data["categories"]), data["task"], extras)


def failure_reason(error: Exception) -> str:
    """One sentence for failures.json: a bad file's own message (``InputError``, ValueError
    from the adapter's checks), otherwise the error's type and message."""
    if isinstance(error, ValueError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def write_json(path: Path, data: object, *, indent: int | None = None) -> Path:
    """``data`` as a JSON file that appears atomically (``images.write_atomically``)."""
    return images.write_atomically(path, json.dumps(data, indent=indent).encode())
