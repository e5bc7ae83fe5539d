"""Process-wide state: importing the library changes none of it; ``process.tune()`` does.

Each check runs in a fresh interpreter (``sys.executable -c``) with a probe that snapshots the
state a library must leave to its host before and after every step and reports the differences:

- ``os.environ``, all of it;
- ``PIL.Image.MAX_IMAGE_PIXELS``, ``socket.getdefaulttimeout()`` and ``warnings.filters``;
- glibc's malloc settings: ``ctypes.CDLL`` is replaced by a subclass before anything is imported,
  so every ``mallopt`` (or ``malloc_trim``) call made through it is recorded.

torch, torchvision, numpy and friends change some of that themselves when imported (warning
filters, TORCHINDUCTOR_CACHE_DIR). So that only segdemo's own changes count, a first run lists
every third-party module the library loads, and the checking run imports those first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARY_MODULES = [
    "segdemo",
    "segdemo.masks",
    "segdemo.result",
    "segdemo.render",
    "segdemo.images",
    "segdemo.semantic",
    "segdemo.instance",
    "segdemo.panoptic",
    "segdemo.groundtruth",
    "segdemo.tasks",
    "segdemo.cli",
    "segdemo.ui",
]
# What a user may set for their own process; the child starts without them, so that a library
# that set them with os.environ.setdefault (or skipped mallopt because of them) would show.
TUNING_VARIABLES = ("OMP_WAIT_POLICY", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters

PROBE = r'''
import ctypes, importlib, json, os, socket, sys, warnings

malloc_calls = []


def _plain(value):
    return getattr(value, "value", value)  # a ctypes number → its value


class RecordingCDLL(ctypes.CDLL):
    """ctypes.CDLL that records each call of a malloc-tuning function made through it.

    ``lib.name`` goes through ``lib["name"]`` (CDLL.__getattr__ caches what it returns).
    """

    def __getitem__(self, name):
        func = super().__getitem__(name)
        if name not in ("mallopt", "malloc_trim"):
            return func

        def record(*args):
            malloc_calls.append([name, *[_plain(a) for a in args]])
            return func(*args)

        return record


ctypes.CDLL = RecordingCDLL
ctypes.cdll._dlltype = RecordingCDLL  # ctypes.cdll.LoadLibrary(...) too

at_start = set(sys.modules)
import PIL.Image

request = json.loads(sys.stdin.read())
for name in request["preload"]:
    try:
        importlib.import_module(name)
    except Exception:
        pass  # a module that only its parent can load: the parent has loaded it


def snapshot():
    return {
        "os.environ": dict(os.environ),
        "PIL.Image.MAX_IMAGE_PIXELS": PIL.Image.MAX_IMAGE_PIXELS,
        "socket.getdefaulttimeout()": socket.getdefaulttimeout(),
        "warnings.filters": [repr(f) for f in warnings.filters],
        "malloc calls": list(malloc_calls),
    }


def changes(before, after):
    found = {}
    for what in before:
        if before[what] == after[what]:
            continue
        if what == "os.environ":
            keys = sorted(set(before[what]) | set(after[what]))
            found[what] = {
                k: [before[what].get(k), after[what].get(k)]
                for k in keys
                if before[what].get(k) != after[what].get(k)
            }
        else:
            found[what] = [before[what], after[what]]
    return found


blocks = []
counting_blocks = "gradio" in sys.modules  # preloaded: count every Block (component) built
if counting_blocks:
    import gradio.blocks

    _init = gradio.blocks.Block.__init__

    def _counting_init(self, *args, **kwargs):
        blocks.append(type(self).__name__)
        _init(self, *args, **kwargs)

    gradio.blocks.Block.__init__ = _counting_init

report = {"steps": [], "counting_blocks": counting_blocks}
for step in request["steps"]:
    before, built = snapshot(), len(blocks)
    if "import" in step:
        importlib.import_module(step["import"])
    else:
        exec(step["exec"], {})
    report["steps"].append(
        {**step, "changes": changes(before, snapshot()), "blocks_built": blocks[built:]}
    )
report["loaded"] = [
    name for name in sys.modules if name not in at_start and name.partition(".")[0] != "segdemo"
]
print(json.dumps(report, default=repr))
'''


def probe(
    steps: list[dict[str, str]], *, preload: Sequence[str] = (), env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run PROBE in a fresh interpreter at the repository root; its report."""
    child_env = {k: v for k, v in os.environ.items() if k not in TUNING_VARIABLES}
    child_env.update(env or {})
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        input=json.dumps({"preload": list(preload), "steps": steps}),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=child_env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def imports(*modules: str) -> list[dict[str, str]]:
    return [{"import": name} for name in modules]


# --------------------------------------------------------------------------- the probe itself


def test_the_probe_sees_every_kind_of_change() -> None:
    report = probe(
        [
            {"exec": "import os; os.environ['SEGDEMO_PROBE'] = '1'"},
            {"exec": "import PIL.Image; PIL.Image.MAX_IMAGE_PIXELS = 1234"},
            {"exec": "import socket; socket.setdefaulttimeout(3.5)"},
            {"exec": "import warnings; warnings.filterwarnings('ignore', message='probe')"},
            {"exec": "import ctypes; ctypes.CDLL('libc.so.6').mallopt(-3, 1 << 20)"},
            {"exec": "import ctypes; ctypes.cdll.LoadLibrary('libc.so.6')['mallopt'](-1, 1 << 21)"},
        ]
    )
    seen = [step["changes"] for step in report["steps"]]
    assert seen[0] == {"os.environ": {"SEGDEMO_PROBE": [None, "1"]}}
    assert list(seen[1]) == ["PIL.Image.MAX_IMAGE_PIXELS"]
    assert seen[1]["PIL.Image.MAX_IMAGE_PIXELS"][1] == 1234
    assert seen[2] == {"socket.getdefaulttimeout()": [None, 3.5]}
    assert list(seen[3]) == ["warnings.filters"]
    if sys.platform == "linux":
        assert seen[4]["malloc calls"][1] == [["mallopt", -3, 1 << 20]]
        assert seen[5]["malloc calls"][1][-1] == ["mallopt", -1, 1 << 21]


# --------------------------------------------------------------------------- importing the library


def test_import_segdemo_changes_nothing_and_loads_no_framework() -> None:
    report = probe(imports("segdemo"))
    assert report["steps"][0]["changes"] == {}
    loaded = {name.partition(".")[0] for name in report["loaded"]}
    assert not loaded & {"torch", "torchvision", "gradio", "transformers", "numpy"}


@pytest.fixture(scope="module")
def library_imports() -> dict[str, dict[str, Any]]:
    """Each library module's import, after the third-party modules the library loads."""
    discovery = probe(imports(*LIBRARY_MODULES))
    assert "torch" in discovery["loaded"] and "gradio" in discovery["loaded"]
    report = probe(imports(*LIBRARY_MODULES), preload=discovery["loaded"])
    return {
        step["import"]: {**step, "counting_blocks": report["counting_blocks"]}
        for step in report["steps"]
    }


def test_importing_any_library_module_changes_no_process_state(
    library_imports: dict[str, dict[str, Any]],
) -> None:
    assert list(library_imports) == LIBRARY_MODULES
    changed = {name: step["changes"] for name, step in library_imports.items() if step["changes"]}
    assert changed == {}, f"importing these changed process-wide state: {changed}"


def test_importing_the_ui_builds_nothing(library_imports: dict[str, dict[str, Any]]) -> None:
    assert library_imports["segdemo.ui"]["counting_blocks"]
    built = {name: step["blocks_built"] for name, step in library_imports.items()}
    assert built == {name: [] for name in LIBRARY_MODULES}


# --------------------------------------------------------------------------- process.tune()

TUNE = {"exec": "from segdemo import process; process.tune()"}


@pytest.mark.skipif(sys.platform != "linux", reason="mallopt is glibc's")
def test_tune_sets_the_omp_wait_policy_and_the_malloc_thresholds() -> None:
    changes = probe([TUNE])["steps"][0]["changes"]
    assert changes["os.environ"] == {"OMP_WAIT_POLICY": [None, "PASSIVE"]}
    calls = changes["malloc calls"][1]
    assert [call[:2] for call in calls] == [
        ["mallopt", M_MMAP_THRESHOLD],
        ["mallopt", M_TRIM_THRESHOLD],
    ]
    assert all(call[2] > 0 for call in calls)
    assert set(changes) == {"os.environ", "malloc calls"}


def test_tune_keeps_the_users_omp_wait_policy() -> None:
    changes = probe([TUNE], env={"OMP_WAIT_POLICY": "ACTIVE"})["steps"][0]["changes"]
    assert "os.environ" not in changes


def test_a_users_malloc_mmap_threshold_skips_mallopt() -> None:
    changes = probe([TUNE], env={"MALLOC_MMAP_THRESHOLD_": "131072"})["steps"][0]["changes"]
    assert "malloc calls" not in changes
    assert changes["os.environ"] == {"OMP_WAIT_POLICY": [None, "PASSIVE"]}
