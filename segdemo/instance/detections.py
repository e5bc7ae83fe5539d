"""The :class:`Detections` type: Mask R-CNN's raw output for one image, validated and indexable.

What :func:`~segdemo.instance.model.detect` returns and the result cache keeps, so that moving a
slider never runs the model again: boxes in original-image pixels, scores, COCO labels and the
ROI head's 28×28 mask probabilities *before* they are pasted into the image. Every field is
checked on construction (kinds, shapes, dtypes, one device, labels inside the categories).
Torch only.
"""

from __future__ import annotations

import numbers
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import torch

from segdemo.checks import describe

__all__ = ["Detections"]


@dataclass(frozen=True)
class Detections:
    """The model's raw output for one image, cached so that rendering never re-runs it.

    - ``boxes``: float32 [N, 4], (x0, y0, x1, y1) in original-image pixels;
    - ``scores``: float [N], descending as the model returns them (not required);
    - ``labels``: int64 [N], indices into ``categories`` (the 91 COCO names, 0 = background);
    - ``mask_probs``: float [N, M, M] (M = 28), the ROI head's mask probabilities for each
      box's own class, before pasting into the image;
    - ``image_size``: (H, W) of the original image; ``categories``: the model's label list.

    Index it like supervision's Detections: ``dets[dets.scores > 0.5]``, ``dets[:10]``,
    ``dets[[0, 2]]``, ``dets[3]`` (a Detections of length 1).
    """

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    mask_probs: torch.Tensor
    image_size: tuple[int, int]
    categories: tuple[str, ...]
    extras: dict[str, object] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        named = {
            "boxes": self.boxes,
            "scores": self.scores,
            "labels": self.labels,
            "mask_probs": self.mask_probs,
        }
        for name, value in named.items():
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got a {type(value).__name__}")
        n = self.boxes.shape[0] if self.boxes.ndim == 2 else -1
        if self.boxes.ndim != 2 or self.boxes.shape[1] != 4 or self.boxes.dtype != torch.float32:
            raise ValueError(f"boxes must be float32 [N, 4], got {describe(self.boxes)}")
        if self.scores.shape != (n,) or not self.scores.is_floating_point():
            raise ValueError(f"scores must be a float tensor [{n}], got {describe(self.scores)}")
        if self.labels.shape != (n,) or self.labels.dtype != torch.int64:
            raise ValueError(f"labels must be int64 [{n}], got {describe(self.labels)}")
        m = self.mask_probs
        if (
            m.ndim != 3
            or m.shape[0] != n
            or m.shape[1] != m.shape[2]
            or m.shape[1] < 1
            or not m.is_floating_point()
        ):
            raise ValueError(
                f"mask_probs must be a float tensor [{n}, M, M], got {describe(self.mask_probs)}"
            )
        devices = {t.device for t in named.values()}
        if len(devices) != 1:
            raise ValueError(f"all tensors must be on one device, got {sorted(map(str, devices))}")
        size = tuple(self.image_size)
        if len(size) != 2:
            raise ValueError(f"image_size must be (H, W) with H, W > 0, got {self.image_size!r}")
        if not all(_is_int(s) for s in size):
            raise TypeError(f"image_size must be (H, W) ints, got {self.image_size!r}")
        if not all(s > 0 for s in size):
            raise ValueError(f"image_size must be (H, W) with H, W > 0, got {self.image_size!r}")
        object.__setattr__(self, "image_size", (int(size[0]), int(size[1])))
        object.__setattr__(self, "categories", tuple(self.categories))
        if not self.categories:
            raise ValueError("categories must name at least one class")
        if n:
            low, high = int(self.labels.min()), int(self.labels.max())
            if low < 0 or high >= len(self.categories):
                raise ValueError(
                    f"labels span [{low}, {high}], outside the {len(self.categories)} categories"
                )

    @classmethod
    def empty(
        cls,
        image_size: tuple[int, int],
        categories: Collection[str],
        device: torch.device | str = "cpu",
        mask_size: int = 28,
    ) -> Detections:
        """No detection at all, for an image of ``image_size`` (H, W)."""
        return cls(
            boxes=torch.zeros(0, 4, dtype=torch.float32, device=device),
            scores=torch.zeros(0, dtype=torch.float32, device=device),
            labels=torch.zeros(0, dtype=torch.int64, device=device),
            mask_probs=torch.zeros(0, mask_size, mask_size, dtype=torch.float32, device=device),
            image_size=tuple(image_size),  # type: ignore[arg-type]
            categories=tuple(categories),
        )

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def __getitem__(self, index: int | slice | torch.Tensor | list[int] | list[bool]) -> Detections:
        n = len(self)
        if isinstance(index, bool):
            raise TypeError("index Detections with an int, a slice, or a bool/int tensor or list")
        if _is_int(index):
            i = int(index)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of range for {n} detections")
            index = slice(i % n, i % n + 1)
        elif isinstance(index, (list, tuple)):
            dtype = torch.bool if index and all(isinstance(i, bool) for i in index) else None
            index = torch.as_tensor(index, dtype=dtype or torch.int64, device=self.boxes.device)
        if isinstance(index, torch.Tensor):
            if index.dtype == torch.bool:
                if index.shape != (n,):
                    raise IndexError(f"a boolean index must have shape [{n}], got {index.shape}")
            elif index.is_floating_point() or index.ndim != 1:
                raise IndexError(
                    f"an index tensor must be bool [N] or integer [K], got {describe(index)}"
                )
            index = index.to(self.boxes.device)
        elif not isinstance(index, slice):
            raise TypeError(
                f"index Detections with an int, a slice, or a bool/int tensor or list; got a "
                f"{type(index).__name__}"
            )
        return Detections(
            boxes=self.boxes[index],
            scores=self.scores[index],
            labels=self.labels[index],
            mask_probs=self.mask_probs[index],
            image_size=self.image_size,
            categories=self.categories,
            extras=dict(self.extras),
        )

    @property
    def device(self) -> torch.device:
        return self.boxes.device

    def clone(self) -> Detections:
        """A copy with new tensors: what a shared cache hands out."""
        return Detections(
            boxes=self.boxes.clone(),
            scores=self.scores.clone(),
            labels=self.labels.clone(),
            mask_probs=self.mask_probs.clone(),
            image_size=self.image_size,
            categories=self.categories,
            extras=dict(self.extras),
        )

    def to(self, device: torch.device | str) -> Detections:
        """The same detections with their tensors on ``device``."""
        return Detections(
            boxes=self.boxes.to(device),
            scores=self.scores.to(device),
            labels=self.labels.to(device),
            mask_probs=self.mask_probs.to(device),
            image_size=self.image_size,
            categories=self.categories,
            extras=dict(self.extras),
        )


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, torch.Tensor):
        return value.ndim == 0 and not value.is_floating_point() and value.dtype != torch.bool
    return isinstance(value, numbers.Integral)
