"""`python -m segdemo`: the segment and fetch commands, in process."""

import json

import numpy as np
import pytest
from PIL import Image

from segdemo import cli


@pytest.fixture(autouse=True)
def random_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "random")
    monkeypatch.setenv("SEGDEMO_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))


def test_segment_writes_overlay_id_map_table_and_cutouts(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (41, 57, 3), dtype=np.uint8)).save(photos / "a.png")
    (photos / "notes.txt").write_text("not a photo")  # ignored: not a photo suffix
    out = tmp_path / "out"
    code = cli.main(["segment", str(photos), "--model", "mobilenet_v3_large", "--out", str(out)])
    assert code == 0
    table = json.loads((out / "a.segments.json").read_text())
    ids = np.array(Image.open(out / "a.ids.png"))
    assert ids.shape == (41, 57) and table["size"] == [41, 57]
    assert table["task"] == "semantic" and table["weights"] == "random"
    assert sorted(np.unique(ids).tolist()) == sorted(s["id"] for s in table["segments"])
    assert sum(s["area"] for s in table["segments"]) == 41 * 57
    for s in table["segments"]:
        cut = np.array(Image.open(next((out / "a.cutouts").glob(f"{s['id']:03d}-*.png"))))
        assert cut.shape == (41, 57, 4)
        assert np.array_equal(cut[..., 3] > 0, ids == s["id"])
    assert Image.open(out / "a.overlay.png").size == (57, 41)


def test_segment_skips_unreadable_files_and_fails_when_nothing_worked(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_text("text")
    assert cli.main(["segment", str(bad), "--out", str(tmp_path / "o")]) == 1
    assert "bad.png is not an image" in capsys.readouterr().err


def test_fetch_offline_says_what_to_do(monkeypatch, capsys):
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "pretrained")
    assert cli.main(["fetch", "semantic/mobilenet_v3_large"]) == 2
    err = capsys.readouterr().err
    assert "python -m segdemo fetch" in err and "Traceback" not in err


def test_unknown_names_are_refused(capsys):
    assert cli.main(["fetch", "semantic/resnet9000"]) == 2
    assert "semantic/resnet50" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["segment", "x.png", "--task", "depth"])


def test_iter_photos_walks_folders_in_order(tmp_path):
    for name in ("b.jpg", "a.PNG", "c.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in cli.iter_photos([tmp_path])] == ["a.PNG", "b.jpg"]
