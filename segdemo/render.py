"""Everything a tab shows for one result: overlay, binary mask, cut-outs and legend.

One function for all four tabs, so a slider that only changes rendering (alpha, the selected
segments) re-renders from the cached Segmentation without running a model. Tensors stay on the
result's device; the UI converts to pixels once, at the edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torchvision.utils import draw_bounding_boxes

from segdemo import masks
from segdemo.result import Segmentation


@dataclass(frozen=True)
class Rendering:
    """overlay/on_black uint8 [3,H,W], mask bool [H,W], cutout RGBA uint8 [4,H,W], one device."""

    overlay: torch.Tensor
    mask: torch.Tensor
    on_black: torch.Tensor
    cutout: torch.Tensor
    legend: list[masks.LegendEntry]


def render(
    image: torch.Tensor, seg: Segmentation, selected: Sequence[int], alpha: float,
    *, boxes: bool = False,
) -> Rendering:
    """Render ``seg`` over ``image`` (uint8 [3,H,W]); ``selected`` segment ids make the mask.

    ``boxes`` draws each segment's box (instances) with its label on the overlay.
    """
    if tuple(image.shape[-2:]) != seg.size:
        raise ValueError(
            f"the image is {tuple(image.shape[-2:])} but the segmentation is {seg.size}"
        )
    image = image.to(seg.device)
    palette = masks.segment_palette(seg)
    mask = masks.binarize(seg.ids, list(selected))
    overlay = masks.overlay(image, seg.ids, palette, alpha)
    return Rendering(
        overlay=with_boxes(overlay, seg, palette) if boxes else overlay,
        mask=mask,
        on_black=masks.on_black(image, mask),
        cutout=masks.cutout(image, mask),
        legend=masks.legend(seg, palette),
    )


def with_boxes(image: torch.Tensor, seg: Segmentation, palette: torch.Tensor) -> torch.Tensor:
    """``image`` (uint8 [3,H,W]) with the boxes of the segments that have one, labelled."""
    boxed = [s for s in seg.segments if s.box is not None]
    if not boxed:
        return image
    colors = [tuple(int(c) for c in palette[s.id].tolist()) for s in boxed]
    width = max(1, round(max(seg.size) / 400))
    return draw_bounding_boxes(
        image.cpu(), torch.tensor([s.box for s in boxed]), labels=[s.label for s in boxed],
        colors=colors, width=width,
    ).to(image.device)
