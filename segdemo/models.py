"""Lazily built, cached models: one :class:`ModelFamily` per adapter, and what they share.

- :class:`ModelFamily` builds each (variant, device, weights mode) once, thread-safe;
  concurrent first requests wait for one build.
- :func:`seeded` makes random weights reproducible: every seeded build in the process takes
  one lock, so two threads building at once get the same weights as one after the other.
- :class:`TorchvisionVariant` describes a torchvision model by its builder and Weights enum.
- :func:`check_image` is the adapters' input contract.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import torch
from torchvision.models import WeightsEnum

from segdemo.device import resolve_device
from segdemo.weights import weights_mode

#: Seed of the untrained weights in SEGDEMO_WEIGHTS=random mode (the same model every run).
RANDOM_SEED = 0


class Progress(Protocol):
    """``progress(fraction, message)``: how an adapter tells its caller what it is doing."""

    def __call__(self, fraction: float, message: str, /) -> object: ...


_SEED_LOCK = threading.Lock()


@contextmanager
def seeded(seed: int = RANDOM_SEED) -> Iterator[None]:
    """Run the block with the CPU generator seeded, then give the caller's state back.

    One lock for every seeded block in the process: the global generator is shared, so two
    builds in two threads would otherwise draw from each other's sequence.
    """
    with _SEED_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def check_image(
    image: object, *, title: str = "the model", min_size: tuple[int, int] = (1, 1)
) -> None:
    """The adapters' input contract: a uint8 tensor [3, H, W] of at least ``min_size`` (H, W).

    Raises TypeError for something that is not a tensor, ValueError for a bad one.
    """
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor, got a {type(image).__name__}")
    if image.dtype != torch.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"image must have shape [3, H, W], got {tuple(image.shape)}")
    min_h, min_w = min_size
    if image.shape[1] < min_h or image.shape[2] < min_w:
        raise ValueError(
            f"image must be at least {min_h}x{min_w} pixels for {title}, "
            f"got {tuple(image.shape[1:])}"
        )


@dataclass(frozen=True)
class TorchvisionVariant:
    """One torchvision model the app offers: its builder and its Weights enum member, which
    provides the labels, the preprocessing, the published figures and the checkpoint URL."""

    key: str
    title: str
    builder: Callable[..., torch.nn.Module]
    weights: WeightsEnum

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(self.weights.meta["categories"])

    @property
    def min_size(self) -> tuple[int, int]:
        """The smallest (H, W) the model accepts, from the weights' metadata."""
        return tuple(self.weights.meta.get("min_size", (1, 1)))  # type: ignore[return-value]


T = TypeVar("T")
S = TypeVar("S")
M = TypeVar("M")


class ModelCache:
    """Builds each model once per key, thread-safe; concurrent first requests wait for one build."""

    def __init__(self) -> None:
        self._models: dict[Hashable, object] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        """The model for ``key``, built by ``build()`` the first time."""
        with self._lock:
            if key in self._models:
                return self._models[key]  # type: ignore[return-value]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._models:
                    return self._models[key]  # type: ignore[return-value]
            model = build()
            with self._lock:
                self._models[key] = model
            return model

    def loaded(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._models

    def clear(self) -> None:
        with self._lock:
            self._models.clear()


class ModelFamily(Generic[S, M]):
    """One adapter's models: ``variants`` (key → spec) built lazily by ``build(spec, device)``,
    once per (key, device, ``context()``), thread-safe (a :class:`ModelCache` underneath).

    ``context()`` names what else decides the model (default: the weights mode), read at each
    call so that a changed SEGDEMO_WEIGHTS builds a new model instead of reusing the old one.
    """

    def __init__(
        self,
        name: str,
        variants: Mapping[str, S],
        default: str,
        build: Callable[[S, torch.device], M],
        context: Callable[[], tuple[str, ...]] = lambda: (weights_mode(),),
    ) -> None:
        self.name, self.variants, self.default = name, variants, default
        self._build, self._context = build, context
        self._cache = ModelCache()

    def spec(self, key: str) -> S:
        """The spec named ``key``; ValueError naming the choices otherwise."""
        try:
            return self.variants[key]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown {self.name} variant {key!r}; choose one of {list(self.variants)}"
            ) from None

    def _key(self, key: str, device: torch.device) -> tuple[str, ...]:
        self.spec(key)
        return (key, str(device), *self._context())

    def load(
        self,
        key: str | None = None,
        device: torch.device | str | None = None,
        progress: Progress | None = None,
        *,
        title: str | None = None,
    ) -> M:
        """The model ``key`` (default: the family's default) on ``device``, built once.

        ``progress(fraction, message)`` hears "Loading …" (only when the model is not built yet)
        and then "Running …" (``title`` names the model in both; default the spec's ``title``).
        Raises WeightsUnavailable (one sentence with the fix) when pretrained weights are
        neither in the model store nor downloadable.
        """
        key = self.default if key is None else key
        where = resolve_device(device)
        spec, cache_key = self.spec(key), self._key(key, where)
        name = title or getattr(spec, "title", key)
        if progress is not None and not self._cache.loaded(cache_key):
            progress(0.0, f"Loading {name} …")
        model = self._cache.get(cache_key, lambda: self._build(spec, where))
        if progress is not None:
            progress(0.2, f"Running {name} …")
        return model

    def is_loaded(self, key: str | None = None, device: torch.device | str | None = None) -> bool:
        """True when ``key``'s model is already built on ``device``."""
        key = self.default if key is None else key
        return self._cache.loaded(self._key(key, resolve_device(device)))

    def clear(self) -> None:
        """Forget every loaded model (e.g. to free GPU memory after an out-of-memory error)."""
        self._cache.clear()
