"""Warm start: default models load in a background thread, before the user's first run.

Once the page is up, the Semantic tab's default model loads (the first model tab a user meets);
each other model tab's default loads when that tab is opened (:func:`preload_task`, wired to the
tab's select event; Compare warms all three). Loading everything at once was measured to slow
the first run on a small CPU: the other builds compete with it for the cores and the GIL.

A user's first run then finds its model built, or waits for the build under way: the model
families build each model once under a lock (:class:`segdemo.models.ModelFamily`), so a run that
arrives mid-load never starts a second build. SEGDEMO_PRELOAD=0 turns it off (the bench's cold
start baseline). A model that cannot be loaded (no weights) is logged and left to its tab, which
says what to do when it is used.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

PRELOAD_ENV = "SEGDEMO_PRELOAD"
log = logging.getLogger(__name__)


def preload_wanted() -> bool:
    """False when SEGDEMO_PRELOAD is 0, false or no; true otherwise (the default)."""
    return os.environ.get(PRELOAD_ENV, "1").strip().lower() not in {"0", "false", "no"}


def default_loaders() -> list[tuple[str, Callable[[], object]]]:
    """Each task's default model on the default device, in the order of the tabs."""
    from segdemo import instance, panoptic, semantic

    return [
        ("semantic", semantic.load_model),
        ("instance", instance.load_model),
        ("panoptic", panoptic.load),
    ]


#: The loading thread's nice value: it yields the cores to the user's own runs (Linux keeps a
#: nice value per thread, and the threads torch starts from this one inherit it).
PRELOAD_NICE = 19


def _load_all(loaders: list[tuple[str, Callable[[], object]]]) -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PRELOAD_NICE)
    except (AttributeError, OSError):  # not Linux, or not allowed: load at normal priority
        log.info("the preload thread keeps its normal priority")
    for task, load in loaders:
        try:
            load()
        except Exception as error:  # the tab reports it when the model is used
            log.warning("the default %s model was not preloaded: %s", task, error)


#: What loads once the page is up: the first model tab's default.
AT_START = ("semantic",)
_STARTED: set[str] = set()
_STARTED_LOCK = threading.Lock()


def preload_task(task: str) -> threading.Thread | None:
    """Start loading ``task``'s default model in a daemon thread, once per process; None when
    SEGDEMO_PRELOAD=0 or when it was started before."""
    if not preload_wanted():
        return None
    with _STARTED_LOCK:
        if task in _STARTED:
            return None
        _STARTED.add(task)
    loaders = [(name, load) for name, load in default_loaders() if name == task]
    thread = threading.Thread(
        target=_load_all, args=(loaders,), name=f"segdemo-preload-{task}", daemon=True
    )
    thread.start()
    return thread


def start_preloading() -> list[threading.Thread]:
    """Start loading the :data:`AT_START` defaults (nothing when SEGDEMO_PRELOAD=0)."""
    return [thread for task in AT_START if (thread := preload_task(task)) is not None]
