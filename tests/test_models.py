"""segdemo.models: the seed lock behind reproducible random weights, and ModelFamily's caching.

The seed lock matters because torch's CPU generator is one per process: two threads that seed
it and draw from it at once draw from each other's sequence. The adapters' own builders
(``semantic._build``, ``instance._build``) are run from several threads released together by a
barrier, and every model must equal the one built alone; without the lock they do not.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import pytest
import torch

from segdemo import instance, models, semantic
from segdemo.models import ModelFamily
from segdemo.weights import WeightsUnavailable

CPU = torch.device("cpu")
State = dict[str, torch.Tensor]


pytestmark = pytest.mark.usefixtures("random_weights")


def deeplab() -> State:
    """The random DeepLabV3-MobileNetV3 exactly as the semantic adapter builds it."""
    return semantic._build(semantic.VARIANTS["mobilenet_v3_large"], CPU).state_dict()


def maskrcnn() -> State:
    """The random Mask R-CNN v1 exactly as the instance adapter builds it."""
    return instance._build(instance.VARIANTS["v1"], CPU).state_dict()


def same(a: State, b: State) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def at_once(builders: list[Callable[[], State]]) -> list[State]:
    """Run every builder in its own thread, all released together; their results in order."""
    barrier = threading.Barrier(len(builders))
    results: list[State | None] = [None] * len(builders)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[i] = builders[i]()
        except BaseException as error:  # reported in the test's thread below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(builders))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def concurrent_builds_match(builders: list[Callable[[], State]], trials: int) -> list[list[bool]]:
    """For each trial: does each concurrently built model equal the same model built alone?"""
    alone = {fn: fn() for fn in set(builders)}
    # The references themselves are what one build gives: a second one agrees.
    assert all(same(fn(), ref) for fn, ref in alone.items())
    return [
        [same(state, alone[fn]) for fn, state in zip(builders, at_once(builders), strict=True)]
        for _ in range(trials)
    ]


# --------------------------------------------------------------------------- the seed lock


def test_models_built_in_threads_at_once_equal_the_ones_built_alone() -> None:
    builders = [deeplab, maskrcnn, deeplab, maskrcnn, deeplab]
    outcome = concurrent_builds_match(builders, trials=3)
    assert outcome == [[True] * len(builders)] * 3, outcome


def test_without_the_seed_lock_threads_get_other_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same check as above, with the lock replaced by a context manager that does nothing:
    # the check must fail, or it would not show that the lock is what makes the weights equal.
    monkeypatch.setattr(models, "_SEED_LOCK", contextlib.nullcontext())
    outcome = concurrent_builds_match([deeplab, deeplab, deeplab], trials=4)
    assert not all(all(trial) for trial in outcome), outcome


def test_seeded_leaves_the_callers_generator_alone() -> None:
    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    with models.seeded():
        first = torch.rand(4)
    assert torch.equal(torch.rand(4), expected)
    with models.seeded():
        assert torch.equal(torch.rand(4), first)  # the same seed every time
    with models.seeded(1):
        assert not torch.equal(torch.rand(4), first)


# --------------------------------------------------------------------------- ModelFamily


class Toy:
    """A spec for a toy family: what its build is called with."""

    def __init__(self, title: str) -> None:
        self.title = title


def toy_family(
    build: Callable[[Toy, torch.device], object] | None = None,
) -> tuple[ModelFamily, list[tuple[str, str, str]]]:
    """A family of two toy models whose build records (title, device, weights mode)."""
    calls: list[tuple[str, str, str]] = []
    lock = threading.Lock()

    def default_build(spec: Toy, device: torch.device) -> object:
        import os

        with lock:
            calls.append((spec.title, str(device), os.environ["SEGDEMO_WEIGHTS"]))
        time.sleep(0.05)  # long enough for concurrent first requests to pile up
        return object()

    family = ModelFamily(
        "Toy",
        {"small": Toy("Small toy"), "big": Toy("Big toy")},
        "small",
        build or default_build,
    )
    return family, calls


def test_concurrent_first_requests_build_once_per_key() -> None:
    family, calls = toy_family()
    keys = ["small", "big"] * 4
    barrier = threading.Barrier(len(keys))
    got: list[object] = [None] * len(keys)

    def work(i: int) -> None:
        barrier.wait(timeout=30)
        got[i] = family.load(keys[i], "cpu")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(keys))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(calls) == [("Big toy", "cpu", "random"), ("Small toy", "cpu", "random")]
    assert all(got[i] is got[0] for i in range(0, len(keys), 2))
    assert all(got[i] is got[1] for i in range(1, len(keys), 2))
    assert got[0] is not got[1]
    assert family.load(None, "cpu") is got[0]  # None: the default key
    assert family.is_loaded("big", "cpu") and not family.is_loaded("big", "meta")


def test_one_slow_build_does_not_hold_up_another_key() -> None:
    release = threading.Event()
    started = threading.Event()

    def build(spec: Toy, device: torch.device) -> object:
        if spec.title == "Big toy":
            started.set()
            assert release.wait(timeout=30)
        return spec.title

    family, _ = toy_family(build)
    slow = threading.Thread(target=family.load, args=("big", "cpu"))
    slow.start()
    try:
        assert started.wait(timeout=30)
        assert family.load("small", "cpu") == "Small toy"  # while "big" is still building
        assert not family.is_loaded("big", "cpu")
    finally:
        release.set()
        slow.join(timeout=30)
    assert family.load("big", "cpu") == "Big toy"


def test_a_changed_weights_mode_builds_a_new_model(monkeypatch: pytest.MonkeyPatch) -> None:
    family, calls = toy_family()
    random_model = family.load("small", "cpu")
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "pretrained")
    assert not family.is_loaded("small", "cpu")
    pretrained_model = family.load("small", "cpu")
    assert pretrained_model is not random_model
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "random")
    assert family.load("small", "cpu") is random_model  # both stay cached
    assert calls == [("Small toy", "cpu", "random"), ("Small toy", "cpu", "pretrained")]
    family.clear()
    assert not family.is_loaded("small", "cpu")


def test_progress_says_loading_only_before_the_first_build() -> None:
    family, _ = toy_family()
    heard: list[tuple[float, str]] = []
    family.load("big", "cpu", lambda f, m: heard.append((f, m)))
    assert heard == [(0.0, "Loading Big toy …"), (0.2, "Running Big toy …")]
    heard.clear()
    family.load("big", "cpu", lambda f, m: heard.append((f, m)))
    assert heard == [(0.2, "Running Big toy …")]
    heard.clear()
    family.load("small", "cpu", lambda f, m: heard.append((f, m)), title="Toy S")
    assert heard == [(0.0, "Loading Toy S …"), (0.2, "Running Toy S …")]


def test_a_failed_build_is_not_cached() -> None:
    attempts: list[int] = []

    def build(spec: Toy, device: torch.device) -> object:
        attempts.append(1)
        if len(attempts) == 1:
            raise WeightsUnavailable("The Small toy weights are not in the store.")
        return "built"

    family, _ = toy_family(build)
    with pytest.raises(WeightsUnavailable, match="Small toy"):
        family.load("small", "cpu")
    assert not family.is_loaded("small", "cpu")
    assert family.load("small", "cpu") == "built"
    assert len(attempts) == 2


@pytest.mark.parametrize("call", ["spec", "load", "is_loaded"])
def test_an_unknown_key_is_a_value_error_naming_the_choices(call: str) -> None:
    family, calls = toy_family()
    with pytest.raises(
        ValueError, match=r"unknown Toy variant 'huge'; choose one of \['small', 'big'\]"
    ):
        getattr(family, call)("huge")
    assert calls == []
