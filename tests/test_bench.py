"""The benchmark runner: JSON lines with the contract's keys (no timing assertions)."""

from __future__ import annotations

import json
import timeit

import pytest
import torch

from segdemo.bench import __main__ as bench_main
from segdemo.bench import masks as mask_suite
from segdemo.bench import timing as bench

MASK_OPS = ("overlay", "colorize", "cutout", "binarize")


def run_lines(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, object]]:
    assert bench_main.main(["--quick", "--size", "24x32", "--suite", "masks", *argv]) == 0
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_mask_suite_prints_the_contract_keys(capsys: pytest.CaptureFixture[str]) -> None:
    lines = run_lines(capsys)
    names = [line["name"] for line in lines]
    assert sorted(names) == sorted(
        [f"{op}_24x32" for op in MASK_OPS] + ["overlay_24x32_channels_last"]
    )
    for line in lines:
        assert isinstance(line["median_ms"], float) and line["median_ms"] >= 0
        assert line["size"] == [24, 32] and line["device"] == str(bench_main.parse_args([]).device)
        if line["name"].endswith("channels_last"):
            assert "baseline" not in line
            continue
        assert isinstance(line["baseline"], str) and line["baseline"]
        assert isinstance(line["baseline_median_ms"], float)
        assert isinstance(line["speedup"], float | None)
        assert isinstance(line["numpy_median_ms"], float)
    overlay = next(line for line in lines if line["name"] == "overlay_24x32")
    assert overlay["baseline"] == "torchvision.draw_segmentation_masks"


def test_only_filters_by_substring(capsys: pytest.CaptureFixture[str]) -> None:
    assert [line["name"] for line in run_lines(capsys, "--only", "cutout")] == ["cutout_24x32"]
    names = {line["name"] for line in run_lines(capsys, "--only", "cutout", "--only", "bin")}
    assert names == {"cutout_24x32", "binarize_24x32"}
    assert run_lines(capsys, "--only", "no such benchmark") == []


def test_every_listed_suite_has_run() -> None:
    for name in bench_main.SUITES:
        module = __import__(f"segdemo.bench.{name}", fromlist=["run"])
        assert callable(module.run)


def test_bad_size_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench_main.parse_args(["--size", "big"])
    assert "HxW" in capsys.readouterr().err


def test_report_and_median_ms(capsys: pytest.CaptureFixture[str]) -> None:
    line = bench.report("x", 2.0, baseline="y", baseline_ms=5.0, note="n")
    printed = json.loads(capsys.readouterr().out)
    assert (
        printed
        == line
        == {
            "name": "x",
            "median_ms": 2.0,
            "baseline": "y",
            "baseline_median_ms": 5.0,
            "speedup": 2.5,
            "note": "n",
        }
    )
    assert bench.report("z", 1.0) == {"name": "z", "median_ms": 1.0}
    capsys.readouterr()
    with pytest.raises(ValueError, match="go together"):
        bench.report("x", 1.0, baseline="y")
    calls: list[int] = []
    ms = bench.median_ms(lambda: calls.append(1), repeat=5, warmup=2, device="cpu")
    assert ms >= 0 and len(calls) == 7
    with pytest.raises(ValueError, match="repeat"):
        bench.median_ms(lambda: None, repeat=0, warmup=0)


def test_sample_ms_times_each_call_after_the_warmup(device: torch.device) -> None:
    calls: list[int] = []
    x = torch.ones(256, 256, device=device)

    def fn() -> None:
        calls.append(1)
        x.mul_(1.0001)  # on CUDA, a kernel queued on the device

    threads = torch.get_num_threads()
    times = bench.sample_ms(fn, repeat=4, warmup=3, device=device)
    assert len(times) == 4 and all(isinstance(t, float) and t > 0 for t in times)
    assert len(calls) == 3 + 4
    assert torch.get_num_threads() == threads  # the measurement does not change torch's threads
    calls.clear()
    assert len(bench.sample_ms(fn, repeat=1, warmup=0, device=str(device))) == 1
    assert len(calls) == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_sample_ms_waits_for_queued_cuda_work() -> None:
    """A kernel that spins for tens of millions of GPU cycles (milliseconds at any clock) returns
    to Python at once; the sample counts it only if the clock synchronises the device."""
    times = bench.sample_ms(
        lambda: torch.cuda._sleep(20_000_000), repeat=3, warmup=1, device="cuda"
    )
    assert min(times) > 2.0


def test_synchronized_clock_is_timeits_clock_on_the_cpu() -> None:
    assert bench.synchronized_clock(None) is bench.synchronized_clock("cpu") is timeit.default_timer
    clock = bench.synchronized_clock(torch.device("cuda"))
    assert clock is not timeit.default_timer


def test_scene_is_a_realistic_id_map() -> None:
    image, ids, pal = mask_suite.make_scene(120, 160)
    assert image.shape == (3, 120, 160) and image.dtype == torch.uint8
    assert ids.dtype == torch.int32 and pal.shape == (mask_suite.SEGMENTS + 1, 3)
    counts = torch.bincount(ids.reshape(-1), minlength=mask_suite.SEGMENTS + 1)
    assert bool((counts[1:] > 0).all())  # every segment keeps pixels: blobs, not noise
    assert torch.equal(ids, mask_suite.make_scene(120, 160)[1])  # deterministic


def test_the_png_line_compares_the_writer_with_pil(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--quick", "--size", "24x32", "--suite", "exports", "--only", "png_cutout"]
    assert bench_main.main(argv) == 0
    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines() if text.strip()]
    assert line["name"] == "png_cutout_24x32" and line["size"] == [24, 32]
    assert line["baseline"] == "PIL's PNG encoder at compress_level=1"
    assert isinstance(line["baseline_median_ms"], float) and line["kb"] >= 0
