"""Mask R-CNN adapter: the fast paste, parity with torchvision's own output, the result contract.

No network here: models have random weights (SEGDEMO_WEIGHTS=random, or a checkpoint written
into a temporary model store and loaded through the pretrained path). The paste is checked on
crafted detections against torchvision's ``paste_masks_in_image``; the whole pipeline against
torchvision's own ``model([image])`` built the way torchvision builds it for the pretrained
weights, with the same state dict. Every comparison asserts that what it compares is non-empty.
"""

from __future__ import annotations

import dataclasses
import math
import time
from contextlib import contextmanager

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torchvision.models.detection.roi_heads import paste_masks_in_image

from segdemo import instance, weights
from segdemo.instance import Detections, to_segmentation
from segdemo.result import Segmentation
from segdemo.weights import WeightsUnavailable
from tests.helpers import DEVICES

CATEGORIES = instance.VARIANTS["v2"].categories
DOG, CAT, PERSON = (CATEGORIES.index(name) for name in ("dog", "cat", "person"))


pytestmark = pytest.mark.usefixtures("random_weights")


# --- helpers ---------------------------------------------------------------------------------


def photo(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A small photo-like uint8 [3,H,W] image: smooth gradients, two discs, some noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.linspace(0, 1, height).view(-1, 1)
    x = torch.linspace(0, 1, width).view(1, -1)
    disc = (((y - 0.5) ** 2 + (x - 0.3) ** 2) < 0.05).float()
    disc2 = (((y - 0.4) ** 2 + (x - 0.75) ** 2) < 0.03).float()
    channels = torch.stack(
        [180 * y + 60 * x + 50 * disc2, 200 * (1 - y) * x + 120 * disc, 90 + 150 * disc * y]
    )
    noise = 12 * torch.randn(3, height, width, generator=g)
    return (channels + noise).clamp(0, 255).to(torch.uint8)


def crafted(
    n: int, size: tuple[int, int], seed: int = 0, device: str = "cpu", *, ties: bool = False
) -> Detections:
    """Random detections like the model's: blobby 28×28 probabilities, boxes of every size.

    Boxes may cross the image border (the expanded paste box always does at the border) but
    always overlap the image; a few fixed ones cover the whole image, touch its corners,
    or are degenerate (zero width).
    """
    g = torch.Generator().manual_seed(seed)
    height, width = size
    scale = torch.tensor([width, height], dtype=torch.float32)
    corner = (torch.rand(n, 2, generator=g) * 1.25 - 0.25) * scale
    side = torch.rand(n, 2, generator=g) * 1.25 * scale + 0.25
    corner = torch.minimum(corner, scale - 1)
    far = torch.maximum(corner + side, torch.ones(2))
    boxes = torch.cat([corner, far], dim=1)
    fixed = torch.tensor(
        [
            [0, 0, width, height],
            [width - 3, height - 3, width, height],
            [-3, -2, 6, 5],
            [width / 2, 0, width / 2, height / 2],  # zero width
        ],
        dtype=torch.float32,
    )
    boxes[: min(n, len(fixed))] = fixed[: min(n, len(fixed))]
    coarse = torch.rand(n, 1, 7, 7, generator=g)
    probs = F.interpolate(coarse, size=(28, 28), mode="bilinear", align_corners=False)[:, 0]
    scores = torch.rand(n, generator=g) * 0.95 + 0.05
    if ties:
        scores = (scores * 4).round() / 4 + 0.01
    labels = torch.randint(1, len(CATEGORIES), (n,), generator=g)
    return Detections(
        boxes=boxes,
        scores=scores,
        labels=labels,
        mask_probs=probs,
        image_size=size,
        categories=CATEGORIES,
    ).to(device)


def reference_ids(
    boxes: torch.Tensor, scores: torch.Tensor, masks: torch.Tensor, threshold: float
) -> torch.Tensor:
    """torchvision-style reference: full N×H×W masks (> 0.5) of the detections scoring at least
    ``threshold``, ranked by descending score (stable); the highest score wins each pixel."""
    keep = (scores >= threshold).nonzero().flatten()
    order = keep[torch.sort(scores[keep], descending=True, stable=True).indices]
    ids = torch.zeros(masks.shape[-2:], dtype=torch.int32, device=masks.device)
    for rank in range(len(order) - 1, -1, -1):  # lowest first: the highest is written last
        ids[masks[order[rank]]] = rank + 1
    return ids


def torchvision_paste(dets: Detections) -> torch.Tensor:
    """torchvision's own paste: bool [N, H, W] = paste_masks_in_image(...) > 0.5."""
    pasted = paste_masks_in_image(dets.mask_probs[:, None], dets.boxes, dets.image_size)
    return pasted[:, 0] > 0.5


def assert_same_winners(ours: torch.Tensor, ref: torch.Tensor, count: int) -> int:
    """Per instance, IoU >= 0.99 on the pixels it wins; returns how many instances win pixels."""
    assert ours.shape == ref.shape and ours.dtype == ref.dtype == torch.int32
    winners = 0
    for k in range(1, count + 1):
        a, b = ours == k, ref == k
        union = int((a | b).sum())
        if union:
            winners += 1
            iou = int((a & b).sum()) / union
            assert iou >= 0.99, f"instance {k}: IoU {iou:.4f} with torchvision's paste"
    mismatch = int((ours != ref).sum()) / max(ours.numel(), 1)
    assert mismatch <= 1e-3, f"{mismatch:.2%} of the pixels differ from torchvision's"
    return winners


@contextmanager
def patched(model: torch.nn.Module, **changes):
    """Temporarily set attributes named like ``transform__min_size=...`` on a (cached) model."""
    saved = {}
    try:
        for dotted, value in changes.items():
            *path, name = dotted.split("__")
            owner = model
            for part in path:
                owner = getattr(owner, part)
            saved[dotted] = (owner, name, getattr(owner, name))
            setattr(owner, name, value)
        yield model
    finally:
        for owner, name, value in saved.values():
            setattr(owner, name, value)


def torchvision_model(key: str, device: str) -> torch.nn.Module:
    """torchvision's builder called with the pretrained Weights enum, exactly as a user would,
    the state dict coming from our random model instead of the download."""
    spec = instance.VARIANTS[key]
    state = instance.load_model(key, device).state_dict()
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(type(spec.weights), "get_state_dict", lambda self, *a, **k: state)
        model = spec.builder(weights=spec.weights).eval()
    finally:
        mp.undo()
    if torch.device(device).type == "cpu":  # the same memory format as ours (same numerics)
        model = model.to(memory_format=torch.channels_last)
    return model.to(device)


# --- the paste: parity with torchvision on crafted detections --------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    ("n", "size", "ties"), [(40, (48, 64), False), (25, (37, 23), True), (100, (90, 120), False)]
)
def test_paste_matches_torchvision_where_each_instance_wins(device, n, size, ties):
    dets = crafted(n, size, seed=n, device=device, ties=ties)
    threshold = 0.3
    seg = to_segmentation(dets, threshold=threshold)
    ref = reference_ids(dets.boxes, dets.scores, torchvision_paste(dets), threshold)
    assert int((ref > 0).sum()) > 0, "the reference must paint something"
    kept = int((dets.scores >= threshold).sum())
    assert len(seg) == kept > n // 2
    winners = assert_same_winners(seg.ids, ref, kept)
    assert winners >= min(kept, 8)  # many instances, not just one, win pixels
    assert torch.equal(seg.ids, ref)  # the same resampling: in fact equal pixel for pixel


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 30),
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    seed=st.integers(0, 2**16),
    threshold=st.sampled_from([0.0, 0.05, 0.5, 0.9]),
)
def test_paste_parity_property(n, height, width, seed, threshold):
    dets = crafted(n, (height, width), seed=seed)
    ref = reference_ids(dets.boxes, dets.scores, torchvision_paste(dets), threshold)
    # Only maps with something to compare: an instance painted (not empty) and more than one
    # value (not uniform). Few draws fail this (a 1x1 image, nothing above 0.9).
    assume(bool(ref.any()) and ref.unique().numel() > 1)
    seg = to_segmentation(dets, threshold=threshold)
    assert seg.ids.dtype == ref.dtype == torch.int32
    assert torch.equal(seg.ids, ref)


def test_paste_of_nothing_is_an_empty_map():
    ids = instance.paste_ids(torch.zeros(0, 28, 28), torch.zeros(0, 4), (5, 7))
    assert ids.shape == (5, 7) and ids.dtype == torch.int32 and not ids.any()
    with pytest.raises(ValueError, match=r"boxes \[N, 4\] and mask_probs \[N, M, M\]"):
        instance.paste_ids(torch.zeros(2, 28, 28), torch.zeros(3, 4), (5, 7))
    with pytest.raises(TypeError, match=r"tensors, got a list"):
        instance.paste_ids(torch.zeros(1, 28, 28), [[0, 0, 1, 1]], (5, 7))


# --- the result contract -------------------------------------------------------------------


def known(device: str = "cpu") -> Detections:
    """Five solid masks with known boxes, scores and classes on a 40×60 image."""
    boxes = torch.tensor(
        [
            [0, 0, 30, 30],  # dog 0.91
            [20, 10, 50, 35],  # dog 0.97 (overlaps the first and the cat)
            [40, 0, 60, 20],  # cat 0.80
            [5, 30, 15, 40],  # dog 0.60
            [0, 0, 60, 40],  # person 0.30: the whole image, below the default threshold
        ],
        dtype=torch.float32,
    )
    return Detections(
        boxes=boxes,
        scores=torch.tensor([0.91, 0.97, 0.80, 0.60, 0.30]),
        labels=torch.tensor([DOG, DOG, CAT, DOG, PERSON]),
        mask_probs=torch.ones(5, 28, 28),
        image_size=(40, 60),
        categories=CATEGORIES,
    ).to(device)


@pytest.mark.parametrize("device", DEVICES)
def test_one_labelled_segment_per_kept_detection_highest_score_first(device):
    dets = known(device)
    seg = to_segmentation(dets)
    assert isinstance(seg, Segmentation) and seg.task == "instance"
    assert seg.ids.dtype == torch.int32 and seg.size == (40, 60) and seg.device == dets.device
    assert seg.categories == CATEGORIES and len(seg.categories) == 91
    assert [s.label for s in seg.segments] == [
        "dog 1 · 0.97",
        "dog 2 · 0.91",
        "cat 1 · 0.80",
        "dog 3 · 0.60",
    ]
    assert [s.id for s in seg.segments] == [1, 2, 3, 4]
    assert [s.category_id for s in seg.segments] == [DOG, DOG, CAT, DOG]
    assert [s.score for s in seg.segments] == pytest.approx([0.97, 0.91, 0.80, 0.60])
    assert all(s.is_thing for s in seg.segments)
    assert [s.box for s in seg.segments] == [
        (20, 10, 50, 35),
        (0, 0, 30, 30),
        (40, 0, 60, 20),
        (5, 30, 15, 40),
    ]
    at = seg.ids.cpu()
    assert at[20, 25] == 1  # dog 0.97 over dog 0.91: the higher score wins
    assert at[15, 45] == 1  # dog 0.97 over cat 0.80
    assert at[5, 5] == 2 and at[5, 55] == 3 and at[36, 10] == 4
    assert at[38, 55] == 0  # the person is below 0.5: background stays unpainted
    assert seg.extras["threshold"] == 0.5


@pytest.mark.parametrize("device", DEVICES)
def test_threshold_re_renders_from_the_same_detections(device, monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("rendering must not run the model")

    monkeypatch.setattr("segdemo.instance.model.load_model", no_model)  # what detect calls
    dets = known(device)
    low = to_segmentation(dets, threshold=0.3)
    assert [s.label for s in low.segments][-1] == "person 1 · 0.30"
    assert low.ids.cpu()[38, 55] == 5
    assert len(to_segmentation(dets, threshold=0.95)) == 1
    assert len(to_segmentation(dets, threshold=0.97)) == 1  # score >= threshold is kept
    empty = to_segmentation(dets, threshold=1.0)
    assert len(empty) == 0 and empty.size == (40, 60) and not empty.ids.any()

    many = crafted(60, (30, 40), seed=3, device=device)
    previous = math.inf
    for threshold in (0.0, 0.05, 0.2, 0.5, 0.8, 0.99):
        seg = to_segmentation(many, threshold=threshold)
        assert len(seg) <= previous
        previous = len(seg)
        scores = [s.score for s in seg.segments]
        assert all(s >= threshold for s in scores) and scores == sorted(scores, reverse=True)
        assert int(seg.ids.max()) <= len(seg)
    assert previous < 60


@pytest.mark.parametrize("device", DEVICES)
def test_class_filter_by_name_or_index(device):
    dets = known(device)
    dogs = to_segmentation(dets, classes=["dog"])
    assert [s.label for s in dogs.segments] == ["dog 1 · 0.97", "dog 2 · 0.91", "dog 3 · 0.60"]
    assert dogs.ids.cpu()[5, 55] == 0  # the cat is filtered out: its pixels are unpainted
    assert dogs.ids.cpu()[15, 45] == 1
    assert [s.label for s in to_segmentation(dets, classes=[CAT]).segments] == ["cat 1 · 0.80"]
    assert len(to_segmentation(dets, classes={"DOG ", CAT})) == 4  # names ignore case/spaces
    assert len(to_segmentation(dets, classes="cat")) == 1  # one name on its own
    assert len(to_segmentation(dets, classes=["person"], threshold=0.2)) == 1
    nothing = to_segmentation(dets, classes=[])
    assert len(nothing) == 0 and not nothing.ids.any()
    # "N/A" names several unused COCO indices: the filter takes them all.
    na = [i for i, name in enumerate(CATEGORIES) if name == "N/A"]
    assert len(na) > 1
    assert instance._class_indices(["N/A"], CATEGORIES) == set(na)


@pytest.mark.parametrize("device", DEVICES)
def test_empty_detections_render_an_empty_map(device):
    dets = Detections.empty((5, 7), CATEGORIES, device=device)
    assert len(dets) == 0 and dets.image_size == (5, 7) and dets.device.type == device
    seg = to_segmentation(dets)
    assert seg.size == (5, 7) and len(seg) == 0 and not seg.ids.any()
    assert seg.ids.device.type == device


# --- Detections -------------------------------------------------------------------------------


def test_detections_index_like_supervision():
    dets = crafted(6, (20, 30), seed=1)
    assert len(dets) == 6
    high = dets[dets.scores > 0.5]
    assert len(high) == int((dets.scores > 0.5).sum())
    assert torch.equal(high.scores, dets.scores[dets.scores > 0.5])
    one = dets[2]
    assert len(one) == 1 and torch.equal(one.mask_probs[0], dets.mask_probs[2])
    assert torch.equal(dets[-1].boxes, dets.boxes[5:])
    assert torch.equal(dets[1:3].labels, dets.labels[1:3])
    assert torch.equal(dets[[4, 0]].scores, dets.scores[[4, 0]])
    assert torch.equal(dets[torch.tensor([3])].boxes, dets.boxes[3:4])
    assert len(dets[[True, False, True, False, False, False]]) == 2
    assert len(dets[[]]) == 0
    assert high.image_size == dets.image_size and high.categories == CATEGORIES
    with pytest.raises(dataclasses.FrozenInstanceError):
        dets.scores = dets.scores  # type: ignore[misc]


@pytest.mark.parametrize(
    ("index", "error", "match"),
    [
        (6, IndexError, "out of range"),
        (-7, IndexError, "out of range"),
        (torch.ones(5, dtype=torch.bool), IndexError, r"shape \[6\]"),
        (torch.ones(6), IndexError, "bool"),
        ("a", TypeError, "index Detections"),
        (True, TypeError, "index Detections"),
    ],
)
def test_detections_bad_index(index, error, match):
    with pytest.raises(error, match=match):
        crafted(6, (20, 30))[index]


def _fields(**changes):
    base = {
        "boxes": torch.zeros(2, 4),
        "scores": torch.zeros(2),
        "labels": torch.ones(2, dtype=torch.int64),
        "mask_probs": torch.zeros(2, 28, 28),
        "image_size": (10, 12),
        "categories": CATEGORIES,
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"boxes": [[0, 0, 1, 1]] * 2}, TypeError, "boxes must be a torch.Tensor"),
        ({"boxes": torch.zeros(2, 4, dtype=torch.float64)}, ValueError, "float32"),
        ({"boxes": torch.zeros(2, 5)}, ValueError, r"boxes must be float32 \[N, 4\]"),
        ({"scores": torch.zeros(3)}, ValueError, r"scores must be a float tensor \[2\]"),
        ({"labels": torch.ones(2, dtype=torch.int32)}, ValueError, "int64"),
        ({"labels": torch.tensor([1, 91])}, ValueError, "outside the 91 categories"),
        ({"labels": torch.tensor([-1, 1])}, ValueError, "outside"),
        ({"mask_probs": torch.zeros(2, 28, 14)}, ValueError, r"mask_probs .*\[2, M, M\]"),
        ({"mask_probs": torch.zeros(2, 28, 28, dtype=torch.uint8)}, ValueError, "float"),
        ({"image_size": (0, 12)}, ValueError, "image_size"),
        ({"image_size": (10,)}, ValueError, "image_size"),
        ({"image_size": (10.0, 12)}, TypeError, "image_size"),
        ({"image_size": (10, -1)}, ValueError, "image_size"),
        ({"categories": ()}, ValueError, "categories"),
    ],
)
def test_detections_are_validated(changes, error, match):
    with pytest.raises(error, match=match):
        Detections(**_fields(**changes))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_detections_on_two_devices_are_refused():
    with pytest.raises(ValueError, match="one device"):
        Detections(**_fields(scores=torch.zeros(2, device="cuda")))


# --- bad arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"image": [[0]]}, TypeError, "torch.Tensor"),
        ({"image": torch.zeros(3, 8, 8)}, ValueError, "uint8"),
        ({"image": torch.zeros(8, 8, dtype=torch.uint8)}, ValueError, r"\[3, H, W\]"),
        ({"image": torch.zeros(4, 8, 8, dtype=torch.uint8)}, ValueError, r"\[3, H, W\]"),
        ({"image": torch.zeros(3, 0, 8, dtype=torch.uint8)}, ValueError, "at least"),
        ({"variant": "v3"}, ValueError, "unknown Mask R-CNN variant 'v3'"),
        ({"variant": None}, ValueError, "unknown Mask R-CNN variant"),
        ({"working_size": 64}, ValueError, "working_size"),
        ({"working_size": 2000}, ValueError, "working_size"),
        ({"working_size": 512.0}, TypeError, "working_size"),
        ({"working_size": True}, TypeError, "working_size"),
        ({"working_size": "512"}, TypeError, "working_size"),
        ({"threshold": 1.5}, ValueError, r"threshold must be in \[0, 1\]"),
        ({"threshold": -0.1}, ValueError, "threshold"),
        ({"threshold": float("nan")}, ValueError, "threshold"),
        ({"threshold": "0.5"}, TypeError, "threshold"),
        ({"threshold": None}, TypeError, "threshold"),
        ({"classes": ["dgo"]}, ValueError, "unknown class 'dgo'"),
        ({"classes": [91]}, ValueError, "class index 91"),
        ({"classes": [-1]}, ValueError, "class index -1"),
        ({"classes": [1.5]}, TypeError, "names or int indices"),
        ({"classes": [True]}, TypeError, "names or int indices"),
        ({"classes": 2.0}, TypeError, "collection"),
    ],
)
def test_bad_arguments_fail_before_the_model_runs(kwargs, error, match, monkeypatch):
    def no_model(*args, **kw):
        raise AssertionError("bad arguments must be refused before the model is loaded")

    monkeypatch.setattr("segdemo.instance.model.load_model", no_model)  # what detect calls
    call = {"image": torch.zeros(3, 8, 8, dtype=torch.uint8), **kwargs}
    with pytest.raises(error, match=match):
        instance.segment(**call)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dets": "boxes"}, TypeError, "dets must be Detections"),
        ({"threshold": True}, TypeError, "threshold"),
        ({"threshold": 2}, ValueError, "threshold"),
        ({"classes": ["dgo"]}, ValueError, "unknown class"),
        ({"classes": object()}, TypeError, "collection"),
    ],
)
def test_to_segmentation_bad_arguments(kwargs, error, match):
    call = {"dets": known(), **kwargs}
    dets = call.pop("dets")
    with pytest.raises(error, match=match):
        to_segmentation(dets, **call)


# --- variants and weights ---------------------------------------------------------------------


def test_variants_read_names_and_figures_from_the_weights():
    assert list(instance.VARIANTS) == ["v2", "v1"] and instance.DEFAULT_VARIANT == "v2"
    for spec in instance.VARIANTS.values():
        meta = spec.weights.meta
        assert spec.categories == tuple(meta["categories"]) and len(spec.categories) == 91
        figures = meta["_metrics"]["COCO-val2017"]
        assert f"box AP {figures['box_map']:g}" in spec.description
        assert f"mask AP {figures['mask_map']:g}" in spec.description
    v1, v2 = instance.VARIANTS["v1"], instance.VARIANTS["v2"]
    ratio = v2.weights.meta["_ops"] / v1.weights.meta["_ops"]
    assert f"about {ratio:.1f}× cheaper than v2" in v1.description
    assert "cheaper" not in v2.description
    assert instance.get_variant("v1") is v1


@pytest.mark.parametrize("key", ["v2", "v1"])
def test_built_like_torchvision_builds_the_pretrained_model(key):
    ours = instance.load_model(key, "cpu")
    theirs = torchvision_model(key, "cpu")
    # Same modules (v1: FrozenBatchNorm2d with eps 0.0 in the ResNet body), same state keys,
    # so the real checkpoint loads with strict=True; the working size default is the model's.
    assert str(ours) == str(theirs)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    assert tuple(ours.transform.min_size) == (instance.DEFAULT_WORKING_SIZE,)
    assert ours.roi_heads.score_thresh == instance.SCORE_FLOOR
    assert instance.load_model(key, "cpu") is ours  # cached
    assert instance.is_loaded(key, "cpu")


@pytest.mark.parametrize("key", ["v2", "v1"])
def test_a_checkpoint_in_the_store_loads_through_the_pretrained_path(key, monkeypatch):
    random_model = instance.load_model(key, "cpu")
    path = weights.checkpoint_path(instance.VARIANTS[key].weights.url)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(random_model.state_dict(), path)
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "pretrained")
    assert not instance.is_loaded(key, "cpu")
    loaded = instance.load_model(key, "cpu")
    try:
        assert loaded is not random_model
        ours, theirs = loaded.state_dict(), random_model.state_dict()
        assert ours.keys() == theirs.keys()
        assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    finally:
        instance.unload()  # free the pretrained-mode copy (~180 MB)


def test_missing_pretrained_weights_offline_fail_fast_with_the_fix(monkeypatch):
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "pretrained")
    calls: list[str] = []
    start = time.monotonic()
    with pytest.raises(WeightsUnavailable) as caught:
        instance.detect(photo(16, 16), "v2", device="cpu", progress=lambda f, m: calls.append(m))
    assert time.monotonic() - start < 10
    message = str(caught.value)
    assert "python -m segdemo fetch" in message and "Mask R-CNN v2" in message
    assert calls and calls[0].startswith("Loading")
    assert not instance.is_loaded("v2", "cpu")


def test_random_weights_are_seeded_and_leave_the_callers_rng_alone():
    instance.unload()
    torch.manual_seed(123)
    first = {k: v.clone() for k, v in instance.load_model("v1", "cpu").state_dict().items()}
    drawn = torch.rand(3)
    instance.unload()
    torch.manual_seed(123)
    second = instance.load_model("v1", "cpu").state_dict()
    assert torch.equal(torch.rand(3), drawn)
    assert all(torch.equal(first[k], second[k]) for k in first)


# --- the whole model: parity with torchvision's own forward -----------------------------------


def compare_with_torchvision(
    dets: Detections, out: dict[str, torch.Tensor], threshold: float
) -> None:
    assert len(dets) == len(out["scores"]) > 0
    torch.testing.assert_close(dets.boxes, out["boxes"])
    torch.testing.assert_close(dets.scores, out["scores"])
    assert torch.equal(dets.labels, out["labels"])
    seg = to_segmentation(dets, threshold=threshold)
    ref = reference_ids(out["boxes"], out["scores"], out["masks"][:, 0] > 0.5, threshold)
    assert int((ref > 0).sum()) > 0
    assert len(seg) == int((out["scores"] >= threshold).sum()) > 0
    assert assert_same_winners(seg.ids, ref, len(seg)) > 0


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("key", ["v2", "v1"])
def test_detect_matches_torchvisions_forward(key, device):
    image = photo(96, 128, seed=5)
    theirs = torchvision_model(key, device)
    ours = instance.load_model(key, device)
    # A native-size transform keeps the test small; a floor of 0 keeps every detection, so
    # the comparison holds however low random weights score (it holds 100 boxes here).
    small = {
        "transform__min_size": (96,),
        "transform__max_size": 128,
        "roi_heads__score_thresh": 0.0,
    }
    with patched(ours, **small), patched(theirs, **small), torch.inference_mode():
        dets = instance.detect(image.to(device), key, device=device)
        out = theirs([image.to(device).float() / 255])[0]
    assert dets.device.type == device and dets.image_size == (96, 128)
    assert dets.mask_probs.shape[1:] == (28, 28)
    assert dets.extras["variant"] == key and dets.extras["weights"] == "random"
    threshold = float(dets.scores.median())  # keeps about half of them
    compare_with_torchvision(dets, out, threshold)


@pytest.mark.parametrize("device", DEVICES)
def test_working_size_matches_torchvision_at_that_size(device):
    image = photo(72, 96, seed=7)
    theirs = torchvision_model("v1", device)
    ours = instance.load_model("v1", device)
    size, cap = 160, round(160 * 1333 / 800)
    with (
        patched(ours, roi_heads__score_thresh=0.0),
        patched(
            theirs,
            roi_heads__score_thresh=0.0,
            transform__min_size=(size,),
            transform__max_size=cap,
        ),
    ):
        dets = instance.detect(image.to(device), "v1", working_size=size, device=device)
        with torch.inference_mode():
            out = theirs([image.to(device).float() / 255])[0]
        seg = instance.segment(
            image.to(device), "v1", working_size=size, device=device, threshold=0.0
        )
    assert ours.transform.min_size == (800,)  # the cached model was not touched
    assert dets.extras["working_size"] == size
    compare_with_torchvision(dets, out, 0.0)
    assert torch.equal(seg.ids, to_segmentation(dets, threshold=0.0).ids)


def test_progress_reports_loading_running_and_done():
    instance.unload()
    calls: list[tuple[float, str]] = []
    instance.detect(
        photo(32, 48),
        "v1",
        working_size=128,
        device="cpu",
        progress=lambda f, m: calls.append((f, m)),
    )
    assert [f for f, _ in calls] == [0.0, 0.2, 1.0]
    assert calls[0][1].startswith("Loading Mask R-CNN v1")
    assert "detections" in calls[-1][1]
    calls.clear()
    instance.detect(
        photo(32, 48),
        "v1",
        working_size=128,
        device="cpu",
        progress=lambda f, m: calls.append((f, m)),
    )
    assert [f for f, _ in calls] == [0.2, 1.0]  # loaded already: no loading message
