"""The Gradio app: one tab per kind of segmentation, wired to functions that exist without it."""

from __future__ import annotations

import os
from functools import partial

import gradio as gr

from segdemo.preload import preload_task
from segdemo.ui import (
    compare_tab,
    groundtruth_tab,
    instance_tab,
    live_tab,
    panoptic_tab,
    semantic_tab,
)
from segdemo.ui.errors import Blocks
from segdemo.ui.inputs import MAX_UPLOAD_MB
from segdemo.ui.mcp_tools import answer_every_output
from segdemo.ui.view import PAGE_JS, VIEW_CSS
from segdemo.weights import weights_mode

TITLE = "segdemo — semantic, instance and panoptic segmentation"
HEADER = """
# segdemo
**Segmentation** gives every pixel a label. *Semantic*: every pixel gets a class.
*Instance*: every object gets its own mask. *Panoptic*: both at once — things as instances,
stuff (sky, road) as classes. Start with the ground truth: what an annotation really stores.
"""
CSS = (
    """
.untrained-banner { background: #fff4ce; border-radius: 6px; padding: 0 8px; }
.legend-swatch { display: inline-block; width: 0.9em; height: 0.9em; border-radius: 2px;
                 margin-right: 0.4em; vertical-align: -0.1em; border: 1px solid #0003; }
"""
    + VIEW_CSS
)
UNTRAINED_BANNER = (
    "⚠️ **Untrained weights** (`SEGDEMO_WEIGHTS=random`): the models run with random weights, so "
    "their segments are meaningless. This mode is for tests and machines with no network."
)


def mcp_wanted() -> bool:
    """Whether ``SEGDEMO_MCP`` (1, true or yes) asks to serve the four tasks as MCP tools."""
    return os.environ.get("SEGDEMO_MCP", "").strip().lower() in {"1", "true", "yes"}


#: Options of the served app, for ``demo.launch(**LAUNCH_OPTIONS)`` and equally for
#: ``gr.mount_gradio_app(app, demo, path, **LAUNCH_OPTIONS)`` (Gradio 6 takes them there, not in
#: Blocks). max_file_size: uploads past it are refused before any of our code runs. With
#: ``SEGDEMO_MCP=1``, ``mcp_server``: the four tasks' endpoints become MCP tools at
#: ``/gradio_api/mcp/`` (see :mod:`segdemo.ui.mcp_tools`).
LAUNCH_OPTIONS: dict[str, object] = {
    "css": CSS,
    "js": PAGE_JS,
    "max_file_size": f"{MAX_UPLOAD_MB}mb",
    "footer_links": ["api", "gradio"],
    "show_error": False,
    **({"mcp_server": True} if mcp_wanted() else {}),
}


def banner() -> None:
    """The untrained-weights banner, shown only in SEGDEMO_WEIGHTS=random mode."""
    if weights_mode() == "random":
        gr.Markdown(UNTRAINED_BANNER, elem_classes=["untrained-banner"])


def warm_up(tasks: list[str]) -> None:
    """Start loading the default models of ``tasks`` in the background (once each)."""
    for task in tasks:
        preload_task(task)


def build_demo() -> gr.Blocks:
    """The whole app, with its queue configured; ``launch`` it or mount it."""
    with Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(HEADER)
        banner()
        with gr.Tabs():
            with gr.Tab("Ground truth", id="groundtruth"):
                groundtruth_tab.build()
            with gr.Tab("Semantic", id="semantic") as semantic_page:
                semantic_tab.build()
            with gr.Tab("Instance", id="instance") as instance_page:
                instance_tab.build()
            with gr.Tab("Panoptic", id="panoptic") as panoptic_page:
                panoptic_tab.build()
            with gr.Tab("Compare", id="compare") as compare_page:
                compare_tab.build()
            with gr.Tab("Live", id="live"):
                live_tab.build()
        # Opening a model tab starts loading its default model (see segdemo.preload).
        for page, tasks in (
            (semantic_page, ["semantic"]),
            (instance_page, ["instance"]),
            (panoptic_page, ["panoptic"]),
            (compare_page, ["semantic", "instance", "panoptic"]),
        ):
            page.select(
                partial(warm_up, tasks),
                api_visibility="private",
                queue=False,
                show_progress="hidden",
            )
    # One model job at a time per process (the models share one CPU/GPU); a bounded queue.
    demo.queue(max_size=32, default_concurrency_limit=1)
    answer_every_output()  # for the MCP server, when it is served
    return demo
