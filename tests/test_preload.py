"""Warm start: the default models load in the background, once, and a failure is only logged."""

from __future__ import annotations

import logging
import os
import threading
import time

import gradio as gr
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


@pytest.fixture(autouse=True)
def nothing_started(monkeypatch) -> None:
    monkeypatch.setattr(preload, "_STARTED", set())


def test_turned_off_it_starts_nothing(monkeypatch) -> None:
    monkeypatch.setenv(preload.PRELOAD_ENV, "0")
    monkeypatch.setattr(preload, "default_loaders", lambda: pytest.fail("a loader was built"))
    assert preload.start_preloading() == [] and preload.preload_task("instance") is None


def test_at_start_only_the_first_model_tab_loads_and_each_task_loads_once(monkeypatch) -> None:
    loaded: list[str] = []
    monkeypatch.delenv(preload.PRELOAD_ENV, raising=False)
    monkeypatch.setattr(
        preload,
        "default_loaders",
        lambda: [(t, lambda t=t: loaded.append(t)) for t in ("semantic", "instance", "panoptic")],
    )
    for thread in preload.start_preloading():
        thread.join(timeout=30)
    assert loaded == ["semantic"]
    thread = preload.preload_task("instance")
    assert thread is not None
    thread.join(timeout=30)
    assert preload.preload_task("instance") is None and preload.preload_task("semantic") is None
    assert loaded == ["semantic", "instance"]


def test_opening_a_model_tab_warms_its_model(monkeypatch) -> None:
    from segdemo import ui

    warmed: list[str] = []
    monkeypatch.setattr(ui, "preload_task", warmed.append)
    demo = ui.build_demo()
    selects = [
        fn
        for fn in demo.fns.values()
        if any(isinstance(demo.blocks.get(block), gr.Tab) for block, _ in fn.targets)
    ]
    for fn in selects:
        fn.fn()
    assert sorted(warmed) == sorted(["semantic", "instance", "panoptic"] * 2)


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
    thread = preload.preload_task("fake")
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
    (thread,) = preload.start_preloading()
    thread.join(timeout=30)
    assert seen["preload"] == preload.PRELOAD_NICE >= main
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main  # only that thread
