"""`SEGDEMO_MCP=1 python app.py` serves the four tasks as MCP tools, through the `mcp` client."""

from __future__ import annotations

import asyncio
import base64
import io
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import EXAMPLES, served

pytestmark = pytest.mark.e2e
MCP_PATH = "gradio_api/mcp/"
TASK_TOOLS = {"show_ground_truth", "segment_semantic", "segment_instance", "segment_panoptic"}
TOOLS = TASK_TOOLS | {"compare_kinds"}


@pytest.fixture(scope="module")
def mcp_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(tmp_path_factory.mktemp("mcp-server"), SEGDEMO_MCP="1") as url:
        yield url + MCP_PATH


def data_url(path: Path) -> str:
    """The file as a data: URL, the way an MCP client may pass a photo."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


async def session_calls(
    url: str, tool: str | None = None, arguments: Any = None, *, progress: bool = False
) -> Any:
    """The server's tools, or the result of calling ``tool`` with ``arguments`` (asking for
    progress notifications when ``progress``: Gradio answers that on another path)."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with (
        streamable_http_client(url) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        if tool is None:
            return (await session.list_tools()).tools
        return await session.call_tool(
            tool, arguments, progress_callback=ignore_progress if progress else None
        )


async def ignore_progress(progress: float, total: float | None, message: str | None) -> None:
    """A progress callback: its presence makes the client send a progress token."""


def test_the_tasks_and_the_comparison_are_the_tools_with_described_typed_inputs(mcp_url) -> None:
    tools = {tool.name: tool for tool in asyncio.run(session_calls(mcp_url))}
    assert set(tools) == TOOLS  # no render, click, download or evaluate event
    for tool in tools.values():
        properties = tool.inputSchema["properties"]
        assert tool.description and "Returns:" in tool.description
        assert properties and all(p.get("description") for p in properties.values()), tool.name
        assert properties["photo"]["type"] == "string" and "photo" in tool.inputSchema["required"]
    for name in TASK_TOOLS:
        properties = tools[name].inputSchema["properties"]
        assert properties["alpha"] == {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "default": 0.5,
            "description": properties["alpha"]["description"],
        }
    assert "torchvision DeepLabV3" in tools["segment_semantic"].description
    assert "No model runs" in tools["show_ground_truth"].description
    ground_truth = tools["show_ground_truth"].inputSchema["properties"]
    assert ground_truth["object_value"]["type"] == "integer"
    assert "1 pet" in ground_truth["object_value"]["description"]
    instance = tools["segment_instance"].inputSchema["properties"]
    assert instance["working_size"] == {
        **instance["working_size"],
        "type": "integer",
        "enum": [800, 640, 512],
    }
    assert instance["boxes"]["type"] == "boolean"
    assert instance["classes"]["items"] == {"type": "string"}
    panoptic = tools["segment_panoptic"].inputSchema["properties"]
    assert "facebook/mask2former-swin-tiny-coco-panoptic" in panoptic["checkpoint"]["enum"]


@pytest.mark.parametrize("progress", [False, True], ids=["plain", "with-progress"])
def test_show_ground_truth_takes_data_urls_and_answers_text_and_images(mcp_url, progress) -> None:
    photo, trimap = EXAMPLES / "chelsea.png", EXAMPLES / "chelsea_trimap.png"
    arguments = {
        "photo": data_url(photo),
        "annotation": data_url(trimap),
        "object_value": 3,
        "alpha": 0.5,
    }
    result = asyncio.run(session_calls(mcp_url, "show_ground_truth", arguments, progress=progress))
    assert not result.isError, result.content
    texts = [c.text for c in result.content if c.type == "text"]
    images = [c for c in result.content if c.type == "image"]
    assert "451×300" in texts[0] and "object value 3" in texts[0]
    # the overlay is a JPEG to look at; the mask and cut-outs exact PNGs
    assert [i.mimeType for i in images] == ["image/jpeg", "image/png", "image/png", "image/png"]
    # the last image is the transparent cut-out: its alpha is the trimap's value 3
    region = np.array(Image.open(trimap)) == 3
    assert region.any() and not region.all()
    cutout = np.array(Image.open(io.BytesIO(base64.b64decode(images[-1].data))))
    assert np.array_equal(cutout[..., 3] > 0, region)


def test_a_bad_photo_is_an_error_answer_that_says_why(mcp_url) -> None:
    arguments = {
        "photo": "data:image/png;base64," + base64.b64encode(b"not an image").decode("ascii"),
        "annotation": data_url(EXAMPLES / "chelsea_trimap.png"),
    }
    result = asyncio.run(session_calls(mcp_url, "show_ground_truth", arguments))
    assert result.isError and "not an image" in result.content[0].text


def test_without_segdemo_mcp_there_is_no_mcp_server(server_url) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(server_url + MCP_PATH, timeout=10)
    assert caught.value.code == 404
