"""Ground-truth annotations as a Segmentation: Oxford-IIIT Pet trimaps, VOC PNGs, label maps.

An annotation is an image whose pixel values are labels. A trimap stores 1 (pet),
2 (background) and 3 (border); ``ToTensor`` divides uint8 images by 255, so those labels arrive
as 1/255 ≈ 0.0039, 2/255 and 3/255, and the usual tutorial step
``torch.where(mask == object, 1, 0)`` turns the chosen value into a binary mask. Here every
annotation value becomes one segment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torchvision.models.segmentation import DeepLabV3_ResNet50_Weights

from segdemo.result import Segment, Segmentation

TRIMAP_NAMES: Mapping[int, str] = {1: "pet", 2: "background", 3: "border"}
VOC_VOID = 255
# The 21 Pascal VOC class names, from torchvision's weights metadata (no copied constants).
VOC_NAMES: Mapping[int, str] = {
    **dict(enumerate(DeepLabV3_ResNet50_Weights.DEFAULT.meta["categories"])),
    VOC_VOID: "void",
}
DEFAULT_OBJECT_VALUE = 1


@dataclass(frozen=True)
class ValueRow:
    """One distinct annotation value: as stored, as ToTensor returns it, its name and area."""

    stored: int
    to_tensor: float | None
    label: str
    pixels: int
    share: float


def annotation_kind(values: Iterable[int], mode: str) -> str | None:
    """What an annotation's stored ``values`` say it is: "trimap" (values within 1, 2, 3),
    "voc" (a palette PNG, ``mode`` "P", with VOC class values and 255 void) or None."""
    present = set(values)
    if present and present <= set(TRIMAP_NAMES):
        return "trimap"
    if present and mode == "P" and present <= set(VOC_NAMES):
        return "voc"
    return None


def label_names(values: Sequence[int], mode: str) -> dict[int, str]:
    """Names for the values present: trimap names, VOC names for palette PNGs, else "value k"."""
    kind = annotation_kind(values, mode)
    if kind == "trimap":
        return {v: TRIMAP_NAMES[v] for v in values}
    if kind == "voc":
        return {v: VOC_NAMES[v] for v in values}
    return {v: f"value {v}" for v in values}


def annotation_segmentation(values: torch.Tensor, mode: str = "L") -> Segmentation:
    """One segment per distinct value of ``values`` (int32 [H, W], non-negative, any device).

    Segment k (k = 1, 2, …) is the k-th smallest value, and its ``category_id`` is the stored
    value itself, so the colours follow the file's own convention (a VOC palette PNG gets the
    VOC colours, trimap 1/2/3 the first palette colours). ``categories`` names every value up
    to the largest; ``extras["values"]`` lists the stored value of each segment id - 1.
    TypeError for something that is not a tensor, ValueError for a bad one.
    """
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"an annotation must be a tensor [H, W], got a {type(values).__name__}")
    if values.ndim != 2:
        raise ValueError(f"an annotation must be a 2-D label map [H, W], got {tuple(values.shape)}")
    present, inverse = torch.unique(values, sorted=True, return_inverse=True)
    stored = [int(v) for v in present.tolist()]
    if stored and stored[0] < 0:
        raise ValueError(f"annotation values must be >= 0, got {stored[0]}")
    names = label_names(stored, mode)
    categories = tuple(names.get(v, f"value {v}") for v in range(stored[-1] + 1 if stored else 0))
    segments = tuple(Segment(id=k + 1, category_id=v, label=names[v]) for k, v in enumerate(stored))
    ids = (inverse + 1).to(torch.int32)
    return Segmentation(ids, segments, categories, "groundtruth", extras={"values": stored})


def segment_for_value(seg: Segmentation, value: int) -> int:
    """The segment id that holds the stored annotation ``value``; ValueError if absent."""
    stored: list[int] = seg.extras["values"]  # type: ignore[assignment]
    if value not in stored:
        raise ValueError(f"the annotation has no pixel with value {value}; its values are {stored}")
    return stored.index(value) + 1


def value_table(seg: Segmentation, to_tensor: torch.Tensor | None) -> list[ValueRow]:
    """The distinct values as stored and as ``ToTensor`` gave them (``to_tensor`` [C, H, W]).

    ToTensor's value for each stored value is read at the same pixel of its first channel, not
    recomputed, so the table shows what the library actually returned (scaled by 1/255 for
    8-bit modes only). ``to_tensor`` None (a mode ToTensor cannot convert) gives None there.
    """
    stored: list[int] = seg.extras["values"]  # type: ignore[assignment]
    flat_ids = seg.ids.flatten()
    first = torch.full((len(stored) + 1,), flat_ids.numel(), dtype=torch.long, device=seg.device)
    first.scatter_reduce_(
        0, flat_ids.long(), torch.arange(flat_ids.numel(), device=seg.device), "amin"
    )
    if to_tensor is None:
        converted: list[float | None] = [None] * len(stored)
    else:
        converted = to_tensor[0].flatten().to(seg.device)[first[1:]].tolist()
    areas = seg.areas()
    total = max(1, flat_ids.numel())
    return [
        ValueRow(v, t, s.label, areas[s.id], areas[s.id] / total)
        for v, t, s in zip(stored, converted, seg.segments, strict=True)
    ]


def why_values_differ(mode: str) -> str:
    """One sentence on why the stored and the ToTensor values differ (or do not) for ``mode``."""
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return (
            f"This annotation is a {mode} image: ToTensor keeps the values of 16/32-bit and float "
            "images as they are, so compare against the stored labels directly."
        )
    return (
        "ToTensor turns an 8-bit image into floats in [0, 1] by dividing by 255 — right for "
        "photos, but it also turns the labels 1, 2, 3 into 0.0039, 0.0078, 0.0118: compare "
        "against the stored values (or multiply by 255 and round) when you make a mask."
    )
