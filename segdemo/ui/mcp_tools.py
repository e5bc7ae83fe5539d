"""The tasks as MCP tools (``SEGDEMO_MCP=1``): Gradio's own MCP server, with one fix.

Gradio makes a tool of every public endpoint: here the four task events and the comparison, each
named after its function (``show_ground_truth``, ``segment_semantic``, ``segment_instance``,
``segment_panoptic``, ``compare_kinds``) and described by its docstring, whose ``Args:`` lines
describe the inputs. The re-render, click, download and evaluate events are ``undocumented`` or
``private``: no tools (they need the session's state, which a tool call does not carry).

The fix: Gradio 6.31 answers a call of a queued event from a client that sent no progress token
with ``[job.result()]``, and gradio_client's result of an event with several outputs is one
tuple. So the answer lost its outputs: one text of the whole tuple, or, when an output is a
``gr.State``, the error "pop index out of range". The progress path answers the list of outputs;
:func:`answer_every_output` makes the other path do the same.
"""

from __future__ import annotations

from typing import Any

from gradio.mcp import GradioMCPServer


def answer_every_output() -> None:
    """Make Gradio's MCP server answer each output of an event with several outputs, whether or
    not the client asked for progress. Idempotent; harmless once Gradio answers a list itself."""
    original = GradioMCPServer._execute_tool_without_progress
    if getattr(original, "answers_every_output", False):
        return

    async def every_output(self: GradioMCPServer, job: Any) -> list[Any]:
        outputs = await original(self, job)
        if len(outputs) == 1 and isinstance(outputs[0], tuple):
            return list(outputs[0])  # gradio_client's tuple of several outputs
        return outputs

    every_output.answers_every_output = True  # type: ignore[attr-defined]
    GradioMCPServer._execute_tool_without_progress = every_output  # type: ignore[method-assign]
