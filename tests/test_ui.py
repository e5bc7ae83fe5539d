"""The tabs' functions as Gradio calls them, without a server: errors a user can act on."""

import gradio as gr
import pytest
import torch

from segdemo.ui import (
    build_demo,
    common,
    groundtruth_tab,
    instance_tab,
    panoptic_tab,
    semantic_tab,
)
from tests.e2e.conftest import EXAMPLES

PHOTO = str(EXAMPLES / "chelsea.png")
TRIMAP = str(EXAMPLES / "chelsea_trimap.png")


@pytest.fixture
def offline_pretrained(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "pretrained")
    monkeypatch.setenv("SEGDEMO_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))


@pytest.mark.parametrize(
    ("call", "fix"),
    [
        (lambda: semantic_tab.run(PHOTO, "mobilenet_v3_large", [], 0.5), "python -m segdemo fetch"),
        (lambda: instance_tab.run(PHOTO, "v1", 512, 0.5, [], True, [], 0.5),
         "python -m segdemo fetch"),
    ],
)
def test_missing_weights_are_one_clear_sentence_not_a_traceback(offline_pretrained, call, fix):
    wrapped = common.user_errors(call)
    with pytest.raises(gr.Error) as caught:
        wrapped()
    message = caught.value.message
    assert fix in message and "SEGDEMO_WEIGHTS=random" in message
    assert "Traceback" not in message and "\n" not in message
    # the ground-truth tab needs no weights and keeps working
    assert groundtruth_tab.run(PHOTO, TRIMAP, 1, 0.5)[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((None, TRIMAP, 1, 0.5), "Please add a photo"),
        ((PHOTO, None, 1, 0.5), "Please add an annotation"),
        ((TRIMAP + ".missing", TRIMAP, 1, 0.5), "missing"),
    ],
)
def test_groundtruth_bad_inputs_are_messages(args, message):
    with pytest.raises(gr.Error, match=message):
        common.user_errors(groundtruth_tab.run)(*args)


def test_an_absent_object_value_falls_back_to_the_pet_and_says_so():
    status, *_ = groundtruth_tab.run(PHOTO, {"path": TRIMAP}, 9, 0.5)
    assert status.startswith("Value 9 does not occur in this annotation; showing 1.")


def test_an_unexpected_failure_is_a_generic_message(monkeypatch):
    def broken(*_):
        raise RuntimeError("internal detail /secret/path")

    with pytest.raises(gr.Error) as caught:
        common.user_errors(broken)()
    assert "secret" not in caught.value.message and "log" in caught.value.message


def test_user_text_in_messages_is_escaped():
    def hostile(*_):
        raise common.InputError("<img src=x onerror=alert(1)>.png is not an image")

    with pytest.raises(gr.Error) as caught:
        common.user_errors(hostile)()
    assert "<img" not in caught.value.message and "&lt;img" in caught.value.message


def test_the_demo_exposes_the_four_api_endpoints():
    demo = build_demo()
    names = {fn.api_name for fn in demo.fns.values()}
    assert {"groundtruth", "semantic", "instance", "panoptic"} <= names


def test_rerender_without_a_result_says_what_to_do():
    with pytest.raises(gr.Error, match="Run the model first"):
        common.rerender(None, [], 0.5)


COCO_TINY = "facebook/mask2former-swin-tiny-coco-panoptic"


@pytest.mark.parametrize(
    ("run", "args", "message"),
    [
        (instance_tab.run, (PHOTO, "v9", 800, 0.5, [], True, [], 0.5), "Mask R-CNN variant"),
        (instance_tab.run, (PHOTO, "v1", 123, 0.5, [], True, [], 0.5), "working size"),
        (instance_tab.run, (PHOTO, "v1", 512, 2, [], True, [], 0.5), "score threshold"),
        (instance_tab.run, (PHOTO, "v1", 512, 0.5, [], True, [], "x"), "Overlay opacity"),
        (semantic_tab.run, (PHOTO, "resnet9", [], 0.5), "DeepLabV3 variant"),
        (semantic_tab.run, (PHOTO, "resnet50", "cat", 0.5), "list of names"),
        (panoptic_tab.run, (PHOTO, "nope", 384, [], 0.5), "Mask2Former checkpoint"),
        (panoptic_tab.run, (PHOTO, COCO_TINY, 500, [], 0.5), "working size"),
        (groundtruth_tab.run, (PHOTO, TRIMAP, 1.5, 0.5), "whole number"),
        (groundtruth_tab.run, (PHOTO, TRIMAP, 1, float("nan")), "Overlay opacity"),
    ],
)
def test_bad_option_values_are_named_before_any_model_runs(run, args, message):
    with pytest.raises(gr.Error, match=message):
        common.user_errors(run)(*args)


def click(x: int, y: int) -> gr.SelectData:
    return gr.SelectData(None, {"index": [x, y], "value": None, "selected": True})


def test_clicking_the_overlay_picks_the_value_or_segment_under_the_cursor():
    *_, state = groundtruth_tab.run(PHOTO, TRIMAP, 1, 0.5)
    import numpy as np
    from PIL import Image

    trimap = np.array(Image.open(TRIMAP))
    y, x = (int(v[0]) for v in np.nonzero(trimap == 3))
    value, *view = groundtruth_tab.pick_by_click(state, 0.5, click(x, y))
    assert value == 3 and len(view) == 5
    # model tabs toggle the label under the cursor in the picker
    names, *_ = common.pick_by_click(state, ["border"], 0.5, click(x, y))
    assert names == []
    names, *_ = common.pick_by_click(state, [], 0.5, click(x, y))
    assert names == ["border"]
    assert common.pick_by_click(state, ["pet"], 0.5, click(10_000, 5))[0] == ["pet"]
    with pytest.raises(gr.Error, match="Run the model first"):
        common.pick_by_click(None, [], 0.5, click(0, 0))


def test_hover_map_names_each_box_smallest_on_top_and_escapes_labels():
    import base64
    import io

    import torch
    from PIL import Image

    from segdemo.result import Segment, Segmentation

    ids = torch.zeros(20, 30, dtype=torch.int32)
    ids[2:8, 3:9] = 1
    ids[10:18, 5:25] = 2
    segments = (
        Segment(1, 1, "<dog> 1 · 0.97", 0.97, True, (3.0, 2.0, 9.0, 8.0)),
        Segment(2, 1, "dog 2 · 0.91", 0.91, True, (5.0, 10.0, 25.0, 18.0)),
    )
    seg = Segmentation(ids, segments, ("__background__", "dog"), "instance")
    page = common.hover_map_html(torch.zeros(3, 20, 30, dtype=torch.uint8), seg)
    assert page.count("<title>") == 2 and "&lt;dog&gt; 1 · 0.97" in page and "<dog>" not in page
    assert page.index("dog 2 · 0.91") < page.index("&lt;dog&gt; 1")  # larger box drawn first
    assert 'viewBox="0 0 30 20"' in page
    data = page.split('src="data:image/jpeg;base64,')[1].split('"')[0]
    assert Image.open(io.BytesIO(base64.b64decode(data))).size == (30, 20)


def test_alpha_picks_and_clicks_re_render_without_running_the_model(monkeypatch):
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "random")
    _, _, *view, state = semantic_tab.run(PHOTO, "mobilenet_v3_large", [], 0.5)
    assert len(view) == 5

    def no_model(*_args, **_kwargs):
        raise AssertionError("the model ran again")

    monkeypatch.setattr(semantic_tab.semantic, "segment", no_model)
    label = state["seg"].segments[0].label
    overlay, *_ = common.rerender(state, [label], 0.9)
    assert overlay.shape == (300, 451, 3)
    names, *_ = common.pick_by_click(state, [], 0.2, click(5, 5))
    assert names == [state["seg"].segment(int(state["seg"].ids[5, 5])).label]
    # the same photo and options again come from the result cache, not the model
    again = semantic_tab.run(PHOTO, "mobilenet_v3_large", [label], 0.3)[-1]["seg"]
    assert again.segments == state["seg"].segments and torch.equal(again.ids, state["seg"].ids)
