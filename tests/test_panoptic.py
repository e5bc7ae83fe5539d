"""Panoptic segmentation: post-processing against transformers on crafted outputs, the adapter.

The post-processing is tested on crafted model outputs with known answers and on the real
outputs of random-weight models on the shipped photos (random Mask2Former weights are made
decisive, :mod:`segdemo.panoptic.untrained`, so photos get segments); every comparison of id
maps first asserts that they are neither empty nor uniform.
"""

from __future__ import annotations

import json
import math
import time
import types
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest
import torch
from torchvision.datasets import Cityscapes
from torchvision.models.detection import MaskRCNN_ResNet50_FPN_Weights
from transformers import Mask2FormerForUniversalSegmentation, Mask2FormerImageProcessor

from segdemo import panoptic
from segdemo.images import load_image
from segdemo.panoptic import CHECKPOINTS, DEFAULT_CHECKPOINT, postprocess, segment
from segdemo.panoptic.datasets import (
    ADE20K_PANOPTIC,
    CITYSCAPES_PANOPTIC,
    COCO_PANOPTIC,
    DATASETS,
)
from segdemo.panoptic.postprocess import _CANDIDATES, _axis, _stage_grid, _winners_in
from segdemo.result import Segmentation
from segdemo.weights import WeightsUnavailable
from tests.e2e.conftest import EXAMPLES
from tests.helpers import DEVICES, assert_varied

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
NAMES = tuple(c.name for c in COCO_PANOPTIC)
THING = tuple(c.is_thing for c in COCO_PANOPTIC)
STUFF = {i for i, thing in enumerate(THING) if not thing}
C = len(NAMES)
PERSON, CAR, CAT, DOG = (NAMES.index(n) for n in ("person", "car", "cat", "dog"))
SKY, ROAD, GRASS = (NAMES.index(n) for n in ("sky-other-merged", "road", "grass-merged"))
EXTRAS = {
    "timings_ms",
    "model",
    "checkpoint",
    "weights",
    "threshold",
    "working_size",
    "model_input",
    "precision",
    "device",
}


def class_row(category: int, score: float) -> torch.Tensor:
    """Class logits whose softmax gives ``category`` probability ``score`` (others share 1-s)."""
    row = torch.zeros(C + 1)
    row[category] = math.log(score * C / (1 - score))
    return row


def no_object() -> torch.Tensor:
    row = torch.zeros(C + 1)
    row[C] = 10.0
    return row


def box(h: int, w: int, y0: float, y1: float, x0: float, x1: float, inside: float) -> torch.Tensor:
    y = (torch.arange(h) + 0.5)[:, None] / h
    x = (torch.arange(w) + 0.5)[None, :] / w
    hit = (y >= y0) & (y < y1) & (x >= x0) & (x < x1)
    return torch.where(hit, inside, -8.0)


def crafted(h: int = 24, w: int = 32, queries: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """A street with known answers, as Mask2Former outputs ([Q, C+1], [Q, h, w]).

    q0, q1: two persons; q2: a car; q3-q5: sky in three pieces (must fuse); q6: road;
    q7: a dog with score 0.3 (dropped by the threshold); q8: a cat around the car that wins only
    the ring outside it, under 80% of its own mask (dropped by the overlap rule: its ring stays
    0); q9: grass; the rest: no object.
    """
    rows = [
        (PERSON, 0.97, (0.45, 0.85, 0.10, 0.25), 8.0),
        (PERSON, 0.95, (0.45, 0.85, 0.30, 0.45), 8.0),
        (CAR, 0.97, (0.55, 0.90, 0.55, 0.85), 8.0),
        (SKY, 0.90, (0.0, 0.4, 0.0, 0.35), 3.0),
        (SKY, 0.91, (0.0, 0.4, 0.35, 0.7), 3.0),
        (SKY, 0.92, (0.0, 0.4, 0.7, 1.01), 3.0),
        (ROAD, 0.90, (0.75, 1.01, 0.0, 1.01), 3.0),
        (DOG, 0.30, (0.1, 0.3, 0.4, 0.6), 8.0),
        (CAT, 0.92, (0.5, 0.95, 0.5, 0.9), 8.0),
        (GRASS, 0.90, (0.4, 0.75, 0.0, 1.01), 3.0),
    ]
    cls = torch.stack([no_object() for _ in range(queries)])
    masks = torch.full((queries, h, w), -8.0)
    things = torch.zeros(h, w, dtype=torch.bool)
    for q, (category, score, where, inside) in enumerate(rows):
        cls[q] = class_row(category, score)
        masks[q] = box(h, w, *where, inside)
        if THING[category] and score > 0.5:
            things |= masks[q] > 0
    for q, (category, *_) in enumerate(rows):
        if not THING[category]:  # like the real model, stuff masks leave the things out
            masks[q][things] = -8.0
    return cls, masks


def blobs(seed: int, h: int = 24, w: int = 44, queries: int = 60, things: int = 14):
    """Random scenes: stuff bands split over queries, overlapping things, noise, low scores."""
    g = torch.Generator().manual_seed(seed)
    y = torch.linspace(0, 1, h)[:, None]
    x = torch.linspace(0, 1, w)[None, :]
    cls = torch.stack([no_object() for _ in range(queries)])
    masks = torch.randn(queries, h, w, generator=g) * 2 - 6
    shapes = []
    for _ in range(things):
        cy, cx = torch.rand(2, generator=g).tolist()
        ry, rx = (0.05 + 0.2 * torch.rand(2, generator=g)).tolist()
        shapes.append(1 - ((x - cx) / rx) ** 2 - ((y - cy) / ry) ** 2)
    covered = torch.stack(shapes).amax(0).clamp(min=0)
    bands = [
        (SKY, 0, 0.4, 0, 0.5),
        (SKY, 0, 0.4, 0.45, 1.1),
        (ROAD, 0.7, 1.1, 0, 1.1),
        (GRASS, 0.35, 0.75, 0, 0.6),
        (NAMES.index("wall-other-merged"), 0.35, 0.75, 0.55, 1.1),
    ]
    q = 0
    for category, y0, y1, x0, x1 in bands:
        edge = torch.minimum(torch.minimum(y - y0, y1 - y), torch.minimum(x - x0, x1 - x))
        masks[q] = (60 * edge - 30 * covered).clamp(-20, 20)
        masks[q] += 0.3 * torch.randn(h, w, generator=g)
        cls[q] = class_row(category, 0.85 + 0.1 * torch.rand(1, generator=g).item())
        q += 1
    for t, shape in enumerate(shapes):
        masks[q] = 8 * shape.clamp(min=-3) + 0.3 * torch.randn(h, w, generator=g)
        score = 0.3 + 0.69 * torch.rand(1, generator=g).item()
        cls[q] = class_row((PERSON, CAR, CAT, DOG)[t % 4], score)
        q += 1
    return cls, masks


def ours(cls, masks, size, device="cpu", **kw) -> Segmentation:
    return postprocess(
        cls.to(device),
        masks.to(device),
        target_size=size,
        label_ids_to_fuse=STUFF,
        categories=NAMES,
        is_thing=THING,
        **kw,
    )


def theirs(cls, masks, size, **kw) -> tuple[torch.Tensor, list[dict]]:
    outputs = types.SimpleNamespace(
        class_queries_logits=cls[None], masks_queries_logits=masks[None]
    )
    result = Mask2FormerImageProcessor().post_process_panoptic_segmentation(
        outputs, label_ids_to_fuse=set(STUFF), target_sizes=[size], **kw
    )[0]
    return result["segmentation"].to(torch.int32), result["segments_info"]


def assert_agrees(result: Segmentation, reference: tuple[torch.Tensor, list[dict]]) -> None:
    """Same segments (id → class) as transformers, each agreeing on ≥ 99% of its pixels."""
    ref_ids, ref_info = reference
    assert len(result) > 0 and ref_info, "compare non-empty results"
    assert_varied(result.ids)
    assert_varied(ref_ids)
    assert {s.id: s.category_id for s in result.segments} == {
        s["id"]: s["label_id"] for s in ref_info
    }
    ids = result.ids.cpu()
    for s in result.segments:
        a, b = ids == s.id, ref_ids == s.id
        iou = (a & b).sum().item() / max((a | b).sum().item(), 1)
        assert iou >= 0.99, f"segment {s.id} ({s.label}) agrees on only {iou:.4f}"
    assert (ids == ref_ids).float().mean().item() >= 0.999


# --- post-processing on crafted outputs -------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", [(120, 160), (97, 203), (50, 70), (384, 384)])
def test_crafted_street_matches_transformers(size, device):
    cls, masks = crafted()
    result = ours(cls, masks, size, device)
    assert_agrees(result, theirs(cls, masks, size))
    assert result.size == size and result.device.type == device


def test_crafted_street_known_answers():
    cls, masks = crafted()
    height, width = 120, 160
    result = ours(cls, masks, (height, width))
    assert [s.label for s in result.segments] == [
        "person 1 · 0.97",
        "person 2 · 0.95",
        "car 1 · 0.97",
        "sky-other-merged · 0.92",
        "road · 0.90",
        "grass-merged · 0.90",
    ]
    assert [s.id for s in result.segments] == [1, 2, 3, 4, 5, 6]
    assert [s.is_thing for s in result.segments] == [True, True, True, False, False, False]
    assert result.segments[0].score == pytest.approx(0.97, abs=1e-5)
    assert result.segments[3].score == pytest.approx(0.92, abs=1e-5)  # the best sky piece
    assert result.categories == NAMES and result.task == "panoptic"

    def at(y: float, x: float) -> int:
        return int(result.ids[int(y * height), int(x * width)])

    assert at(0.65, 0.17) == 1 and at(0.65, 0.37) == 2 and at(0.7, 0.7) == 3
    assert at(0.2, 0.1) == at(0.2, 0.5) == at(0.2, 0.9) == 4  # the three sky pieces, fused
    assert at(0.9, 0.2) == 5 and at(0.5, 0.05) == 6
    assert at(0.92, 0.7) == 0  # the cat's ring: won by a rejected query, so no segment
    assert at(0.2, 0.5) == 4  # the low-score dog never competes
    present = {s.category_id for s in result.segments}
    assert CAT not in present and DOG not in present
    assert any(s.is_thing for s in result.segments) and not all(s.is_thing for s in result.segments)
    areas = result.areas()
    assert all(area > 0 for area in areas.values())
    assert sum(areas.values()) + int((result.ids == 0).sum()) == height * width


def test_without_fusion_sky_comes_out_in_pieces():
    cls, masks = crafted()
    result = postprocess(cls, masks, target_size=(60, 80), categories=NAMES, is_thing=THING)
    skies = [s for s in result.segments if s.category_id == SKY]
    assert len(skies) == 3


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("size", [(90, 160), (33, 47), (500, 301)])
def test_random_scenes_match_transformers(seed, size):
    cls, masks = blobs(seed)
    result = ours(cls, masks, size)
    assert_agrees(result, theirs(cls, masks, size))
    assert sum(s.is_thing for s in result.segments) >= 2


@pytest.mark.parametrize(
    "kw",
    [
        {"threshold": 0.8},
        {"threshold": 0.2, "mask_threshold": 0.3},
        {"overlap_threshold": 0.5},
        {"mask_threshold": 0.9},  # queries scoring ≤ 0.9 can have no mask at all
    ],
)
def test_thresholds_match_transformers(kw):
    cls, masks = blobs(7)
    ref_kw = {
        "overlap_mask_area_threshold" if k == "overlap_threshold" else k: v for k, v in kw.items()
    }
    assert_agrees(ours(cls, masks, (64, 96), **kw), theirs(cls, masks, (64, 96), **ref_kw))


def test_stage_size_none_keeps_the_answers():
    cls, masks = crafted()
    result = ours(cls, masks, (120, 160), stage_size=None)
    assert [s.label.split(" · ")[0] for s in result.segments][:3] == [
        "person 1",
        "person 2",
        "car 1",
    ]
    assert len(result) == 6


def test_masks_already_at_the_stage_size():
    cls, masks = crafted(384, 384)
    result = ours(cls, masks, (100, 120))
    assert_agrees(result, theirs(cls, masks, (100, 120)))
    assert torch.equal(ours(cls, masks, (100, 120), stage_size=None).ids, result.ids)


def test_nothing_kept_is_empty():
    cls = torch.stack([no_object() for _ in range(5)])
    result = ours(cls, torch.zeros(5, 8, 8), (30, 40))
    assert len(result) == 0 and result.size == (30, 40) and int(result.ids.abs().sum()) == 0
    cls, masks = crafted()
    assert len(ours(cls, masks, (30, 40), threshold=0.99)) == 0


def test_boundary_winners_equal_a_full_bilinear_argmax():
    # near-equal queries: many pass the candidate bound, so the all-queries path runs too
    g = torch.Generator().manual_seed(3)
    k, size = 12, (77, 91)
    masks = torch.randn(k, 9, 11, generator=g) * 0.05
    masks[:3] += torch.randn(3, 9, 11, generator=g) * 4
    scores = 0.9 + 0.01 * torch.rand(k, generator=g)
    grid = _stage_grid(masks, scores, (20, 24))
    ay, ax = _axis(20, size[0], grid.device), _axis(24, size[1], grid.device)
    ci, cj = torch.meshgrid(torch.arange(20), torch.arange(24), indexing="ij")
    ci, cj = ci.flatten(), cj.flatten()
    corners = torch.stack([grid[ci, cj], grid[ci, cj + 1], grid[ci + 1, cj], grid[ci + 1, cj + 1]])
    passing = (corners.amax(0) >= corners.amin(0).amax(-1, keepdim=True)).sum(-1)
    assert int((passing > _CANDIDATES).sum()) > 0  # the fallback is exercised
    assert int((passing <= _CANDIDATES).sum()) > 0  # and so are the candidates
    fine = _winners_in(grid, ci, cj, ay, ax)
    # reference: the full-size bilinear resize, argmax over all queries
    full = torch.nn.functional.interpolate(
        grid[:20, :24].permute(2, 0, 1)[None], size=size, mode="bilinear", align_corners=False
    )[0].argmax(0)
    assert_varied(full + 1)  # query 0 wins too: + 1 so that "empty" means "no winner at all"
    assert full.unique().numel() >= 4  # several queries win somewhere
    used = ay.used[ci][:, :, None] & ax.used[cj][:, None, :]
    rows = ay.table[ci][:, :, None].expand_as(fine)[used]
    cols = ax.table[cj][:, None, :].expand_as(fine)[used]
    assert rows.numel() == size[0] * size[1]
    assert (fine[used] == full[rows, cols]).float().mean().item() > 0.9999


def _bad(**change: object) -> dict[str, object]:
    cls, masks = crafted()
    kw = {
        "class_logits": cls,
        "mask_logits": masks,
        "target_size": (10, 10),
        "categories": NAMES,
        "is_thing": THING,
    }
    kw.update(change)
    return kw


@pytest.mark.parametrize(
    "kw, error, match",
    [
        (_bad(class_logits=torch.zeros(16)), ValueError, "class_logits must be"),
        (_bad(class_logits=[[0.0] * 134] * 16), TypeError, "class_logits must be a tensor"),
        (_bad(mask_logits=torch.zeros(16, 4)), ValueError, "mask_logits must be"),
        (_bad(mask_logits=None), TypeError, "mask_logits must be a tensor"),
        (_bad(mask_logits=torch.zeros(15, 4, 4)), ValueError, "16 queries but mask_logits has 15"),
        (_bad(class_logits=torch.zeros(16, 5)), ValueError, "5 classes"),
        (_bad(is_thing=THING[:-1]), ValueError, "is_thing has 132 flags"),
        (_bad(target_size=(0, 10)), ValueError, "target_size"),
        (_bad(target_size=(10,)), ValueError, "target_size"),
        (_bad(target_size=(10.0, 10)), TypeError, "target_size"),
        (_bad(threshold=1.5), ValueError, "threshold must be in"),
        (_bad(mask_threshold=-0.1), ValueError, "mask_threshold must be in"),
        (_bad(threshold="0.5"), TypeError, "threshold must be a number"),
        (_bad(overlap_threshold=None), TypeError, "overlap_threshold must be a number"),
        (_bad(label_ids_to_fuse={133}), ValueError, "label_ids_to_fuse holds \\[133\\]"),
    ],
)
def test_postprocess_rejects_bad_inputs(kw, error, match):
    with pytest.raises(error, match=match):
        postprocess(**kw)


# --- checkpoints and shipped labels -----------------------------------------------------------


def test_checkpoint_table_is_consistent():
    assert next(iter(CHECKPOINTS)) == DEFAULT_CHECKPOINT  # the default is offered first
    assert {c.dataset for c in CHECKPOINTS.values()} == set(DATASETS)
    for key, c in CHECKPOINTS.items():
        assert c.repo_id == key and c.dataset in DATASETS
        # the descriptions are partly written by hand: they must quote the table's figures
        assert f"PQ {c.pq}" in c.description and f"{c.params_m} M parameters" in c.description
        assert str(c.eval_size) in panoptic.DESCRIPTION
        config = panoptic.random_config(key)
        assert config.num_labels == len(DATASETS[c.dataset])
        assert [config.id2label[i] for i in range(config.num_labels)] == [
            d.name for d in DATASETS[c.dataset]
        ]
    assert all(str(size) in panoptic.DESCRIPTION for size in panoptic.WORKING_SIZES)
    assert panoptic.DEFAULT_WORKING_SIZE in panoptic.WORKING_SIZES


@pytest.mark.parametrize("key", list(CHECKPOINTS))
def test_random_model_has_the_published_parameter_count(key):
    # independent of the backbone table: the published counts (Mask2Former's model zoo) are
    # met only by the right depths, widths and heads
    spec = CHECKPOINTS[key]
    with torch.device("meta"):
        model = Mask2FormerForUniversalSegmentation(panoptic.random_config(key))
    params = sum(p.numel() for p in model.parameters()) / 1e6
    assert round(params) == spec.params_m, f"{params:.2f} M for {spec.title}"
    assert {name.split(".")[0] for name, _ in model.named_parameters()} >= {
        "model",
        "class_predictor",
    }
    assert model.class_predictor.out_features == len(DATASETS[spec.dataset]) + 1


def test_shipped_label_lists():
    for cats, total, things in (
        (COCO_PANOPTIC, 133, 80),
        (CITYSCAPES_PANOPTIC, 19, 8),
        (ADE20K_PANOPTIC, 150, 100),
    ):
        assert len(cats) == total and sum(c.is_thing for c in cats) == things
        assert len({c.name for c in cats}) == total
        assert len({c.dataset_id for c in cats}) == total
        assert all(len(c.color) == 3 and all(0 <= v <= 255 for v in c.color) for c in cats)
    assert COCO_PANOPTIC[0].name == "person" and COCO_PANOPTIC[0].dataset_id == 1
    assert not COCO_PANOPTIC[SKY].is_thing and COCO_PANOPTIC[SKY].dataset_id == 187
    assert all(c.is_thing for c in COCO_PANOPTIC[:80])
    # COCO panoptic numbers things 1-90 and stuff 92-200, each in increasing order
    ids = [c.dataset_id for c in COCO_PANOPTIC]
    assert ids == sorted(ids) and ids[79] <= 90 < 92 <= ids[80]


def test_coco_things_match_torchvisions_coco_categories():
    # torchvision's COCO detection list is indexed by COCO category id ("N/A" in the gaps)
    coco = MaskRCNN_ResNet50_FPN_Weights.DEFAULT.meta["categories"]
    things = [c for c in COCO_PANOPTIC if c.is_thing]
    assert len(things) == 80 == sum(name not in ("N/A", "__background__") for name in coco)
    assert [(c.dataset_id, c.name) for c in things] == [
        (i, name) for i, name in enumerate(coco) if name not in ("N/A", "__background__")
    ]


def test_cityscapes_matches_torchvisions_cityscapes_classes():
    # torchvision's Cityscapes labels: the train ids 0-18 are the 19 evaluated classes
    evaluated = sorted(
        (c for c in Cityscapes.classes if 0 <= c.train_id < 19), key=lambda c: c.train_id
    )
    assert len(evaluated) == len(CITYSCAPES_PANOPTIC) == 19
    for shipped, reference in zip(CITYSCAPES_PANOPTIC, evaluated, strict=True):
        assert shipped.name == reference.name and shipped.dataset_id == reference.id
        assert shipped.is_thing == reference.has_instances, shipped.name
        assert shipped.color == reference.color, shipped.name


# --- the adapter, with a tiny random model ----------------------------------------------------


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "random")
    monkeypatch.setenv("SEGDEMO_PANOPTIC_ARCH", "tiny")
    monkeypatch.setenv("SEGDEMO_DEVICE", "cpu")


@pytest.fixture
def tiny_model(tiny: None) -> Iterator[panoptic.Loaded]:
    """The tiny random model on the CPU, freshly built; forgotten afterwards."""
    panoptic.unload()
    try:
        yield panoptic.load(device="cpu")
    finally:
        panoptic.unload()


def _image(height: int = 60, width: int = 90) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=g)


def _photo(name: str = "rocket.jpg") -> torch.Tensor:
    return load_image(EXAMPLES / name)


PHOTOS = ["astronaut.jpg", "chelsea.png", "rocket.jpg"]


def fused_reference(ref_ids: torch.Tensor, ref_info: list[dict], stuff: Collection[int]):
    """transformers' unfused answer with the stuff of one class fused as its docs say.

    transformers' own fused numbering can give two segments one id (after fusing a stuff query
    into an earlier segment it counts on from that segment's id), so the fused comparison is
    against this: segments renumbered 1, 2, … in order, a stuff class's segments sharing the id
    of its first.
    """
    lut = torch.zeros(len(ref_info) + 1, dtype=torch.int32)
    info: list[dict] = []
    first: dict[int, int] = {}
    for s in ref_info:
        label = s["label_id"]
        if label in first:
            lut[s["id"]] = first[label]
            continue
        info.append({"id": len(info) + 1, "label_id": label})
        lut[s["id"]] = len(info)
        if label in stuff:
            first[label] = len(info)
    return lut[ref_ids.long()], info


@pytest.mark.parametrize("arch", ["tiny", "checkpoint"])
def test_random_weights_give_segments_on_every_shipped_photo(tiny, monkeypatch, arch):
    monkeypatch.setenv("SEGDEMO_PANOPTIC_ARCH", arch)
    panoptic.unload()
    try:
        for name in PHOTOS:
            result = segment(_photo(name))
            assert len(result) >= 3, f"{name}: {len(result)} segments"
            assert_varied(result.ids, name)
            assert any(s.is_thing for s in result.segments), name
            # most of the photo is covered, by several segments of a fair size
            assert (result.ids > 0).float().mean().item() > 0.5, name
            areas = sorted(int((result.ids == s.id).sum()) for s in result.segments)
            assert areas[-3] > 0.01 * result.ids.numel(), name
    finally:
        panoptic.unload()


def test_decisive_weights_change_only_the_heads(tiny):
    """Same model class and parameters as transformers builds; only the heads' values differ,
    so random weights run exactly the inference code of pretrained ones."""
    from segdemo.models import seeded

    config = panoptic.random_config(DEFAULT_CHECKPOINT, tiny=True)
    with seeded():
        plain = Mask2FormerForUniversalSegmentation(config).state_dict()
    panoptic.unload()
    try:
        model = panoptic.load(device="cpu").model
        assert type(model) is Mask2FormerForUniversalSegmentation
        built = model.state_dict()
    finally:
        panoptic.unload()
    assert built.keys() == plain.keys()
    changed = {k for k in plain if not torch.equal(plain[k], built[k])}
    heads = (
        "class_predictor.",
        "pixel_level_module.decoder.mask_projection.",
        "mask_predictor.mask_embedder.",
        ".self_attn.out_proj.weight",
        ".cross_attn.out_proj.weight",
        ".fc2.weight",
    )
    assert changed and all(any(h in k for h in heads) for k in changed), sorted(changed)
    assert not any("backbone" in k or "encoder" in k for k in changed)


def test_segment_full_path_matches_transformers(tiny_model):
    captured = []
    hook = tiny_model.model.register_forward_hook(lambda module, args, out: captured.append(out))
    seen: list[tuple[float, str]] = []
    image = _photo()
    size = (int(image.shape[1]), int(image.shape[2]))
    try:
        result = segment(image, progress=lambda f, m: seen.append((f, m)))
    finally:
        hook.remove()
    assert isinstance(result, Segmentation) and result.task == "panoptic"
    assert result.size == size and result.ids.dtype == torch.int32
    assert result.categories == NAMES
    assert len(result) > 0
    assert_varied(result.ids)
    assert all(s.score > panoptic.THRESHOLD for s in result.segments)
    assert result.extras["model_input"] == (384, 576)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert not any(m.startswith("Loading") for _, m in seen)  # the model was built already

    # the same forward output through transformers' post-processing: at the default thresholds
    # (unfused, and fused against transformers' unfused answer fused as documented), and at 0
    # (every query that wins a pixel becomes a segment: compares the winner maps)
    (out,) = captured
    for fuse, kw in (
        (False, {}),
        (True, {}),
        (False, {"threshold": 0.0, "mask_threshold": 0.0, "overlap_threshold": 0.0}),
    ):
        mine = postprocess(
            out.class_queries_logits[0],
            out.masks_queries_logits[0],
            target_size=size,
            label_ids_to_fuse=tiny_model.stuff_ids if fuse else (),
            categories=tiny_model.categories,
            is_thing=tiny_model.is_thing,
            **kw,
        )
        ref_kw = {
            "overlap_mask_area_threshold" if k == "overlap_threshold" else k: v
            for k, v in kw.items()
        }
        ref = tiny_model.processor.post_process_panoptic_segmentation(
            out, label_ids_to_fuse=set(), target_sizes=[size], **ref_kw
        )[0]
        reference = (ref["segmentation"].to(torch.int32), ref["segments_info"])
        if fuse:
            reference = fused_reference(*reference, tiny_model.stuff_ids)
            assert torch.equal(mine.ids, result.ids) and mine.segments == result.segments
        assert_agrees(mine, reference)


def test_checkpoint_architecture_matches_transformers_on_the_photos(tiny, monkeypatch):
    monkeypatch.setenv("SEGDEMO_PANOPTIC_ARCH", "checkpoint")
    panoptic.unload()
    try:
        loaded = panoptic.load(device="cpu")
        for name in PHOTOS:
            image = _photo(name)
            size = (int(image.shape[1]), int(image.shape[2]))
            inputs = loaded.processor(
                images=image, return_tensors="pt", size={"shortest_edge": 384, "longest_edge": 1333}
            )
            with torch.inference_mode():
                out = loaded.model(pixel_values=inputs["pixel_values"])
            ref = loaded.processor.post_process_panoptic_segmentation(
                out, label_ids_to_fuse=set(), target_sizes=[size]
            )[0]
            reference = fused_reference(
                ref["segmentation"].to(torch.int32), ref["segments_info"], loaded.stuff_ids
            )
            assert_agrees(segment(image), reference)
    finally:
        panoptic.unload()


def test_segment_extras(tiny_model):
    result = segment(_image(), threshold=0.6, device="cpu")
    assert set(result.extras) == EXTRAS
    timings = result.extras["timings_ms"]
    assert set(timings) == {"load", "preprocess", "model", "postprocess"}
    assert all(isinstance(ms, float) and ms >= 0 for ms in timings.values())
    assert result.extras["model"] == "Mask2Former COCO · Swin-T"
    assert result.extras["checkpoint"] == DEFAULT_CHECKPOINT
    assert result.extras["weights"] == "random" and result.extras["threshold"] == 0.6
    assert result.extras["working_size"] == panoptic.DEFAULT_WORKING_SIZE
    assert result.extras["model_input"] == (384, 576) and result.extras["device"] == "cpu"
    assert result.extras["precision"] == "fp32"  # the default


def test_loading_is_reported_only_when_the_model_is_built(tiny):
    panoptic.unload()
    seen: list[tuple[float, str]] = []
    segment(_image(40, 40), working_size=128, progress=lambda f, m: seen.append((f, m)))
    assert seen[0] == (0.0, "Loading Mask2Former COCO · Swin-T …")
    assert seen[-1][0] == 1.0


def test_segment_working_size_and_cache(tiny_model):
    image = _photo("chelsea.png")
    first = segment(image, working_size=128, device="cpu")
    assert first.extras["model_input"] == (128, 192) and first.size == (300, 451)
    assert len(first) > 0
    assert_varied(first.ids)
    assert panoptic.is_loaded(DEFAULT_CHECKPOINT, "cpu")
    assert panoptic.load(device="cpu") is tiny_model  # the cached model, not a new one
    again = segment(image, working_size=128, device="cpu")
    assert torch.equal(first.ids, again.ids) and first.segments == again.segments

    # a rebuilt model has the same (seeded) weights, decisive heads included: the same answer
    panoptic.unload()
    assert not panoptic.is_loaded(DEFAULT_CHECKPOINT, "cpu")
    rebuilt = panoptic.load(device="cpu")
    assert rebuilt is not tiny_model
    for name, tensor in tiny_model.model.state_dict().items():
        assert torch.equal(rebuilt.model.state_dict()[name], tensor), name
    third = segment(image, working_size=128, device="cpu")
    assert torch.equal(first.ids, third.ids) and first.segments == third.segments


@pytest.mark.parametrize("device", DEVICES)
def test_segment_runs_on_the_device_asked_for(tiny, monkeypatch, device):
    # SEGDEMO_DEVICE names a device no model can run on: only the argument can make this work
    monkeypatch.setenv("SEGDEMO_DEVICE", "meta")
    for image in (_image(40, 40), _image(40, 40).to(device)):
        result = segment(image, working_size=128, device=device)
        assert result.ids.device.type == device and result.extras["device"] == device
    assert panoptic.is_loaded(DEFAULT_CHECKPOINT, device)
    assert not panoptic.is_loaded(DEFAULT_CHECKPOINT, "meta")


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: segment("x"), TypeError, "torch.Tensor"),
        (lambda: segment(torch.zeros(3, 8, 8)), ValueError, "uint8"),
        (lambda: segment(torch.zeros(1, 8, 8, dtype=torch.uint8)), ValueError, r"\[3, H, W\]"),
        (lambda: segment(_image(), "nope"), ValueError, "unknown panoptic checkpoint"),
        (lambda: segment(_image(), working_size=10), ValueError, "working_size"),
        (lambda: segment(_image(), working_size=384.0), TypeError, "working_size"),
        (lambda: segment(_image(), working_size="384"), TypeError, "working_size"),
        (lambda: segment(_image(), threshold=2), ValueError, "threshold must be in"),
        (lambda: segment(_image(), threshold="0.5"), TypeError, "threshold must be a number"),
        (lambda: segment(_image(), threshold=True), TypeError, "threshold must be a number"),
    ],
)
def test_segment_rejects_bad_inputs(tiny, call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_tiny_architecture_needs_random_weights(monkeypatch):
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "pretrained")
    monkeypatch.setenv("SEGDEMO_PANOPTIC_ARCH", "tiny")
    with pytest.raises(ValueError, match="SEGDEMO_WEIGHTS=random"):
        segment(_image())


def test_missing_weights_say_how_to_fix_it_quickly(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "pretrained")
    monkeypatch.setenv("SEGDEMO_OFFLINE", "1")
    monkeypatch.setenv("SEGDEMO_DEVICE", "cpu")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.delenv("SEGDEMO_PANOPTIC_ARCH", raising=False)
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailable, match="python -m segdemo fetch"):
        segment(_image())
    with pytest.raises(WeightsUnavailable, match="offline"):
        panoptic.fetch([DEFAULT_CHECKPOINT])
    assert time.perf_counter() - start < 10


# --- the benchmark suite ----------------------------------------------------------------------


def test_bench_suite_prints_the_contract_keys(tiny, capsys):
    from segdemo.bench import __main__ as bench_main

    assert "panoptic" in bench_main.SUITES
    argv = ["--quick", "--size", "48x64", "--suite", "panoptic", "--device", "cpu"]
    assert bench_main.main(argv) == 0
    lines = {line["name"]: line for line in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(lines) == {"panoptic_post_48x64", "panoptic_model_48x64"}
    post = lines["panoptic_post_48x64"]
    assert post["baseline"] == "transformers.post_process_panoptic_segmentation"
    assert isinstance(post["baseline_median_ms"], float) and post["speedup"] is not None
    assert post["same_segments"] is True and post["segments"] >= 20 and post["things"] >= 10
    assert post["agreement"] >= 0.999 and post["min_segment_iou"] >= 0.99
    assert post["mask_size"] == [96, 128]
    model = lines["panoptic_model_48x64"]
    assert model["architecture"] == "tiny" and "transformers" in model["baseline"]
    assert model["model_ms"] > 0 and model["device"] == "cpu"
    assert model["segments"] > 0 and model["baseline_segments"] > 0  # a shipped photo, real output
    assert model["same_segments"] is True and model["agreement"] >= 0.999
    assert model["postprocess_ms"] > 0 and model["baseline_postprocess_ms"] > 0


# --- pretrained loading through the store (offline, with a tiny checkpoint in a fake cache) ---


def _fake_snapshot(
    cache: Path, repo_id: str, *, safetensors: bool = True
) -> Mask2FormerForUniversalSegmentation:
    """Save a tiny model + processor where the Hub cache keeps ``repo_id``'s snapshot."""
    folder = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = folder / "snapshots" / ("0" * 40)
    config = panoptic.random_config(repo_id, tiny=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        model = Mask2FormerForUniversalSegmentation(config)
    model.save_pretrained(snapshot)
    if not safetensors:  # the old pickle format only: what use_safetensors=True must refuse
        from safetensors.torch import load_file

        weights = snapshot / "model.safetensors"
        torch.save(load_file(weights), snapshot / "pytorch_model.bin")
        weights.unlink()
    Mask2FormerImageProcessor(size_divisor=32).save_pretrained(snapshot)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("0" * 40)
    return model


@pytest.fixture
def offline_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "pretrained")
    monkeypatch.setenv("SEGDEMO_OFFLINE", "1")
    monkeypatch.setenv("SEGDEMO_DEVICE", "cpu")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.delenv("SEGDEMO_PANOPTIC_ARCH", raising=False)
    panoptic.unload()  # a pretrained model cached from another store must not answer
    try:
        yield tmp_path
    finally:
        panoptic.unload()


def test_pretrained_path_loads_from_the_store(offline_store):
    saved = _fake_snapshot(offline_store, DEFAULT_CHECKPOINT)
    result = segment(_image(40, 50))
    assert result.extras["weights"] == "pretrained" and result.size == (40, 50)
    loaded = panoptic.load()
    assert type(loaded.model).__name__ == "Mask2FormerForUniversalSegmentation"
    assert type(loaded.processor).__name__ == "Mask2FormerImageProcessor"
    assert loaded.categories == NAMES and loaded.stuff_ids == frozenset(STUFF)
    for name, tensor in saved.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], tensor), name
    assert panoptic.fetch([DEFAULT_CHECKPOINT])[0].name == "0" * 40  # already in the store


def test_pickle_only_checkpoints_are_refused(offline_store):
    _fake_snapshot(offline_store, DEFAULT_CHECKPOINT, safetensors=False)
    with pytest.raises(WeightsUnavailable, match="python -m segdemo fetch"):
        panoptic.load()


def test_no_network_fails_at_once_without_the_hub_retries(offline_store, monkeypatch):
    from segdemo import hub

    monkeypatch.delenv("SEGDEMO_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "hub_unreachable", lambda: "huggingface.co cannot be reached (x)")
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailable, match="cannot be reached"):
        panoptic.load()
    with pytest.raises(WeightsUnavailable, match="cannot be reached"):
        panoptic.fetch([DEFAULT_CHECKPOINT])
    assert time.perf_counter() - start < 10


def test_hub_probe_leaves_proxies_to_the_client(monkeypatch):
    from segdemo import hub

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert hub.hub_unreachable() is None
