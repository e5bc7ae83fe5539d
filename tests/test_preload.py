"""Warm start: the default models load in the background, once, and a failure is only logged."""

from __future__ import annotations

import logging
import os
import threading
import time

import pytest
import torch

from segdemo import preload
from segdemo.models import ModelFamily


@pytest.mark.parametrize(
    ("value", "wanted"),
    [(None, True), ("1", True), ("", True), ("0", False), ("false", False), (" No ", False)],
)
def test_preload_is_on_unless_turned_off(value, wanted, monkeypatch) -> None:
    if value is None:
        monkeypatch.delenv(preload.PRELOAD_ENV, raising=False)
    else:
        monkeypatch.setenv(preload.PRELOAD_ENV, value)
    assert preload.preload_wanted() is wanted


def test_turned_off_it_starts_nothing(monkeypatch) -> None:
    monkeypatch.setenv(preload.PRELOAD_ENV, "0")
    monkeypatch.setattr(preload, "default_loaders", lambda: pytest.fail("a loader was built"))
    assert preload.start_preloading() is None


def test_every_task_has_a_default_loader() -> None:
    assert [task for task, _ in preload.default_loaders()] == ["semantic", "instance", "panoptic"]


def test_a_model_that_fails_to_load_is_logged_and_the_others_still_load(caplog) -> None:
    loaded: list[str] = []

    def broken() -> None:
        raise RuntimeError("no weights here")

    loaders = [("semantic", broken), ("instance", lambda: loaded.append("instance"))]
    with caplog.at_level(logging.WARNING, logger="segdemo.preload"):
        preload._load_all(loaders)
    assert loaded == ["instance"]
    assert "semantic" in caplog.text and "no weights here" in caplog.text


def test_a_run_arriving_during_the_preload_waits_for_the_same_build(monkeypatch) -> None:
    builds: list[str] = []

    def slow_build(spec: str, device: torch.device) -> object:
        builds.append(spec)
        time.sleep(0.3)
        return object()

    family = ModelFamily("fake", {"a": "a"}, "a", slow_build)
    monkeypatch.setenv(preload.PRELOAD_ENV, "1")
    monkeypatch.setattr(preload, "default_loaders", lambda: [("fake", family.load)])
    thread = preload.start_preloading()
    assert thread is not None
    time.sleep(0.05)  # the preload's build is under way
    answers: list[object] = []
    runs = [threading.Thread(target=lambda: answers.append(family.load())) for _ in range(3)]
    for run in runs:
        run.start()
    for run in [thread, *runs]:
        run.join(timeout=10)
    assert builds == ["a"] and len({id(a) for a in answers}) == 1


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="thread priorities are Linux's")
def test_the_preload_yields_the_cores_to_the_users_runs(monkeypatch) -> None:
    seen: dict[str, int] = {}

    def load() -> None:
        me = threading.get_native_id()
        seen["preload"] = os.getpriority(os.PRIO_PROCESS, me)

    monkeypatch.setattr(preload, "default_loaders", lambda: [("semantic", load)])
    monkeypatch.delenv(preload.PRELOAD_ENV, raising=False)
    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = preload.start_preloading()
    assert thread is not None
    thread.join(timeout=30)
    assert seen["preload"] == preload.PRELOAD_NICE >= main
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main  # only that thread
