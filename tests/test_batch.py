"""segdemo.batch: the pipelined local engine, resume, atomic outputs, failures.json, exit
codes, dataset files rebuilt from disk, and the Ray engine writing what the local one writes."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools.coco import COCO

from segdemo import cli, semantic, tasks, weights
from segdemo.batch import local
from segdemo.batch.job import Job
from segdemo.batch.photos import Photo, plan_photos
from segdemo.images import encode, load_image
from segdemo.models import RANDOM_SEED
from segdemo.result import Segment, Segmentation
from segdemo.weights import WeightsUnavailable

HEIGHT, WIDTH = 64, 80
CATEGORIES = ("__background__", "person", "dog")
NAMES = ("a.png", "b.png", "c.png", "d.png", "e.png")
OUTPUTS = (".overlay.png", ".ids.png", ".segments.json")


pytestmark = pytest.mark.usefixtures("random_weights")


def write_photos(folder: Path, names: tuple[str, ...] = NAMES) -> list[Path]:
    """Noise photos of HEIGHT × WIDTH with a bright block (somewhere for a model to look)."""
    rng = np.random.default_rng(3)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, name in enumerate(names):
        pixels = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        pixels[8 + k : 40 + k, 10:50] = (250, 240, 30)
        (path := folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def crafted(shift: int) -> Segmentation:
    """Two instances of known shapes, moved ``shift`` columns: each photo a different result."""
    ids = torch.zeros(HEIGHT, WIDTH, dtype=torch.int32)
    ids[5:30, 3:30] = 1
    ids[40:60, 50:70] = 2
    segments = (
        Segment(1, 2, "dog", 0.9, True, (3.0, 5.0, 30.0, 30.0)),
        Segment(2, 1, "person", 0.8, True, (50.0, 40.0, 70.0, 60.0)),
    )
    return Segmentation(ids.roll(shift, dims=1), segments, CATEGORIES, "instance", {"model": "x"})


class Adapter:
    """A crafted instance adapter that counts its calls and can stop the run at call ``stop``
    (KeyboardInterrupt, what Ctrl-C raises) or refuse one call's photo (ValueError)."""

    def __init__(self, *, stop: int | None = None, refuse: int | None = None) -> None:
        self.calls = 0
        self.threads: set[str] = set()
        self.stop, self.refuse = stop, refuse

    def __call__(self, image: torch.Tensor, model: str, /, **options: object) -> Segmentation:
        assert image.shape == (3, HEIGHT, WIDTH) and image.dtype == torch.uint8
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.calls == self.stop:
            raise KeyboardInterrupt
        if self.calls == self.refuse:
            raise ValueError("the model refused this photo.")
        return crafted(shift=self.calls)


def use(monkeypatch: pytest.MonkeyPatch, adapter: Adapter) -> Adapter:
    spec = dataclasses.replace(tasks.TASKS["instance"], segment=adapter)
    monkeypatch.setitem(tasks.TASKS, "instance", spec)
    return adapter


def segment(folder: Path, out: Path, *argv: str) -> int:
    return cli.main(["segment", str(folder), "--task", "instance", "--out", str(out), *argv])


def complete_stems(out: Path) -> set[str]:
    return {p.name.removesuffix(".segments.json") for p in out.glob("*.segments.json")}


def assert_no_half_files(out: Path) -> None:
    """No temporary file left, and every file under a final name reads back whole."""
    assert not [p for p in out.rglob("*") if p.name.startswith(".")], "a temporary file was left"
    for path in out.rglob("*.png"):
        with Image.open(path) as image:
            image.load()
    for path in out.rglob("*.json"):
        json.loads(path.read_text())


# --------------------------------------------------------------------------- resume


def test_an_interrupted_run_finishes_on_resume_without_redoing_photos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_photos(tmp_path / "in")
    out = tmp_path / "out"
    first = use(monkeypatch, Adapter(stop=3))
    assert segment(tmp_path / "in", out, "--format", "coco") == 130
    assert first.calls == 3
    assert complete_stems(out) == {"a", "b"}  # the writes already queued finished
    summary = capsys.readouterr().out
    assert "2 photos done" in summary and "3 to go: run again with --resume" in summary
    assert not (out / "coco_instances.json").exists()  # no dataset file of half a run
    assert_no_half_files(out)

    second = use(monkeypatch, Adapter())
    assert segment(tmp_path / "in", out, "--format", "coco", "--resume") == 0
    assert second.calls == 3  # c, d and e: a and b are not redone
    assert complete_stems(out) == {"a", "b", "c", "d", "e"}
    summary = capsys.readouterr().out
    assert "3 photos done" in summary and "2 complete already" in summary

    # the dataset file covers every photo, those of the first run too (read back from disk)
    coco = COCO(str(out / "coco_instances.json"))
    assert sorted(coco.imgs) == [1, 2, 3, 4, 5]
    for image_id, stem in enumerate("abcde", start=1):
        ids = np.array(Image.open(out / f"{stem}.ids.png")).astype(np.int64)
        assert len(np.unique(ids)) == 3  # background and two instances
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        assert len(anns) == 2
        for ann in anns:
            row_id = 1 if ann["category_id"] == 2 else 2
            np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), ids == row_id)
    assert_no_half_files(out)


def test_resume_redoes_a_photo_interrupted_between_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while b's id map is being renamed into place: b has no id map and no table,
    so it is not done, and resume redoes exactly b and the photos after it."""
    write_photos(tmp_path / "in", NAMES[:3])
    out = tmp_path / "out"
    replace = encode.os.replace

    def interrupted_replace(src: str, dst: str) -> None:
        if Path(dst).name == "b.ids.png":
            raise KeyboardInterrupt
        replace(src, dst)

    monkeypatch.setattr(encode.os, "replace", interrupted_replace)
    use(monkeypatch, Adapter())
    assert segment(tmp_path / "in", out) == 130
    assert not (out / "b.ids.png").exists() and not (out / "b.segments.json").exists()
    assert "a" in complete_stems(out) and "b" not in complete_stems(out)
    assert_no_half_files(out)

    monkeypatch.setattr(encode.os, "replace", replace)
    done_before = complete_stems(out)
    again = use(monkeypatch, Adapter())
    assert segment(tmp_path / "in", out, "--resume") == 0
    assert again.calls == 3 - len(done_before)
    assert complete_stems(out) == {"a", "b", "c"}
    assert_no_half_files(out)


def test_a_table_left_by_another_photo_does_not_count_as_done(tmp_path: Path) -> None:
    (photo,) = plan_photos(write_photos(tmp_path / "in", ("a.png",)))
    job = Job("instance", "v2", tmp_path / "out")
    assert not job.is_done(photo)
    job.table_path(photo).parent.mkdir()
    job.table_path(photo).write_text(json.dumps({"image": str(tmp_path / "elsewhere/a.png")}))
    assert not job.is_done(photo)
    job.table_path(photo).write_text(json.dumps({"image": str(photo.path)}))
    assert job.is_done(photo)


# --------------------------------------------------------------------------- failures, exit codes


def test_failures_json_names_every_failed_photo_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    write_photos(folder, ("a.png", "c.png", "d.png"))
    (folder / "b.png").write_text("not a png")
    (folder / "e.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    use(monkeypatch, Adapter(refuse=2))  # the model refuses c
    out = tmp_path / "out"
    assert segment(folder, out) == 1

    rows = json.loads((out / "failures.json").read_text())
    assert [(r["image_id"], r["file_name"]) for r in rows] == [
        (2, "b.png"),
        (3, "c.png"),
        (5, "e.jpg"),
    ]
    assert all(r["path"] == str(folder / r["file_name"]) for r in rows)
    reasons = [r["reason"] for r in rows]
    assert "b.png is not an image" in reasons[0]
    assert reasons[1] == "the model refused this photo."
    assert "e.jpg" in reasons[2]
    err = capsys.readouterr().err
    assert all(f"skipped {folder / r['file_name']}" in err for r in rows)
    assert complete_stems(out) == {"a", "d"}


@pytest.mark.parametrize(
    ("bad", "good", "code"),
    [(0, 2, 0), (1, 2, 1), (2, 0, 2)],
    ids=["all-worked", "some-failed", "nothing-done"],
)
def test_exit_codes(
    bad: int, good: int, code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "in"
    write_photos(folder, tuple(f"good{k}.png" for k in range(good)))
    for k in range(bad):
        (folder / f"bad{k}.png").write_text("text")
    use(monkeypatch, Adapter())
    assert segment(folder, tmp_path / "out") == code
    assert len(json.loads((tmp_path / "out" / "failures.json").read_text())) == bad


def test_no_photos_and_missing_weights_are_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    assert segment(tmp_path / "empty", tmp_path / "out") == 2
    assert "no photos found" in capsys.readouterr().err

    def no_weights(*args: object, **kwargs: object) -> Segmentation:
        raise WeightsUnavailable("no weights here: run `python -m segdemo fetch` first.")

    monkeypatch.setitem(
        tasks.TASKS, "instance", dataclasses.replace(tasks.TASKS["instance"], segment=no_weights)
    )
    write_photos(tmp_path / "in", ("a.png",))
    assert segment(tmp_path / "in", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "python -m segdemo fetch" in err and "Traceback" not in err


# --------------------------------------------------------------------------- the pipeline


def test_the_model_runs_in_the_calling_thread_decoding_and_writing_in_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = plan_photos(write_photos(tmp_path / "in"))
    adapter = use(monkeypatch, Adapter())
    job = Job("instance", "v2", tmp_path / "out")
    seen: dict[str, set[str]] = {"decode": set(), "write": set()}

    class Watched(Job):
        def decode(self, photo: Photo) -> torch.Tensor:
            seen["decode"].add(threading.current_thread().name)
            return super().decode(photo)

        def write(self, photo: Photo, image: torch.Tensor, seg: Segmentation) -> tuple[Path, ...]:
            seen["write"].add(threading.current_thread().name)
            return super().write(photo, image, seg)

    watched = Watched(**{f.name: getattr(job, f.name) for f in dataclasses.fields(job)})
    outcomes = list(local.run(watched, photos))
    assert sorted(o.photo.image_id for o in outcomes) == [1, 2, 3, 4, 5]
    assert all(o.ok and o.files[-1].name.endswith(".segments.json") for o in outcomes)
    assert adapter.threads == {threading.current_thread().name}
    assert seen["decode"] and all(n.startswith("segdemo-decode") for n in seen["decode"])
    assert seen["write"] and all(n.startswith("segdemo-write") for n in seen["write"])


def test_the_pipeline_writes_what_the_one_photo_job_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = plan_photos(write_photos(tmp_path / "in"))
    use(monkeypatch, Adapter())
    piped = Job("instance", "v2", tmp_path / "piped")
    assert all(o.ok for o in local.run(piped, photos))
    use(monkeypatch, Adapter())
    single = Job("instance", "v2", tmp_path / "single")
    assert all(single.process(p).ok for p in photos)
    files = sorted(p.relative_to(piped.out) for p in piped.out.rglob("*") if p.is_file())
    assert len(files) == 5 * (len(OUTPUTS) + 2)  # + two cut-outs each
    for name in files:
        assert (piped.out / name).read_bytes() == (single.out / name).read_bytes(), name


# --------------------------------------------------------------------------- the Ray engine

FAST = "mobilenet_v3_large"


@pytest.fixture
def calibrated_store(
    random_weights: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """A random MobileNet checkpoint whose BatchNorm statistics come from the test photos, in
    the (temporary) model store, loaded as pretrained weights: random weights as they are give
    one class everywhere, and a uniform id map would prove nothing."""
    spec = semantic.VARIANTS[FAST]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)
        model = spec.builder(
            weights=None, weights_backbone=None, num_classes=len(spec.categories), aux_loss=True
        )
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # one batch sets the statistics
    normalise = spec.weights.transforms()
    normalise.resize_size = None
    photos = write_photos(tmp_path / "calibration", NAMES[:2])
    batch = torch.stack([normalise(load_image(p)) for p in photos])
    with torch.no_grad():
        model.train()(batch)
    path = weights.checkpoint_path(spec.weights.url)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.eval().state_dict(), path)
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "pretrained")
    semantic.unload()
    yield
    semantic.unload()


@pytest.mark.usefixtures("calibrated_store")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")  # Ray's own settings
def test_the_ray_engine_writes_what_the_local_engine_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real semantic model on a local Ray instance, a broken file among the photos: the
    same id maps pixel for pixel, the same tables, cut-outs, VOC PNGs and failures.json."""
    folder = tmp_path / "in"
    write_photos(folder, NAMES[:4])
    (folder / "broken.png").write_bytes(Image.new("RGB", (8, 8)).tobytes()[:40])
    argv = ["segment", str(folder), "--model", FAST, "--format", "voc"]
    local_out, ray_out = tmp_path / "local", tmp_path / "ray"
    assert cli.main([*argv, "--out", str(local_out)]) == 1
    ray_argv = ["--engine", "ray", "--concurrency", "1", "--batch-size", "2"]
    assert cli.main([*argv, *ray_argv, "--out", str(ray_out)]) == 1
    assert "broken.png" in capsys.readouterr().err

    for stem in ("a", "b", "c", "d"):
        ids = np.array(Image.open(local_out / f"{stem}.ids.png"))
        assert ids.max() > 0 and ids.min() != ids.max(), "an empty or uniform map proves nothing"
        np.testing.assert_array_equal(np.array(Image.open(ray_out / f"{stem}.ids.png")), ids)
        table = json.loads((local_out / f"{stem}.segments.json").read_text())
        assert table == json.loads((ray_out / f"{stem}.segments.json").read_text())
        assert len(table["segments"]) > 1
    local_files = sorted(p.relative_to(local_out) for p in local_out.rglob("*") if p.is_file())
    ray_files = sorted(p.relative_to(ray_out) for p in ray_out.rglob("*") if p.is_file())
    assert local_files == ray_files
    for name in local_files:
        assert (local_out / name).read_bytes() == (ray_out / name).read_bytes(), name
    (failure,) = json.loads((ray_out / "failures.json").read_text())
    assert failure["file_name"] == "broken.png" and failure["image_id"] == 3  # a, b, broken
