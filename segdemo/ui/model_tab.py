"""The layout and wiring every model tab shares; each tab passes only what is its own.

A model tab is: its introduction; the photo beside a column of options ending in the run button;
the example photos; a status line; the tab's own components (filters, a table); the segment
picker; the result view and the download button; the tab's own components below them; a
per-session state. Its events: the run (``/<api_name>``), a re-render when a filter, the picks or
the opacity change (``/<api_name>_render``), a click on the overlay that toggles the segment under
it, and the results as a ZIP (``/<api_name>_download``).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import gradio as gr
from gradio.components.base import Component

from segdemo.images import InputError
from segdemo.models import Progress
from segdemo.precision import DEFAULT_PRECISION
from segdemo.ui.downloads import DownloadRow, download_result, download_row
from segdemo.ui.errors import CLEAR_TOASTS_JS, STATUS_CLASS, TITLE, user_errors
from segdemo.ui.inputs import (
    PHOTO_EXAMPLES,
    ChoiceRadio,
    NamePicker,
    NumberSlider,
    RawImage,
    Upload,
)
from segdemo.ui.photos import load_photo
from segdemo.ui.picking import State, labels_matching, pick_by_click, rerender
from segdemo.ui.session import session_state
from segdemo.ui.view import SCROLL_TO_RESULT_JS, ResultView, result_view

#: After a run succeeds: close the old error toasts and bring the result into view.
AFTER_RESULT_JS = f"() => {{ ({CLEAR_TOASTS_JS})(); ({SCROLL_TO_RESULT_JS})(); }}"
#: The CSS class of the model tabs' run buttons, and what a busy one says.
RUN_CLASS = "segdemo-run"
BUSY_LABEL = "Working…"
#: Press the visible tab's run button (after an example photo is loaded into the photo box).
PRESS_RUN_JS = (
    "() => { const run = [...document.querySelectorAll('." + RUN_CLASS + "')]"
    ".find(b => b.offsetParent && !b.disabled); if (run) run.click(); }"
)
#: The CSS class of the segment pickers, and the page script that shows only the picker's
#: names containing the Find box's text (the names stay picked or not: it only hides).
PICKER_CLASS = "segdemo-picker"
FIND_JS = (
    "(query) => { const q = (query || '').trim().toLowerCase();"
    " const picker = [...document.querySelectorAll('." + PICKER_CLASS + "')]"
    ".find(e => e.offsetParent); if (picker) picker.querySelectorAll('label:has(input)').forEach("
    "l => { l.style.display = !q || l.textContent.toLowerCase().includes(q) ? '' : 'none'; });"
    " return []; }"
)
#: The model events share one concurrency group: the models share one CPU/GPU.
MODEL_CONCURRENCY_ID = "models"
Handler = Callable[..., Any]


def progress_callback(progress: gr.Progress) -> Progress:
    """Adapt gr.Progress to the adapters' ``progress(fraction, message)`` callback."""
    return lambda fraction, message: progress(fraction, desc=message)


def speed_radio() -> ChoiceRadio:
    """The "Speed" choice: the precision of the model's forward (see segdemo.precision)."""
    return ChoiceRadio(
        [
            ("Exact (fp32)", "fp32"),
            ("Fast (bf16)", "bf16"),
            ("Auto", "auto"),
        ],
        value=DEFAULT_PRECISION,
        label="Speed",
        info="bf16 needs a GPU or a CPU with avx512_bf16/AMX; Auto uses it where there is one.",
    )


def checked_photo(photo: Upload, last_good: Upload) -> tuple[Upload, Upload]:
    """At upload: keep the photo if it decodes; else say why and put the last good one back
    (the photo box shows a photo, not a broken image). Answers the photo and the last good one."""
    try:
        load_photo(photo)
    except InputError as error:
        gr.Warning(html.escape(str(error), quote=False), title=TITLE)
        return last_good, last_good
    return photo, photo


class ModelTab:
    """Lays out and wires a model tab. Inside the caller's Blocks context, in this order::

    tab = ModelTab(INTRO)
    with tab.options("Segment"):  # the photo | these options, then the run button
        variant = ChoiceRadio(...)
        alpha = opacity_slider()
    ...  # the tab's components between the status line and the picker
    tab.results("Classes to cut out", "Classes over the photo")
    ...  # the tab's components below the result view
    tab.wire(run, "semantic", options=[variant], alpha=alpha)
    """

    photo: RawImage
    speed: ChoiceRadio
    button: gr.Button
    examples: gr.Examples
    status: gr.Markdown
    find: gr.Textbox
    pick_found: gr.Button
    picked: NamePicker
    view: ResultView
    downloads: DownloadRow
    result_box: gr.Column
    state: gr.State

    def __init__(self, intro: str) -> None:
        gr.Markdown(intro)

    @contextmanager
    def options(self, button: str) -> Iterator[None]:
        """The photo beside a column of the tab's options (laid out in the ``with`` body), the
        Speed choice and the run button labelled ``button``; then the example photos and the
        status line."""
        with gr.Row():
            self.photo = RawImage(
                label="Photo", type="filepath", sources=["upload", "clipboard", "webcam"]
            )
            with gr.Column():
                yield
                self.speed = speed_radio()
                self.button = gr.Button(button, variant="primary", elem_classes=[RUN_CLASS])
        self.examples = gr.Examples(
            PHOTO_EXAMPLES, inputs=[self.photo], label="Examples (scikit-image, free to use)"
        )
        self.status = gr.Markdown(min_height=40, elem_classes=[STATUS_CLASS])

    def results(self, picker_label: str, overlay_label: str) -> None:
        """The segment picker, the result view and the download button, hidden until the first
        result (no wall of empty image boxes before a run)."""
        with gr.Column(visible=False) as self.result_box:
            with gr.Row(equal_height=True):
                self.find = gr.Textbox(
                    placeholder="Find: part of a name, e.g. cat (the list below shows those)",
                    show_label=False,
                    container=False,
                    scale=4,
                )
                self.pick_found = gr.Button("Pick only these", size="sm", scale=1)
            self.picked = NamePicker(
                label=picker_label, choices=[], elem_classes=["segdemo-scroll", PICKER_CLASS]
            )
            self.view = result_view(overlay_label)
            self.downloads = download_row()

    def wire(
        self,
        run: Handler,
        api_name: str,
        *,
        options: Sequence[Component],
        alpha: NumberSlider,
        filters: Sequence[Component] = (),
        before_picker: Sequence[Component] = (),
        rerender: Handler = rerender,
        click: Handler = pick_by_click,
        download: Handler = download_result,
    ) -> None:
        """Create the session state and wire the run, re-render, click and download events.

        - ``run(photo, *options, *filters, picked, alpha, precision)`` answers ``status,
          *before_picker, picked, *view, state``; API ``/<api_name>``; the
          precision comes from the Speed choice, last, so API callers may leave it out.
        - ``rerender(state, *filters, picked, alpha)`` runs when a filter, the picks or alpha
          change; API ``/<api_name>_render``. Without filters it answers the view only; a filter
          changes which segments there are, so with filters it answers what ``run`` does.
        - ``click(state, *filters, picked, alpha, event)`` answers ``picked, *view`` (without
          filters) or what ``run`` does (with filters).
        - ``download(state, *filters, picked, alpha)`` answers the path of the result's ZIP;
          API ``/<api_name>_download``.
        """
        self.state = session_state()
        outputs = [
            self.status,
            *before_picker,
            self.picked,
            *self.view.outputs,
            self.state,
        ]
        # The result box opens as the run starts (the run then fills it, its progress on the
        # overlay), so that whatever the run answers lands in visible components; the button is
        # busy until the run has answered, whether it succeeded or not.
        label = self.button.value
        ran = self.button.click(
            lambda: (gr.Column(visible=True), gr.Button(BUSY_LABEL, interactive=False)),
            None,
            [self.result_box, self.button],
            queue=False,
            api_visibility="private",
        ).then(
            user_errors(run),
            [self.photo, *options, *filters, self.picked, alpha, self.speed],
            outputs,
            api_name=api_name,
            concurrency_id=MODEL_CONCURRENCY_ID,
            show_progress_on=[self.status, self.view.overlay],
        )
        ran.success(None, js=AFTER_RESULT_JS, queue=False)
        # A .then after a refused run did not fire here (Gradio 6.31): success and failure both.
        for after in (ran.success, ran.failure):
            after(
                lambda: gr.Button(label, interactive=True),
                None,
                self.button,
                queue=False,
                api_visibility="private",
            )
        # An example photo runs at once, as if the button were pressed after choosing it.
        self.examples.load_input_event.then(None, js=PRESS_RUN_JS, queue=False)
        # A new photo starts from the default picks, not the last photo's. Queued with the runs,
        # so that a run pressed right after the photo changed gets the cleared picks and its own
        # answer is not cleared afterwards.
        self.photo.change(
            lambda: [],
            None,
            self.picked,
            api_visibility="private",
            concurrency_id=MODEL_CONCURRENCY_ID,
            show_progress="hidden",
        )
        last_good = session_state()
        self.photo.upload(
            checked_photo,
            [self.photo, last_good],
            [self.photo, last_good],
            api_visibility="private",
            show_progress="hidden",
        )
        changes = [*filters, self.picked, alpha]
        gr.on(
            [c.release if isinstance(c, gr.Slider) else c.input for c in changes],
            user_errors(rerender),
            [self.state, *changes],
            outputs if filters else self.view.outputs,
            api_name=f"{api_name}_render",
            api_visibility="undocumented",
            show_progress="hidden",
            trigger_mode="always_last",
        )
        self.view.overlay.select(
            user_errors(click),
            [self.state, *changes],
            outputs if filters else [self.picked, *self.view.outputs],
            api_visibility="private",
            show_progress="hidden",
        )
        self.downloads.wire(download, [self.state, *changes], api_name)
        self.find.change(None, [self.find], None, js=FIND_JS, queue=False)

        def pick_found(state: State, query: str, *values: Any) -> tuple[Any, ...]:
            *filter_values, _picked, alpha = values
            labels = labels_matching(state, query)
            answer = rerender(state, *filter_values, labels, alpha)
            return answer if filters else (labels, *answer)

        self.pick_found.click(
            user_errors(pick_found),
            [self.state, self.find, *changes],
            outputs if filters else [self.picked, *self.view.outputs],
            api_visibility="private",
            show_progress="hidden",
        )
