"""Pasting the ROI head's M×M mask probabilities into one int32 id map: :func:`paste_ids`.

Each mask is pasted inside its own box only, with torchvision's exact paste geometry, so results
agree; torchvision's ``paste_masks_in_image`` builds an N×H×W float tensor instead, whose cost
grows with the detections times the pixels. Torch and torchvision only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.models.detection.roi_heads import expand_boxes, expand_masks

from segdemo.checks import describe

__all__ = ["MASK_THRESHOLD", "paste_ids"]

MASK_THRESHOLD = 0.5
"""A pixel belongs to an instance where its pasted mask probability is > 0.5 (torchvision's
documented use: ``masks > 0.5``)."""


def paste_ids(
    mask_probs: torch.Tensor,
    boxes: torch.Tensor,
    image_size: tuple[int, int],
    *,
    threshold: float = MASK_THRESHOLD,
) -> torch.Tensor:
    """Paste M×M mask probabilities into one int32 id map [H, W], each inside its box only.

    Detection k (0-based, in priority order: the first wins overlaps) gets id k + 1 where its
    pasted probability is > ``threshold``; 0 elsewhere. Same geometry as torchvision's
    ``paste_masks_in_image`` (it reuses ``expand_masks``/``expand_boxes`` with padding 1, the
    int64 truncation of the expanded box, a bilinear resize to the box's integer size), but
    never builds its N×H×W float tensor: the cost is the summed box area, not N·H·W.
    """
    if not isinstance(mask_probs, torch.Tensor) or not isinstance(boxes, torch.Tensor):
        raise TypeError(
            f"need boxes [N, 4] and mask_probs [N, M, M] tensors, got {describe(boxes)} and "
            f"{describe(mask_probs)}"
        )
    n = int(boxes.shape[0]) if boxes.ndim == 2 and boxes.shape[1] == 4 else -1
    if n < 0 or mask_probs.ndim != 3 or mask_probs.shape[0] != n:
        raise ValueError(
            f"need boxes [N, 4] and mask_probs [N, M, M], got {describe(boxes)} and "
            f"{describe(mask_probs)}"
        )
    height, width = image_size
    ids = torch.zeros(height, width, dtype=torch.int32, device=boxes.device)
    if n == 0:
        return ids
    # 1. Pad every mask by one pixel and grow its box by the same factor (M + 2) / M, exactly
    #    as torchvision does, so the resampling grid is the same.
    padded, scale = expand_masks(mask_probs[:, None], padding=1)
    int_boxes = expand_boxes(boxes, scale).to(dtype=torch.int64).tolist()
    # 2. Paint in ascending priority so the first (highest score) detection is written last.
    for k in range(n - 1, -1, -1):
        x0, y0, x1, y1 = int_boxes[k]
        x_lo, y_lo = max(x0, 0), max(y0, 0)
        x_hi, y_hi = min(x1 + 1, width), min(y1 + 1, height)
        if x_lo >= x_hi or y_lo >= y_hi:
            continue  # the box lies outside the image
        # 3. Resize the padded mask to the box's integer size (at least 1×1) and cut out
        #    the part inside the image.
        box_h, box_w = max(y1 - y0 + 1, 1), max(x1 - x0 + 1, 1)
        pasted = F.interpolate(
            padded[k : k + 1], size=(box_h, box_w), mode="bilinear", align_corners=False
        )[0, 0, y_lo - y0 : y_hi - y0, x_lo - x0 : x_hi - x0]
        # 4. Write the id where the mask is on: a view into the id map, touched in-box only.
        ids[y_lo:y_hi, x_lo:x_hi].masked_fill_(pasted > threshold, k + 1)
    return ids
