"""Panoptic segmentation: post-processing against transformers on crafted outputs, the adapter.

Random weights give class scores near 1/134, so nothing would pass the threshold: the
post-processing is tested on crafted model outputs with known answers, and every comparison
asserts that what it compares is non-empty.
"""

from __future__ import annotations

import math
import time
import types

import pytest
import torch
from transformers import Mask2FormerForUniversalSegmentation, Mask2FormerImageProcessor

from segdemo import panoptic
from segdemo.coco_panoptic import ADE20K_PANOPTIC, CITYSCAPES_PANOPTIC, COCO_PANOPTIC, DATASETS
from segdemo.panoptic import CHECKPOINTS, DEFAULT_CHECKPOINT, postprocess, segment
from segdemo.result import Segmentation
from segdemo.weights import WeightsUnavailable

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                  reason="no CUDA device")),
]
NAMES = tuple(c.name for c in COCO_PANOPTIC)
THING = tuple(c.is_thing for c in COCO_PANOPTIC)
STUFF = {i for i, thing in enumerate(THING) if not thing}
C = len(NAMES)
PERSON, CAR, CAT, DOG = (NAMES.index(n) for n in ("person", "car", "cat", "dog"))
SKY, ROAD, GRASS = (NAMES.index(n) for n in ("sky-other-merged", "road", "grass-merged"))


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
    bands = [(SKY, 0, .4, 0, .5), (SKY, 0, .4, .45, 1.1), (ROAD, .7, 1.1, 0, 1.1),
             (GRASS, .35, .75, 0, .6), (NAMES.index("wall-other-merged"), .35, .75, .55, 1.1)]
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
    return postprocess(cls.to(device), masks.to(device), target_size=size,
                       label_ids_to_fuse=STUFF, categories=NAMES, is_thing=THING, **kw)


def theirs(cls, masks, size, **kw) -> tuple[torch.Tensor, list[dict]]:
    outputs = types.SimpleNamespace(class_queries_logits=cls[None],
                                    masks_queries_logits=masks[None])
    result = Mask2FormerImageProcessor().post_process_panoptic_segmentation(
        outputs, label_ids_to_fuse=set(STUFF), target_sizes=[size], **kw
    )[0]
    return result["segmentation"].to(torch.int32), result["segments_info"]


def assert_agrees(result: Segmentation, reference: tuple[torch.Tensor, list[dict]]) -> None:
    """Same segments (id → class) as transformers, each agreeing on ≥ 99% of its pixels."""
    ref_ids, ref_info = reference
    assert len(result) > 0 and ref_info, "compare non-empty results"
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
        "person 1 · 0.97", "person 2 · 0.95", "car 1 · 0.97", "sky-other-merged · 0.92",
        "road · 0.90", "grass-merged · 0.90",
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


@pytest.mark.parametrize("kw", [
    {"threshold": 0.8},
    {"threshold": 0.2, "mask_threshold": 0.3},
    {"overlap_threshold": 0.5},
    {"mask_threshold": 0.9},  # queries scoring ≤ 0.9 can have no mask at all
])
def test_thresholds_match_transformers(kw):
    cls, masks = blobs(7)
    ref_kw = {"overlap_mask_area_threshold" if k == "overlap_threshold" else k: v
              for k, v in kw.items()}
    assert_agrees(ours(cls, masks, (64, 96), **kw), theirs(cls, masks, (64, 96), **ref_kw))


def test_stage_size_none_keeps_the_answers():
    cls, masks = crafted()
    result = ours(cls, masks, (120, 160), stage_size=None)
    assert [s.label.split(" · ")[0] for s in result.segments][:3] == [
        "person 1", "person 2", "car 1"]
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
    grid = panoptic._stage_grid(masks, scores, (20, 24))
    ay, ax = panoptic._axis(20, size[0], grid.device), panoptic._axis(24, size[1], grid.device)
    ci, cj = torch.meshgrid(torch.arange(20), torch.arange(24), indexing="ij")
    ci, cj = ci.flatten(), cj.flatten()
    corners = torch.stack([grid[ci, cj], grid[ci, cj + 1], grid[ci + 1, cj], grid[ci + 1, cj + 1]])
    passing = (corners.amax(0) >= corners.amin(0).amax(-1, keepdim=True)).sum(-1)
    assert int((passing > panoptic._CANDIDATES).sum()) > 0  # the fallback is exercised
    assert int((passing <= panoptic._CANDIDATES).sum()) > 0  # and so are the candidates
    fine = panoptic._winners_in(grid, ci, cj, ay, ax)
    # reference: the full-size bilinear resize, argmax over all queries
    full = torch.nn.functional.interpolate(grid[:20, :24].permute(2, 0, 1)[None], size=size,
                                           mode="bilinear", align_corners=False)[0].argmax(0)
    used = ay.used[ci][:, :, None] & ax.used[cj][:, None, :]
    rows = ay.table[ci][:, :, None].expand_as(fine)[used]
    cols = ax.table[cj][:, None, :].expand_as(fine)[used]
    assert rows.numel() == size[0] * size[1]
    assert (fine[used] == full[rows, cols]).float().mean().item() > 0.9999


def _bad(**change):
    cls, masks = crafted()
    kw = {"class_logits": cls, "mask_logits": masks, "target_size": (10, 10),
          "categories": NAMES, "is_thing": THING}
    kw.update(change)
    return kw


@pytest.mark.parametrize("kw, match", [
    (_bad(class_logits=torch.zeros(16)), "class_logits must be"),
    (_bad(mask_logits=torch.zeros(16, 4)), "mask_logits must be"),
    (_bad(mask_logits=torch.zeros(15, 4, 4)), "16 queries but mask_logits has 15"),
    (_bad(class_logits=torch.zeros(16, 5)), "5 classes"),
    (_bad(is_thing=THING[:-1]), "is_thing has 132 flags"),
    (_bad(target_size=(0, 10)), "target_size"),
    (_bad(target_size=(10,)), "target_size"),
    (_bad(threshold=1.5), "threshold must be in"),
    (_bad(label_ids_to_fuse={133}), "label_ids_to_fuse holds \\[133\\]"),
])
def test_postprocess_rejects_bad_inputs(kw, match):
    with pytest.raises(ValueError, match=match):
        postprocess(**kw)


# --- checkpoints and shipped labels -----------------------------------------------------------


def test_checkpoints_and_published_pq():
    keys = list(CHECKPOINTS)
    assert keys[0] == DEFAULT_CHECKPOINT == "facebook/mask2former-swin-tiny-coco-panoptic"
    pq = {key: c.pq for key, c in CHECKPOINTS.items()}
    assert pq["facebook/mask2former-swin-tiny-coco-panoptic"] == 53.2
    assert pq["facebook/mask2former-swin-small-coco-panoptic"] == 54.6
    assert pq["facebook/mask2former-swin-base-coco-panoptic"] == 55.1
    assert pq["facebook/mask2former-swin-large-coco-panoptic"] == 57.8
    assert pq["facebook/mask2former-swin-tiny-cityscapes-panoptic"] == 63.9
    assert {c.dataset for c in CHECKPOINTS.values()} == {"coco", "cityscapes", "ade20k"}
    for key, c in CHECKPOINTS.items():
        assert c.repo_id == key and f"PQ {c.pq}" in c.description and c.dataset in DATASETS
    assert "384" in panoptic.DESCRIPTION and "800" in panoptic.DESCRIPTION


def test_shipped_label_lists():
    for cats, total, things in ((COCO_PANOPTIC, 133, 80), (CITYSCAPES_PANOPTIC, 19, 8),
                                (ADE20K_PANOPTIC, 150, 100)):
        assert len(cats) == total and sum(c.is_thing for c in cats) == things
        assert len({c.name for c in cats}) == total
        assert all(len(c.color) == 3 and all(0 <= v <= 255 for v in c.color) for c in cats)
    assert COCO_PANOPTIC[0].name == "person" and COCO_PANOPTIC[0].dataset_id == 1
    assert not COCO_PANOPTIC[SKY].is_thing and COCO_PANOPTIC[SKY].dataset_id == 187
    assert all(c.is_thing for c in COCO_PANOPTIC[:80])


def test_random_config_has_the_checkpoint_architecture():
    config = panoptic.random_config(DEFAULT_CHECKPOINT)
    swin = config.backbone_config
    assert (swin.embed_dim, list(swin.depths), list(swin.num_heads), swin.window_size) == (
        96, [2, 2, 6, 2], [3, 6, 12, 24], 7)
    assert config.num_labels == 133 and config.id2label[0] == "person"
    assert config.num_queries == 100
    large = panoptic.random_config("facebook/mask2former-swin-large-coco-panoptic")
    assert large.backbone_config.embed_dim == 192 and large.num_queries == 200
    cityscapes = panoptic.random_config("facebook/mask2former-swin-tiny-cityscapes-panoptic")
    assert cityscapes.num_labels == 19


def test_swin_t_random_model_has_the_published_size():
    with torch.device("meta"):
        model = Mask2FormerForUniversalSegmentation(panoptic.random_config(DEFAULT_CHECKPOINT))
    params = sum(p.numel() for p in model.parameters()) / 1e6
    assert 46 < params < 49  # Mask2Former Swin-T: 47 M
    assert {name.split(".")[0] for name, _ in model.named_parameters()} >= {
        "model", "class_predictor"}


# --- the adapter, with a tiny random model ----------------------------------------------------


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "random")
    monkeypatch.setenv("SEGDEMO_PANOPTIC_ARCH", "tiny")
    monkeypatch.setenv("SEGDEMO_DEVICE", "cpu")


def _image(height: int = 60, width: int = 90) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=g)


def test_segment_full_path_with_tiny_random_model(tiny):
    loaded = panoptic.load()
    captured = []
    hook = loaded.model.register_forward_hook(lambda module, args, out: captured.append(out))
    seen = []
    try:
        result = segment(_image(), progress=lambda f, m: seen.append((f, m)))
    finally:
        hook.remove()
    assert isinstance(result, Segmentation) and result.task == "panoptic"
    assert result.size == (60, 90) and result.ids.dtype == torch.int32
    assert result.categories == NAMES
    assert set(result.extras["timings_ms"]) >= {"load", "preprocess", "model", "postprocess"}
    assert result.extras["weights"] == "random" and result.extras["working_size"] == 384
    assert result.extras["model_input"] == (384, 576)
    assert seen[0][0] == 0.0 and seen[-1][0] == 1.0
    # random weights: scores near 1/134, so nothing passes 0.5 (an empty result is fine here) …
    assert all(s.score > 0.5 for s in result.segments)

    # … so push the same forward output through both post-processings with every threshold at
    # 0: each query that wins a pixel becomes a segment, which compares the winner maps
    (out,) = captured
    mine = postprocess(out.class_queries_logits[0], out.masks_queries_logits[0],
                       target_size=(60, 90), threshold=0.0, mask_threshold=0.0,
                       overlap_threshold=0.0, label_ids_to_fuse=loaded.stuff_ids,
                       categories=loaded.categories, is_thing=loaded.is_thing)
    ref = loaded.processor.post_process_panoptic_segmentation(
        out, threshold=0.0, mask_threshold=0.0, overlap_mask_area_threshold=0.0,
        label_ids_to_fuse=set(loaded.stuff_ids), target_sizes=[(60, 90)])[0]
    assert_agrees(mine, (ref["segmentation"].to(torch.int32), ref["segments_info"]))


def test_segment_working_size_and_cache(tiny):
    first = segment(_image(50, 40), working_size=128)
    assert first.extras["model_input"] == (160, 128) and first.size == (50, 40)
    assert panoptic.is_loaded()
    again = segment(_image(50, 40), working_size=128)
    assert torch.equal(first.ids, again.ids)  # same cached model, same (seeded) weights


@pytest.mark.parametrize("call, error, match", [
    (lambda: segment("x"), TypeError, "torch.Tensor"),
    (lambda: segment(torch.zeros(3, 8, 8)), ValueError, "uint8"),
    (lambda: segment(torch.zeros(1, 8, 8, dtype=torch.uint8)), ValueError, r"\[3, H, W\]"),
    (lambda: segment(_image(), "nope"), ValueError, "unknown panoptic checkpoint"),
    (lambda: segment(_image(), working_size=10), ValueError, "working_size"),
    (lambda: segment(_image(), working_size=384.0), ValueError, "working_size"),
    (lambda: segment(_image(), threshold=2), ValueError, "threshold"),
])
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
    import json

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
    assert post["mask_size"] == [96, 128]
    model = lines["panoptic_model_48x64"]
    assert model["architecture"] == "tiny" and "transformers" in model["baseline"]
    assert model["model_ms"] > 0


# --- pretrained loading through the store (offline, with a tiny checkpoint in a fake cache) ---


def _fake_snapshot(cache, repo_id: str, *, safetensors: bool = True):
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
def offline_store(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "pretrained")
    monkeypatch.setenv("SEGDEMO_OFFLINE", "1")
    monkeypatch.setenv("SEGDEMO_DEVICE", "cpu")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.delenv("SEGDEMO_PANOPTIC_ARCH", raising=False)
    monkeypatch.setattr(panoptic, "_MODELS", panoptic.ModelCache())
    return tmp_path


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
