"""The README's Python API example runs as written (random weights, in a scratch folder)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def example(section: str) -> str:
    """The first ```python block after the README heading ``section``."""
    text = (ROOT / "README.md").read_text()
    after = text[text.index(f"## {section}\n") :]
    found = re.search(r"```python\n(.*?)```", after, re.S)
    assert found, f"no python example under {section}"
    return found.group(1)


def test_the_python_api_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "random")
    monkeypatch.setenv("SEGDEMO_DEVICE", "cpu")
    (tmp_path / "assets").symlink_to(ROOT / "assets")
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(example("Python API"), "README.md", "exec"), scope)
    seg, found, coco = scope["seg"], scope["found"], scope["coco"]
    voc = Image.open(tmp_path / "chelsea.voc.png")
    assert voc.mode == "P" and voc.size == (seg.size[1], seg.size[0])
    assert found.task == "instance" and coco["images"][0]["file_name"] == "astronaut.jpg"
    assert len(coco["annotations"]) == sum(1 for s in found.segments if (found.ids == s.id).any())
