"""A small LRU of inference results, keyed by the image's content and the options that change
the model's output, so that running the same photo through the same model again is free.

Results are shared between sessions, so every caller gets its own copy (``copy``, by default the
result's ``clone()``): a caller that edits what it got cannot change what the others see."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import torch

T = TypeVar("T")


def image_key(image: torch.Tensor) -> str:
    """A digest of a uint8 image tensor's shape and pixels (any device)."""
    pixels = image.detach().contiguous().cpu().numpy()
    digest = hashlib.blake2b(pixels.tobytes(), digest_size=16).hexdigest()
    return f"{tuple(image.shape)}:{digest}"


def _clone(result: Any) -> Any:
    return result.clone()


class ResultCache:
    """Keeps the ``capacity`` most recently used results; thread-safe; hands out copies."""

    def __init__(self, capacity: int = 8, *, copy: Callable[[Any], Any] = _clone) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._copy = copy
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """A copy of the cached result for ``key``, or ``compute()``'s, which is then cached."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._copy(self._items[key])
        result = compute()
        with self._lock:
            self._items[key] = result
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return self._copy(result)

    def __len__(self) -> int:
        return len(self._items)
