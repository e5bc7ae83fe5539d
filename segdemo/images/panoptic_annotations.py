"""COCO panoptic annotations: a PNG plus its JSON → a ground-truth Segmentation.

A COCO panoptic annotation is an RGB PNG whose pixel holds the segment id
R + 256·G + 256²·B (0 = void, no segment) and, in the dataset's JSON, the entry of
``annotations`` whose ``file_name`` is that PNG, with one ``segments_info`` row per segment
(``id``, ``category_id``, ``iscrowd``), and the dataset's ``categories`` (``id``, ``name``,
``isthing``). :func:`read_panoptic_annotation` decodes the PNG through the same safe path as
photos and checks that the JSON describes it, with an :class:`InputError` naming what does not
match.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segdemo.images.decode import ImageSource, InputError, _decode
from segdemo.result import Segment, Segmentation

__all__ = ["read_panoptic_annotation"]

_RGB_MODES = {"RGB", "RGBA", "RGBX"}


def _load_json(source: Mapping[str, Any] | str | os.PathLike) -> Mapping[str, Any]:
    """The dataset JSON, given as a loaded dict or a path to the file."""
    if isinstance(source, Mapping):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"the panoptic JSON must be a dict or a file path, got {type(source).__name__}"
        )
    path = Path(source)
    try:
        with path.open(encoding="utf-8") as fp:
            data = json.load(fp)
    except FileNotFoundError as exc:
        raise InputError(f"{path.name} was not found. Upload the panoptic JSON again.") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path.name} is not a readable JSON file ({exc}).") from exc
    if not isinstance(data, Mapping):
        raise InputError(
            f"{path.name} is not a COCO panoptic JSON (its top level is not an object)."
        )
    return data


def _entry(data: Mapping[str, Any], file_name: str) -> Mapping[str, Any]:
    """The ``annotations`` entry of ``file_name``."""
    entries = data.get("annotations")
    if not isinstance(entries, list):
        raise InputError("The JSON has no 'annotations' list: it is not a COCO panoptic JSON.")
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("file_name") == file_name:
            return entry
    names = [e.get("file_name") for e in entries[:5] if isinstance(e, Mapping)]
    raise InputError(
        f"The JSON has no annotation for {file_name} (it lists {len(entries)} files, e.g. "
        f"{', '.join(map(str, names)) or 'none'}). Upload the JSON made for this PNG."
    )


def _categories(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON's categories, each with an int ``id`` and a str ``name``."""
    categories = data.get("categories")
    if not isinstance(categories, list) or not categories:
        raise InputError("The JSON has no 'categories' list: it is not a COCO panoptic JSON.")
    try:
        return [{**c, "id": int(c["id"]), "name": str(c["name"])} for c in categories]
    except (TypeError, KeyError, ValueError) as exc:
        raise InputError(f"The JSON's categories need an id and a name each ({exc!r}).") from exc


def _panoptic_ids(png: ImageSource, size: tuple[int, int] | None) -> tuple[torch.Tensor, str]:
    """The PNG's segment ids R + 256·G + 256²·B as int32 [H, W] on the CPU, and its name."""
    dec = _decode(png)
    if dec.lossy:
        raise InputError(
            f"{dec.name} is a {dec.lossy} file: lossy compression changes the segment ids at "
            "every edge. Use the PNG of the COCO panoptic annotation."
        )
    im = dec.image
    if im.mode not in _RGB_MODES:
        raise InputError(
            f"{dec.name} has PIL mode {im.mode}, but a COCO panoptic PNG is RGB "
            "(id = R + 256·G + 256²·B). Use the PNG of the COCO panoptic annotation."
        )
    if size is not None and (im.height, im.width) != tuple(size):
        h, w = size
        raise InputError(
            f"The annotation {dec.name} is {im.width}×{im.height} pixels but the photo is "
            f"{w}×{h}; use the annotation made for this photo."
        )
    rgb = torch.from_numpy(np.asarray(im.convert("RGB"), dtype=np.int32))
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2], dec.name


def read_panoptic_annotation(
    png: ImageSource,
    annotations: Mapping[str, Any] | str | os.PathLike,
    *,
    file_name: str | None = None,
    size: tuple[int, int] | None = None,
    device: torch.device | str | None = None,
) -> Segmentation:
    """A COCO panoptic annotation as a ground-truth Segmentation.

    ``png``: the annotation PNG (a path, PIL image or array; decoded safely like a photo);
    ``annotations``: the dataset JSON, loaded or as a path; ``file_name``: the PNG's name in
    the JSON (default: the name of the ``png`` path); ``size``: (H, W) of the photo, to refuse
    another size; ``device``: where the id map goes (default CPU).

    Returns task "groundtruth" with ``ids`` = the PNG's segment ids (int32 [H, W], 0 = void),
    one :class:`Segment` per ``segments_info`` row (``category_id`` = the index of its category
    in ``categories``, which lists the JSON's category names in the JSON's order; ``is_thing``
    from ``isthing``), and ``extras``: ``"iscrowd"`` (ids of the crowd segments),
    ``"dataset_ids"`` (the JSON category id of each category) and ``"file_name"``.

    :class:`InputError` when the JSON does not describe the PNG: no entry for ``file_name``,
    ids in the PNG missing from ``segments_info``, an unknown category, a repeated or
    non-positive segment id, a PNG of another size than the photo.
    """
    if file_name is None:
        if not isinstance(png, (str, os.PathLike)):
            raise TypeError("file_name is needed when the PNG is not given as a file path")
        file_name = Path(png).name
    data = _load_json(annotations)
    entry = _entry(data, file_name)
    categories = _categories(data)
    ids, name = _panoptic_ids(png, size)
    segments, crowd = _segments(entry, categories, file_name)
    listed = {s.id for s in segments}
    missing = sorted(set(torch.unique(ids).tolist()) - listed - {0})
    if missing:
        raise InputError(
            f"{name} holds segment ids {', '.join(map(str, missing[:8]))} that the JSON's "
            f"segments_info for {file_name} does not list; upload the JSON made for this PNG."
        )
    return Segmentation(
        ids.to(device) if device is not None else ids,
        segments,
        tuple(c["name"] for c in categories),
        "groundtruth",
        extras={
            "iscrowd": crowd,
            "dataset_ids": tuple(c["id"] for c in categories),
            "file_name": file_name,
        },
    )


def _segments(
    entry: Mapping[str, Any], categories: list[dict[str, Any]], file_name: str
) -> tuple[tuple[Segment, ...], tuple[int, ...]]:
    """One Segment per ``segments_info`` row (its category as an index into ``categories``),
    and the ids of the crowd segments."""
    index = {c["id"]: k for k, c in enumerate(categories)}
    rows = entry.get("segments_info")
    if not isinstance(rows, list):
        raise InputError(f"The JSON's annotation for {file_name} has no 'segments_info' list.")
    segments, crowd, seen = [], [], set()
    for row in rows:
        try:
            segment_id, category = int(row["id"]), int(row["category_id"])
            is_crowd = bool(row.get("iscrowd", 0))
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise InputError(
                f"A segments_info row of {file_name} lacks an id or category_id ({exc!r})."
            ) from exc
        if segment_id <= 0 or segment_id in seen:
            problem = "is listed twice" if segment_id in seen else "is not positive (0 is void)"
            raise InputError(f"Segment id {segment_id} of {file_name} {problem}.")
        if category not in index:
            raise InputError(
                f"Segment {segment_id} of {file_name} has category_id {category}, which the "
                "JSON's categories do not list."
            )
        seen.add(segment_id)
        if is_crowd:
            crowd.append(segment_id)
        c = categories[index[category]]
        segments.append(
            Segment(segment_id, index[category], c["name"], None, bool(c.get("isthing")))
        )
    return tuple(segments), tuple(sorted(crowd))
