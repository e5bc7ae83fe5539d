"""Failures as messages a user can act on: one sentence, no traceback, the page keeps what it shows.

``gr.Error`` renders its message as HTML, and messages may quote a user's file name or an API
value, so every message made here is escaped.
"""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import gradio as gr
import torch
from gradio.exceptions import InvalidPathError

from segdemo.images import InputError
from segdemo.weights import WeightsUnavailable

log = logging.getLogger("segdemo")
P = ParamSpec("P")
R = TypeVar("R")
TITLE = "Cannot do that"
UNEXPECTED = (
    "Something went wrong on the server (the details are in its log). Try again or with another "
    "image; if it keeps happening, please report it."
)

#: Close the error toasts on the page (run in the browser when the next action succeeds, so old
#: errors do not stack up beside a good result).
CLEAR_TOASTS_JS = "() => document.querySelectorAll('.toast-close').forEach(b => b.click())"
#: The CSS class of a status line: room at its end for the Error badge Gradio puts there.
STATUS_CLASS = "segdemo-status"


def refusal(message: str, title: str = TITLE) -> gr.Error:
    """A ``gr.Error`` for something the user can fix: ``message`` escaped, no server traceback."""
    return gr.Error(html.escape(message, quote=False), title=title, print_exception=False)


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn ``fn``'s failures into messages a user can act on.

    InputError and WeightsUnavailable become their own message; CUDA out of memory frees the
    cache and asks for a smaller image; anything else is logged and answered with a generic
    message that reveals nothing of the server.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (InputError, WeightsUnavailable) as error:
            raise refusal(str(error)) from None
        except torch.OutOfMemoryError:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise refusal(
                "The GPU ran out of memory on this image: try a smaller image.", "Too large"
            ) from None
        except Exception:
            log.exception("unexpected failure in %s", fn.__name__)
            raise gr.Error(UNEXPECTED, title="Unexpected error") from None

    return wrapper


class Blocks(gr.Blocks):
    """``gr.Blocks`` that says why Gradio refused a file path in a request.

    Before any input is preprocessed, Gradio checks that every file path in the request lies in
    its upload folder (``processing_utils._check_allowed``, with ``check_in_upload_folder``) and
    raises ``InvalidPathError`` otherwise. That is a ValueError, not a ``gr.Error``, so with
    ``show_error=False`` the caller would get no message at all; here it becomes one.
    """

    async def preprocess_data(self, *args: Any, **kwargs: Any) -> Any:
        """Gradio's own preprocessing, with its path-guard refusal turned into a message."""
        try:
            return await super().preprocess_data(*args, **kwargs)
        except InvalidPathError as error:
            reason = str(error).rstrip(".")
            raise refusal(
                f"{reason}: only files uploaded to this app can be used (upload the file, e.g. "
                "with gradio_client's handle_file).",
                "File not uploaded",
            ) from None
