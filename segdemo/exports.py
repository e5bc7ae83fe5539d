"""A Segmentation in the formats other tools load: VOC class PNG, COCO instances, COCO panoptic.

One module turns results into files; the CLI, the tabs and the Python API call it and format
nothing themselves.

- semantic → :func:`voc_png`: a palette ("P") PNG, value = class index (0 = background) with the
  Pascal VOC colours, the photo's size.
- instance → :func:`coco_instances`: COCO's ``instances`` JSON with compressed RLE masks
  (pycocotools' own encoder), COCO's own category ids (the 91-id space), ``bbox`` of the mask,
  ``area``, ``iscrowd`` 0 and ``score``.
- panoptic → :func:`coco_panoptic`: the COCO panoptic JSON and one PNG per photo whose pixel
  holds id = R + 256·G + 256²·B, with the dataset's own category ids (COCO, Cityscapes, ADE20K).
- any result → :func:`result_zip`: overlay, id map, segment table, transparent cut-outs, the
  task's standard format and a README.txt naming each file, in one ZIP.

Dataset-level files gather many photos: :class:`PhotoEntry` names a photo (its image id and file
name) next to its result. Id maps are read on the CPU once per export.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from segdemo import masks
from segdemo.images import label_image, png_bytes
from segdemo.result import Segmentation

#: Segment ids a COCO panoptic PNG can hold (three 8-bit channels).
PANOPTIC_MAX_ID = 256**3 - 1
_PLACEHOLDERS = {"__background__", "N/A"}


class ExportError(ValueError):
    """A result cannot be written in the format asked for: the message says why."""


@dataclass(frozen=True)
class PhotoEntry:
    """One photo of a dataset-level export: COCO ``image_id``, ``file_name`` and its result."""

    image_id: int
    file_name: str
    seg: Segmentation


# --------------------------------------------------------------------------- small pieces


def slug(label: str, default: str = "segment") -> str:
    """A file-name-safe form of ``label``: ASCII letters, digits and "_", at most 40 characters."""
    return re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_")[:40] or default


def _category_lut(seg: Segmentation) -> torch.Tensor:
    """int64 [max_id + 1] on the CPU: segment id → its category_id (0 for id 0 and unused ids)."""
    top = max((s.id for s in seg.segments), default=0)
    lut = torch.zeros(top + 1, dtype=torch.int64)
    for s in seg.segments:
        lut[s.id] = s.category_id
    return lut


def _boxes_and_areas(ids: torch.Tensor, top: int) -> tuple[list[list[int]], list[int]]:
    """Per id 0..top: the COCO box [x, y, w, h] of its pixels and its area, in a few passes.

    ``ids``: int32 [H, W] on the CPU. An id with no pixel gets [0, 0, 0, 0] and area 0.
    """
    height, width = ids.shape
    flat = ids.reshape(-1).long()
    area = torch.bincount(flat, minlength=top + 1)
    rows = torch.arange(height).repeat_interleave(width)
    cols = torch.arange(width).repeat(height)
    big = max(height, width)
    x0 = torch.full((top + 1,), big).scatter_reduce_(0, flat, cols, "amin")
    y0 = torch.full((top + 1,), big).scatter_reduce_(0, flat, rows, "amin")
    x1 = torch.full((top + 1,), -1).scatter_reduce_(0, flat, cols, "amax")
    y1 = torch.full((top + 1,), -1).scatter_reduce_(0, flat, rows, "amax")
    present = area > 0
    boxes = torch.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], 1) * present[:, None]
    return boxes.tolist(), area.tolist()


# --------------------------------------------------------------------------- semantic → VOC


def voc_png(seg: Segmentation) -> Image.Image:
    """A semantic result as a Pascal VOC class PNG: mode "P", VOC palette, value = class index.

    Pixels without a segment are 0 (background). Refused (ExportError) for other tasks and for
    label lists longer than 256 classes.
    """
    if seg.task != "semantic":
        raise ExportError(f"a VOC class PNG holds a semantic result, not a {seg.task} one")
    if len(seg.categories) > 256:
        raise ExportError(f"a VOC class PNG holds at most 256 classes, not {len(seg.categories)}")
    classes = masks.lookup(_category_lut(seg).to(torch.uint8), seg.ids.cpu())
    height, width = seg.size
    image = Image.frombytes("P", (width, height), classes.contiguous().numpy().tobytes())
    image.putpalette(masks.palette(256).flatten().tolist())
    return image


# --------------------------------------------------------------------------- instance → COCO


def coco_instance_categories(categories: Sequence[str]) -> list[dict[str, Any]]:
    """COCO ``categories`` from a torchvision label list whose index is the COCO category id
    (torchvision's 91 names: "__background__" at 0 and "N/A" at the unused ids)."""
    return [
        {"id": index, "name": name}
        for index, name in enumerate(categories)
        if name not in _PLACEHOLDERS
    ]


def coco_instances(photos: Sequence[PhotoEntry]) -> dict[str, Any]:
    """The COCO instances JSON (``images``, ``categories``, ``annotations``) of instance results.

    One annotation per segment that holds pixels: ``segmentation`` as compressed RLE (counts as
    str), ``bbox`` [x, y, w, h] and ``area`` of that mask, ``iscrowd`` 0, ``score`` and
    ``category_id`` in COCO's own id space. ``pycocotools.coco.COCO`` loads it; ``loadRes``
    takes its annotations.
    """
    from pycocotools import mask as coco_mask

    categories: list[dict[str, Any]] | None = None
    images, annotations = [], []
    for photo in photos:
        seg = _require(photo.seg, "instance", "COCO instances")
        cats = coco_instance_categories(seg.categories)
        if categories is None:
            categories = cats
        elif cats != categories:
            raise ExportError("all photos of one COCO file must come from the same label list")
        height, width = seg.size
        images.append(
            {"id": photo.image_id, "file_name": photo.file_name, "height": height, "width": width}
        )
        # Column-major masks for pycocotools without a copy per segment: compare on the
        # transposed map, whose C-ordered [W, H] buffer is the [H, W] mask in Fortran order.
        ids_t = seg.ids.cpu().T.contiguous()
        for s in seg.segments:
            mask = (ids_t == s.id).numpy().view(np.uint8).T
            if not mask.any():
                continue
            rle = coco_mask.encode(mask)
            rle["counts"] = rle["counts"].decode("ascii")
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": photo.image_id,
                    "category_id": s.category_id,
                    "segmentation": rle,
                    "area": int(coco_mask.area(rle)),
                    "bbox": [float(v) for v in coco_mask.toBbox(rle)],
                    "iscrowd": 0,
                    "score": s.score,
                }
            )
    return {"images": images, "categories": categories or [], "annotations": annotations}


# --------------------------------------------------------------------------- panoptic → COCO


def panoptic_categories(seg: Segmentation) -> list[dict[str, Any]]:
    """COCO panoptic ``categories`` (id, name, isthing, color) of a panoptic result's dataset.

    The ids are the dataset's own (COCO category ids, Cityscapes label ids, ADE20K indices),
    from the label list shipped for the result's checkpoint (``extras["checkpoint"]``).
    """
    from segdemo.panoptic import CHECKPOINTS
    from segdemo.panoptic.datasets import DATASETS

    checkpoint = seg.extras.get("checkpoint")
    if checkpoint not in CHECKPOINTS:
        raise ExportError(f"the result names no known panoptic checkpoint ({checkpoint!r})")
    dataset = DATASETS[CHECKPOINTS[checkpoint].dataset]
    if len(dataset) != len(seg.categories):
        raise ExportError(
            f"the result has {len(seg.categories)} classes but its dataset lists {len(dataset)}"
        )
    return [
        {"id": c.dataset_id, "name": c.name, "isthing": int(c.is_thing), "color": list(c.color)}
        for c in dataset
    ]


def panoptic_png(seg: Segmentation) -> Image.Image:
    """The COCO panoptic PNG of a result: RGB with segment id = R + 256·G + 256²·B (0 = void)."""
    top = max((s.id for s in seg.segments), default=0)
    if top > PANOPTIC_MAX_ID:
        raise ExportError(f"segment id {top} does not fit a COCO panoptic PNG")
    ids = seg.ids.cpu()
    rgb = torch.stack([ids & 255, (ids >> 8) & 255, (ids >> 16) & 255], dim=-1)
    return Image.fromarray(rgb.to(torch.uint8).numpy())


def coco_panoptic(
    photos: Sequence[PhotoEntry], png_names: Sequence[str]
) -> tuple[dict[str, Any], list[Image.Image]]:
    """The COCO panoptic JSON of panoptic results and their PNGs (named ``png_names``).

    ``segments_info`` holds every segment with pixels: id, the dataset's category_id, area,
    bbox [x, y, w, h] and iscrowd 0. ``categories`` comes from the results' dataset.
    """
    if len(png_names) != len(photos):
        raise ValueError(f"{len(png_names)} PNG names for {len(photos)} photos")
    categories: list[dict[str, Any]] | None = None
    images, annotations, pngs = [], [], []
    for photo, png_name in zip(photos, png_names, strict=True):
        seg = _require(photo.seg, "panoptic", "COCO panoptic")
        cats = panoptic_categories(seg)
        if categories is None:
            categories = cats
        elif cats != categories:
            raise ExportError("all photos of one COCO panoptic file must come from one dataset")
        height, width = seg.size
        top = max((s.id for s in seg.segments), default=0)
        boxes, areas = _boxes_and_areas(seg.ids.cpu(), top)
        dataset_ids = [c["id"] for c in cats]
        segments_info = [
            {
                "id": s.id,
                "category_id": dataset_ids[s.category_id],
                "area": areas[s.id],
                "bbox": boxes[s.id],
                "iscrowd": 0,
            }
            for s in seg.segments
            if areas[s.id] > 0
        ]
        images.append(
            {"id": photo.image_id, "file_name": photo.file_name, "height": height, "width": width}
        )
        annotations.append(
            {"image_id": photo.image_id, "file_name": png_name, "segments_info": segments_info}
        )
        pngs.append(panoptic_png(seg))
    data = {"images": images, "annotations": annotations, "categories": categories or []}
    return data, pngs


def _require(seg: Segmentation, task: str, what: str) -> Segmentation:
    if seg.task != task:
        raise ExportError(f"{what} holds {task} results, not a {seg.task} one")
    return seg


# --------------------------------------------------------------------------- the ZIP


def segment_table(seg: Segmentation) -> list[dict[str, Any]]:
    """The segment table as JSON-ready rows, with each segment's area in pixels."""
    areas = seg.areas()
    return [
        {
            "id": s.id,
            "category_id": s.category_id,
            "label": s.label,
            "score": s.score,
            "is_thing": s.is_thing,
            "box": list(s.box) if s.box else None,
            "area": areas[s.id],
        }
        for s in seg.segments
    ]


def standard_files(seg: Segmentation, stem: str) -> dict[str, bytes]:
    """The task's standard format as ``{file name: bytes}`` for one photo named ``stem``.

    semantic → ``STEM.voc.png``; instance → ``STEM.coco_instances.json``; panoptic →
    ``STEM.coco_panoptic.json`` + ``STEM.coco_panoptic.png``; ground truth → nothing beyond
    the mask and cut-out every ZIP holds.
    """
    if seg.task == "semantic":
        return {f"{stem}.voc.png": png_bytes(voc_png(seg))}
    entry = PhotoEntry(1, f"{stem}.png", seg)
    if seg.task == "instance":
        return {f"{stem}.coco_instances.json": json.dumps(coco_instances([entry])).encode()}
    if seg.task == "panoptic":
        png_name = f"{stem}.coco_panoptic.png"
        data, pngs = coco_panoptic([entry], [png_name])
        return {
            f"{stem}.coco_panoptic.json": json.dumps(data).encode(),
            png_name: png_bytes(pngs[0]),
        }
    return {}


_README = {
    "overlay": "the segments over the photo, each in its colour",
    "ids": "the id map: pixel value = segment id of the table (0 = no segment); 16-bit when "
    "ids exceed 255",
    "segments": "the segment table: id, category_id, label, score, thing/stuff, box, area",
    "mask": "the binary mask of the selected segments (white = selected)",
    "cutout": "the selected segments cut out of the photo, transparent elsewhere",
    "cutouts": "one transparent cut-out per segment, named ID-LABEL.png",
    "voc": "Pascal VOC class PNG: palette image, value = class index (0 = background)",
    "coco_instances": "COCO instances JSON, masks as compressed RLE (load with pycocotools)",
    "coco_panoptic": "COCO panoptic: the JSON and a PNG with id = R + 256·G + 256²·B",
}


def result_zip(
    image: torch.Tensor,
    seg: Segmentation,
    *,
    stem: str,
    overlay: torch.Tensor,
    selected: Sequence[int],
    cutouts: bool = True,
) -> bytes:
    """Everything about one result in one ZIP: overlay, id map, segment table, the mask and
    cut-out of the ``selected`` segment ids, the task's standard format, one transparent cut-out
    per segment (``cutouts``) and a README.txt naming each file.

    ``image``: the photo, uint8 [3, H, W]; ``overlay``: what the tab shows, uint8 [3, H, W].
    """
    stem = slug(stem, "photo")
    image = image.to(seg.device)
    mask = masks.binarize(seg.ids, list(selected))
    files: dict[str, bytes] = {
        f"{stem}.overlay.png": png_bytes(overlay),
        f"{stem}.ids.png": png_bytes(label_image(seg.ids)),
        f"{stem}.segments.json": json.dumps(
            {
                "task": seg.task,
                "size": list(seg.size),
                "model": seg.extras.get("model"),
                "segments": segment_table(seg),
            },
            indent=1,
        ).encode(),
        f"{stem}.mask.png": png_bytes(mask.to(torch.uint8) * 255),
        f"{stem}.cutout.png": png_bytes(masks.cutout(image, mask)),
        **standard_files(seg, stem),
    }
    if cutouts:
        for s in seg.segments:
            cut = masks.cutout(image, masks.binarize(seg.ids, s.id))
            files[f"{stem}.cutouts/{s.id:03d}-{slug(s.label)}.png"] = png_bytes(cut)
    files["README.txt"] = _readme(files, stem).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _readme(files: dict[str, bytes], stem: str) -> str:
    lines = [f"segdemo results for {stem}", ""]
    seen = set()
    for name in files:
        key = name[len(stem) + 1 :].split(".")[0].split("/")[0]
        if key in _README and key not in seen:
            seen.add(key)
            shown = f"{stem}.cutouts/" if key == "cutouts" else name
            lines.append(f"{shown}: {_README[key]}")
    return "\n".join(lines) + "\n"
