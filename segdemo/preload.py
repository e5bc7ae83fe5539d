"""Warm start: the default models start loading in a background thread once the page is up.

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


def start_preloading() -> threading.Thread | None:
    """Start loading the default models in a daemon thread (None when SEGDEMO_PRELOAD=0)."""
    if not preload_wanted():
        return None
    thread = threading.Thread(
        target=_load_all, args=(default_loaders(),), name="segdemo-preload", daemon=True
    )
    thread.start()
    return thread
