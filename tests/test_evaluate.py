"""Scoring against a ground truth, checked against independent references.

- confusion counts against a plain numpy re-implementation (Hypothesis, void pixels included)
  and against torchmetrics;
- PQ against a numpy port of the reference ``pq_compute`` (cocodataset/panopticapi) on crafted
  cases with known answers and on random maps;
- self-evaluation gives exactly 1; the mappings, undefined values, sums over photos;
- COCO panoptic annotations read back what :func:`segdemo.exports.coco_panoptic` wrote.

Random maps that a comparison relies on are asserted to be neither empty nor uniform.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_jaccard_index,
    multiclass_precision,
    multiclass_recall,
)

from segdemo import evaluate as ev
from segdemo import exports, masks
from segdemo.images import InputError
from segdemo.images.panoptic_annotations import read_panoptic_annotation
from segdemo.result import Segment, Segmentation

VOC = ev.VOC_CLASSES
NAMES = ("person", "car", "sky", "road")
THINGS = (True, True, False, False)


def assert_informative(*maps: np.ndarray | torch.Tensor) -> None:
    """Neither empty nor uniform: more than one value."""
    for m in maps:
        values = np.unique(np.asarray(m.cpu() if isinstance(m, torch.Tensor) else m))
        assert values.size > 1, f"empty or uniform: {values}"


# --------------------------------------------------------------------------- references


def numpy_confusion(pred: np.ndarray, gt: np.ndarray, k: int, void: int) -> np.ndarray:
    """[K, K + 1]: pixels of class g predicted p; column K = predicted void; gt void skipped."""
    out = np.zeros((k, k + 1), dtype=np.int64)
    for g in range(k):
        for p in range(k):
            out[g, p] = np.sum((gt == g) & (pred == p))
        out[g, k] = np.sum((gt == g) & (pred == void))
    return out


def reference_pq(
    gt_ids: np.ndarray,
    gt_rows: list[tuple[int, int, bool]],
    pred_ids: np.ndarray,
    pred_rows: list[tuple[int, int, bool]],
    things: tuple[bool, ...] = THINGS,
) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """panopticapi's ``pq_compute_single_core`` + ``pq_average`` on arrays and segment rows.

    Rows are (id, category_id, iscrowd); gt areas are pixel counts (the reference reads them
    from the JSON, which holds the same numbers). Returns ({"All"|"Things"|"Stuff": {...}},
    {category: {"tp", "fp", "fn", "iou"}}).
    """
    offset, void = 256 * 256 * 256, 0
    gt_segms = {i: {"category_id": c, "iscrowd": int(cr)} for i, c, cr in gt_rows}
    pred_segms = {i: {"category_id": c} for i, c, _ in pred_rows}
    for i, el in gt_segms.items():
        el["area"] = int(np.sum(gt_ids == i))
    labels, counts = np.unique(pred_ids, return_counts=True)
    for label, count in zip(labels, counts, strict=True):
        if label == void:
            continue
        pred_segms[int(label)]["area"] = int(count)
    pan = gt_ids.astype(np.uint64) * offset + pred_ids.astype(np.uint64)
    gt_pred_map = {}
    labels, counts = np.unique(pan, return_counts=True)
    for label, intersection in zip(labels, counts, strict=True):
        gt_pred_map[(int(label // offset), int(label % offset))] = int(intersection)
    stat: dict[int, dict[str, float]] = defaultdict(lambda: {"tp": 0, "fp": 0, "fn": 0, "iou": 0.0})
    gt_matched, pred_matched = set(), set()
    for (gt_label, pred_label), intersection in gt_pred_map.items():
        if gt_label not in gt_segms or pred_label not in pred_segms:
            continue
        if gt_segms[gt_label]["iscrowd"] == 1:
            continue
        if gt_segms[gt_label]["category_id"] != pred_segms[pred_label]["category_id"]:
            continue
        union = (
            pred_segms[pred_label]["area"]
            + gt_segms[gt_label]["area"]
            - intersection
            - gt_pred_map.get((void, pred_label), 0)
        )
        iou = intersection / union
        if iou > 0.5:
            stat[gt_segms[gt_label]["category_id"]]["tp"] += 1
            stat[gt_segms[gt_label]["category_id"]]["iou"] += iou
            gt_matched.add(gt_label)
            pred_matched.add(pred_label)
    crowd_labels = {}
    for gt_label, info in gt_segms.items():
        if gt_label in gt_matched:
            continue
        if info["iscrowd"] == 1:
            crowd_labels[info["category_id"]] = gt_label
            continue
        stat[info["category_id"]]["fn"] += 1
    for pred_label, info in pred_segms.items():
        if pred_label in pred_matched:
            continue
        intersection = gt_pred_map.get((void, pred_label), 0)
        if info["category_id"] in crowd_labels:
            intersection += gt_pred_map.get((crowd_labels[info["category_id"]], pred_label), 0)
        if intersection / info["area"] > 0.5:
            continue
        stat[info["category_id"]]["fp"] += 1
    results = {}
    for name, isthing in (("All", None), ("Things", True), ("Stuff", False)):
        pq = sq = rq = n = 0
        for c, thing in enumerate(things):
            if isthing is not None and thing != isthing:
                continue
            s = stat[c]
            if s["tp"] + s["fp"] + s["fn"] == 0:
                continue
            n += 1
            pq += s["iou"] / (s["tp"] + 0.5 * s["fp"] + 0.5 * s["fn"])
            sq += s["iou"] / s["tp"] if s["tp"] != 0 else 0
            rq += s["tp"] / (s["tp"] + 0.5 * s["fp"] + 0.5 * s["fn"])
        results[name] = {"pq": pq / n, "sq": sq / n, "rq": rq / n, "n": n} if n else {"n": 0}
    return results, dict(stat)


def panoptic(
    ids: np.ndarray,
    rows: list[tuple[int, int, bool]],
    task: str = "panoptic",
    device: torch.device | str = "cpu",
) -> Segmentation:
    """A Segmentation over NAMES from an id map and (id, category, iscrowd) rows."""
    table = tuple(Segment(i, c, NAMES[c], is_thing=THINGS[c]) for i, c, _ in rows)
    crowd = tuple(i for i, _, cr in rows if cr)
    ids_t = torch.as_tensor(np.asarray(ids), dtype=torch.int32, device=device)
    return Segmentation(ids_t, table, NAMES, task, {"iscrowd": crowd})  # type: ignore[arg-type]


def assert_pq_equal(gt_ids, gt_rows, pred_ids, pred_rows, device="cpu") -> ev.PanopticCounts:
    """Our counts and scores equal the reference's; returns our counts."""
    ours = ev.panoptic_counts(
        panoptic(pred_ids, pred_rows, device=device),
        panoptic(gt_ids, gt_rows, "groundtruth", device=device),
    )
    ref, stat = reference_pq(gt_ids, gt_rows, pred_ids, pred_rows)
    for c in range(len(NAMES)):
        s = stat.get(c, {"tp": 0, "fp": 0, "fn": 0, "iou": 0.0})
        assert (ours.tp[c], ours.fp[c], ours.fn[c]) == (s["tp"], s["fp"], s["fn"]), NAMES[c]
        assert ours.iou[c] == pytest.approx(s["iou"], rel=1e-12, abs=1e-12)
    scores = ours.scores()
    for ours_summary, name in (
        (scores.all, "All"),
        (scores.things, "Things"),
        (scores.stuff, "Stuff"),
    ):
        assert ours_summary.n == ref[name]["n"]
        if ours_summary.n:
            got = (ours_summary.pq, ours_summary.sq, ours_summary.rq)
            want = (ref[name]["pq"], ref[name]["sq"], ref[name]["rq"])
            assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
        else:
            assert (ours_summary.pq, ours_summary.sq, ours_summary.rq) == (None, None, None)
    return ours


# --------------------------------------------------------------------------- confusion


@st.composite
def class_map_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, int]:
    k = draw(st.integers(1, 6))
    shape = (draw(st.integers(1, 12)), draw(st.integers(1, 12)))
    void = draw(st.sampled_from([255, -1, k]))
    values = st.sampled_from([*range(k), void])
    gt = draw(hnp.arrays(np.int64, shape, elements=values))
    pred = draw(hnp.arrays(np.int64, shape, elements=values))
    return pred, gt, k, void


@settings(max_examples=150, deadline=None)
@given(class_map_pairs())
def test_confusion_equals_a_numpy_count(device, maps):
    pred, gt, k, void = maps
    counts = ev.confusion_matrix(
        torch.from_numpy(pred).to(device), torch.from_numpy(gt).to(device), k, void
    )
    assert counts.device.type == torch.device(device).type and counts.dtype == torch.int64
    np.testing.assert_array_equal(counts.cpu().numpy(), numpy_confusion(pred, gt, k, void))
    scores = ev.Confusion(counts, tuple(f"c{i}" for i in range(k))).scores()
    scored = gt != void
    assert scores.pixels == int(scored.sum())
    right = int(np.sum(scored & (pred == gt)))
    assert scores.pixel_accuracy == (right / scores.pixels if scores.pixels else None)
    present = {int(v) for v in np.unique(gt[scored])} | {
        int(v) for v in np.unique(pred[scored]) if v != void
    }
    assert [c.index for c in scores.classes] == sorted(present)
    for c in scores.classes:
        tp = int(np.sum(scored & (gt == c.index) & (pred == c.index)))
        fp = int(np.sum(scored & (gt != c.index) & (pred == c.index)))
        fn = int(np.sum((gt == c.index) & (pred != c.index)))
        assert (c.tp, c.fp, c.fn) == (tp, fp, fn)
        assert c.iou == tp / (tp + fp + fn)


@pytest.mark.parametrize("void", [255, 5])
def test_confusion_and_scores_match_torchmetrics(device, void):
    k = 5
    rng = np.random.default_rng(7)
    gt = rng.integers(0, k, (40, 50))
    gt[rng.random(gt.shape) < 0.1] = void
    pred = np.where(
        rng.random(gt.shape) < 0.6, np.where(gt == void, 0, gt), rng.integers(0, k, gt.shape)
    )
    pred[:, :3] = 4  # class 4 predicted in a band: many FPs
    assert_informative(gt, pred)
    assert (gt == void).any() and (gt != pred).any() and (gt == pred).any()
    p, g = torch.from_numpy(pred).to(device), torch.from_numpy(gt).to(device)
    conf = ev.Confusion.of(ev.ClassMaps(p, g, tuple("abcde"), void))
    kw = {"num_classes": k, "ignore_index": void}
    flat_p, flat_g = p.flatten(), g.flatten()
    assert torch.equal(conf.counts[:, :k], multiclass_confusion_matrix(flat_p, flat_g, **kw))
    assert int(conf.counts[:, k].sum()) == 0
    scores = conf.scores()
    assert len(scores.classes) == k
    references = {
        "iou": multiclass_jaccard_index(flat_p, flat_g, average=None, **kw),
        "dice": multiclass_f1_score(flat_p, flat_g, average=None, **kw),
        "precision": multiclass_precision(flat_p, flat_g, average=None, **kw),
        "recall": multiclass_recall(flat_p, flat_g, average=None, **kw),
    }
    for row in scores.classes:
        for name, values in references.items():
            assert getattr(row, name) == pytest.approx(float(values[row.index]), rel=1e-5), name
    accuracy = multiclass_accuracy(flat_p, flat_g, average="micro", **kw)
    assert scores.pixel_accuracy == pytest.approx(float(accuracy), rel=1e-6)
    assert scores.miou == pytest.approx(float(references["iou"].mean()), rel=1e-5)


def test_scores_on_a_crafted_case_with_known_answers():
    v = 9
    gt = torch.tensor([[0, 0, 1, 1], [0, 0, 1, v]])
    pred = torch.tensor([[0, 1, 1, 1], [0, 0, 2, 2]])
    scores = ev.Confusion.of(ev.ClassMaps(pred, gt, ("a", "b", "c", "d"), v)).scores()
    rows = {r.label: r for r in scores.classes}
    assert list(rows) == ["a", "b", "c"]  # "d" is in neither map: no row
    a, b, c = rows["a"], rows["b"], rows["c"]
    assert (a.tp, a.fp, a.fn, a.iou, a.dice, a.precision, a.recall) == (
        3,
        0,
        1,
        3 / 4,
        6 / 7,
        1.0,
        3 / 4,
    )
    assert (b.tp, b.fp, b.fn, b.iou, b.dice) == (2, 1, 1, 0.5, 4 / 6)
    assert b.precision == pytest.approx(2 / 3) and b.recall == pytest.approx(2 / 3)
    # "c" is predicted once on a scored pixel (its other pixel is on void): never right
    assert (c.tp, c.fp, c.fn, c.iou, c.dice, c.precision, c.recall) == (
        0,
        1,
        0,
        0.0,
        0.0,
        0.0,
        None,
    )
    assert scores.pixels == 7
    assert scores.pixel_accuracy == 5 / 7
    assert scores.miou == pytest.approx((3 / 4 + 1 / 2 + 0) / 3)


def test_undefined_values_are_none_never_zero_or_nan():
    v = -1
    only_gt = ev.Confusion.of(
        ev.ClassMaps(torch.tensor([[1, 1]]), torch.tensor([[0, 1]]), ("a", "b"), v)
    ).scores()
    assert only_gt.classes[0].precision is None  # "a" never predicted: 0 / 0
    assert only_gt.classes[0].recall == 0.0
    assert only_gt.classes[1].recall == 1.0
    all_void = ev.Confusion.of(
        ev.ClassMaps(torch.tensor([[0, 1]]), torch.tensor([[v, v]]), ("a", "b"), v)
    ).scores()
    assert (all_void.classes, all_void.miou, all_void.pixel_accuracy, all_void.pixels) == (
        (),
        None,
        None,
        0,
    )
    data = json.loads(json.dumps(ev.Evaluation(only_gt).to_json()))
    assert data["classes"][0]["precision"] is None


def test_pixels_predicted_as_no_class_are_misses_not_false_positives():
    v = -1
    gt = torch.tensor([[0, 0, 1, 1]])
    pred = torch.tensor([[0, v, v, 1]])
    conf = ev.Confusion.of(ev.ClassMaps(pred, gt, ("a", "b"), v))
    assert conf.counts.tolist() == [[1, 0, 1], [0, 1, 1]]
    a, b = conf.scores().classes
    assert (a.tp, a.fp, a.fn, b.tp, b.fp, b.fn) == (1, 0, 1, 1, 0, 1)
    assert conf.scores().pixel_accuracy == 0.5


def test_summed_matrices_equal_the_matrix_of_the_photos_side_by_side(device):
    rng = np.random.default_rng(3)
    k, v = 4, 255
    photos = []
    for shape in ((20, 30), (20, 17)):
        gt = rng.integers(0, k, shape)
        gt[rng.random(shape) < 0.1] = v
        pred = np.where(rng.random(shape) < 0.5, gt, rng.integers(0, k, shape))
        pred[pred == v] = 0
        assert_informative(gt, pred)
        photos.append((torch.from_numpy(pred).to(device), torch.from_numpy(gt).to(device)))
    names = ("a", "b", "c", "d")
    each = [ev.Confusion.of(ev.ClassMaps(p, g, names, v)) for p, g in photos]
    side_by_side = ev.Confusion.of(
        ev.ClassMaps(
            torch.cat([p for p, _ in photos], 1), torch.cat([g for _, g in photos], 1), names, v
        )
    )
    assert torch.equal((each[0] + each[1]).counts, side_by_side.counts)
    assert torch.equal(sum(each).counts, side_by_side.counts)  # type: ignore[union-attr]
    assert (each[0] + each[1]).scores() == side_by_side.scores()
    with pytest.raises(ValueError, match="same classes"):
        _ = each[0] + ev.Confusion(each[1].counts, ("w", "x", "y", "z"))


@pytest.mark.parametrize(
    ("pred", "gt", "k", "void", "error", "match"),
    [
        ([[0, 1]], [[0, 1]], 2, 0, ValueError, "must not be one of the 2 classes"),
        ([[0, 1]], [[0, 1]], 0, 5, ValueError, "num_classes must be >= 1"),
        ([[0, 1]], [[0, 1]], 2.0, 5, TypeError, "num_classes must be an int"),
        ([[0, 7]], [[0, 1]], 2, 5, ValueError, "pred holds values 7"),
        ([[0, 1]], [[-3, 1]], 2, 5, ValueError, "gt holds values -3"),
        ([[0, 1]], [[0, 1, 1]], 2, 5, ValueError, "must match"),
        ([0, 1], [0, 1], 2, 5, ValueError, "class map"),
        ("pred", [[0, 1]], 2, 5, TypeError, "pred must be a class map"),
    ],
)
def test_confusion_rejects_bad_maps(pred, gt, k, void, error, match):
    as_tensor = lambda x: torch.tensor(x) if isinstance(x, list) else x  # noqa: E731
    with pytest.raises(error, match=match):
        ev.confusion_matrix(as_tensor(pred), as_tensor(gt), k, void)


def test_confusion_rejects_float_maps():
    with pytest.raises(ValueError, match="integer class map"):
        ev.confusion_matrix(torch.zeros(2, 2), torch.zeros(2, 2, dtype=torch.long), 2, 5)


# --------------------------------------------------------------------------- mappings


def voc_semantic(device: torch.device | str = "cpu") -> Segmentation:
    """A DeepLabV3-like result: ids = class + 1; background, cat (8), dog (12)."""
    ids = torch.ones(6, 8, dtype=torch.int32)
    ids[1:4, 1:4] = 9
    ids[2:5, 5:8] = 13
    table = (
        Segment(1, 0, VOC[0]),
        Segment(9, 8, "cat", is_thing=True),
        Segment(13, 12, "dog", is_thing=True),
    )
    return Segmentation(ids.to(device), table, VOC, "semantic")


def coco_instance(device: torch.device | str = "cpu") -> Segmentation:
    """A Mask R-CNN-like result over COCO names: a cat, a dog, a couch, a giraffe, a person."""
    from torchvision.models.detection import MaskRCNN_ResNet50_FPN_V2_Weights

    names = tuple(MaskRCNN_ResNet50_FPN_V2_Weights.DEFAULT.meta["categories"])
    ids = torch.zeros(6, 8, dtype=torch.int32)
    ids[0, :] = 1
    ids[1, :] = 2
    ids[2, :4] = 3
    ids[3, :4] = 4
    ids[4, :4] = 5
    table = tuple(
        Segment(i, names.index(n), f"{n} 1 · 0.9", 0.9, True)
        for i, n in enumerate(("cat", "dog", "couch", "giraffe", "person"), 1)
    )
    return Segmentation(ids.to(device), table, names, "instance")


def test_voc_mapping_scores_voc_classes_and_ignores_void(device):
    seg = voc_semantic(device)
    truth = seg.ids.long() - 1  # the class indices
    annotation = truth.clone()
    annotation[0, :] = 255  # void
    annotation[5, 0] = 12  # a dog pixel the model calls background
    maps = ev.VocMapping().apply(seg, annotation.int().cpu())
    assert maps.names == VOC and maps.void == ev.VOID
    assert maps.pred.device == seg.device and maps.pred.dtype == torch.int64
    assert torch.equal(maps.pred, truth)
    assert torch.equal(maps.gt[0], torch.full((8,), ev.VOID, device=seg.device))
    scores = ev.Confusion.of(maps).scores()
    assert scores.pixels == 6 * 8 - 8
    assert scores.pixel_accuracy == (40 - 1) / 40
    assert {r.label for r in scores.classes} == {"__background__", "cat", "dog"}
    dog = next(r for r in scores.classes if r.label == "dog")
    assert (dog.fn, dog.fp) == (1, 0)


def test_voc_mapping_reads_coco_names_and_counts_the_rest_as_background():
    seg = coco_instance()
    maps = ev.VocMapping().apply(seg, torch.zeros(6, 8, dtype=torch.uint8))
    want = {0: VOC.index("cat"), 1: VOC.index("dog")}
    assert maps.pred[0, 0] == want[0] and maps.pred[1, 0] == want[1]
    assert int(maps.pred[2, 0]) == VOC.index("sofa")  # couch
    assert int(maps.pred[3, 0]) == 0  # giraffe: not a VOC class
    assert int(maps.pred[4, 0]) == VOC.index("person")
    assert int(maps.pred[5, 0]) == 0  # no segment


def test_voc_mapping_names_values_it_does_not_know():
    with pytest.raises(ValueError, match=r"values 21, 40 that a VOC class PNG does not name"):
        ev.VocMapping().apply(voc_semantic(), torch.tensor([[21, 40] * 4] * 6))


def test_trimap_maps_cat_and_dog_to_pet_and_ignores_the_border(device):
    seg = coco_instance(device)
    trimap = torch.full((6, 8), 2, dtype=torch.uint8)
    trimap[0:2, :] = 1  # the cat and the dog are the pet
    trimap[2, :] = 3  # border
    trimap[4, 0] = 1  # a pet pixel the model calls a person
    maps = ev.TrimapMapping().apply(seg, trimap)
    assert maps.names == ("pet", "background")
    pet_pred = torch.zeros(6, 8, dtype=torch.bool, device=seg.device)
    pet_pred[0:2] = True
    assert torch.equal(maps.pred == 0, pet_pred)
    assert torch.equal(maps.gt == ev.VOID, (trimap == 3).to(seg.device))
    pet, background = ev.Confusion.of(maps).scores().classes
    assert (pet.tp, pet.fp, pet.fn) == (16, 0, 1)
    assert (background.tp, background.fp, background.fn) == (23, 1, 0)
    as_person = ev.TrimapMapping(["person"]).apply(seg, trimap)
    assert bool((as_person.pred[4, :4] == 0).all()) and int((as_person.pred == 0).sum()) == 4


@pytest.mark.parametrize(
    ("classes", "error", "match"),
    [
        ("cat", TypeError, "collection of category names"),
        ([1, 2], TypeError, "category names"),
        ([], ValueError, "at least one"),
    ],
)
def test_trimap_mapping_rejects_bad_classes(classes, error, match):
    with pytest.raises(error, match=match):
        ev.TrimapMapping(classes)


def test_trimap_mapping_refuses_unknown_classes_and_values():
    with pytest.raises(ValueError, match="knows none of the classes zebu"):
        ev.TrimapMapping(["zebu"]).apply(coco_instance(), torch.ones(6, 8, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"values 0, 4 that an Oxford-IIIT Pet trimap"):
        ev.TrimapMapping().apply(coco_instance(), torch.tensor([[0, 1, 2, 3, 4, 1, 1, 1]] * 6))


def test_label_mapping_with_a_table():
    seg = coco_instance()
    annotation = torch.zeros(6, 8, dtype=torch.int32)
    annotation[0:2, :] = 5  # animals
    annotation[4, :] = 7  # person
    annotation[5, :] = 99  # void
    mapping = ev.LabelMapping({7: ["person"], 0: [ev.BACKGROUND], 5: ["cat", "dog"]}, void=99)
    maps = mapping.apply(seg, annotation)
    assert maps.names == ("__background__", "cat + dog", "person")
    assert torch.equal(maps.gt[5], torch.full((8,), ev.VOID))
    assert maps.gt[0, 0] == 1 and maps.gt[4, 0] == 2 and maps.gt[3, 0] == 0
    # couch and giraffe are in no list: none of the classes, a miss where the truth has a class
    assert int(maps.pred[2, 0]) == ev.VOID and int(maps.pred[3, 0]) == ev.VOID
    background, animals, person = ev.Confusion.of(maps).scores().classes
    assert (animals.tp, animals.fp, animals.fn) == (16, 0, 0)
    assert (person.tp, person.fp, person.fn) == (4, 0, 4)
    assert (background.tp, background.fp, background.fn) == (8, 4, 8)


@pytest.mark.parametrize(
    ("table", "void", "error", "match"),
    [
        ([("person",)], None, TypeError, "table must map"),
        ({}, None, ValueError, "table is empty"),
        ({"1": ["person"]}, None, TypeError, "an annotation value must be an int"),
        ({1: "person"}, None, TypeError, "list of category names"),
        ({1: [3]}, None, TypeError, "category names"),
        ({1: ["cat"], 2: ["cat", "dog"]}, None, ValueError, "more than one value: cat"),
        ({1: ["cat"]}, 1, ValueError, "both void and a class"),
        ({1: ["cat"]}, "x", TypeError, "void must be an int"),
    ],
)
def test_label_mapping_rejects_bad_tables(table, void, error, match):
    with pytest.raises(error, match=match):
        ev.LabelMapping(table, void=void)


def test_label_mapping_with_negative_and_large_values(device):
    seg = coco_instance(device)
    annotation = torch.full((6, 8), 70_000, dtype=torch.int32)
    annotation[0, :] = 100_000  # the cat
    annotation[5, :] = -5  # void
    mapping = ev.LabelMapping({70_000: [ev.BACKGROUND], 100_000: ["cat"]}, void=-5)
    maps = mapping.apply(seg, annotation)
    assert maps.gt.device == seg.device
    assert maps.gt[0].tolist() == [1] * 8 and maps.gt[5].tolist() == [ev.VOID] * 8
    assert maps.gt[3].tolist() == [0] * 8
    annotation[2, 2] = 123_456
    with pytest.raises(ValueError, match=r"values 123456 that the mapping table does not name"):
        mapping.apply(seg, annotation)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ev.evaluate("seg", torch.ones(2, 2), ev.VocMapping()), "prediction must be a"),
        (lambda: ev.evaluate(voc_semantic(), torch.ones(6, 8), {1: ["cat"]}), "mapping must be"),
        (lambda: ev.evaluate_panoptic(voc_semantic(), None), "annotation must be a"),
        (lambda: ev.panoptic_counts(np.ones((2, 2)), voc_semantic()), "prediction must be a"),
    ],
)
def test_a_wrong_kind_of_argument_is_a_type_error(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_label_mapping_names_values_outside_the_table_and_unknown_names():
    mapping = ev.LabelMapping({0: [ev.BACKGROUND], 1: ["cat"]})
    annotation = torch.tensor([[0, 1, 4, 4, 6, 0, 0, 0]] * 6)
    with pytest.raises(ValueError, match=r"values 4, 6 that the mapping table does not name"):
        mapping.apply(coco_instance(), annotation)
    with pytest.raises(ValueError, match="does not know: kitten"):
        ev.LabelMapping({1: ["kitten"]}).apply(coco_instance(), annotation)


@pytest.mark.parametrize(
    "mapping", [ev.VocMapping(), ev.TrimapMapping(), ev.LabelMapping({1: ["cat"]})]
)
def test_mappings_refuse_another_size_and_non_label_maps(mapping):
    seg = coco_instance()
    with pytest.raises(ValueError, match=r"the annotation is 7×6 pixels but the prediction is 8×6"):
        mapping.apply(seg, torch.ones(6, 7, dtype=torch.int32))
    with pytest.raises(ValueError, match="integer label map"):
        mapping.apply(seg, torch.ones(6, 8))
    with pytest.raises(TypeError, match="label map tensor"):
        mapping.apply(seg, np.ones((6, 8), dtype=np.int32))


# --------------------------------------------------------------------------- panoptic quality


def test_pq_of_a_perfect_match_is_one(device):
    ids = np.zeros((8, 10), dtype=np.int32)
    ids[:4, :] = 3  # sky
    ids[4:, :] = 4  # road
    ids[1:3, 1:4] = 1  # a person
    ids[5:8, 5:9] = 2  # a car
    ids[0, 0] = 0  # void
    rows = [(1, 0, False), (2, 1, False), (3, 2, False), (4, 3, False)]
    counts = assert_pq_equal(ids, rows, ids, rows, device)
    scores = counts.scores()
    assert (scores.all.pq, scores.all.sq, scores.all.rq, scores.all.n) == (1.0, 1.0, 1.0, 4)
    assert (scores.things.n, scores.stuff.n) == (2, 2)


@pytest.mark.parametrize("covered", [5, 4])
def test_a_split_segment_is_one_fn_and_two_fps(covered):
    gt = np.zeros((10, 10), dtype=np.int32)
    gt[:, :] = 1
    pred = np.zeros((10, 10), dtype=np.int32)
    pred[:covered, :] = 1  # IoU 0.5 (not > 0.5) or 0.4
    pred[10 - covered :, :] = 2
    assert_informative(pred)
    counts = assert_pq_equal(gt, [(1, 0, False)], pred, [(1, 0, False), (2, 0, False)])
    assert (counts.tp[0], counts.fp[0], counts.fn[0]) == (0, 2, 1)
    scores = counts.scores()
    assert scores.all.pq == 0.0 and scores.classes[0].sq is None
    assert scores.all.sq == 0.0  # the reference's mean counts a class without TP as 0


def test_a_prediction_inside_a_crowd_region_is_not_a_false_positive():
    gt = np.zeros((10, 10), dtype=np.int32)
    gt[:, :5] = 1  # a crowd of people
    gt[:, 5:] = 2  # a car
    pred = np.zeros((10, 10), dtype=np.int32)
    pred[:5, :4] = 1  # a person inside the crowd: ignored
    pred[6:, :3] = 3  # a car inside the crowd of people: an FP
    pred[:, 5:] = 2  # the car
    gt_rows = [(1, 0, True), (2, 1, False)]
    pred_rows = [(1, 0, False), (2, 1, False), (3, 1, False)]
    counts = assert_pq_equal(gt, gt_rows, pred, pred_rows)
    assert (counts.tp[0], counts.fp[0], counts.fn[0]) == (0, 0, 0)  # crowd: no FN either
    assert (counts.tp[1], counts.fp[1], counts.fn[1]) == (1, 1, 0)
    assert [c.label for c in counts.scores().classes] == ["car"]


def test_void_pixels_are_left_out_of_the_union():
    gt = np.zeros((10, 10), dtype=np.int32)
    gt[2:8, 2:8] = 1  # 36 pixels; the rest is void
    pred = np.zeros((10, 10), dtype=np.int32)
    pred[:, :8] = 1  # the 36 pixels and 44 void ones: IoU 36/80 without the rule, 1 with it
    pred[:, 8:] = 2  # a prediction on void only: not an FP
    counts = assert_pq_equal(gt, [(1, 0, False)], pred, [(1, 0, False), (2, 1, False)])
    assert (counts.tp, counts.fp, counts.fn) == ((1, 0, 0, 0), (0, 0, 0, 0), (0, 0, 0, 0))
    assert counts.iou[0] == 1.0


def test_things_and_stuff_are_averaged_apart():
    gt = np.zeros((10, 20), dtype=np.int32)
    gt[:5, :] = 3  # sky
    gt[5:, :] = 4  # road
    gt[6:9, 2:6] = 1  # person, 12 px
    gt[6:9, 10:14] = 2  # person, 12 px
    pred = gt.copy()
    pred[6:9, 10:14] = 4  # the second person is missed: road takes it
    pred[1:3, 15:19] = 5  # a car in the sky: FP
    gt_rows = [(1, 0, False), (2, 0, False), (3, 2, False), (4, 3, False)]
    pred_rows = [(1, 0, False), (3, 2, False), (4, 3, False), (5, 1, False)]
    counts = assert_pq_equal(gt, gt_rows, pred, pred_rows)
    scores = counts.scores()
    person = next(c for c in scores.classes if c.label == "person")
    assert (person.tp, person.fp, person.fn, person.pq) == (1, 0, 1, 1 / 1.5)
    assert scores.things.n == 2 and scores.things.pq == pytest.approx((1 / 1.5 + 0) / 2)
    road_iou = 76 / 88  # the missed person's 12 pixels are predicted as road
    sky_iou = 92 / 100  # the car takes 8 pixels of the sky
    assert scores.stuff.pq == pytest.approx((sky_iou + road_iou) / 2)
    assert scores.all.pq == pytest.approx((1 / 1.5 + 0 + sky_iou + road_iou) / 4)


@st.composite
def panoptic_pairs(draw: st.DrawFn):
    """A gt of coarse blocks and a prediction that shares most of them, with some changed."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 7, (4, 5))
    gt = np.kron(grid, np.ones((3, 3), dtype=np.int64)).astype(np.int32)
    gt_cats = {i: int(rng.integers(0, 4)) for i in range(1, 7)}
    crowd_cats: set[int] = set()
    gt_rows = []
    for i in sorted(set(np.unique(gt).tolist()) - {0}):
        crowd = bool(rng.random() < 0.2) and gt_cats[i] not in crowd_cats  # one per category
        if crowd:
            crowd_cats.add(gt_cats[i])
        gt_rows.append((i, gt_cats[i], crowd))
    pred = gt.copy()
    for new_id in range(7, 7 + int(rng.integers(0, 4))):
        y, x = rng.integers(0, 12), rng.integers(0, 15)
        pred[y : y + int(rng.integers(1, 7)), x : x + int(rng.integers(1, 8))] = new_id
    pred_cats = {
        i: (c if rng.random() < 0.8 else int(rng.integers(0, 4))) for i, c in gt_cats.items()
    }
    pred_cats.update({i: int(rng.integers(0, 4)) for i in range(7, 11)})
    pred_rows = [(i, pred_cats[i], False) for i in sorted(set(np.unique(pred).tolist()) - {0})]
    if draw(st.booleans()):  # COCO-sized ids (R + 256·G + 256²·B) take the searchsorted path
        gt, pred = gt * 65_537, pred * 70_001
        gt_rows = [(i * 65_537, c, cr) for i, c, cr in gt_rows]
        pred_rows = [(i * 70_001, c, cr) for i, c, cr in pred_rows]
    return gt, gt_rows, pred, pred_rows


@settings(max_examples=80, deadline=None)
@given(panoptic_pairs())
def test_pq_equals_the_reference_on_random_maps(device, case):
    gt, gt_rows, pred, pred_rows = case
    counts = assert_pq_equal(gt, gt_rows, pred, pred_rows, device)
    assert sum(counts.tp) + sum(counts.fp) + sum(counts.fn) > 0


def test_panoptic_counts_of_two_photos_add_up_to_the_photos_side_by_side():
    left = np.kron(np.array([[1, 2], [3, 0]]), np.ones((4, 4), dtype=np.int64)).astype(np.int32)
    right_gt = np.kron(np.array([[4, 4], [5, 6]]), np.ones((4, 4), dtype=np.int64)).astype(np.int32)
    right_pred = right_gt.copy()
    right_pred[4:, 4:] = 5
    gt_rows_l = [(1, 0, False), (2, 1, False), (3, 2, False)]
    pred_rows_l = [(1, 0, False), (2, 0, False), (3, 2, False)]
    gt_rows_r = [(4, 3, False), (5, 0, False), (6, 0, True)]
    pred_rows_r = [(4, 3, False), (5, 0, False)]
    one = assert_pq_equal(left, gt_rows_l, left, pred_rows_l)
    two = assert_pq_equal(right_gt, gt_rows_r, right_pred, pred_rows_r)
    both = assert_pq_equal(
        np.concatenate([left, right_gt], 1),
        gt_rows_l + gt_rows_r,
        np.concatenate([left, right_pred], 1),
        pred_rows_l + pred_rows_r,
    )
    assert one + two == both and sum([one, two]) == both
    assert (one + two).scores() == both.scores()


def test_panoptic_counts_refuse_what_does_not_fit():
    ids = np.ones((4, 4), dtype=np.int32)
    gt = panoptic(ids, [(1, 0, False)], "groundtruth")
    other = Segmentation(
        torch.ones(4, 4, dtype=torch.int32), (Segment(1, 0, "zebu"),), ("zebu",), "panoptic"
    )
    with pytest.raises(ValueError, match="categories the annotation does not list: zebu"):
        ev.panoptic_counts(other, gt)
    for small, big in ((1, 3), (70_000, 300_000)):  # a lookup table, a searchsorted
        gappy = torch.tensor([[small, big], [big, big]], dtype=torch.int32)
        holey = Segmentation(gappy, (Segment(big, 0, "person"),), NAMES, "panoptic")
        with pytest.raises(ValueError, match=f"ids its segment table lacks: {small}$"):
            ev.panoptic_counts(holey, panoptic(np.ones((2, 2)), [(1, 0, False)], "groundtruth"))
    with pytest.raises(ValueError, match="4×4 pixels but the prediction is 2×2"):
        ev.panoptic_counts(holey, gt)
    with pytest.raises(ValueError, match="same categories"):
        _ = ev.panoptic_counts(gt, gt) + ev.PanopticCounts(
            ("x",), (True,), (1,), (0,), (0,), (1.0,)
        )


# --------------------------------------------------------------------------- self-evaluation


def test_a_panoptic_annotation_made_from_the_prediction_scores_one(device):
    ids = np.kron(np.array([[1, 2, 3], [4, 4, 0]]), np.ones((5, 5), dtype=np.int64))
    rows = [(1, 0, False), (2, 0, False), (3, 1, False), (4, 2, False)]
    pred = panoptic(ids, rows, device=device)
    result = ev.evaluate_panoptic(pred, panoptic(ids, rows, "groundtruth"))
    data = result.to_json()
    assert (data["miou"], data["pixel_accuracy"], data["pq"], data["sq"], data["rq"]) == (1.0,) * 5
    assert data["pixels"] == 25 * 5 and len(data["classes"]) == 3
    assert data["n"] == 3 and data["things"]["n"] == 2 and data["stuff"]["n"] == 1


def test_a_voc_png_of_the_prediction_scores_one():
    seg = voc_semantic()
    annotation = torch.from_numpy(np.asarray(exports.voc_png(seg), dtype=np.int32))
    result = ev.evaluate(seg, annotation, ev.VocMapping())
    assert (result.semantic.miou, result.semantic.pixel_accuracy) == (1.0, 1.0)
    assert len(result.semantic.classes) == 3


def test_a_real_semantic_output_scores_one_against_itself():
    from segdemo import semantic

    image = torch.randint(
        0, 256, (3, 64, 80), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    seg = semantic.segment(image, "mobilenet_v3_large", device="cpu")
    annotation = torch.from_numpy(np.asarray(exports.voc_png(seg), dtype=np.int32))
    result = ev.evaluate(seg, annotation, ev.VocMapping())
    assert len(result.semantic.classes) >= 1
    assert result.semantic.pixels == 64 * 80
    assert (result.semantic.miou, result.semantic.pixel_accuracy) == (1.0, 1.0)


# --------------------------------------------------------------------------- TP / FP / FN picture


def test_error_map_marks_tp_fp_fn_for_one_class_several_or_all(device):
    v = ev.VOID
    gt = torch.tensor([[0, 0, 1, 1, 2, v]], device=device)
    pred = torch.tensor([[0, 1, 1, 0, v, 1]], device=device)
    maps = ev.ClassMaps(pred, gt, ("bg", "cat", "dog"), v)
    one = ev.error_map(maps, 1)
    assert one.dtype == torch.int32 and one.device == gt.device
    assert one.tolist() == [[0, 2, 1, 3, 0, 0]]
    assert ev.error_map(maps, [1, 2]).tolist() == [[0, 2, 1, 3, 3, 0]]
    assert ev.error_map(maps).tolist() == [[1, 2, 1, 2, 3, 0]]
    assert ev.error_map(maps, []).tolist() == [[0] * 6]
    palette = ev.error_palette(device)
    assert palette.shape == (4, 3) and palette.dtype == torch.uint8 and palette.device == gt.device
    assert len({tuple(c) for c in palette.tolist()}) == 4 and len(ev.ERROR_LABELS) == 3
    image = torch.full((3, 1, 6), 100, dtype=torch.uint8, device=device)
    drawn = masks.overlay(image, one, palette, 1.0)
    assert torch.equal(drawn[:, 0, 2], palette[1]) and torch.equal(drawn[:, 0, 0], image[:, 0, 0])


@pytest.mark.parametrize(
    ("classes", "error", "match"),
    [
        (3, ValueError, "outside the 3 classes"),
        ([0, -1], ValueError, "-1"),
        ("cat", TypeError, "class index"),
    ],
)
def test_error_map_rejects_bad_classes(classes, error, match):
    maps = ev.ClassMaps(
        torch.zeros(1, 2, dtype=torch.long),
        torch.zeros(1, 2, dtype=torch.long),
        ("a", "b", "c"),
        -1,
    )
    with pytest.raises(error, match=match):
        ev.error_map(maps, classes)


# --------------------------------------------------------------------------- COCO panoptic files


def coco_result() -> Segmentation:
    from segdemo.panoptic import DEFAULT_CHECKPOINT
    from segdemo.panoptic.datasets import DATASETS

    names = tuple(c.name for c in DATASETS["coco"])
    things = tuple(c.is_thing for c in DATASETS["coco"])
    ids = torch.zeros(30, 40, dtype=torch.int32)
    ids[:10] = 3
    ids[10:] = 4
    ids[12:20, 5:15] = 1
    ids[15:28, 20:35] = 2
    ids[0, 0] = 0
    cats = {
        1: names.index("person"),
        2: names.index("dog"),
        3: names.index("sky-other-merged"),
        4: names.index("grass-merged"),
    }
    table = tuple(Segment(i, c, names[c], 0.9, things[c]) for i, c in cats.items())
    return Segmentation(ids, table, names, "panoptic", {"checkpoint": DEFAULT_CHECKPOINT})


def write_export(tmp_path: Path, seg: Segmentation) -> tuple[Path, dict[str, Any]]:
    data, pngs = exports.coco_panoptic([exports.PhotoEntry(7, "photo.jpg", seg)], ["photo.png"])
    pngs[0].save(tmp_path / "photo.png")
    return tmp_path / "photo.png", data


def test_a_coco_panoptic_export_reads_back_as_the_same_result(tmp_path):
    seg = coco_result()
    png, data = write_export(tmp_path, seg)
    (tmp_path / "panoptic.json").write_text(json.dumps(data))
    for source in (data, tmp_path / "panoptic.json", str(tmp_path / "panoptic.json")):
        back = read_panoptic_annotation(png, source, size=(30, 40))
        assert_informative(back.ids)
        assert back.task == "groundtruth" and back.ids.dtype == torch.int32
        assert torch.equal(back.ids, seg.ids)
        assert back.categories == seg.categories
        assert [(s.id, s.category_id, s.is_thing) for s in back.segments] == [
            (s.id, s.category_id, s.is_thing) for s in seg.segments
        ]
        assert back.extras["iscrowd"] == () and back.extras["file_name"] == "photo.png"
        assert back.extras["dataset_ids"] == tuple(c["id"] for c in data["categories"])
    result = ev.evaluate_panoptic(seg, read_panoptic_annotation(png, data))
    assert (result.panoptic.all.pq, result.semantic.miou) == (1.0, 1.0)  # type: ignore[union-attr]


def test_crowd_segments_and_the_device_come_through(tmp_path, device):
    seg = coco_result()
    png, data = write_export(tmp_path, seg)
    data["annotations"][0]["segments_info"][1]["iscrowd"] = 1
    back = read_panoptic_annotation(Image.open(png), data, file_name="photo.png", device=device)
    assert back.extras["iscrowd"] == (2,) and back.device.type == torch.device(device).type


def _drop_segment(data: dict[str, Any]) -> None:
    data["annotations"][0]["segments_info"].pop(0)


def _unknown_category(data: dict[str, Any]) -> None:
    data["annotations"][0]["segments_info"][0]["category_id"] = 10_000


def _twice(data: dict[str, Any]) -> None:
    data["annotations"][0]["segments_info"][1]["id"] = 1


def _no_categories(data: dict[str, Any]) -> None:
    data["categories"] = []


def _rename(data: dict[str, Any]) -> None:
    data["annotations"][0]["file_name"] = "other.png"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (_drop_segment, "segment ids 1 that the JSON's segments_info for photo.png does not list"),
        (_unknown_category, "category_id 10000, which the JSON's categories do not list"),
        (_twice, "Segment id 1 of photo.png is listed twice"),
        (_no_categories, "no 'categories' list"),
        (_rename, "no annotation for photo.png"),
    ],
)
def test_a_json_that_does_not_match_its_png_is_refused(tmp_path, change, match):
    png, data = write_export(tmp_path, coco_result())
    change(data)
    with pytest.raises(InputError, match=match):
        read_panoptic_annotation(png, data)


def test_bad_panoptic_files_are_refused(tmp_path):
    png, data = write_export(tmp_path, coco_result())
    with pytest.raises(InputError, match="40×30 pixels but the photo is 41×30"):
        read_panoptic_annotation(png, data, size=(30, 41))
    with pytest.raises(InputError, match="was not found"):
        read_panoptic_annotation(png, tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(InputError, match="not a readable JSON"):
        read_panoptic_annotation(png, tmp_path / "broken.json")
    gray = tmp_path / "gray.png"
    Image.new("L", (40, 30)).save(gray)
    data["annotations"][0]["file_name"] = "gray.png"
    with pytest.raises(InputError, match="has PIL mode L, but a COCO panoptic PNG is RGB"):
        read_panoptic_annotation(gray, data)
    lossy = tmp_path / "photo.jpg"
    Image.open(png).save(lossy, quality=95)
    data["annotations"][0]["file_name"] = "photo.jpg"
    with pytest.raises(InputError, match="lossy compression"):
        read_panoptic_annotation(lossy, data)
    with pytest.raises(TypeError, match="file_name is needed"):
        read_panoptic_annotation(np.zeros((30, 40, 3), dtype=np.uint8), data)
    with pytest.raises(TypeError, match="dict or a file path"):
        read_panoptic_annotation(png, 42)  # type: ignore[arg-type]
