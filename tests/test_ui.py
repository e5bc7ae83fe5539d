"""The tabs' functions as Gradio calls them, without a server: errors a user can act on."""

from __future__ import annotations

import asyncio
import io
import json
import re
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from segdemo import instance, ui
from segdemo.cache import ResultCache
from segdemo.images import InputError
from segdemo.render import legend, segment_palette
from segdemo.result import Segment, Segmentation
from segdemo.ui import (
    CSS,
    LAUNCH_OPTIONS,
    build_demo,
    downloads,
    encoding,
    errors,
    groundtruth_tab,
    inputs,
    instance_tab,
    model_tab,
    panoptic_tab,
    photos,
    picking,
    semantic_tab,
    session,
    view,
)
from tests.e2e.conftest import EXAMPLES

PHOTO = str(EXAMPLES / "chelsea.png")
TRIMAP = str(EXAMPLES / "chelsea_trimap.png")
COCO_TINY = "facebook/mask2former-swin-tiny-coco-panoptic"


def pixels(path: str) -> np.ndarray:
    """The pixels of an image file a tab returned (an exact PNG of its own, or the JPEG overlay
    to look at)."""
    assert path.endswith((".png", ".jpg"))
    return np.array(Image.open(path))


def assert_varied(values: np.ndarray | torch.Tensor, what: str) -> None:
    """A mask or id map worth comparing: not empty, and not one value everywhere."""
    values = torch.as_tensor(np.asarray(values))
    assert values.numel() and values.any(), f"{what} is empty"
    assert values.unique().numel() > 1, f"{what} is one value everywhere"


@pytest.fixture(scope="module")
def demo() -> gr.Blocks:
    return build_demo()


@pytest.fixture
def offline_pretrained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "pretrained")
    monkeypatch.setenv("SEGDEMO_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))


@pytest.mark.parametrize(
    ("call", "fix"),
    [
        (
            lambda: semantic_tab.segment_semantic(PHOTO, "mobilenet_v3_large", [], 0.5),
            "python -m segdemo fetch",
        ),
        (
            lambda: instance_tab.segment_instance(PHOTO, "v1", 512, 0.5, [], True, [], 0.5),
            "python -m segdemo fetch",
        ),
    ],
)
def test_missing_weights_are_one_clear_sentence_not_a_traceback(
    offline_pretrained, call, fix
) -> None:
    wrapped = errors.user_errors(call)
    with pytest.raises(gr.Error) as caught:
        wrapped()
    message = caught.value.message
    assert fix in message and "SEGDEMO_WEIGHTS=random" in message
    assert "Traceback" not in message and "\n" not in message
    # the ground-truth tab needs no weights and keeps working
    assert groundtruth_tab.show_ground_truth(PHOTO, TRIMAP, 1, 0.5)[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((None, TRIMAP, 1, 0.5), "Please add a photo"),
        ((PHOTO, None, 1, 0.5), "Please add an annotation"),
        ((TRIMAP + ".missing", TRIMAP, 1, 0.5), "missing"),
    ],
)
def test_groundtruth_bad_inputs_are_messages(args, message) -> None:
    with pytest.raises(gr.Error, match=message):
        errors.user_errors(groundtruth_tab.show_ground_truth)(*args)


def test_an_absent_object_value_falls_back_to_the_pet_and_says_so() -> None:
    status, *_ = groundtruth_tab.show_ground_truth(PHOTO, {"path": TRIMAP}, 9, 0.5)
    assert status.startswith("Value 9 does not occur in this annotation; showing 1.")


def test_an_unexpected_failure_is_a_generic_message(monkeypatch) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("internal detail /secret/path")

    with pytest.raises(gr.Error) as caught:
        errors.user_errors(broken)()
    assert "secret" not in caught.value.message and "log" in caught.value.message


def test_user_text_in_messages_is_escaped() -> None:
    def hostile(*_: object) -> None:
        raise InputError("<img src=x onerror=alert(1)>.png is not an image")

    with pytest.raises(gr.Error) as caught:
        errors.user_errors(hostile)()
    assert "<img" not in caught.value.message and "&lt;img" in caught.value.message


def test_the_demo_exposes_the_four_api_endpoints(demo) -> None:
    names = {fn.api_name for fn in demo.fns.values()}
    assert {"groundtruth", "semantic", "instance", "panoptic"} <= names
    renders = {"groundtruth_render", "semantic_render", "instance_render", "panoptic_render"}
    assert renders <= names
    assert {"compare", "evaluate"} <= names


def test_every_session_state_is_freed_after_an_hour(demo) -> None:
    states = [b for b in demo.blocks.values() if isinstance(b, gr.State)]
    # one per tab (the evaluation shares the Ground truth tab's) and each model tab's last good
    # photo
    assert len(states) == 6 + 3
    assert {s.time_to_live for s in states} == {session.STATE_TTL_S} == {3600}


def test_the_inputs_show_as_gradios_own_components(demo) -> None:
    fn = next(f for f in demo.fns.values() if f.api_name == "instance")
    shown = [block.get_block_name() for block in fn.inputs]
    assert shown == [
        "image", "radio", "radio", "slider", "dropdown", "checkbox", "checkboxgroup", "slider",
        "radio",  # the Speed choice, last: API callers may leave it out
    ]  # fmt: skip


def test_rerender_without_a_result_says_what_to_do() -> None:
    with pytest.raises(gr.Error, match="Run the model first"):
        picking.rerender(None, [], 0.5)


# --- Values checked by the demo's own preprocessing, before the function runs -----------------


def file_data(path: str) -> dict[str, Any]:
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


def process(
    demo: gr.Blocks, api_name: str, args: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> Any:
    """Run ``api_name`` through Gradio's process_api (preprocess, function, postprocess) with
    the function replaced by one that fails if it is called, so a refusal comes from the
    inputs' checks, before any model runs."""
    fn = next(f for f in demo.fns.values() if f.api_name == api_name)

    def must_not_run(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError(f"{api_name} ran with values that should have been refused")

    monkeypatch.setattr(fn, "fn", must_not_run)
    values = [file_data(a) if isinstance(a, str) and a.endswith(".png") else a for a in args]
    return asyncio.run(demo.process_api(fn, values))


@pytest.mark.parametrize(
    ("api_name", "args", "message"),
    [
        (
            "instance",
            (PHOTO, "v9", 800, 0.5, [], True, [], 0.5, "fp32"),
            r"Mask R-CNN: .*'v9'.*choices",
        ),
        (
            "instance",
            (PHOTO, "v1", 123, 0.5, [], True, [], 0.5, "fp32"),
            r"Working size: .*123.*choices",
        ),
        (
            "instance",
            (PHOTO, "v1", 512, 2, [], True, [], 0.5, "fp32"),
            r"Score threshold: .*2.*maximum",
        ),
        ("instance", (PHOTO, "v1", 512, 0.5, [], True, [], "x", "fp32"), r"Overlay opacity .*'x'"),
        ("instance", (PHOTO, "v1", 512, 0.5, [], "yes", [], 0.5, "fp32"), r"Show boxes .*'yes'"),
        (
            "instance",
            (PHOTO, "v1", 512, 0.5, "cat", True, [], 0.5, "fp32"),
            r"Only these classes .*cat",
        ),
        (
            "semantic",
            (PHOTO, "resnet9", [], 0.5, "fp32"),
            r"DeepLabV3 variant: .*'resnet9'.*choices",
        ),
        ("semantic", (PHOTO, "resnet50", "cat", 0.5, "fp32"), r"list of names, got 'cat'"),
        ("semantic", (PHOTO, "resnet50", [], 1.5, "fp32"), r"Overlay opacity: .*1\.5.*maximum"),
        (
            "panoptic",
            (PHOTO, "nope", 384, 0.5, [], 0.5, "fp32"),
            r"Mask2Former checkpoint: .*nope.*choices",
        ),
        (
            "panoptic",
            (PHOTO, COCO_TINY, 500, 0.5, [], 0.5, "fp32"),
            r"Working size: .*500.*choices",
        ),
        (
            "panoptic",
            (PHOTO, COCO_TINY, 384, 1.5, [], 0.5, "fp32"),
            r"Score threshold: .*1\.5.*maximum",
        ),
        ("semantic", (PHOTO, "resnet50", [], 0.5, "fp64"), r"Speed: .*'fp64'.*choices"),
        ("groundtruth", (PHOTO, TRIMAP, 1.5, 0.5), r"Object value must be a whole number"),
        ("groundtruth", (PHOTO, TRIMAP, "abc", 0.5), r"Object value .*'abc'"),
        ("groundtruth", (PHOTO, TRIMAP, 1, float("nan")), r"Overlay opacity .*finite.*nan"),
        ("groundtruth", (PHOTO, TRIMAP, 1, -0.5), r"Overlay opacity: .*-0\.5.*minimum"),
    ],
)
def test_bad_option_values_are_named_before_any_model_runs(
    demo, monkeypatch, api_name, args, message
) -> None:
    with pytest.raises(gr.Error, match=message) as caught:
        process(demo, api_name, args, monkeypatch)
    assert "\n" not in caught.value.message and "<" not in caught.value.message


def test_good_values_reach_the_function_as_its_types(demo, monkeypatch) -> None:
    fn = next(f for f in demo.fns.values() if f.api_name == "instance")
    got: list[tuple[Any, ...]] = []

    def record(*args: Any) -> tuple[Any, ...]:
        got.append(args)
        raise gr.Error("recorded")

    monkeypatch.setattr(fn, "fn", record)
    # A name the (still empty) picker does not list yet is not refused: the run picks from the
    # result it makes. A whole float for a radio of ints is one of its choices.
    values = [file_data(PHOTO), "v1", 512.0, 0.5, ["cat"], True, ["cat 1 · 0.99"], 0.25, "bf16"]
    with pytest.raises(gr.Error, match="recorded"):
        asyncio.run(demo.process_api(fn, values))
    photo, *rest = got[0]
    assert isinstance(photo, str) and photo.endswith("chelsea.png")  # a path, undecoded
    assert rest == ["v1", 512.0, 0.5, ["cat"], True, ["cat 1 · 0.99"], 0.25, "bf16"]


def test_a_picker_updated_by_a_result_keeps_its_own_check() -> None:
    picker = inputs.NamePicker(choices=[("cat · 50%", "cat")], label="Classes", render=False)
    # Gradio rebuilds an updated component as block.__class__(**constructor_args)
    rebuilt = picker.__class__(**{**picker.constructor_args, "choices": [("dog", "dog")]})
    assert isinstance(rebuilt, inputs.NamePicker) and rebuilt.get_block_name() == "checkboxgroup"
    assert rebuilt.preprocess(["cat"]) == ["cat"]


# --- Clicks and re-renders ------------------------------------------------------------------------


def click(x: int, y: int) -> gr.SelectData:
    return gr.SelectData(None, {"index": [x, y], "value": None, "selected": True})


def three_regions(height: int, width: int) -> Segmentation:
    """cat (left third), dog (middle third), sky (right third, top half); 0 elsewhere."""
    ids = torch.zeros(height, width, dtype=torch.int32)
    third = width // 3
    ids[:, :third] = 1
    ids[:, third : 2 * third] = 2
    ids[: height // 2, 2 * third :] = 3
    segments = (
        Segment(1, 1, "cat", is_thing=True),
        Segment(2, 2, "dog", is_thing=True),
        Segment(3, 3, "sky"),
    )
    seg = Segmentation(ids, segments, ("__background__", "cat", "dog", "sky"), "semantic")
    assert_varied(seg.ids, "the crafted id map")
    return seg


def test_clicking_the_overlay_picks_the_value_or_segment_under_the_cursor() -> None:
    *_, state = groundtruth_tab.show_ground_truth(PHOTO, TRIMAP, 1, 0.5)
    trimap = np.array(Image.open(TRIMAP))
    assert_varied(trimap, "the trimap")
    y, x = (int(v[0]) for v in np.nonzero(trimap == 3))
    status, value, *shown = groundtruth_tab.pick_by_click(state, 0.5, click(x, y))
    assert value == 3 and len(shown) == 5
    assert status.endswith("3 distinct values · object value 3")
    status, *shown = groundtruth_tab.rerender(state, 2, 0.5)
    assert status.endswith("object value 2") and len(shown) == 5
    # model tabs toggle the label under the cursor in the picker
    names, *_ = picking.pick_by_click(state, ["border"], 0.5, click(x, y))
    assert names == []
    names, *_ = picking.pick_by_click(state, [], 0.5, click(x, y))
    assert names == ["border"]
    assert picking.pick_by_click(state, ["pet"], 0.5, click(10_000, 5))[0] == ["pet"]
    with pytest.raises(gr.Error, match="Run the model first"):
        picking.pick_by_click(None, [], 0.5, click(0, 0))


def test_a_click_picks_the_segment_under_the_cursor_and_not_another() -> None:
    seg = three_regions(30, 60)
    state = {"image": torch.zeros(3, 30, 60, dtype=torch.uint8), "seg": seg}
    for (x, y), label in [((5, 20), "cat"), ((30, 5), "dog"), ((55, 5), "sky")]:
        names, _overlay, _legend, mask_file, *_ = picking.pick_by_click(state, [], 0.5, click(x, y))
        mask = pixels(mask_file)
        assert names == [label]
        assert_varied(mask, f"the mask of {label}")
        expected = (seg.ids == seg.ids[y, x]).numpy()
        assert np.array_equal(mask.reshape(30, 60, -1)[..., 0] > 0, expected)
    # below the sky there is no segment: the picks stay as they are
    assert picking.pick_by_click(state, ["dog"], 0.5, click(55, 25))[0] == ["dog"]


@pytest.mark.parametrize(("height", "width"), [(20, 30), (300, 451), (1080, 1920)])
def test_the_legend_carries_the_id_map_that_names_segments_on_hover(height, width) -> None:
    import base64
    import html as html_module

    ids = torch.zeros(height, width, dtype=torch.int32)
    ids[: height // 2, : width // 3] = 1
    ids[height // 2 :, width // 2 :] = 300  # above 255: the map is uint16
    segments = (
        Segment(1, 1, "<dog> 1 · 0.97", 0.97, True),
        Segment(300, 1, "dog 2 · 0.91", 0.91, True),
    )
    seg = Segmentation(ids, segments, ("__background__", "dog"), "instance")
    shown = view.legend_html(legend(seg, segment_palette(seg)), hover=view.hover_data(seg))
    assert "<dog>" not in shown  # labels escaped, in the entries and in the data
    data = json.loads(html_module.unescape(shown.split('data-hover="')[1].split('"')[0]))
    assert data["labels"] == {"1": "<dog> 1 · 0.97", "300": "dog 2 · 0.91"}
    assert max(data["w"], data["h"]) == min(view.HOVER_SIDE, width)
    small = np.frombuffer(base64.b64decode(data["ids"]), dtype="<u2").reshape(data["h"], data["w"])
    # nearest-neighbour shrink: each cell holds the id at its top-left source pixel
    rows = np.arange(data["h"]) * height // data["h"]
    cols = np.arange(data["w"]) * width // data["w"]
    assert np.array_equal(small, ids.numpy()[rows][:, cols])
    assert set(np.unique(small)) == {0, 1, 300}


def test_alpha_picks_and_clicks_re_render_without_running_the_model(monkeypatch) -> None:
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "random")
    monkeypatch.setattr(session, "RESULTS", ResultCache(capacity=8))
    calls: list[str] = []

    def three_classes(image: torch.Tensor, variant: str, **_kwargs: Any) -> Segmentation:
        calls.append(variant)
        return three_regions(int(image.shape[1]), int(image.shape[2]))

    monkeypatch.setattr(semantic_tab.semantic, "segment", three_classes)
    _, _, *shown, state = semantic_tab.segment_semantic(PHOTO, "mobilenet_v3_large", [], 0.5)
    assert len(shown) == 5 and calls == ["mobilenet_v3_large"]

    def no_model(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the model ran again")

    monkeypatch.setattr(semantic_tab.semantic, "segment", no_model)
    label = state["seg"].segments[0].label
    overlay, *_ = picking.rerender(state, [label], 0.9)
    assert pixels(overlay).shape == (300, 451, 3)
    # a click picks the segment under the cursor, and not one of the others
    for x, y in [(20, 150), (200, 150), (400, 20)]:
        names, *_ = picking.pick_by_click(state, [], 0.2, click(x, y))
        expected = state["seg"].segment(int(state["seg"].ids[y, x])).label
        others = {s.label for s in state["seg"].segments} - {expected}
        assert names == [expected] and not others & set(names)
    # the same photo and options again come from the result cache, not the model
    again = semantic_tab.segment_semantic(PHOTO, "mobilenet_v3_large", [label], 0.3)[-1]["seg"]
    assert_varied(again.ids, "the cached id map")
    assert again.segments == state["seg"].segments and torch.equal(again.ids, state["seg"].ids)


def test_a_click_on_an_instance_toggles_it_and_keeps_the_filters(monkeypatch) -> None:
    seg = three_regions(30, 60)
    state = {"image": torch.zeros(3, 30, 60, dtype=torch.uint8), "seg": seg}
    seen: list[tuple[Any, ...]] = []
    monkeypatch.setattr(instance_tab, "refilter", lambda *args: seen.append(args) or args)
    instance_tab.pick_by_click(state, 0.7, ["cat"], False, [], 0.4, click(30, 5))
    assert seen == [(state, 0.7, ["cat"], False, ["dog"], 0.4)]


# --- Sizes ----------------------------------------------------------------------------------------


def test_every_tab_scales_a_large_photo_and_the_annotation_keeps_its_values(monkeypatch) -> None:
    monkeypatch.setattr(photos, "MAX_SIDE", 64)
    status, table, _why, _picker, overlay, *_ = groundtruth_tab.show_ground_truth(
        PHOTO, TRIMAP, 1, 0.5
    )
    assert "The photo and its annotation (451×300) were scaled to 64×43" in status
    assert "nearest pixel so that its values are kept" in status
    assert pixels(overlay).shape == (43, 64, 3)
    assert [row[0] for row in table] == [1, 2, 3]  # no value invented by interpolation
    assert [row[1] for row in table] == pytest.approx([1 / 255, 2 / 255, 3 / 255], abs=1e-6)
    image, note = photos.load_photo(PHOTO)
    assert tuple(image.shape) == (3, 43, 64) and "scaled to 64×43 for the models" in note


def test_nearest_keeps_every_value_exactly() -> None:
    values = torch.tensor([[0, 7, 7, 2**31 - 1], [5, 5, 0, 2**31 - 1]], dtype=torch.int32)
    assert_varied(values, "the label map")
    small = photos.nearest(values, (1, 2))
    assert small.dtype == torch.int32 and set(small.flatten().tolist()) <= set(
        values.unique().tolist()
    )
    assert small.tolist() == [[5, 2**31 - 1]]  # pixel centres: row 1, columns 1 and 3


# --- Several requests at once, without the queue ----------------------------------------------


def test_concurrent_groundtruth_calls_each_get_their_own_answer(tmp_path) -> None:
    """Eight threads call the ground-truth function at the same moment (no queue in between):
    good pairs with different object values and bad files, each answer must be its own."""
    text = tmp_path / "text.png"
    text.write_bytes(b"plain text, not pixels\n")
    small = tmp_path / "small.png"
    Image.fromarray(np.ones((10, 12), np.uint8)).save(small)
    trimap = np.array(Image.open(TRIMAP))
    calls: list[tuple[str, str, int, str | None]] = [
        (PHOTO, TRIMAP, 1, None),
        (str(text), TRIMAP, 1, r"text\.png is not an image"),
        (PHOTO, TRIMAP, 3, None),
        (PHOTO, str(small), 1, r"small\.png is 12×10 pixels"),
        (PHOTO, TRIMAP, 2, None),
        (PHOTO, TRIMAP, 1, None),
        (str(text), TRIMAP, 3, r"text\.png is not an image"),
        (PHOTO, TRIMAP, 3, None),
    ]
    start = threading.Barrier(len(calls))
    run = errors.user_errors(groundtruth_tab.show_ground_truth)

    def call(photo: str, annotation: str, value: int) -> Callable[[], Any]:
        start.wait(timeout=30)
        try:
            return run(photo, annotation, value, 0.5)
        except gr.Error as error:
            return error

    with ThreadPoolExecutor(len(calls)) as pool:
        answers = list(pool.map(lambda c: call(*c[:3]), calls))
    for (_photo, _annotation, value, refused), answer in zip(calls, answers, strict=True):
        if refused:
            assert isinstance(answer, gr.Error) and re.search(refused, answer.message), answer
            continue
        assert not isinstance(answer, gr.Error), answer.message
        status, *_, cutout, _state = answer
        region = trimap == value
        assert_varied(region, f"the trimap's value {value}")
        assert f"object value {value}" in status
        assert np.array_equal(pixels(cutout)[..., 3], np.where(region, 255, 0))


# --- Mounting in another app --------------------------------------------------------------------


def test_mounting_in_a_fastapi_app_keeps_the_css_and_the_file_size_limit() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    mounted = build_demo()
    app = gr.mount_gradio_app(FastAPI(), mounted, "/", **LAUNCH_OPTIONS)
    config = TestClient(app).get("/config").json()
    assert config["css"] == CSS and ".untrained-banner" in config["css"]
    assert config["max_file_size"] == 25 * 1024 * 1024 == mounted.max_file_size
    assert config["footer_links"] == LAUNCH_OPTIONS["footer_links"]
    assert config["show_error"] is False


def test_each_answer_gets_files_of_its_own(monkeypatch) -> None:
    """Gradio names its cached outputs by content and rewrites them in place, so two answers
    with the same pixels would share (and truncate) one file: ours never do."""
    first = groundtruth_tab.show_ground_truth(PHOTO, TRIMAP, 1, 0.5)
    second = groundtruth_tab.show_ground_truth(PHOTO, TRIMAP, 1, 0.5)
    files = [v for v in (*first, *second) if isinstance(v, str) and v.endswith((".png", ".jpg"))]
    assert len(files) == 8 and len(set(files)) == 8
    assert np.array_equal(pixels(first[-2]), pixels(second[-2]))
    assert all(Path(f).is_relative_to(encoding.OUTPUT_DIR) for f in files)


# --- Downloads ------------------------------------------------------------------------------------


def read_zip(path: str) -> dict[str, bytes]:
    """The files of a ZIP a tab wrote, after checking where and how it was written."""
    assert path.endswith(".zip") and Path(path).is_relative_to(encoding.OUTPUT_DIR)
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def image_of(data: bytes) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(data)))


def assert_readme_names_every_file(files: dict[str, bytes]) -> list[str]:
    """Each file README.txt names is in the ZIP (a folder: at least one file in it)."""
    lines = files["README.txt"].decode().splitlines()[2:]
    named = [line.split(": ", 1)[0] for line in lines]
    assert named, "README.txt names no file"
    for name in named:
        assert any(f == name or (name.endswith("/") and f.startswith(name)) for f in files), name
    return named


def a_photo(height: int, width: int) -> torch.Tensor:
    """uint8 [3, H, W] of seeded noise: every cut-out pixel can be told apart."""
    return torch.randint(0, 256, (3, height, width), generator=torch.Generator().manual_seed(0)).to(
        torch.uint8
    )


def test_a_download_is_the_states_result_with_the_picked_segments() -> None:
    seg = three_regions(30, 60)
    image = a_photo(30, 60)
    state = {"image": image, "seg": seg, "stem": "my photo"}
    path = downloads.download_result(state, ["cat", "sky"], 0.5)
    assert Path(path).name == "my_photo-semantic.zip"
    files = read_zip(path)
    named = assert_readme_names_every_file(files)
    assert {"my_photo.ids.png", "my_photo.cutout.png", "my_photo.voc.png"} <= set(named)
    assert np.array_equal(image_of(files["my_photo.ids.png"]), seg.ids.numpy())
    region = torch.isin(seg.ids, torch.tensor([1, 3])).numpy()
    assert_varied(region, "the picked region")
    rgba = image_of(files["my_photo.cutout.png"])
    assert np.array_equal(rgba[..., 3], np.where(region, 255, 0))
    photo = image.permute(1, 2, 0).numpy()
    assert np.array_equal(rgba[..., :3][region], photo[region])
    assert np.array_equal(image_of(files["my_photo.mask.png"]) > 0, region)
    table = json.loads(files["my_photo.segments.json"])
    assert [s["label"] for s in table["segments"]] == ["cat", "dog", "sky"]
    assert len([f for f in files if f.startswith("my_photo.cutouts/")]) == 3
    # asked for again: a file of its own, never one rewritten in place
    assert downloads.download_result(state, ["cat"], 0.5) != path


def test_the_ground_truth_download_holds_the_chosen_values_mask_and_cut_out() -> None:
    *_, state = groundtruth_tab.show_ground_truth(PHOTO, TRIMAP, 3, 0.5)
    path = groundtruth_tab.download_ground_truth(state, 3, 0.5)
    assert Path(path).name == "chelsea-groundtruth.zip"
    files = read_zip(path)
    assert_readme_names_every_file(files)
    trimap = np.array(Image.open(TRIMAP))
    region = trimap == 3
    assert_varied(region, "the trimap's border")
    assert np.array_equal(image_of(files["chelsea.cutout.png"])[..., 3] > 0, region)
    assert np.array_equal(image_of(files["chelsea.mask.png"]) > 0, region)
    # the id map holds the values' segments: 1 pet, 2 background, 3 border in stored order
    assert np.array_equal(image_of(files["chelsea.ids.png"]), trimap)
    assert not [f for f in files if ".voc." in f or ".coco_" in f]  # no standard format


def coco_detections(height: int, width: int) -> instance.Detections:
    """Three full-box detections: dog 0.9 (left), cat 0.8 (middle), dog 0.55 (right)."""
    third = width / 3
    boxes = torch.tensor(
        [[0, 0, third, height], [third, 0, 2 * third, height], [2 * third, 0, width, height]],
        dtype=torch.float32,
    )
    categories = instance.VARIANTS["v2"].categories
    labels = torch.tensor([categories.index(n) for n in ("dog", "cat", "dog")])
    return instance.Detections(
        boxes=boxes,
        scores=torch.tensor([0.9, 0.8, 0.55]),
        labels=labels,
        mask_probs=torch.ones(3, 28, 28),
        image_size=(height, width),
        categories=categories,
    )


def test_the_instance_download_applies_the_filters_and_the_picks() -> None:
    dets = coco_detections(30, 60)
    state = {"image": a_photo(30, 60), "dets": dets, "note": "", "stem": "street"}
    expected = instance.to_segmentation(dets, threshold=0.6, classes=["dog"])
    assert_varied(expected.ids, "the filtered id map")
    path = instance_tab.download_instances(state, 0.6, ["dog"], True, ["dog 1 · 0.90"], 0.5)
    files = read_zip(path)
    assert Path(path).name == "street-instance.zip"
    assert "street.coco_instances.json" in assert_readme_names_every_file(files)
    assert np.array_equal(image_of(files["street.ids.png"]), expected.ids.numpy())
    coco = json.loads(files["street.coco_instances.json"])
    assert [a["score"] for a in coco["annotations"]] == [pytest.approx(0.9)]
    picked = (expected.ids == 1).numpy()
    assert np.array_equal(image_of(files["street.cutout.png"])[..., 3] > 0, picked)


@pytest.fixture
def tiny_panoptic(monkeypatch) -> Iterator[None]:
    """The tiny random Mask2Former (its head made decisive: real segments), a fresh cache."""
    from segdemo import panoptic

    monkeypatch.setenv("SEGDEMO_WEIGHTS", "random")
    monkeypatch.setenv("SEGDEMO_PANOPTIC_ARCH", "tiny")
    monkeypatch.setattr(session, "RESULTS", ResultCache(capacity=8))
    panoptic.unload()
    yield
    panoptic.unload()


@pytest.mark.usefixtures("tiny_panoptic")
def test_the_panoptic_tab_shows_and_downloads_real_segments() -> None:
    """The tiny random Mask2Former on a shipped photo: real things and stuff, end to end."""
    status, rows, _, overlay, legend, mask, _, cutout, state = panoptic_tab.segment_panoptic(
        PHOTO, COCO_TINY, 384, 0.5, [], 0.5
    )
    seg = state["seg"]
    assert len(seg) >= 3 and f"{len(seg)} segments" in status
    assert_varied(seg.ids, "the panoptic id map")
    assert sorted(row[0] for row in rows) == sorted(s.label for s in seg.segments)
    assert {row[1] for row in rows} == {"thing", "stuff"}
    assert all(s.label.split(" · ")[0] in legend for s in seg.segments)
    photo = np.array(Image.open(PHOTO).convert("RGB"))
    assert pixels(overlay).shape == photo.shape and not np.array_equal(pixels(overlay), photo)
    # a new photo starts with every segment picked: all of them are cut out
    segmented = seg.ids.numpy() > 0
    assert_varied(segmented, "the segmented pixels")
    assert np.array_equal(pixels(mask) > 0, segmented)
    assert np.array_equal(pixels(cutout)[..., 3] > 0, segmented)

    files = read_zip(downloads.download_result(state, [], 0.5))
    assert np.array_equal(image_of(files["chelsea.ids.png"]), seg.ids.numpy())
    rgb = image_of(files["chelsea.coco_panoptic.png"]).astype(np.int64)
    assert np.array_equal(rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2], seg.ids.numpy())
    (annotation,) = json.loads(files["chelsea.coco_panoptic.json"])["annotations"]
    assert [i["id"] for i in annotation["segments_info"]] == [s.id for s in seg.segments]


@pytest.mark.parametrize(
    ("download", "args", "message"),
    [
        (downloads.download_result, (None, [], 0.5), "Run the model first: there is no result"),
        (instance_tab.download_instances, (None, 0.5, [], True, [], 0.5), "Run the model first"),
        (groundtruth_tab.download_ground_truth, (None, 1, 0.5), "Press Show first"),
    ],
)
def test_a_download_before_a_run_says_what_to_do(download, args, message) -> None:
    with pytest.raises(gr.Error, match=message) as caught:
        errors.user_errors(download)(*args)
    assert "\n" not in caught.value.message


@pytest.mark.parametrize(
    ("upload", "stem"),
    [
        (PHOTO, "chelsea"),
        ({"path": "/tmp/x/upload.png", "orig_name": "My Cat (1).JPG"}, "My_Cat_1"),
        ("/tmp/x/<script>.png", "script"),
        ("/tmp/x/..png", "photo"),
    ],
)
def test_downloads_are_named_after_the_photos_own_name(upload, stem) -> None:
    assert photos.photo_stem(upload) == stem


def test_every_tab_has_a_download_endpoint_that_is_no_public_api(demo) -> None:
    fns = {fn.api_name: fn for fn in demo.fns.values()}
    for task in ("groundtruth", "semantic", "instance", "panoptic"):
        download = fns[f"{task}_download"]
        assert download.api_visibility == "undocumented"
        assert isinstance(download.inputs[0], gr.State) and download.concurrency_id != "models"
        assert [type(c) for c in download.outputs] == [gr.File]


# --- MCP ------------------------------------------------------------------------------------------

TOOLS = {
    "show_ground_truth": "/groundtruth",
    "segment_semantic": "/semantic",
    "segment_instance": "/instance",
    "segment_panoptic": "/panoptic",
    "compare_kinds": "/compare",
}


def test_the_tasks_and_nothing_else_are_mcp_tools_with_typed_described_inputs(demo) -> None:
    from gradio.mcp import GradioMCPServer

    server = GradioMCPServer(demo)
    assert server.tool_to_endpoint == TOOLS
    for tool in TOOLS:
        fn = server.get_block_fn_from_endpoint_name(TOOLS[tool])
        description, parameters = server.get_fn_description(fn, tool)
        schema, _ = server.get_input_schema(tool, parameters)
        assert description and "Returns:" in description
        assert schema["properties"] and all(p["description"] for p in schema["properties"].values())
        assert "data: URL" in schema["properties"]["photo"]["description"]
    schema, _ = server.get_input_schema("segment_instance")
    assert schema["properties"]["working_size"]["type"] == "integer"
    assert schema["properties"]["picked"] == {"type": "array", "items": {"type": "string"}}
    assert schema["properties"]["threshold"]["minimum"] == instance.SCORE_FLOOR


@pytest.mark.parametrize(
    ("value", "wanted"), [("1", True), ("true", True), ("0", False), ("", False)]
)
def test_segdemo_mcp_asks_for_the_mcp_server(monkeypatch, value, wanted) -> None:
    monkeypatch.setenv("SEGDEMO_MCP", value)
    assert ui.mcp_wanted() is wanted


class FinishedJob:
    """A gradio_client job that is done, with ``value`` as its result."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


@pytest.mark.parametrize(
    ("result", "outputs"),
    [(("status", [[1, "pet"]], None), ["status", [[1, "pet"]], None]), ("one", ["one"])],
)
def test_an_mcp_call_without_progress_answers_every_output(demo, result, outputs) -> None:
    """gradio_client gives several outputs as one tuple; the MCP answer lists them."""
    from gradio.mcp import GradioMCPServer

    answer = GradioMCPServer._execute_tool_without_progress(None, FinishedJob(result))
    assert asyncio.run(answer) == outputs


def test_outputs_are_written_where_gradio_serves_and_deletes_its_own_files() -> None:
    """Inside Blocks.GRADIO_CACHE: served as they are, no copy, and cleaned by delete_cache."""
    demo = build_demo()
    assert encoding.OUTPUT_DIR.is_relative_to(Path(demo.GRADIO_CACHE).resolve())
    path = encoding.png_file(torch.zeros(3, 2, 2, dtype=torch.uint8), "x")
    assert demo.move_resource_to_block_cache(path) == str(Path(path).resolve())


def test_a_new_photo_on_the_instance_tab_picks_every_detection(monkeypatch) -> None:
    dets = coco_detections(300, 451)  # chelsea.png's size
    monkeypatch.setattr(instance_tab, "instance_detections", lambda *args: dets)
    status, _classes, picker, *_view, _hover, state = instance_tab.segment_instance(
        PHOTO, "v1", 512, 0.5, [], True, ["an old photo's cat 9 · 0.99"], 0.5
    )
    labels = [s.label for s in state["seg"].segments]
    assert len(labels) == 3 and picker["value"] == labels
    assert "3 segments" in status
    # unpicking everything afterwards stays unpicked: the default is for new photos only
    assert instance_tab.refilter(state, 0.5, [], True, [], 0.5)[2]["value"] == []


def test_the_panoptic_table_lists_the_best_scores_first() -> None:
    ids = torch.tensor([[1, 2, 3, 0]], dtype=torch.int32)
    segments = (
        Segment(1, 1, "sky", None, False),
        Segment(2, 2, "cat 1 · 0.60", 0.6, True),
        Segment(3, 2, "cat 2 · 0.95", 0.95, True),
    )
    seg = Segmentation(ids, segments, ("__background__", "sky", "cat"), "panoptic")
    rows = panoptic_tab.segment_rows(seg)
    assert [r[0] for r in rows] == ["cat 2 · 0.95", "cat 1 · 0.60", "sky"]
    assert rows[0][3:] == [1, "25.0%"]


@pytest.mark.parametrize(
    ("count", "text"), [(0, ": 0 segments"), (1, ": 1 segment ·"), (2, ": 2 segments")]
)
def test_the_status_line_counts_in_words(count: int, text: str) -> None:
    ids = (
        torch.arange(1, count + 1, dtype=torch.int32).reshape(1, -1)
        if count
        else torch.zeros(1, 1, dtype=torch.int32)
    )
    segments = tuple(Segment(k, 1, f"cat {k}", 0.9, True) for k in range(1, count + 1))
    seg = Segmentation(ids, segments, ("__background__", "cat"), "instance")
    assert text in view.status_line(seg)


def test_shown_files_are_named_after_the_photo_and_the_picked_class() -> None:
    seg = three_regions(30, 60)
    state = {"image": a_photo(30, 60), "seg": seg, "stem": "chelsea"}
    overlay, _legend, mask, on_black, cutout = picking.rerender(state, ["dog"], 0.5)
    assert Path(cutout).name == "chelsea-dog-cutout.png"
    assert Path(mask).name == "chelsea-dog-mask.png"
    assert Path(on_black).name == "chelsea-dog-cutout-on-black.png"
    assert Path(picking.rerender(state, ["dog", "sky"], 0.5)[4]).name == "chelsea-cutout.png"
    assert Path(overlay).name == "chelsea-dog-overlay.jpg"


@pytest.mark.parametrize(
    ("content", "kept"),
    [(b"not an image at all", False), (b"", False), (None, True)],
    ids=["text", "empty", "a real photo"],
)
def test_an_upload_is_checked_at_once_and_a_bad_one_gives_back_the_last_good(
    tmp_path, content, kept
) -> None:
    upload = PHOTO
    if content is not None:
        upload = str(tmp_path / "holiday.png")
        Path(upload).write_bytes(content)
    last_good = str(EXAMPLES / "astronaut.jpg")
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        answer = model_tab.checked_photo(upload, last_good)
    assert answer == ((upload, upload) if kept else (last_good, last_good))
    assert bool(warned) != kept
    if warned:
        assert "holiday.png" in str(warned[0].message)


def test_an_empty_result_says_why() -> None:
    seg = Segmentation.empty(2, 2, ("__background__", "cat"), "panoptic")
    seg = Segmentation(seg.ids, (), seg.categories, "panoptic", {"threshold": 0.8})
    assert ": 0 segments (none scored above 0.8)" in view.status_line(seg)


@pytest.mark.usefixtures("tiny_panoptic")
def test_the_panoptic_threshold_decides_which_segments_there_are() -> None:
    counts = {}
    for threshold in (0.3, 0.9, 1.0):
        status, *_, state = panoptic_tab.segment_panoptic(PHOTO, COCO_TINY, 384, threshold, [], 0.5)
        counts[threshold] = len(state["seg"])
    assert counts[0.3] > counts[0.9] > 0
    assert counts[1.0] == 0 and ": 0 segments (none scored above 1)" in status


def test_300_segments_make_a_three_line_legend_and_find_picks_one_class() -> None:
    ids = torch.arange(1, 301, dtype=torch.int32).repeat_interleave(4).reshape(30, 40)
    classes = ("__background__", "cat", "dog", "wine glass")
    segments = tuple(
        Segment(k, 1 + k % 3, f"{classes[1 + k % 3]} {k} · 0.9", 0.9, True) for k in range(1, 301)
    )
    seg = Segmentation(ids, segments, classes, "instance")
    state = {"image": a_photo(30, 40), "seg": seg, "stem": "p"}
    _overlay, legend_page, *_ = picking.rerender(state, [s.label for s in segments], 0.5)
    assert legend_page.count("segdemo-legend-item") == 3 and "wine glass × 100" in legend_page
    found = picking.labels_matching(state, " Wine GLASS ")
    assert len(found) == 100 and all(label.startswith("wine glass") for label in found)
    assert picking.labels_matching(state, "") == [s.label for s in segments]
    with pytest.raises(gr.Error, match="Run the model first"):
        picking.labels_matching(None, "cat")
