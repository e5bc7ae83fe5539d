"""The tabs' input components: the undecoded upload, and Gradio's checks of API values.

Events are wired with Gradio's default ``preprocess=True``, so every input passes its
component's ``preprocess`` before our function runs. What Gradio 6.31 checks there itself:

- ``Slider.preprocess``: the range (``Number.raise_if_out_of_bounds``, a ``gr.Error``), not the
  type;
- ``Radio.preprocess`` and ``Dropdown.preprocess`` (``allow_custom_value=False``): that the value
  is one of the choices of the session's copy of the component (a ``gr.Error``);
- ``CheckboxGroup.preprocess``: the same, for each value;
- ``Checkbox.preprocess``: nothing, the value passes through;
- file data: the path must lie in Gradio's upload folder (checked before ``preprocess``; see
  :class:`segdemo.ui.errors.Blocks`).

The classes below keep Gradio's checks and name the input in their message; a hand check is
left only where Gradio checks nothing, or where its check would be wrong, each said in place.
Where Gradio's JSON schema of the value (``api_info``, which the API page and the MCP tools show)
is wrong for what the input takes, the class gives the right one. Every class is a Gradio
template (``is_template``): the browser shows the parent component.
"""

from __future__ import annotations

import math
import re
from abc import ABCMeta
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
from gradio.component_meta import ComponentMeta
from gradio.components.base import Component
from gradio.components.image import ImageData

from segdemo.images import InputError
from segdemo.ui.errors import refusal

T = TypeVar("T")
#: The largest upload the app takes (Gradio refuses bigger ones before any of our code runs).
MAX_UPLOAD_MB = 25
EXAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "examples"
PHOTO_EXAMPLES = [
    [str(EXAMPLES_DIR / name)] for name in ("chelsea.png", "astronaut.jpg", "rocket.jpg")
]
#: An upload as a tab's function gets it: the file's path (or, from a caller outside Gradio, file
#: data with a "path"), or None when there is none.
Upload = str | dict[str, Any] | None


class NoStubFile(ComponentMeta):
    """The metaclass of components that only override methods (``preprocess``, ``api_info``).

    For a class that defines no ``__init__`` and no ``EVENTS``, ``ComponentMeta.__new__`` does
    what ``ABCMeta.__new__`` does and then writes a ``.pyi`` copy of the class's module next to
    it (``create_or_modify_pyi``): a file in the source tree at import time, which linters and
    type checkers would then read instead of this module. This skips only that write.
    """

    def __new__(mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> NoStubFile:
        if "__init__" in attrs or "EVENTS" in attrs:
            raise TypeError(f"{name}: a NoStubFile component may override methods only")
        return ABCMeta.__new__(mcs, name, bases, attrs)


def name_of(component: Component) -> str:
    """The input's name for messages: its label up to the first parenthesis or colon."""
    label = str(component.label or "This value")
    return re.split(r" \(|:", label, maxsplit=1)[0].strip()


def json_type(values: list[Any]) -> str:
    """The JSON schema type of ``values``: "integer", "number" or else "string"."""
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if values and len(numbers) == len(values):
        return "integer" if all(isinstance(v, int) for v in numbers) else "number"
    return "string"


def names_schema() -> dict[str, Any]:
    """The JSON schema of a list of segment or class names (only a result lists them)."""
    return {"type": "array", "items": {"type": "string"}}


def _named(component: Component, check: Callable[[], T]) -> T:
    """``check()``, with a ``gr.Error`` it raises re-worded to name ``component``."""
    try:
        return check()
    except gr.Error as error:
        raise refusal(f"{name_of(component)}: {error.message}") from None


class RawImage(gr.Image, metaclass=NoStubFile):
    """An image input whose function gets the uploaded file's path, undecoded.

    ``segdemo.images`` decodes it (format allow-list, size limits, clear messages): Gradio's own
    decoding (``Image.preprocess`` opens the file with PIL) would fail on a bad file before our
    code runs, with a message nobody can act on, and would re-save an annotation in another mode.
    """

    is_template = True

    def preprocess(self, payload: ImageData | None) -> str | None:
        """The path of the uploaded file (in Gradio's upload folder), or None."""
        return None if payload is None else str(payload.path)


class NumberSlider(gr.Slider, metaclass=NoStubFile):
    """A slider; Gradio checks the range, this checks that the value is a number.

    Hand check: Gradio compares the value with the bounds without looking at its type, so a
    string fails inside Gradio with an error that reaches no one (``show_error=False``), and
    NaN passes (every comparison with NaN is false).
    """

    is_template = True

    def preprocess(self, payload: float) -> float:
        """The value, a finite number within the slider's range."""
        if isinstance(payload, bool) or not isinstance(payload, int | float):
            raise refusal(f"{name_of(self)} must be a number, got {payload!r}.")
        if not math.isfinite(payload):
            raise refusal(f"{name_of(self)} must be a finite number, got {payload!r}.")
        return _named(self, lambda: super(NumberSlider, self).preprocess(payload))

    def api_info(self) -> dict[str, Any]:
        """Gradio's schema with the range as ``minimum`` and ``maximum``."""
        return {**super().api_info(), "minimum": self.minimum, "maximum": self.maximum}


class ChoiceRadio(gr.Radio, metaclass=NoStubFile):
    """Radio buttons; Gradio checks that the value is one of the choices."""

    is_template = True

    def preprocess(self, payload: str | int | float | None) -> str | int | float | None:
        """The chosen value."""
        return _named(self, lambda: super(ChoiceRadio, self).preprocess(payload))

    def api_info(self) -> dict[str, Any]:
        """Gradio's schema typed by the choices (Gradio says "string" for integer choices too)."""
        return {**super().api_info(), "type": json_type([value for _, value in self.choices])}


class ChoiceDropdown(gr.Dropdown, metaclass=NoStubFile):
    """A single-choice dropdown with fixed choices; Gradio checks that the value is one of them."""

    is_template = True

    def preprocess(self, payload: Any) -> Any:
        """The chosen value."""
        return _named(self, lambda: super(ChoiceDropdown, self).preprocess(payload))


class Switch(gr.Checkbox, metaclass=NoStubFile):
    """A checkbox. Hand check: ``Checkbox.preprocess`` passes any value through unchecked."""

    is_template = True

    def preprocess(self, payload: bool | None) -> bool:
        """The box's state, true or false."""
        if not isinstance(payload, bool):
            raise refusal(f"{name_of(self)} must be true or false, got {payload!r}.")
        return payload


def _names(component: Component, payload: object) -> list[str]:
    """Hand check for the name pickers: a list of names (None: none)."""
    if payload is None:
        return []
    if not isinstance(payload, list | tuple) or not all(isinstance(v, str) for v in payload):
        raise refusal(f"{name_of(component)} must be a list of names, got {payload!r}.")
    return list(payload)


class NamePicker(gr.CheckboxGroup, metaclass=NoStubFile):
    """Checkboxes of segment names whose choices come from the last result.

    Hand check instead of Gradio's: ``CheckboxGroup.preprocess`` compares the names with the
    choices of the session's previous result (none in a new session), but the run event picks
    from the result it is about to make, so names that are not in that result are dropped there
    rather than refused here. Gradio also iterates a string letter by letter and fails on None.
    """

    is_template = True

    def preprocess(self, payload: Any) -> list[str]:
        """The picked names."""
        return _names(self, payload)

    def api_info(self) -> dict[str, Any]:
        """A list of names (Gradio's schema would allow only the choices of the page's start)."""
        return names_schema()


class NameDropdown(gr.Dropdown, metaclass=NoStubFile):
    """A multi-select dropdown of class names whose choices come from the last result.

    Hand check instead of Gradio's, for the same reason as :class:`NamePicker`.
    """

    is_template = True

    def preprocess(self, payload: Any) -> list[str]:
        """The chosen names."""
        return _names(self, payload)

    def api_info(self) -> dict[str, Any]:
        """A list of names (Gradio's schema would allow only the choices of the page's start)."""
        return names_schema()


class WholeNumberDropdown(gr.Dropdown, metaclass=NoStubFile):
    """A dropdown of whole numbers whose choices come from the uploaded file (annotation values).

    Hand check instead of Gradio's: its choices are those of the session's previous annotation,
    but the run event reads a new one, whose values are known only once it is decoded.
    """

    is_template = True

    def preprocess(self, payload: Any) -> int | None:
        """The value as an int, or None."""
        if payload is None:
            return None
        if (
            isinstance(payload, bool)
            or not isinstance(payload, int | float)
            or not math.isfinite(payload)
            or payload != int(payload)
            or not 0 <= payload < 2**31
        ):
            raise refusal(
                f"{name_of(self)} must be a whole number from 0 to {2**31 - 1}, got {payload!r}."
            )
        return int(payload)

    def api_info(self) -> dict[str, Any]:
        """A whole number (Gradio's schema: a string among the choices of the page's start)."""
        return {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}


def opacity_slider(**kwargs: Any) -> NumberSlider:
    """The overlay-opacity slider every tab has."""
    return NumberSlider(0, 1, value=0.5, step=0.05, label="Overlay opacity", **kwargs)


def require(value: Upload, what: str) -> str:
    """The file path of a required upload, or an InputError saying what to upload."""
    path = value.get("path") if isinstance(value, dict) else value
    if not path:
        raise InputError(f"Please add {what} first (upload one or click an example).")
    return str(path)
