"""The precision option: what each name means where, the adapters, the cache key, the status
line, the Python API and the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import segdemo
from segdemo import cli, instance, panoptic, precision, semantic
from segdemo.instance import model as instance_model
from segdemo.panoptic import model as panoptic_model
from segdemo.ui import view
from segdemo.ui.semantic_tab import semantic_result
from tests.helpers import assert_varied, forbid_models

CPU = torch.device("cpu")
needs_bf16 = pytest.mark.skipif(
    not precision.native_bf16(CPU), reason="this CPU has no native bfloat16"
)


def _image(height: int = 96, width: int = 128) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=g)


@pytest.fixture
def without_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "native_bf16", lambda device: False)


@pytest.fixture
def with_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "native_bf16", lambda device: True)


@pytest.mark.parametrize(
    ("asked", "native", "resolved"),
    [
        ("fp32", True, "fp32"),
        ("fp32", False, "fp32"),
        ("auto", False, "fp32"),
        ("auto", True, "bf16"),
        ("bf16", True, "bf16"),
        (None, True, precision.DEFAULT_PRECISION.replace("auto", "bf16")),
    ],
)
def test_each_name_resolves_on_the_cpu(asked, native, resolved, monkeypatch) -> None:
    monkeypatch.setattr(precision, "native_bf16", lambda device: native)
    assert precision.resolve_precision(asked, CPU) == resolved


@pytest.mark.parametrize(
    ("asked", "match"),
    [
        ("bf16", "bf16 needs native bfloat16 .* choose fp32 or auto"),
        ("fp16", r"precision must be one of \['fp32', 'bf16', 'auto'\], got 'fp16'"),
        ("BF16", "precision must be one of"),
        (16, "precision must be one of"),
    ],
)
def test_bad_or_unsupported_precisions_are_refused_in_one_sentence(
    asked, match, without_bf16
) -> None:
    with pytest.raises(ValueError, match=match) as error:
        precision.resolve_precision(asked, CPU)
    assert str(error.value).count(". ") == 0  # one sentence


def test_cuda_falls_back_to_fp16_where_bf16_is_not_native(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert precision.resolve_precision("bf16", torch.device("cuda")) == "fp16"
    assert precision.resolve_precision("auto", torch.device("cuda")) == "fp16"


def test_the_cpu_detection_matches_proc_cpuinfo() -> None:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo")
    flags = set(cpuinfo.read_text().split())
    assert precision.native_bf16(CPU) == bool({"avx512_bf16", "amx_tile"} & flags)


def test_autocast_lowers_the_forward_only_when_asked() -> None:
    layer = torch.nn.Linear(4, 4)
    x = torch.randn(2, 4)
    with precision.autocast("fp32", CPU):
        assert layer(x).dtype == torch.float32
    with precision.autocast("bf16", CPU):
        assert layer(x).dtype == torch.bfloat16


# --- the adapters ---------------------------------------------------------------------------


@needs_bf16
def test_semantic_bf16_agrees_with_fp32_and_says_so(random_weights) -> None:
    image = _image()
    # random ResNet-50 weights give several classes (MobileNetV3's give one, everywhere)
    exact = semantic.segment(image, "resnet50", precision="fp32", device="cpu")
    fast = semantic.segment(image, "resnet50", precision="bf16", device="cpu")
    assert (exact.extras["precision"], fast.extras["precision"]) == ("fp32", "bf16")
    assert fast.ids.dtype == torch.int32 and fast.ids.shape == image.shape[1:]
    assert_varied(exact.ids, "the fp32 id map")
    # random logits have tiny margins: a pessimistic bound on the agreement
    assert (exact.ids == fast.ids).float().mean() > 0.8


@needs_bf16
def test_instance_bf16_gives_float32_detections(random_weights) -> None:
    dets = instance.detect(_image(), "v1", working_size=128, precision="bf16", device="cpu")
    assert dets.extras["precision"] == "bf16"
    assert len(dets) > 0
    for values in (dets.boxes, dets.scores, dets.mask_probs):
        assert values.dtype == torch.float32


@needs_bf16
def test_panoptic_bf16_post_processes_float32(random_weights, monkeypatch) -> None:
    monkeypatch.setenv("SEGDEMO_PANOPTIC_ARCH", "tiny")
    seg = panoptic.segment(_image(), precision="bf16", device="cpu")
    assert seg.extras["precision"] == "bf16" and seg.ids.shape == (96, 128)


@pytest.mark.parametrize(
    "call",
    [
        lambda: semantic.segment(_image(), precision="bf16", device="cpu"),
        lambda: instance.detect(_image(), precision="bf16", device="cpu"),
        lambda: panoptic.segment(_image(), precision="bf16", device="cpu"),
        lambda: segdemo.segment(_image(), "semantic", precision="half", device="cpu"),
    ],
)
def test_adapters_refuse_before_loading_a_model(call, without_bf16, monkeypatch) -> None:
    monkeypatch.setattr(semantic, "load_model", None)
    monkeypatch.setattr(instance_model, "load_model", None)
    monkeypatch.setattr(panoptic_model, "load", None)
    with pytest.raises(ValueError, match=r"precision|bf16"):
        call()


# --- the UI: cache key and status line ---------------------------------------------------------


def test_the_result_cache_keys_on_precision(random_weights, with_bf16, monkeypatch) -> None:
    asked: list[str] = []
    real = semantic.segment

    def fake(image, variant, *, precision, progress):
        asked.append(precision)
        return real(image, variant, precision="fp32", device="cpu")

    monkeypatch.setattr(semantic, "segment", fake)
    image = _image(33, 47)  # a size no other test uses, so the cache is cold
    for wanted in ("fp32", "bf16", "fp32", "bf16"):
        semantic_result(image, "mobilenet_v3_large", None, wanted)
    assert asked == ["fp32", "bf16"]


def test_the_status_line_names_the_precision(random_weights) -> None:
    seg = semantic.segment(_image(), "mobilenet_v3_large", precision="fp32", device="cpu")
    assert " on cpu in fp32: " in view.status_line(seg)


# --- the CLI --------------------------------------------------------------------------------


def _photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(np.asarray(_image().permute(1, 2, 0))).save(path)
    return path


def test_cli_precision_reaches_the_model(random_weights, tmp_path) -> None:
    out = tmp_path / "out"
    argv = ["segment", str(_photo(tmp_path)), "--model", "mobilenet_v3_large", "--out", str(out)]
    assert cli.main([*argv, "--precision", "fp32", "--no-cutouts"]) == 0
    assert any(out.rglob("photo*.png"))


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--precision", "bf16"], ["--precision", "bf16 needs native bfloat16", "fp32 or auto"]),
        (["--precision", "half"], ["--precision", "'half'", "'fp32', 'bf16', 'auto'"]),
    ],
)
def test_cli_precision_errors_are_usage_errors(
    argv, words, without_bf16, tmp_path, monkeypatch, capsys
) -> None:
    forbid_models(monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["segment", str(_photo(tmp_path)), "--out", str(tmp_path / "out"), *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for word in words:
        assert word in err
