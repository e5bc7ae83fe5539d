"""Pieces every tab shares: the undecoded file input, user-facing errors and the result view."""

from __future__ import annotations

import functools
import html
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import gradio as gr
import torch
from torchvision.transforms.v2 import functional as tvf

from segdemo.cache import ResultCache, image_key
from segdemo.images import InputError, jpeg_data_url, load_image, to_numpy_hwc
from segdemo.render import LegendEntry, render, segment_palette
from segdemo.result import Segmentation
from segdemo.weights import WeightsUnavailable, weights_mode

log = logging.getLogger("segdemo")
P = ParamSpec("P")
R = TypeVar("R")
MODEL_CONCURRENCY_ID = "models"
EXAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "examples"
PHOTO_EXAMPLES = [
    [str(EXAMPLES_DIR / name)] for name in ("chelsea.png", "astronaut.jpg", "rocket.jpg")
]
Upload = str | dict[str, Any] | None  # a file path, or Gradio's file data (preprocess=False)
UNTRAINED_BANNER = (
    "⚠️ **Untrained weights** (`SEGDEMO_WEIGHTS=random`): the models run with random weights, so "
    "their segments are meaningless. This mode is for tests and machines with no network."
)


def file_image(**kwargs: Any) -> gr.Image:
    """An image input whose events must be wired with ``preprocess=False``.

    The function then gets the upload's file data undecoded and ``segdemo.images`` decodes it
    (format allow-list, size limits, clear messages): Gradio's own decoding would fail on a bad
    file before our code runs, with a message nobody can act on, and would re-save an
    annotation in another mode.
    """
    return gr.Image(type="filepath", **kwargs)


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
            message = html.escape(str(error))
            raise gr.Error(message, title="Cannot do that", print_exception=False) from None
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


def require(value: str | dict[str, Any] | None, what: str) -> str:
    """The file path of a required upload (a path, or Gradio's file data when the event is
    wired with ``preprocess=False``), or a message saying what to upload."""
    path = value.get("path") if isinstance(value, dict) else value
    if not path:
        raise InputError(f"Please add {what} first (upload one or click an example).")
    return str(path)


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
    image: torch.Tensor, seg: Segmentation, selected: Sequence[int], alpha: float,
    *, boxes: bool = False, hover: bool = False,
) -> tuple[Any, ...]:
    """What a ResultView shows for ``seg`` over ``image`` with ``selected`` segment ids;
    ``hover`` appends :func:`hover_map_html` of the overlay."""
    shown = render(image, seg, selected, alpha, boxes=boxes)
    values = (
        to_numpy_hwc(shown.overlay),
        legend_html(shown.legend),
        to_numpy_hwc(shown.mask.to(torch.uint8) * 255),
        to_numpy_hwc(shown.on_black),
        to_numpy_hwc(shown.cutout),
    )
    return (*values, hover_map_html(shown.overlay, seg)) if hover else values


def legend_html(entries: Sequence[LegendEntry]) -> str:
    """A small HTML legend (for ``gr.HTML``): swatch, label, share. Labels are escaped."""
    if not entries:
        return '<div class="segdemo-legend"><em>No segments.</em></div>'
    items = [
        '<span class="segdemo-legend-item" style="display:inline-flex;align-items:center;'
        'margin:0 1em 0.3em 0;white-space:nowrap">'
        f'<span style="display:inline-block;width:0.9em;height:0.9em;margin-right:0.35em;'
        f'border:1px solid #8888;border-radius:2px;background:{_hex_color(e.color)}"></span>'
        f"{html.escape(e.label)}&nbsp;<small>{_percent(e.share)}</small></span>"
        for e in entries
    ]
    return '<div class="segdemo-legend">' + "".join(items) + "</div>"


def _hex_color(color: str) -> str:
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", color):
        raise ValueError(f"legend colour must be '#rrggbb', got {color!r}")
    return color


def _percent(share: float) -> str:
    if 0 < share < 0.001:
        return "&lt;0.1%"
    return f"{share * 100:.1f}%"


def result_view(overlay_label: str) -> ResultView:
    """Lay out the result components (inside the caller's Blocks context)."""
    with gr.Row():
        overlay = gr.Image(
            label=f"{overlay_label} — click a segment to pick it", format="png",
            interactive=False, scale=3,
        )
        legend = gr.HTML(label="Legend")
    with gr.Row():
        mask = gr.Image(label="Binary mask (white = selected)", format="png", interactive=False)
        on_black = gr.Image(label="Cut-out on black", format="png", interactive=False)
        cutout = gr.Image(
            label="Cut-out (transparent PNG — use ⬇ to download)", format="png",
            interactive=False, image_mode="RGBA", buttons=["download", "fullscreen"],
        )
    return ResultView(overlay, legend, mask, on_black, cutout)


MODEL_MAX_SIDE = 4096
RESULTS = ResultCache(capacity=8)


def cached(
    task: str, image: torch.Tensor, options: tuple[object, ...], compute: Callable[[], R]
) -> R:
    """``compute()``'s result, reused for the same task, photo pixels, options and weights."""
    return RESULTS.get_or_compute((task, image_key(image), options, weights_mode()), compute)



def photo_for_models(path: str | dict[str, Any] | None) -> tuple[torch.Tensor, str]:
    """Decode a photo for a model tab; one larger than MODEL_MAX_SIDE is scaled down to it.

    Returns the uint8 [3,H,W] CPU tensor and a note for the status line ("" when unchanged):
    full-size id maps of 40-megapixel photos would cost gigabytes per request.
    """
    image = load_image(require(path, "a photo"))
    height, width = int(image.shape[1]), int(image.shape[2])
    if max(height, width) <= MODEL_MAX_SIDE:
        return image, ""
    scale = MODEL_MAX_SIDE / max(height, width)
    size = [max(1, round(height * scale)), max(1, round(width * scale))]
    note = f"The photo ({width}×{height}) was scaled to {size[1]}×{size[0]} for the models. "
    return tvf.resize(image, size, antialias=True), note


def selected_ids(seg: Segmentation, labels: Sequence[str] | None) -> list[int]:
    """Segment ids whose labels are in ``labels`` (the picker's values)."""
    wanted = set(labels or ())
    return [s.id for s in seg.segments if s.label in wanted]


def picker_update(seg: Segmentation, keep: Sequence[str] | None, default: Sequence[str]):
    """A picker listing the segments with their share; keeps the user's picks that still exist."""
    areas = seg.areas()
    total = max(1, seg.ids.numel())
    labels = [s.label for s in seg.segments]
    value = [label for label in (keep or ()) if label in labels] or [
        label for label in default if label in labels
    ]
    choices = [(f"{s.label} · {areas[s.id] / total:.1%}", s.label) for s in seg.segments]
    return gr.update(choices=choices, value=value), value


def progress_callback(progress: gr.Progress):
    """Adapt gr.Progress to the adapters' ``progress(fraction, message)`` callback."""
    return lambda fraction, message: progress(fraction, desc=message)


def status_line(seg: Segmentation, note: str = "") -> str:
    """"**Model** on device: N segments · stage times" from the result's extras."""
    timings = " · ".join(
        f"{stage} {ms:.0f} ms" for stage, ms in seg.extras.get("timings_ms", {}).items()
    )
    return f"{note}**{seg.extras.get('model', seg.task)}** on {seg.device.type}: {len(seg)} " \
        f"segments · {timings}"


def rerender(state: dict[str, Any] | None, picked: list[str] | None, alpha: float):
    """Re-render a cached result when only the picked segments or alpha changed."""
    if not state:
        raise gr.Error("Run the model first: there is no result to show yet.")
    seg = state["seg"]
    return view_values(state["image"], seg, selected_ids(seg, picked), alpha)


# The events take their inputs raw (preprocess=False, for the uploads), so Gradio's own checks of
# sliders and choices do not run: API callers can send anything, and these say what was wrong.


def number_in(value: object, low: float, high: float, what: str) -> float:
    """``value`` as a float in [low, high], or an InputError naming ``what``."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if not low <= number <= high:
        raise InputError(f"{what} must be a number from {low:g} to {high:g}, got {value!r}.")
    return number


def one_of(value: object, choices: Sequence[object], what: str) -> object:
    """``value`` if it is one of ``choices``, or an InputError listing them."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise InputError(f"{what} must be one of {listed}; got {value!r}.")
    return value


def labels_list(value: object, what: str) -> list[str]:
    """A list of segment or class names (None means none), or an InputError."""
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{what} must be a list of names, got {value!r}.")
    return list(value)


def whole(value: object) -> object:
    """An API value that means a whole number (5, 5.0, "5") as an int; anything else as it is."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return value
    return int(number) if number.is_integer() else value


def opacity(value: object) -> float:
    """The overlay opacity slider's value, checked."""
    return number_in(value, 0, 1, "Overlay opacity")


def label_at(state: dict[str, Any] | None, event: gr.SelectData) -> str | None:
    """The label of the segment under a click on the overlay (one id-map lookup), if any."""
    if not state or "seg" not in state:
        raise gr.Error("Run the model first: there is no result to click on yet.")
    seg: Segmentation = state["seg"]
    x, y = (int(v) for v in event.index)
    height, width = seg.size
    if not (0 <= x < width and 0 <= y < height):
        return None
    segment_id = int(seg.ids[y, x])
    return seg.segment(segment_id).label if segment_id else None


def toggled(picked: object, label: str | None) -> list[str]:
    """The picked labels with ``label`` added, or removed if it was picked."""
    names = labels_list(picked, "The picked segments")
    if label is None:
        return names
    return [n for n in names if n != label] if label in names else [*names, label]


def pick_by_click(
    state: dict[str, Any] | None, picked: list[str] | None, alpha: float, event: gr.SelectData
) -> tuple[Any, ...]:
    """Click on the overlay: toggle the segment under the cursor in the picker, re-render."""
    names = toggled(picked, label_at(state, event))
    return (names, *rerender(state, names, alpha))


HOVER_STYLE = (
    "<style>.segdemo-hover{position:relative;max-width:960px}"
    ".segdemo-hover img{width:100%;display:block}"
    ".segdemo-hover svg{position:absolute;inset:0;width:100%;height:100%}"
    ".segdemo-hover rect{fill:transparent;pointer-events:all}"
    ".segdemo-hover rect:hover{fill:rgba(255,255,255,.3)}</style>"
)


def hover_map_html(overlay: torch.Tensor, seg: Segmentation) -> str:
    """A preview of ``overlay`` (uint8 [3,H,W]) on which hovering a box names its segment.

    The boxes are an SVG layer in the photo's own coordinates, each with a <title> tooltip;
    smaller boxes are drawn last, so they stay reachable inside larger ones.
    """
    height, width = seg.size
    palette = segment_palette(seg).tolist()
    boxed = sorted(
        (s for s in seg.segments if s.box is not None),
        key=lambda s: -(s.box[2] - s.box[0]) * (s.box[3] - s.box[1]),  # type: ignore[index]
    )
    stroke = max(2, round(max(height, width) / 300))
    rects = "".join(
        f'<rect x="{s.box[0]:.1f}" y="{s.box[1]:.1f}" width="{s.box[2] - s.box[0]:.1f}" '
        f'height="{s.box[3] - s.box[1]:.1f}" stroke="#{"".join(f"{c:02x}" for c in palette[s.id])}"'
        f' stroke-width="{stroke}"><title>{html.escape(s.label)}</title></rect>'
        for s in boxed
    )
    return (
        f'{HOVER_STYLE}<div class="segdemo-hover"><img src="{jpeg_data_url(overlay)}" '
        f'alt="instances over the photo"><svg viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="none">{rects}</svg></div>'
    )
