"""`python -m segdemo evaluate`: a model scored against annotation folders, in process.

The adapter is replaced by one returning crafted results (several segments, known shapes), so
every figure has a known answer; one run goes through the real model with random weights.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from segdemo import cli, exports, semantic, tasks
from segdemo.evaluate import Confusion, VocMapping
from segdemo.panoptic import DEFAULT_CHECKPOINT
from segdemo.panoptic.datasets import DATASETS
from segdemo.result import Segment, Segmentation
from tests.helpers import forbid_models

HEIGHT, WIDTH = 41, 57
VOC = semantic.VARIANTS[semantic.DEFAULT_VARIANT].categories


pytestmark = pytest.mark.usefixtures("random_weights")


def crafted_ids() -> torch.Tensor:
    """Three segments of known shapes on a background of 0: a box, a disc, a corner block."""
    ids = torch.zeros(HEIGHT, WIDTH, dtype=torch.int32)
    ids[5:20, 3:30] = 1
    y, x = torch.meshgrid(torch.arange(HEIGHT), torch.arange(WIDTH), indexing="ij")
    ids[(y - 28) ** 2 + (x - 42) ** 2 < 81] = 2
    ids[32:, :12] = 3
    return ids


def semantic_result(ids: torch.Tensor, labels: tuple[str, ...]) -> Segmentation:
    """A semantic result over the VOC classes: segment k + 1 is ``labels[k]``."""
    segments = tuple(Segment(k, VOC.index(n), n) for k, n in enumerate(labels, 1))
    return Segmentation(ids, segments, VOC, "semantic")


def panoptic_result() -> Segmentation:
    """:func:`crafted_ids` as a COCO panoptic result: dog, a stuff class, person."""
    dataset = DATASETS["coco"]
    names = tuple(c.name for c in dataset)
    stuff = next(i for i, c in enumerate(dataset) if not c.is_thing)
    classes = (names.index("dog"), stuff, names.index("person"))
    segments = tuple(
        Segment(k, c, names[c], 0.9, dataset[c].is_thing) for k, c in enumerate(classes, 1)
    )
    return Segmentation(
        crafted_ids(), segments, names, "panoptic", {"checkpoint": DEFAULT_CHECKPOINT}
    )


def fake_adapter(monkeypatch: pytest.MonkeyPatch, task: str, *results: Segmentation) -> list[int]:
    """Make ``task``'s adapter return ``results`` in turn; returns one entry per call."""
    calls: list[int] = []

    def segment(image: torch.Tensor, model: str, /, **options: object) -> Segmentation:
        assert image.shape == (3, HEIGHT, WIDTH) and image.dtype == torch.uint8
        calls.append(len(calls))
        return results[min(len(calls), len(results)) - 1]

    monkeypatch.setitem(tasks.TASKS, task, dataclasses.replace(tasks.TASKS[task], segment=segment))
    return calls


def write_photos(folder: Path, *names: str, size: tuple[int, int] = (HEIGHT, WIDTH)) -> None:
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray(rng.integers(1, 256, (*size, 3), dtype=np.uint8)).save(folder / name)


def save_label_map(path: Path, values: torch.Tensor, mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert values.unique().numel() > 1, "a uniform annotation proves nothing"
    data = values.to(torch.uint8).contiguous().numpy().tobytes()
    image = Image.frombytes(mode, (WIDTH, HEIGHT), data)
    if mode == "P":
        image.putpalette([v for k in range(256) for v in (k, k, k)])  # every value kept
    image.save(path)


def run(tmp_path: Path, *options: str, task: str = "semantic") -> tuple[int, dict]:
    """Evaluate ``tmp_path/photos`` against ``tmp_path/ann``; the exit code and metrics.json."""
    out = tmp_path / "out"
    code = cli.main(
        [
            "evaluate",
            str(tmp_path / "photos"),
            "--annotations",
            str(tmp_path / "ann"),
            "--task",
            task,
            "--out",
            str(out),
            *options,
        ]
    )
    return code, json.loads((out / "metrics.json").read_text())


def test_a_prediction_scored_against_itself_is_perfect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seg = semantic_result(crafted_ids(), ("dog", "cat", "person"))
    fake_adapter(monkeypatch, "semantic", seg)
    write_photos(tmp_path / "photos", "a.png")
    (tmp_path / "ann").mkdir()
    exports.voc_png(seg).save(tmp_path / "ann" / "a.png")

    code, metrics = run(tmp_path)

    assert code == 0
    assert metrics["mapping"] == "voc"
    assert metrics["miou"] == 1 and metrics["pixel_accuracy"] == 1
    assert {c["label"] for c in metrics["classes"]} == {"__background__", "dog", "cat", "person"}
    assert all(c["fp"] == c["fn"] == 0 < c["tp"] for c in metrics["classes"])
    assert [i["path"] for i in metrics["images"]] == [str(tmp_path / "photos" / "a.png")]
    assert metrics["failures"] == []
    table = capsys.readouterr().out
    assert "IoU" in table and "precision" in table and "dog" in table and "mIoU 1.000" in table


def test_dataset_figures_come_from_the_summed_confusion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Photo a: a large dog found exactly; b: a small dog predicted twice its size. The mean of
    the per-photo IoUs is not the dataset's IoU: the summed matrix's is."""
    preds, gts = [], []
    for dog_rows, predicted_rows in ((20, 20), (2, 4)):
        gt = torch.zeros(HEIGHT, WIDTH, dtype=torch.int32)
        gt[:dog_rows] = VOC.index("dog")
        ids = torch.zeros(HEIGHT, WIDTH, dtype=torch.int32)
        ids[:predicted_rows] = 1
        ids[-5:, -5:] = 2
        gt[-5:, -5:] = VOC.index("cat")
        preds.append(semantic_result(ids, ("dog", "cat")))
        gts.append(gt)
    fake_adapter(monkeypatch, "semantic", *preds)
    write_photos(tmp_path / "photos", "a.png", "b.png")
    for name, gt in zip("ab", gts, strict=True):
        save_label_map(tmp_path / "ann" / f"{name}.png", gt, mode="P")

    code, metrics = run(tmp_path)

    assert code == 0
    summed = sum(Confusion.of(VocMapping().apply(p, g)) for p, g in zip(preds, gts, strict=True))
    expected = summed.scores()
    per_photo_mean = sum(i["miou"] for i in metrics["images"]) / 2
    assert metrics["miou"] == pytest.approx(expected.miou)
    assert metrics["miou"] != pytest.approx(per_photo_mean)
    dog = next(c for c in metrics["classes"] if c["label"] == "dog")
    assert (dog["tp"], dog["fp"], dog["fn"]) == (22 * WIDTH, 2 * WIDTH, 0)
    assert dog["iou"] == pytest.approx(22 / 24)


def test_a_trimap_border_is_not_scored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The prediction overshoots the pets by the border's width: border pixels do not count."""
    ids = torch.zeros(HEIGHT, WIDTH, dtype=torch.int32)
    ids[4:21, 2:31] = 1  # cat, one pixel beyond the annotated pet on every side
    ids[30:38, 40:50] = 2  # dog, exact
    fake_adapter(monkeypatch, "semantic", semantic_result(ids, ("cat", "dog")))
    trimap = torch.full((HEIGHT, WIDTH), 2, dtype=torch.int32)
    trimap[4:21, 2:31] = 3
    trimap[5:20, 3:30] = 1
    trimap[30:38, 40:50] = 1
    write_photos(tmp_path / "photos", "a.png")
    save_label_map(tmp_path / "ann" / "a.png", trimap)

    code, metrics = run(tmp_path, "--classes", "cat,dog")

    assert code == 0 and metrics["mapping"] == "trimap"
    assert metrics["miou"] == 1 and metrics["pixel_accuracy"] == 1
    border = int((trimap == 3).sum())
    assert border > 0 and metrics["pixels"] == HEIGHT * WIDTH - border


def test_a_label_map_is_scored_with_the_mapping_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = crafted_ids()
    fake_adapter(monkeypatch, "semantic", semantic_result(ids, ("dog", "cat", "person")))
    values = torch.zeros(HEIGHT, WIDTH, dtype=torch.int32)
    values[ids == 1] = 5
    values[(ids == 2) | (ids == 3)] = 7
    values[:2] = 255  # void: the prediction's background there is not scored
    values[0, 5:10] = 255
    write_photos(tmp_path / "photos", "a.png")
    save_label_map(tmp_path / "ann" / "a.png", values)
    table = tmp_path / "table.json"
    table.write_text(
        json.dumps({"0": ["__background__"], "5": ["dog"], "7": ["cat", "person"], "void": 255})
    )

    code, metrics = run(tmp_path, "--mapping", str(table))

    assert code == 0 and metrics["mapping"] == "labels"
    assert metrics["miou"] == 1 and metrics["pixel_accuracy"] == 1
    assert [c["label"] for c in metrics["classes"]] == ["__background__", "dog", "cat + person"]
    assert metrics["pixels"] == HEIGHT * WIDTH - int((values == 255).sum())


def test_a_coco_panoptic_annotation_of_the_prediction_gives_pq_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seg = panoptic_result()
    fake_adapter(monkeypatch, "panoptic", seg)
    write_photos(tmp_path / "photos", "a.jpg")
    data, pngs = exports.coco_panoptic([exports.PhotoEntry(1, "a.jpg", seg)], ["a.png"])
    (tmp_path / "ann").mkdir()
    pngs[0].save(tmp_path / "ann" / "a.png")
    (tmp_path / "ann" / "panoptic_val.json").write_text(json.dumps(data))

    code, metrics = run(tmp_path, task="panoptic")

    assert code == 0 and metrics["mapping"] == "panoptic"
    assert metrics["pq"] == metrics["sq"] == metrics["rq"] == 1
    assert metrics["n"] == 3 and metrics["miou"] == 1
    assert metrics["images"][0]["pq"] == 1
    assert "PQ 1.000  SQ 1.000  RQ 1.000" in capsys.readouterr().out


def test_bad_pairs_are_skipped_named_and_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seg = semantic_result(crafted_ids(), ("dog", "cat", "person"))
    calls = fake_adapter(monkeypatch, "semantic", seg)
    photos, ann = tmp_path / "photos", tmp_path / "ann"
    write_photos(photos, "good.png", "no_annotation.png", "wrong_size.png", "lossy.png")
    (photos / "broken.png").write_bytes(b"not an image")
    ann.mkdir()
    for name in ("good", "broken"):
        exports.voc_png(seg).save(ann / f"{name}.png")
    exports.voc_png(seg).resize((WIDTH + 1, HEIGHT)).save(ann / "wrong_size.png")
    exports.voc_png(seg).convert("RGB").save(ann / "lossy.jpg")

    code, metrics = run(tmp_path)

    assert code == 1
    assert calls == [0], "the model ran only for the good pair"
    assert [i["path"] for i in metrics["images"]] == [str(photos / "good.png")]
    reasons = {Path(f["path"]).stem: f["reason"] for f in metrics["failures"]}
    assert set(reasons) == {"broken", "lossy", "no_annotation", "wrong_size"}
    assert "JPEG" in reasons["lossy"] and "was not found" in reasons["no_annotation"]
    assert "58×41" in reasons["wrong_size"]
    err = capsys.readouterr().err
    assert all(f"skipped {photos / f'{stem}.png'}" in err for stem in reasons)


def test_nothing_scored_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_adapter(monkeypatch, "semantic", semantic_result(crafted_ids(), ("dog", "cat", "cow")))
    write_photos(tmp_path / "photos", "a.png")
    (tmp_path / "ann").mkdir()

    code, metrics = run(tmp_path, "--mapping", "voc")

    assert code == 2 and metrics["images"] == [] and len(metrics["failures"]) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--annotations", "missing"], "is not a folder"),
        (["--mapping", "palette"], "unknown mapping 'palette'"),
        (["--mapping", "missing.json"], "cannot read the mapping table"),
        ([], "give --mapping FILE.json"),  # a label map, and no table
        (["--mapping", "voc", "--classes", "cat"], "--classes is for trimap"),
        (["--model", "resnet9"], "invalid choice 'resnet9'"),
    ],
)
def test_usage_errors_exit_2_before_any_model_runs(
    options: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    forbid_models(monkeypatch)
    monkeypatch.chdir(tmp_path)
    write_photos(tmp_path / "photos", "a.png")
    values = torch.zeros(HEIGHT, WIDTH, dtype=torch.int32)
    values[5:9] = 7
    save_label_map(tmp_path / "ann" / "a.png", values)

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", "photos", "--annotations", "ann", "--out", "out", *options])

    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: python -m segdemo evaluate" in err and message in err
    assert "Traceback" not in err


def test_a_real_model_run_writes_the_metrics(tmp_path: Path) -> None:
    """The whole path with random weights: the figures are whatever they are, the file is whole."""
    write_photos(tmp_path / "photos", "a.png")
    values = torch.zeros(HEIGHT, WIDTH, dtype=torch.int32)
    values[10:30, 10:40] = VOC.index("cat")
    values[9, 10:40] = 255
    save_label_map(tmp_path / "ann" / "a.png", values, mode="P")

    code, metrics = run(tmp_path, "--model", "mobilenet_v3_large")

    assert code == 0
    assert {"miou", "pixel_accuracy", "classes", "images", "failures"} <= set(metrics)
    assert len(metrics["images"]) == 1 and metrics["failures"] == []
    assert metrics["pixels"] == HEIGHT * WIDTH - 30  # the void row is not scored
