"""A small LRU of inference results, keyed by the image's content and the options that change
the model's output, so that running the same photo through the same model again is free."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

import torch

T = TypeVar("T")


def image_key(image: torch.Tensor) -> str:
    """A digest of a uint8 image tensor's shape and pixels (any device)."""
    pixels = image.detach().contiguous().cpu().numpy()
    digest = hashlib.blake2b(pixels.tobytes(), digest_size=16).hexdigest()
    return f"{tuple(image.shape)}:{digest}"


class ResultCache:
    """Keeps the ``capacity`` most recently used results; thread-safe."""

    def __init__(self, capacity: int = 8) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached result for ``key``, or ``compute()``'s, which is then cached."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[return-value]
        result = compute()
        with self._lock:
            self._items[key] = result
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return result

    def __len__(self) -> int:
        return len(self._items)
