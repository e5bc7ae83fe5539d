"""Every tab's "Download results (ZIP)": the session's result in one ZIP, made when asked for.

The ZIP is written by :func:`segdemo.exports.result_zip` from what the session's state holds (the
photo, its Segmentation and the photo's name) with the tab's current picks and opacity; the tab
formats nothing itself. Its event (API ``/<task>_download``) runs no model, so it follows the
re-render events' rules: its own concurrency group, and no MCP tool (``undocumented``: a tool
cannot carry a session's state from one call to the next).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import gradio as gr
import torch
from gradio.components.base import Component

from segdemo import exports
from segdemo.render import render
from segdemo.result import Segmentation
from segdemo.ui.encoding import output_file
from segdemo.ui.errors import refusal, user_errors
from segdemo.ui.picking import State, selected_ids

NO_RESULT = "Run the model first: there is no result to download yet."


@dataclass
class DownloadRow:
    """The download button and the file component it fills."""

    button: gr.Button
    file: gr.File

    def wire(self, download: Callable[..., str], inputs: Sequence[Component], task: str) -> None:
        """Wire the button to ``download(*inputs)`` → the ZIP's path; API ``/<task>_download``."""
        self.button.click(
            user_errors(download),
            list(inputs),
            [self.file],
            api_name=f"{task}_download",
            api_visibility="undocumented",
            show_progress_on=[self.file],
        )


def download_row() -> DownloadRow:
    """Lay out the download button beside the file it fills (inside the caller's Blocks)."""
    with gr.Row(equal_height=True):
        button = gr.Button("Download results (ZIP)", scale=0, min_width=240)
        file = gr.File(
            label="Results (ZIP)", interactive=False, height=80, elem_classes=["segdemo-short"]
        )
    return DownloadRow(button, file)


def zip_file(
    image: torch.Tensor,
    seg: Segmentation,
    *,
    stem: str,
    selected: Sequence[int],
    alpha: float,
    boxes: bool = False,
) -> str:
    """The ZIP of ``seg`` over ``image`` (the overlay as the tab shows it at ``alpha``, the mask
    and cut-out of the ``selected`` segment ids), written as ``STEM-TASK.zip`` in a folder of its
    own under the output folder; its path."""
    overlay = render(image, seg, selected, alpha, boxes=boxes).overlay
    data = exports.result_zip(image, seg, stem=stem, overlay=overlay, selected=selected)
    return output_file(data, f"{exports.slug(stem, 'photo')}-{seg.task}.zip")


def download_result(state: State, picked: list[str] | None, alpha: float) -> str:
    """A model tab's result with the picked segments as the mask and cut-out, as a ZIP."""
    if not state:
        raise refusal(NO_RESULT)
    seg = state["seg"]
    return zip_file(
        state["image"], seg, stem=state["stem"], selected=selected_ids(seg, picked), alpha=alpha
    )
