"""Pieces every tab shares: the undecoded file input, user-facing errors and the result view."""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import gradio as gr
import torch

from segdemo import masks
from segdemo.images import InputError, to_numpy_hwc
from segdemo.render import render
from segdemo.result import Segmentation
from segdemo.store import WeightsUnavailable, weights_mode

log = logging.getLogger("segdemo")
P = ParamSpec("P")
R = TypeVar("R")
MODEL_CONCURRENCY_ID = "models"
UNTRAINED_BANNER = (
    "⚠️ **Untrained weights** (`SEGDEMO_WEIGHTS=random`): the models run with random weights, so "
    "their segments are meaningless. This mode is for tests and machines with no network."
)


class FileImage(gr.Image):
    """An image input that hands over the uploaded file's path without decoding it.

    ``segdemo.images`` decodes it (format allow-list, size limits, clear messages); Gradio's own
    decoding would fail on a bad file before our code runs, with a message nobody can act on.
    """

    def get_block_name(self) -> str:
        return "image"

    def preprocess(self, payload: Any) -> str | None:  # type: ignore[override]
        if payload is None:
            return None
        if payload.path is None:
            raise gr.Error("The image did not arrive as a file; upload it again.")
        return str(payload.path)


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn failures into messages a user can act on; the page keeps what it shows."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (InputError, WeightsUnavailable) as error:
            # gr.Error renders HTML, and messages may quote a user's file name.
            raise gr.Error(html.escape(str(error)), title="Cannot do that", print_exception=False) from None
        except torch.OutOfMemoryError:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise gr.Error(
                "The GPU ran out of memory on this image: try a smaller image.",
                title="Too large", print_exception=False,
            ) from None
        except Exception:
            log.exception("unexpected failure in %s", fn.__name__)
            raise gr.Error(
                "Something went wrong on the server (the details are in its log). Try again or "
                "with another image; if it keeps happening, please report it.",
                title="Unexpected error",
            ) from None

    return wrapper


def require(value: str | None, what: str) -> str:
    """The path of a required upload, or a message saying what to upload."""
    if not value:
        raise InputError(f"Please add {what} first (upload one or click an example).")
    return value


def banner() -> None:
    """The untrained-weights banner, shown only in SEGDEMO_WEIGHTS=random mode."""
    if weights_mode() == "random":
        gr.Markdown(UNTRAINED_BANNER, elem_classes=["untrained-banner"])


@dataclass
class ResultView:
    """Overlay + legend, binary mask, cut-out on black and transparent cut-out of one result."""

    overlay: gr.Image
    legend: gr.HTML
    mask: gr.Image
    on_black: gr.Image
    cutout: gr.Image

    @property
    def outputs(self) -> list[gr.components.Component]:
        """The components, in the order of :func:`view_values`."""
        return [self.overlay, self.legend, self.mask, self.on_black, self.cutout]


def view_values(
    image: torch.Tensor, seg: Segmentation, selected: Sequence[int], alpha: float
) -> tuple[Any, ...]:
    """What a ResultView shows for ``seg`` over ``image`` with ``selected`` segment ids."""
    shown = render(image, seg, selected, alpha)
    return (
        to_numpy_hwc(shown.overlay),
        masks.legend_html(shown.legend),
        to_numpy_hwc(shown.mask.to(torch.uint8) * 255),
        to_numpy_hwc(shown.on_black),
        to_numpy_hwc(shown.cutout),
    )


def result_view(overlay_label: str) -> ResultView:
    """Lay out the result components (inside the caller's Blocks context)."""
    with gr.Row():
        overlay = gr.Image(label=overlay_label, format="png", interactive=False, scale=3)
        legend = gr.HTML(label="Legend")
    with gr.Row():
        mask = gr.Image(label="Binary mask (white = selected)", format="png", interactive=False)
        on_black = gr.Image(label="Cut-out on black", format="png", interactive=False)
        cutout = gr.Image(
            label="Cut-out (transparent PNG — use ⬇ to download)", format="png",
            interactive=False, image_mode="RGBA", buttons=["download", "fullscreen"],
        )
    return ResultView(overlay, legend, mask, on_black, cutout)
