"""`python -m segdemo`: the segment and fetch commands, in process."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from segdemo import cli, tasks
from segdemo.result import Segment, Segmentation

HEIGHT, WIDTH = 41, 57
CATEGORIES = ("__background__", "person", "dog", "traffic light")


@pytest.fixture(autouse=True)
def random_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "random")
    monkeypatch.setenv("SEGDEMO_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A noise photo with no zero channel value: a cut-out's zeros can only come from its mask."""
    rng = np.random.default_rng(0)
    path = tmp_path / "photos" / "a.png"
    path.parent.mkdir()
    Image.fromarray(rng.integers(1, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)).save(path)
    return path


def crafted_segmentation() -> Segmentation:
    """Three segments of known shapes (a box, a disc, a corner block) on a background of 0."""
    ids = torch.zeros(HEIGHT, WIDTH, dtype=torch.int32)
    ids[5:20, 3:30] = 1
    y, x = torch.meshgrid(torch.arange(HEIGHT), torch.arange(WIDTH), indexing="ij")
    ids[(y - 28) ** 2 + (x - 42) ** 2 < 81] = 2
    ids[32:, :12] = 3
    segments = (
        Segment(1, 2, "dog", 0.9, True, (3.0, 5.0, 30.0, 20.0)),
        Segment(2, 3, "traffic light", 0.8, True, (33.0, 19.0, 51.0, 37.0)),
        Segment(3, 1, "person", 0.7, True, (0.0, 32.0, 12.0, 41.0)),
    )
    return Segmentation(
        ids, segments, CATEGORIES, "instance", {"model": "fake", "weights": "random"}
    )


def fake_adapter(
    monkeypatch: pytest.MonkeyPatch, task: str, seg: Segmentation
) -> list[tuple[str, dict[str, object]]]:
    """Make ``task``'s adapter return ``seg``; returns the (model, options) of every call."""
    calls: list[tuple[str, dict[str, object]]] = []

    def segment(image: torch.Tensor, model: str, /, **options: object) -> Segmentation:
        assert image.shape == (3, HEIGHT, WIDTH) and image.dtype == torch.uint8
        calls.append((model, options))
        return seg

    monkeypatch.setitem(tasks.TASKS, task, dataclasses.replace(tasks.TASKS[task], segment=segment))
    return calls


def test_segment_writes_overlay_id_map_table_and_cutouts(photo: Path, tmp_path: Path) -> None:
    """The real (random-weights) model path end to end: every output is there and consistent."""
    (photo.parent / "notes.txt").write_text("not a photo")  # ignored: not a photo suffix
    out = tmp_path / "out"
    argv = ["segment", str(photo.parent), "--model", "mobilenet_v3_large", "--out", str(out)]
    assert cli.main(argv) == 0
    table = json.loads((out / "a.segments.json").read_text())
    ids = np.array(Image.open(out / "a.ids.png"))
    assert ids.shape == (HEIGHT, WIDTH) and table["size"] == [HEIGHT, WIDTH]
    assert table["task"] == "semantic" and table["weights"] == "random"
    assert table["segments"] and sum(s["area"] for s in table["segments"]) == HEIGHT * WIDTH
    assert len(list((out / "a.cutouts").glob("*.png"))) == len(table["segments"])
    assert Image.open(out / "a.overlay.png").size == (WIDTH, HEIGHT)


def test_cutouts_are_exactly_their_segments(
    photo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seg = crafted_segmentation()
    calls = fake_adapter(monkeypatch, "instance", seg)
    out = tmp_path / "out"
    assert cli.main(["segment", str(photo), "--task", "instance", "--out", str(out)]) == 0
    assert calls == [(tasks.TASKS["instance"].default, {})]

    expected_ids = seg.ids.numpy()
    assert len(np.unique(expected_ids)) == 4  # background and three segments: not uniform
    ids = np.array(Image.open(out / "a.ids.png"))
    assert np.array_equal(ids, expected_ids)

    table = json.loads((out / "a.segments.json").read_text())
    assert [(s["id"], s["label"]) for s in table["segments"]] == [
        (1, "dog"), (2, "traffic light"), (3, "person"),
    ]  # fmt: skip
    rgb = np.array(Image.open(photo))
    folder = out / "a.cutouts"
    names = {"001-dog.png", "002-traffic_light.png", "003-person.png"}
    assert {p.name for p in folder.iterdir()} == names
    for row, name in zip(table["segments"], sorted(names), strict=True):
        mask = expected_ids == row["id"]
        assert 0 < mask.sum() < mask.size  # neither empty nor the whole image
        assert row["area"] == mask.sum()
        cut = np.array(Image.open(folder / name))
        assert cut.shape == (HEIGHT, WIDTH, 4) and cut.dtype == np.uint8
        assert np.array_equal(cut[..., 3], np.where(mask, 255, 0))
        assert np.array_equal(cut[..., :3], np.where(mask[..., None], rgb, 0))


@pytest.mark.parametrize(
    ("task", "argv", "options"),
    [
        ("semantic", [], {}),
        ("instance", ["--threshold", "0.3", "--working-size", "640"],
         {"threshold": 0.3, "working_size": 640}),
        ("instance", ["--threshold", "1"], {"threshold": 1.0}),
        ("panoptic", ["--threshold", "0.7"], {"threshold": 0.7}),
        ("panoptic", ["--working-size", "800", "--threshold", "0"],
         {"working_size": 800, "threshold": 0.0}),
    ],
)  # fmt: skip
def test_options_given_reach_the_adapter(
    task: str,
    argv: list[str],
    options: dict[str, object],
    photo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = fake_adapter(monkeypatch, task, crafted_segmentation())
    out = str(tmp_path / "out")
    model = list(tasks.TASKS[task].models)[-1]
    argv = ["segment", str(photo), "--task", task, "--model", model, "--out", out, *argv]
    assert cli.main([*argv, "--no-cutouts", "--alpha", "1"]) == 0
    assert calls == [(model, options)]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--alpha", "3"], ["--alpha", "[0, 1]", "'3'"]),
        (["--alpha", "-0.1"], ["--alpha", "[0, 1]"]),
        (["--alpha", "nan"], ["--alpha"]),
        (["--alpha", "half"], ["--alpha", "'half'"]),
        (["--task", "instance", "--threshold", "1.5"], ["--threshold", "[0, 1]"]),
        (["--task", "semantic", "--threshold", "0.5"], ["--threshold", "semantic"]),
        (["--threshold", "0.5"], ["--threshold", "semantic"]),  # semantic is the default task
        (["--task", "semantic", "--working-size", "512"], ["--working-size", "semantic"]),
        (["--task", "instance", "--working-size", "700"], ["--working-size", "800, 640, 512"]),
        (["--task", "panoptic", "--working-size", "512"], ["--working-size", "384, 800"]),
        (["--task", "instance", "--working-size", "big"], ["--working-size", "'big'"]),
        (["--task", "instance", "--model", "resnet50"], ["--model", "instance", "v2, v1"]),
        (["--model", "v2"], ["--model", "semantic", "resnet50"]),
        (["--task", "depth"], ["--task", "'depth'"]),
    ],
)
def test_bad_options_are_usage_errors_before_any_model_runs(
    argv: list[str],
    words: list[str],
    photo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def no_model(*args: object, **kwargs: object) -> Segmentation:
        raise AssertionError("a model ran despite a usage error")

    for task, spec in list(tasks.TASKS.items()):
        monkeypatch.setitem(tasks.TASKS, task, dataclasses.replace(spec, segment=no_model))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["segment", str(photo), "--out", str(tmp_path / "out"), *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: python -m segdemo segment" in err and "Traceback" not in err
    for word in words:
        assert word in err
    assert not (tmp_path / "out").exists()


def test_segment_skips_unreadable_files_and_fails_when_nothing_worked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.png"
    bad.write_text("text")
    assert cli.main(["segment", str(bad), "--out", str(tmp_path / "o")]) == 1
    assert "bad.png is not an image" in capsys.readouterr().err


def test_fetch_offline_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "pretrained")
    assert cli.main(["fetch", "semantic/mobilenet_v3_large"]) == 2
    err = capsys.readouterr().err
    assert "python -m segdemo fetch" in err and "Traceback" not in err


def test_unknown_fetch_names_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["fetch", "semantic/resnet9000"]) == 2
    assert "semantic/resnet50" in capsys.readouterr().err


def test_iter_photos_walks_folders_in_order(tmp_path: Path) -> None:
    for name in ("b.jpg", "a.PNG", "c.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in cli.iter_photos([tmp_path])] == ["a.PNG", "b.jpg"]
