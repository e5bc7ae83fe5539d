"""`python -m segdemo`: the segment and fetch commands, in process."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools.coco import COCO

from segdemo import cli, semantic, tasks
from segdemo.batch import photos as batch_photos
from segdemo.result import Segment, Segmentation
from tests.helpers import forbid_models

HEIGHT, WIDTH = 41, 57
CATEGORIES = ("__background__", "person", "dog", "traffic light")


pytestmark = pytest.mark.usefixtures("random_weights")


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A noise photo with no zero channel value: a cut-out's zeros can only come from its mask."""
    rng = np.random.default_rng(0)
    path = tmp_path / "photos" / "a.png"
    path.parent.mkdir()
    Image.fromarray(rng.integers(1, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)).save(path)
    return path


def crafted_ids(shift: int = 0) -> torch.Tensor:
    """Three segments of known shapes (a box, a disc, a corner block) on a background of 0,
    rolled ``shift`` columns to the right (a second photo's different result)."""
    ids = torch.zeros(HEIGHT, WIDTH, dtype=torch.int32)
    ids[5:20, 3:30] = 1
    y, x = torch.meshgrid(torch.arange(HEIGHT), torch.arange(WIDTH), indexing="ij")
    ids[(y - 28) ** 2 + (x - 42) ** 2 < 81] = 2
    ids[32:, :12] = 3
    return ids.roll(shift, dims=1)


def crafted_segmentation(task: str = "instance", shift: int = 0) -> Segmentation:
    """:func:`crafted_ids` as a result of ``task``, with that task's labels and table: segment
    ids differ from class indices, so an export that mixes them up shows."""
    ids = crafted_ids(shift)
    if task == "semantic":
        voc = semantic.VARIANTS[semantic.DEFAULT_VARIANT].categories
        classes = (voc.index("dog"), voc.index("cat"), voc.index("person"))
        segments = tuple(Segment(k, c, voc[c], None, True) for k, c in enumerate(classes, 1))
        return Segmentation(ids, segments, voc, task, {"model": "fake", "weights": "random"})
    if task == "panoptic":
        from segdemo.panoptic import DEFAULT_CHECKPOINT
        from segdemo.panoptic.datasets import DATASETS

        dataset = DATASETS["coco"]
        names = tuple(c.name for c in dataset)
        stuff = next(i for i, c in enumerate(dataset) if not c.is_thing)
        classes = (names.index("dog"), stuff, names.index("person"))
        segments = tuple(
            Segment(k, c, names[c], 0.9 - k / 10, dataset[c].is_thing)
            for k, c in enumerate(classes, 1)
        )
        extras = {"model": "fake", "weights": "random", "checkpoint": DEFAULT_CHECKPOINT}
        return Segmentation(ids, segments, names, task, extras)
    segments = (
        Segment(1, 2, "dog", 0.9, True, (3.0, 5.0, 30.0, 20.0)),
        Segment(2, 3, "traffic light", 0.8, True, (33.0, 19.0, 51.0, 37.0)),
        Segment(3, 1, "person", 0.7, True, (0.0, 32.0, 12.0, 41.0)),
    )
    return Segmentation(
        ids, segments, CATEGORIES, "instance", {"model": "fake", "weights": "random"}
    )


def fake_adapter(
    monkeypatch: pytest.MonkeyPatch, task: str, *results: Segmentation
) -> list[tuple[str, dict[str, object]]]:
    """Make ``task``'s adapter return ``results`` in turn (the last one from then on); returns
    the (model, options) of every call."""
    calls: list[tuple[str, dict[str, object]]] = []

    def segment(image: torch.Tensor, model: str, /, **options: object) -> Segmentation:
        assert image.shape == (3, HEIGHT, WIDTH) and image.dtype == torch.uint8
        calls.append((model, options))
        return results[min(len(calls), len(results)) - 1]

    monkeypatch.setitem(tasks.TASKS, task, dataclasses.replace(tasks.TASKS[task], segment=segment))
    return calls


def write_photos(folder: Path, *names: str) -> list[Path]:
    """Noise photos of HEIGHT × WIDTH at ``names`` (sub-folders made) inside ``folder``."""
    rng = np.random.default_rng(1)
    paths = []
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(1, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def read_ids(out: Path, stem: str) -> np.ndarray:
    """The id map the CLI wrote for ``stem``, checked non-empty and non-uniform."""
    ids = np.array(Image.open(out / f"{stem}.ids.png")).astype(np.int64)
    assert ids.max() > 0 and ids.min() != ids.max(), "an empty or uniform id map proves nothing"
    return ids


def read_table(out: Path, stem: str) -> list[dict]:
    return json.loads((out / f"{stem}.segments.json").read_text())["segments"]


def no_temporary_files(out: Path) -> None:
    assert not [p for p in out.rglob("*") if p.name.startswith(".")], "a temporary file was left"


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
        (["--format", "pascal"], ["--format", "'pascal'", "coco-panoptic"]),
        (["--task", "instance", "--format", "voc"],
         ["--format", "'voc'", "--task instance", "semantic", "coco, all"]),
        (["--task", "panoptic", "--format", "voc"],
         ["--format", "'voc'", "--task panoptic", "coco-panoptic, all"]),
        (["--format", "coco"], ["--format", "'coco'", "--task semantic", "voc, all"]),
        (["--task", "panoptic", "--format", "coco"], ["--format", "'coco'", "--task panoptic"]),
        (["--task", "semantic", "--format", "coco-panoptic"],
         ["--format", "'coco-panoptic'", "--task semantic", "panoptic results"]),
        (["--task", "instance", "--format", "coco-panoptic"],
         ["--format", "'coco-panoptic'", "--task instance", "coco, all"]),
        (["--engine", "spark"], ["--engine", "'spark'", "local", "ray"]),
        (["--address", "auto"], ["--address", "only --engine ray"]),
        (["--engine", "local", "--concurrency", "2"], ["--concurrency", "only --engine ray"]),
        (["--batch-size", "8"], ["--batch-size", "only --engine ray"]),
        (["--engine", "ray", "--concurrency", "0"], ["--concurrency", ">= 1", "'0'"]),
        (["--engine", "ray", "--batch-size", "two"], ["--batch-size", "'two'"]),
    ],
)  # fmt: skip
def test_bad_options_are_usage_errors_before_any_model_runs(
    argv: list[str],
    words: list[str],
    photo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    forbid_models(monkeypatch)
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
    assert cli.main(["segment", str(bad), "--out", str(tmp_path / "o")]) == 2  # nothing done
    err = capsys.readouterr().err
    assert "bad.png is not an image" in err and "no photo could be segmented" in err


def test_the_ray_engine_without_ray_says_how_to_install_it(
    photo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    out = tmp_path / "out"
    assert cli.main(["segment", str(photo), "--engine", "ray", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "pip install -r requirements-scale.txt" in err and "ray[data]" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


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
    assert [p.name for p in batch_photos.iter_photos([tmp_path])] == ["a.PNG", "b.jpg"]


# --------------------------------------------------------------------------- dataset-level formats


def test_plan_photos_names_each_photo_once(tmp_path: Path) -> None:
    """Image ids are positions in the sorted list, file names are relative to the folder named
    (a file named: its name), stems are unique in the run, case-insensitively."""
    folder = tmp_path / "in"
    for name in ("b/x.jpg", "a/x.png", "a/X.webp", "x-2.png", "c.txt"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"")
    single = tmp_path / "x.gif"
    single.write_bytes(b"")
    plan = batch_photos.plan_photos([folder, single])
    assert [(p.image_id, p.file_name, p.stem) for p in plan] == [
        (1, "a/X.webp", "X"),
        (2, "a/x.png", "x-2"),
        (3, "b/x.jpg", "x-3"),
        (4, "x-2.png", "x-2-2"),
        (5, "x.gif", "x-4"),
    ]
    assert [p.path for p in plan] == list(batch_photos.iter_photos([folder, single]))
    assert batch_photos.plan_photos([folder, single]) == plan  # the same inputs, the same names


def test_voc_png_holds_each_pixels_class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_adapter(monkeypatch, "semantic", crafted_segmentation("semantic"))
    (photo,) = write_photos(tmp_path / "in", "a.png")
    out = tmp_path / "out"
    assert cli.main(["segment", str(photo), "--format", "voc", "--out", str(out)]) == 0

    ids = read_ids(out, "a")
    lut = np.zeros(ids.max() + 1, dtype=np.int64)
    for row in read_table(out, "a"):
        lut[row["id"]] = row["category_id"]
    expected = lut[ids]
    assert len(np.unique(expected)) == 4  # background and three classes
    voc = Image.open(out / "voc" / "a.png")
    assert voc.mode == "P" and voc.size == (WIDTH, HEIGHT)
    np.testing.assert_array_equal(np.asarray(voc), expected)
    assert (out / "a.overlay.png").exists() and (out / "a.cutouts").is_dir()  # still there
    assert not (out / "coco_instances.json").exists() and not (out / "coco_panoptic").exists()
    no_temporary_files(out)


def test_coco_instances_round_trip_through_pycocotools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two photos of one folder, two different results: one image entry each, with the photo's
    position as id and its path in the folder as file name; every mask equals its id map region."""
    fake_adapter(monkeypatch, "instance", crafted_segmentation(), crafted_segmentation(shift=9))
    write_photos(tmp_path / "in", "a.png", "sub/b.png")
    out = tmp_path / "out"
    argv = ["segment", str(tmp_path / "in"), "--task", "instance", "--format", "all"]
    assert cli.main([*argv, "--out", str(out)]) == 0

    coco = COCO(str(out / "coco_instances.json"))
    assert [(i["id"], i["file_name"]) for i in coco.loadImgs(coco.getImgIds())] == [
        (1, "a.png"),
        (2, "sub/b.png"),
    ]
    assert {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())} == {
        1: "person", 2: "dog", 3: "traffic light",
    }  # fmt: skip
    maps = {1: read_ids(out, "a"), 2: read_ids(out, "b")}
    assert not np.array_equal(maps[1], maps[2])
    for image_id, ids in maps.items():
        info = coco.imgs[image_id]
        assert (info["height"], info["width"]) == ids.shape
        rows = [r for r in read_table(out, "ab"[image_id - 1]) if r["area"] > 0]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        assert len(anns) == len(rows) == 3
        for ann, row in zip(anns, rows, strict=True):
            region = ids == row["id"]
            assert 0 < region.sum() < region.size
            np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), region)
            assert ann["category_id"] == row["category_id"] and ann["score"] == row["score"]
            assert ann["area"] == row["area"]
    no_temporary_files(out)


def test_coco_panoptic_png_decodes_to_the_id_map(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from segdemo.panoptic.datasets import DATASETS

    fake_adapter(monkeypatch, "panoptic", crafted_segmentation("panoptic"))
    (photo,) = write_photos(tmp_path / "in", "a.png")
    out = tmp_path / "out"
    argv = ["segment", str(photo), "--task", "panoptic", "--format", "coco-panoptic"]
    assert cli.main([*argv, "--out", str(out), "--no-cutouts"]) == 0

    ids = read_ids(out, "a")
    rgb = np.asarray(Image.open(out / "coco_panoptic" / "a.png")).astype(np.int64)
    np.testing.assert_array_equal(rgb[..., 0] + 256 * rgb[..., 1] + 256**2 * rgb[..., 2], ids)

    data = json.loads((out / "coco_panoptic.json").read_text())
    assert data["images"] == [{"id": 1, "file_name": "a.png", "height": HEIGHT, "width": WIDTH}]
    (annotation,) = data["annotations"]
    assert annotation["image_id"] == 1 and annotation["file_name"] == "a.png"
    dataset = DATASETS["coco"]
    categories = {c["id"]: c for c in data["categories"]}
    assert len(categories) == len(dataset)
    rows = read_table(out, "a")
    assert len(annotation["segments_info"]) == len(rows) == 3
    for info, row in zip(annotation["segments_info"], rows, strict=True):
        region = ids == row["id"]
        ys, xs = np.nonzero(region)
        box = [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert info == {
            "id": row["id"],
            "category_id": dataset[row["category_id"]].dataset_id,
            "area": region.sum(),
            "bbox": box,
            "iscrowd": 0,
        }
        category = categories[info["category_id"]]
        assert category["name"] == row["label"] and category["isthing"] == int(row["is_thing"])
    no_temporary_files(out)


def test_real_instance_run_writes_coco_instances(tmp_path: Path) -> None:
    """Random Mask R-CNN keeps detections above a 0.05 threshold: a real, non-empty result,
    written and read back through pycocotools."""
    rng = np.random.default_rng(0)
    photo = tmp_path / "noise.png"
    Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(photo)
    out = tmp_path / "out"
    argv = ["segment", str(photo), "--task", "instance", "--format", "coco", "--no-cutouts"]
    assert cli.main([*argv, "--threshold", "0.05", "--working-size", "512", "--out", str(out)]) == 0

    ids = read_ids(out, "noise")
    rows = [r for r in read_table(out, "noise") if r["area"] > 0]
    coco = COCO(str(out / "coco_instances.json"))
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    assert rows and len(anns) == len(rows)
    assert coco.imgs[1]["file_name"] == "noise.png" and ids.shape == (120, 160)
    for ann, row in zip(anns, rows, strict=True):
        np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), ids == row["id"])
        assert ann["score"] == row["score"] and ann["category_id"] == row["category_id"]


def test_real_panoptic_run_writes_coco_panoptic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tiny random Mask2Former on two shipped photos: real segments, written as the adapter
    gives them and as COCO panoptic PNGs and JSON."""
    import shutil

    from segdemo import panoptic
    from segdemo.images import load_image
    from tests.e2e.conftest import EXAMPLES
    from tests.test_exports import assert_segments_info

    monkeypatch.setenv("SEGDEMO_PANOPTIC_ARCH", "tiny")
    monkeypatch.setenv("SEGDEMO_DEVICE", "cpu")
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("chelsea.png", "rocket.jpg"):
        shutil.copy(EXAMPLES / name, folder / name)
    out = tmp_path / "out"
    panoptic.unload()
    try:
        argv = ["segment", str(folder), "--task", "panoptic", "--format", "coco-panoptic"]
        assert cli.main([*argv, "--no-cutouts", "--out", str(out)]) == 0
        expected = {p.stem: panoptic.segment(load_image(p)) for p in sorted(folder.iterdir())}
    finally:
        panoptic.unload()

    data = json.loads((out / "coco_panoptic.json").read_text())
    assert [a["file_name"] for a in data["annotations"]] == ["chelsea.png", "rocket.png"]
    for annotation in data["annotations"]:
        stem = annotation["file_name"].removesuffix(".png")
        seg, ids = expected[stem], read_ids(out, stem)
        assert len(seg) >= 3 and {s.is_thing for s in seg.segments} == {True, False}
        np.testing.assert_array_equal(ids, seg.ids.numpy())
        rgb = np.asarray(Image.open(out / "coco_panoptic" / f"{stem}.png")).astype(np.int64)
        np.testing.assert_array_equal(rgb[..., 0] + 256 * rgb[..., 1] + 256**2 * rgb[..., 2], ids)
        rows = read_table(out, stem)
        assert [r["label"] for r in rows] == [s.label for s in seg.segments]
        assert_segments_info(annotation["segments_info"], seg)
    no_temporary_files(out)


@pytest.mark.parametrize(
    ("task", "dataset_png"),
    [("semantic", "voc/{}.png"), ("instance", None), ("panoptic", "coco_panoptic/{}.png")],
)
def test_the_same_stem_twice_overwrites_nothing(
    task: str, dataset_png: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = crafted_segmentation(task), crafted_segmentation(task, shift=9)
    fake_adapter(monkeypatch, task, first, second)
    write_photos(tmp_path / "in", "a/x.jpg", "b/x.png")
    out = tmp_path / "out"
    argv = ["segment", str(tmp_path / "in"), "--task", task, "--format", "all"]
    assert cli.main([*argv, "--out", str(out)]) == 0

    for stem, seg, path in (("x", first, "a/x.jpg"), ("x-2", second, "b/x.png")):
        np.testing.assert_array_equal(read_ids(out, stem), seg.ids.numpy())
        table = json.loads((out / f"{stem}.segments.json").read_text())
        assert table["image"] == str(tmp_path / "in" / path)
        assert (out / f"{stem}.overlay.png").exists()
        assert len(list((out / f"{stem}.cutouts").iterdir())) == 3
        if dataset_png is not None:
            png = np.asarray(Image.open(out / dataset_png.format(stem))).astype(np.int64)
            if task == "panoptic":
                png = png[..., 0] + 256 * png[..., 1] + 256**2 * png[..., 2]
                np.testing.assert_array_equal(png, seg.ids.numpy())
            else:
                assert np.array_equal(png > 0, seg.ids.numpy() > 0)
    if task == "instance":
        coco = COCO(str(out / "coco_instances.json"))
        assert [coco.imgs[i]["file_name"] for i in (1, 2)] == ["a/x.jpg", "b/x.png"]
    if task == "panoptic":
        data = json.loads((out / "coco_panoptic.json").read_text())
        assert [a["file_name"] for a in data["annotations"]] == ["x.png", "x-2.png"]


def test_failed_photos_are_in_no_dataset_file_and_keep_their_id_unused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_adapter(monkeypatch, "instance", crafted_segmentation(), crafted_segmentation(shift=9))
    write_photos(tmp_path / "in", "a.png", "c.png")
    (tmp_path / "in" / "b.png").write_text("not a png")
    out = tmp_path / "out"
    argv = ["segment", str(tmp_path / "in"), "--task", "instance", "--format", "coco"]
    assert cli.main([*argv, "--out", str(out)]) == 1  # some failed
    assert "skipped" in capsys.readouterr().err

    coco = COCO(str(out / "coco_instances.json"))
    assert sorted(coco.imgs) == [1, 3] and coco.imgs[3]["file_name"] == "c.png"
    assert {a["image_id"] for a in coco.loadAnns(coco.getAnnIds())} == {1, 3}
    assert not list(out.glob("b.*"))


def test_a_run_where_nothing_worked_writes_no_dataset_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_adapter(monkeypatch, "instance", crafted_segmentation())
    bad = tmp_path / "bad.png"
    bad.write_text("text")
    out = tmp_path / "out"
    argv = ["segment", str(bad), "--task", "instance", "--format", "all", "--out", str(out)]
    assert cli.main(argv) == 2
    assert [p.name for p in out.iterdir()] == ["failures.json"]


@pytest.mark.parametrize("task", ["semantic", "instance", "panoptic"])
def test_without_format_no_dataset_file_is_written(
    task: str, photo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_adapter(monkeypatch, task, crafted_segmentation(task))
    out = tmp_path / "out"
    assert cli.main(["segment", str(photo), "--task", task, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "a.cutouts", "a.ids.png", "a.overlay.png", "a.segments.json", "failures.json",
    ]  # fmt: skip
    assert json.loads((out / "failures.json").read_text()) == []
