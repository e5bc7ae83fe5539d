"""The inference-result cache: same pixels and options reuse, anything else recomputes."""

import pytest
import torch

from segdemo.cache import ResultCache, image_key


def test_same_pixels_same_key_and_any_change_another():
    image = torch.randint(0, 256, (3, 8, 9), dtype=torch.uint8)
    assert image_key(image) == image_key(image.clone())
    changed = image.clone()
    changed[0, 0, 0] ^= 1
    assert image_key(changed) != image_key(image)
    assert image_key(image.reshape(3, 9, 8)) != image_key(image)


def test_lru_reuses_and_evicts_the_least_recent():
    cache = ResultCache(capacity=2, copy=lambda value: value)
    calls = []

    def compute(value):
        calls.append(value)
        return value * 10

    assert cache.get_or_compute("a", lambda: compute(1)) == 10
    assert cache.get_or_compute("a", lambda: compute(99)) == 10
    cache.get_or_compute("b", lambda: compute(2))
    cache.get_or_compute("a", lambda: compute(99))  # a is now the most recent
    cache.get_or_compute("c", lambda: compute(3))  # evicts b
    assert cache.get_or_compute("b", lambda: compute(4)) == 40
    assert calls == [1, 2, 3, 4] and len(cache) == 2
    with pytest.raises(ValueError, match="capacity"):
        ResultCache(0)


def test_every_caller_gets_its_own_copy():
    cache = ResultCache(capacity=2)
    first = cache.get_or_compute("a", lambda: torch.zeros(3, dtype=torch.int32))
    first[0] = 7  # one session edits what it got ...
    second = cache.get_or_compute("a", lambda: torch.ones(3))
    assert second.tolist() == [0, 0, 0]  # ... and the next one does not see it
