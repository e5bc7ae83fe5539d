"""Everything a tab shows for one result: colours per task, overlay, mask, cut-outs and legend.

One function for all four tabs, so a slider that only changes rendering (alpha, the selected
segments) re-renders from the cached Segmentation without running a model. Tensors stay on the
result's device; the UI converts to pixels once, at the edge. This is where a Segmentation
meets :mod:`segdemo.masks`, which knows id maps only.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import ImageFont
from torchvision.utils import draw_bounding_boxes

from segdemo import masks
from segdemo.result import Segmentation

#: Palette row used for category 0, whose own row (0) is black = "not painted": in the Pascal VOC
#: colormap it is (224, 224, 192), the colour VOC draws its void border in.
VOID_COLOR_INDEX = 255

#: Kelly's 20 colours of maximum contrast (without white and black), in his order, so that
#: classes next to each other differ: category k >= 1 of a semantic result takes row k - 1.
CLASS_COLORS: tuple[tuple[int, int, int], ...] = tuple(
    (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    for h in (
        "F3C300",
        "875692",
        "F38400",
        "A1CAF1",
        "BE0032",
        "C2B280",
        "848482",
        "008856",
        "E68FAC",
        "0067A5",
        "F99379",
        "604E97",
        "F6A600",
        "B3446C",
        "DCD300",
        "882D17",
        "8DB600",
        "654522",
        "E25822",
        "2B3D26",
    )
)


@dataclass(frozen=True)
class LegendEntry:
    """One legend row: segment ``id``, its ``label``, ``color`` as "#rrggbb", ``share`` of the
    image's pixels (0–1) and its ``category`` name ("" when the label is the category)."""

    id: int
    label: str
    color: str
    share: float
    category: str = ""


@dataclass(frozen=True)
class Rendering:
    """overlay/on_black uint8 [3,H,W], mask bool [H,W], cutout RGBA uint8 [4,H,W], one device."""

    overlay: torch.Tensor
    mask: torch.Tensor
    on_black: torch.Tensor
    cutout: torch.Tensor
    legend: list[LegendEntry]


def segment_palette(seg: Segmentation) -> torch.Tensor:
    """The colour of every segment id of ``seg``: uint8 [max_id + 1, 3] on ``seg.device``.

    - Instances (``task == "instance"``, and the ``is_thing`` segments of a panoptic result) get
      a colour per segment id, so two dogs differ: palette row ``id`` for instance results;
      for panoptic ones row ``len(categories) + id``, past every category's row, so a thing
      never takes the colour of a stuff class.
    - Everything else (semantic classes, stuff, ground-truth values) gets its category's colour,
      palette row ``category_id``, so a class has the same colour in every image (the Pascal
      VOC colours for VOC-indexed categories). Category 0 would be black, which reads as "not
      painted", so it takes row :data:`VOID_COLOR_INDEX` instead.
    - A semantic model's classes (``task == "semantic"``) take :data:`CLASS_COLORS` instead of
      the VOC colours, whose dark reds (aeroplane, cat, chair) look alike; annotations keep the
      VOC colours they were drawn in.
    - Row 0, and rows of ids that the table does not hold, are black.
    """
    top = max((s.id for s in seg.segments), default=0)
    rows = [0] * (top + 1)
    offset = len(seg.categories) if seg.task == "panoptic" else 0
    for s in seg.segments:
        if seg.task == "instance" or (seg.task == "panoptic" and s.is_thing):
            rows[s.id] = offset + s.id
        else:
            rows[s.id] = s.category_id if s.category_id > 0 else VOID_COLOR_INDEX
    colors = masks.palette(max(rows) + 1)[torch.tensor(rows, dtype=torch.int64)]
    if seg.task == "semantic":
        for s in seg.segments:
            if s.category_id > 0:
                colors[s.id] = torch.tensor(CLASS_COLORS[(s.category_id - 1) % len(CLASS_COLORS)])
    colors[0] = 0
    return colors.to(seg.device)


def legend(seg: Segmentation, palette: torch.Tensor) -> list[LegendEntry]:
    """One :class:`LegendEntry` per segment of ``seg``, in table order.

    ``palette``: uint8 [N, 3] with a row for every segment id (N > max id), any device, e.g.
    :func:`segment_palette`. A segment that won no pixel has share 0.
    """
    if not seg.segments:
        return []
    top = max(s.id for s in seg.segments)
    if palette.ndim != 2 or palette.shape[0] <= top:
        raise ValueError(
            f"palette has {palette.shape[0]} rows but the segment table holds id {top}"
        )
    total = seg.ids.numel()
    areas = seg.areas()
    rows = palette[: top + 1].tolist()
    return [
        LegendEntry(
            id=s.id,
            label=s.label,
            color="#{:02x}{:02x}{:02x}".format(*rows[s.id]),
            share=areas[s.id] / total if total else 0.0,
            category=seg.categories[s.category_id],
        )
        for s in seg.segments
    ]


def render(
    image: torch.Tensor,
    seg: Segmentation,
    selected: Sequence[int],
    alpha: float,
    *,
    boxes: bool = False,
    highlight: bool = False,
) -> Rendering:
    """Render ``seg`` over ``image`` (uint8 [3,H,W]); ``selected`` segment ids make the mask.

    ``boxes`` draws each segment's box (instances) with its label on the overlay. ``highlight``
    shows the picks on the overlay itself (:func:`highlighted`), for the page; files keep the
    plain overlay.
    """
    if tuple(image.shape[-2:]) != seg.size:
        raise ValueError(
            f"the image is {tuple(image.shape[-2:])} but the segmentation is {seg.size}"
        )
    image = image.to(seg.device)
    palette = segment_palette(seg)
    mask = masks.binarize(seg.ids, list(selected))
    overlay = masks.overlay(image, seg.ids, palette, alpha)
    if highlight:
        overlay = highlighted(overlay, mask)
    return Rendering(
        overlay=with_boxes(overlay, seg, palette) if boxes else overlay,
        mask=mask,
        on_black=masks.on_black(image, mask),
        cutout=masks.cutout(image, mask),
        legend=legend(seg, palette),
    )


def highlighted(overlay: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``overlay`` (uint8 [3,H,W]) with the picked pixels (``mask``, bool [H,W], same device)
    bright and outlined and the rest dimmed; unchanged when nothing is picked, so an empty pick
    does not black out the photo. The outline is about 1/300 of the photo's longer side."""
    if not bool(mask.any()):
        return overlay
    return masks.spotlight(overlay, mask, outline=max(1, round(max(mask.shape) / 300)))


def with_boxes(image: torch.Tensor, seg: Segmentation, palette: torch.Tensor) -> torch.Tensor:
    """``image`` (uint8 [3,H,W]) with the boxes of the segments that have one, labelled."""
    boxed = [s for s in seg.segments if s.box is not None]
    if not boxed:
        return image
    colors = [tuple(int(c) for c in palette[s.id].tolist()) for s in boxed]
    width = max(1, round(max(seg.size) / 400))
    font = label_font()
    return draw_bounding_boxes(
        image.cpu(),
        torch.tensor([s.box for s in boxed]),
        labels=[s.label for s in boxed],
        colors=colors,
        width=width,
        font=font,
        font_size=label_font_size(seg.size) if font else None,
        label_colors=[_text_color(c) for c in colors],
        fill_labels=True,
    ).to(image.device)


#: A TrueType font for box labels (PIL finds it in the system's font folders, e.g. Debian's
#: fonts-dejavu-core); without it, PIL's small built-in bitmap font.
LABEL_FONT = "DejaVuSans-Bold.ttf"


@functools.cache
def label_font() -> str | None:
    """:data:`LABEL_FONT` if PIL can load it, else None (the built-in font)."""
    try:
        ImageFont.truetype(LABEL_FONT, 12)
    except OSError:
        return None
    return LABEL_FONT


def label_font_size(size: tuple[int, int]) -> int:
    """Label size in pixels for a photo of ``size`` (H, W): about 1/60 of its longer side, so
    labels read the same once the page scales the photo to its width; at least 12."""
    return max(12, round(max(size) / 60))


def _text_color(background: tuple[int, ...]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on ``background`` (RGB), by its luma."""
    r, g, b = background[:3]
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)
