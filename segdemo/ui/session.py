"""What the app keeps between requests: one result cache for everyone, one state per session.

A session's state holds its photo and result as tensors (on the GPU when there is one), so it
lives at most STATE_TTL_S after its last update: a tab left open, or an API client that never
closes its session, frees that memory then. Gradio already drops a session's state an hour
after its browser tab closes, and keeps at most ``state_session_capacity`` sessions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import gradio as gr
import torch

from segdemo.cache import ResultCache, image_key
from segdemo.weights import weights_mode

R = TypeVar("R")
#: How long a session's state lives after its last update, in seconds (as ``delete_cache``).
STATE_TTL_S = 3600
#: Results shared by every session: the same photo, model and options are computed once.
RESULTS = ResultCache(capacity=8)


def session_state() -> gr.State:
    """A per-session ``gr.State`` that is freed STATE_TTL_S after its last update."""
    return gr.State(time_to_live=STATE_TTL_S)


def cached(
    task: str, image: torch.Tensor, options: tuple[object, ...], compute: Callable[[], R]
) -> R:
    """``compute()``'s result, reused for the same task, photo pixels, options and weights.

    Every caller gets its own copy (see :class:`segdemo.cache.ResultCache`).
    """
    return RESULTS.get_or_compute((task, image_key(image), options, weights_mode()), compute)
