"""DeepLabV3 adapter: parity with torchvision's own pipeline, the result contract, loading.

No network here: every model has random weights, either from SEGDEMO_WEIGHTS=random or from a
checkpoint written into a temporary model store and loaded through the pretrained path.
Tests that take ``device`` run on the CPU and on CUDA where there is one (tests/conftest.py).
Random DeepLabV3-MobileNetV3 collapses to one class everywhere (its activations shrink layer
after layer), so the parity checks use a copy whose BatchNorm statistics were recomputed on a
batch of images: still random weights, but with several classes in the output.
"""

from __future__ import annotations

import json
import time

import pytest
import torch
import torch.nn.functional as F

from segdemo import semantic, weights
from segdemo.models import RANDOM_SEED
from segdemo.result import Segmentation
from segdemo.weights import WeightsUnavailable

FAST = "mobilenet_v3_large"
ODD_SIZES = [(37, 53), (61, 45), (40, 97)]  # (H, W): wide, tall, and much wider than tall


pytestmark = pytest.mark.usefixtures("random_weights")


@pytest.fixture
def fresh_cache():
    semantic.unload()
    yield
    semantic.unload()


def photo(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A small photo-like uint8 [3,H,W] image: smooth gradients, a bright disc, some noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.linspace(0, 1, height).view(-1, 1)
    x = torch.linspace(0, 1, width).view(1, -1)
    disc = (((y - 0.5) ** 2 + (x - 0.4) ** 2) < 0.08).float()
    channels = torch.stack([180 * y + 60 * x, 200 * (1 - y) * x + 120 * disc, 90 + 150 * disc * y])
    noise = 12 * torch.randn(3, height, width, generator=g)
    return (channels + noise).clamp(0, 255).to(torch.uint8)


def torchvision_model(key: str) -> torch.nn.Module:
    """torchvision's builder with the same seeded random initialisation (aux head kept)."""
    spec = semantic.VARIANTS[key]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)
        model = spec.builder(weights=None, weights_backbone=None, **spec.builder_options)
    return model.eval()


def calibrate(model: torch.nn.Module) -> torch.nn.Module:
    """Recompute every BatchNorm's statistics on two images so random features keep their scale."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # cumulative average: one batch sets the statistics
    weights = semantic.VARIANTS[FAST].weights
    # Small images at their own size keep this fast; the statistics need not be exact.
    normalise = weights.transforms()
    normalise.resize_size = None
    batch = torch.stack([normalise(photo(96, 128, seed)) for seed in (1, 2)])
    with torch.no_grad():
        model.train()(batch)
    return model.eval()


def reference_ids(model: torch.nn.Module, image: torch.Tensor, key: str) -> torch.Tensor:
    """torchvision's own computation: preset transforms, model, upsample, argmax, +1."""
    weights = semantic.VARIANTS[key].weights
    with torch.inference_mode():
        logits = model(weights.transforms()(image).unsqueeze(0))["out"]
        logits = F.interpolate(logits, size=image.shape[-2:], mode="bilinear", align_corners=False)
        return (logits.argmax(dim=1)[0] + 1).to(torch.int32)


@pytest.fixture
def calibrated_store(random_weights, monkeypatch, tmp_path, fresh_cache):
    """A random but non-degenerate MobileNet checkpoint in a temporary store, pretrained mode."""
    model = calibrate(torchvision_model(FAST))
    path = weights.checkpoint_path(semantic.VARIANTS[FAST].weights.url)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "pretrained")
    return model


# --- variants ------------------------------------------------------------------------------


def test_variants_come_from_the_weights_enums():
    assert list(semantic.VARIANTS) == [
        "resnet50",
        "resnet101",
        "mobilenet_v3_large",
        "lraspp_mobilenet_v3_large",
    ]
    assert semantic.DEFAULT_VARIANT == "resnet50"
    for key, miou in [
        ("resnet50", "66.4"),
        ("resnet101", "67.4"),
        ("mobilenet_v3_large", "60.3"),
        ("lraspp_mobilenet_v3_large", "57.9"),
    ]:
        spec = semantic.VARIANTS[key]
        assert spec.categories == tuple(spec.weights.meta["categories"])
        assert len(spec.categories) == 21 and spec.categories[0] == "__background__"
        assert f"mIoU {miou}" in spec.description and spec.title in spec.description
    with pytest.raises(ValueError, match=r"'deeplab_vgg'.*resnet50"):
        semantic.get_variant("deeplab_vgg")


# --- preprocessing -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [*ODD_SIZES, (520, 700), (600, 520), (1, 1)])
def test_preprocess_is_the_preset_bit_for_bit(size, device):
    weights = semantic.VARIANTS[FAST].weights
    image = photo(*size)
    expected = weights.transforms()(image)
    ours = semantic.preprocess(image.to(device), weights)
    assert ours.shape == (1, *expected.shape)
    assert ours.device.type == device.type
    if device.type == "cpu":
        assert torch.equal(ours[0], expected)
    else:  # another device's kernels may round the resize differently by one grey level
        assert torch.allclose(ours[0].cpu(), expected, atol=1.01 / 255 / 0.224)


# --- postprocessing ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(50, 70), (7, 9)])  # up- and downsampling
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_upsampled_argmax_in_groups_is_the_one_shot_argmax(monkeypatch, device, size, layout):
    g = torch.Generator().manual_seed(5)
    logits = F.interpolate(torch.randn(1, 21, 4, 5, generator=g), size=(13, 17), mode="bilinear")
    logits[:, 7] = logits[:, 3]  # exact ties: the first class must win, as in argmax
    logits = logits.to(device).contiguous(memory_format=layout)
    expected = F.interpolate(logits, size=size, mode="bilinear", align_corners=False).argmax(1)[0]
    assert len(expected.unique()) > 3
    for classes_per_group in (1, 2, 5, 21):
        budget = classes_per_group * 4 * size[0] * size[1]  # float32 planes at the output size
        monkeypatch.setattr(semantic, "UPSAMPLE_BUDGET_BYTES", budget)
        ours = semantic.upsampled_argmax(logits, size)
        assert ours.shape == size and ours.device.type == device.type
        if device.type == "cpu":
            assert torch.equal(ours.long(), expected), classes_per_group
        else:  # not run on a GPU yet: claim only what the parity tests claim
            assert (ours.long() == expected).float().mean().item() >= 0.999


# --- parity with torchvision ---------------------------------------------------------------


def test_parity_with_torchvision_on_odd_sizes(calibrated_store, device, monkeypatch):
    if device.type == "cuda":  # compare the pipelines, not TF32's rounding against the CPU's
        monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    for height, width in ODD_SIZES:
        image = photo(height, width, seed=height)
        expected = reference_ids(calibrated_store, image, FAST)
        result = semantic.segment(image.to(device), FAST, device=device)
        ours = result.ids.cpu()
        assert len(expected.unique()) > 1, "the compared maps must not be one class everywhere"
        assert ours.shape == expected.shape == (height, width)
        agreement = (ours == expected).float().mean().item()
        assert agreement >= 0.999, f"{height}x{width}: only {agreement:.4%} of pixels agree"


def test_random_resnet50_is_torchvisions_seeded_init_and_matches_it():
    image = photo(26, 29, seed=3)  # ResNet50 runs at 520 x 579: the smallest it gets
    reference = torchvision_model("resnet50")
    reference.aux_classifier = None  # only "out" matters; spare the time
    expected = reference_ids(reference, image, "resnet50")
    result = semantic.segment(image, device="cpu")  # the default variant
    assert result.extras["variant"] == "resnet50"
    assert len(expected.unique()) > 1
    assert (result.ids == expected).float().mean().item() >= 0.999


def test_lraspp_checkpoint_loads_and_matches_torchvision(random_weights, monkeypatch, fresh_cache):
    key = "lraspp_mobilenet_v3_large"
    reference = calibrate(torchvision_model(key))
    path = weights.checkpoint_path(semantic.VARIANTS[key].weights.url)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(reference.state_dict(), path)
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "pretrained")
    image = photo(40, 56, seed=4)
    expected = reference_ids(reference, image, key)
    result = semantic.segment(image, key, device="cpu")
    assert result.extras["model"] == "LRASPP-MobileNetV3-Large"
    assert len(expected.unique()) > 1
    assert (result.ids == expected).float().mean().item() >= 0.999


def test_short_side_sets_the_working_size_and_keeps_the_photo_size(monkeypatch):
    seen: list[tuple[int, ...]] = []
    real = semantic.preprocess

    def spy(*args: object) -> torch.Tensor:
        batch = real(*args)
        seen.append(tuple(batch.shape))
        return batch

    monkeypatch.setattr(semantic, "preprocess", spy)
    image = photo(48, 64, seed=5)
    result = semantic.segment(image, FAST, device="cpu", short_side=96)
    assert seen == [(1, 3, 96, 128)]
    assert result.ids.shape == (48, 64)


# --- result contract -----------------------------------------------------------------------


def test_result_contract(calibrated_store, device):
    image = photo(61, 45, seed=7)
    result = semantic.segment(image, FAST, device=device)
    weights = semantic.VARIANTS[FAST].weights
    assert isinstance(result, Segmentation)
    assert result.task == "semantic"
    assert result.ids.dtype == torch.int32
    assert result.size == (61, 45)
    assert result.device.type == device.type
    assert result.categories == tuple(weights.meta["categories"])
    assert len(result.categories) == 21
    assert len(result) > 1
    table = {s.id for s in result.segments}
    assert set(result.ids.unique().tolist()) == table  # no 0: every pixel has a class
    for s in result.segments:
        assert s.id == s.category_id + 1
        assert s.label == result.categories[s.category_id]
        assert s.score is None and s.box is None
        assert s.is_thing == (s.label != "__background__")
    areas = result.areas()
    assert all(area > 0 for area in areas.values())
    assert sum(areas.values()) == 61 * 45


def test_background_is_a_segment_like_any_class():
    # Random MobileNet weights put one class everywhere; make it the background by biasing the
    # final layer of the cached model (then forget it so no other test sees the change).
    try:
        model = semantic.load_model(FAST, "cpu")
        with torch.no_grad():
            model.classifier[-1].bias.zero_()
            model.classifier[-1].bias[0] = 10.0
        result = semantic.segment(photo(20, 30), FAST, device="cpu")
    finally:
        semantic.unload()
    assert [(s.id, s.category_id, s.label, s.is_thing) for s in result.segments] == [
        (1, 0, "__background__", False)
    ]
    assert bool((result.ids == 1).all())


def test_timings_and_extras(device):
    result = semantic.segment(photo(30, 20), FAST, device=device)
    timings = result.extras["timings_ms"]
    assert set(timings) == {"preprocess", "model", "postprocess"}
    assert all(isinstance(ms, float) and ms >= 0 for ms in timings.values())
    assert result.extras["weights"] == "random"
    assert result.extras["model"] == "DeepLabV3-MobileNetV3-Large"


@pytest.mark.parametrize("budget", [None, 1])  # one-shot upsample, one class at a time
def test_the_caller_owns_the_ids(calibrated_store, monkeypatch, budget):
    image = photo(40, 30, seed=4)
    expected = semantic.segment(image, FAST, device="cpu").ids
    assert expected.unique().numel() > 1, "the compared maps must not be one class everywhere"
    if budget is not None:
        monkeypatch.setattr(semantic, "UPSAMPLE_BUDGET_BYTES", budget)
    result = semantic.segment(image, FAST, device="cpu")
    assert len(result) > 1
    assert torch.equal(result.ids, expected)
    # A fresh, ordinary tensor: not an inference-mode one, and shared with no other result.
    assert not result.ids.is_inference()
    result.ids[0, 0] = 0
    assert expected[0, 0] != 0
    assert torch.equal(semantic.segment(image, FAST, device="cpu").ids, expected)


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        ([[1, 2, 3]], TypeError, "torch.Tensor, got a list"),
        (torch.zeros(3, 8, 8), ValueError, "uint8, got torch.float32"),
        (torch.zeros(8, 8, 3, dtype=torch.uint8), ValueError, r"\[3, H, W\], got \(8, 8, 3\)"),
        (torch.zeros(4, 8, 8, dtype=torch.uint8), ValueError, r"got \(4, 8, 8\)"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.uint8), ValueError, r"got \(1, 3, 8, 8\)"),
        (torch.zeros(3, 0, 8, dtype=torch.uint8), ValueError, r"at least 1x1.*\(0, 8\)"),
    ],
)
def test_bad_inputs_are_clear_errors(image, error, match):
    with pytest.raises(error, match=match):
        semantic.segment(image, FAST, device="cpu")


def test_unknown_variant_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown DeepLabV3 variant 'vgg'"):
        semantic.segment(photo(8, 8), "vgg", device="cpu")


# --- loading -------------------------------------------------------------------------------


def test_progress_reports_loading_only_on_first_use(fresh_cache):
    calls: list[tuple[float, str]] = []
    assert not semantic.is_loaded(FAST, "cpu")
    semantic.segment(photo(16, 16), FAST, device="cpu", progress=lambda f, m: calls.append((f, m)))
    assert semantic.is_loaded(FAST, "cpu")
    assert calls[0] == (0.0, "Loading DeepLabV3-MobileNetV3-Large …")
    assert calls[-1][0] == 1.0
    assert [f for f, _ in calls] == sorted(f for f, _ in calls)
    calls.clear()
    semantic.segment(photo(16, 16), FAST, device="cpu", progress=lambda f, m: calls.append((f, m)))
    assert calls and not any(m.startswith("Loading") for _, m in calls)


def test_random_weights_are_seeded_and_leave_the_callers_rng_alone(fresh_cache):
    torch.manual_seed(123)
    first = {k: v.clone() for k, v in semantic.load_model(FAST, "cpu").state_dict().items()}
    drawn = torch.rand(3)
    semantic.unload()
    torch.manual_seed(123)
    second = semantic.load_model(FAST, "cpu").state_dict()
    assert torch.equal(torch.rand(3), drawn)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not any(k.startswith("aux_classifier") for k in first)  # aux head dropped


def test_missing_pretrained_weights_offline_fail_fast_with_the_fix(monkeypatch, fresh_cache):
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "pretrained")
    calls: list[str] = []
    start = time.monotonic()
    with pytest.raises(WeightsUnavailable) as caught:
        semantic.segment(photo(16, 16), FAST, device="cpu", progress=lambda f, m: calls.append(m))
    assert time.monotonic() - start < 10
    message = str(caught.value)
    assert "python -m segdemo fetch" in message
    assert "DeepLabV3-MobileNetV3-Large" in message
    assert "Traceback" not in message and "\n" not in message
    assert calls == ["Loading DeepLabV3-MobileNetV3-Large …"]
    assert not semantic.is_loaded(FAST, "cpu")


def test_a_checkpoint_in_the_store_loads_through_the_pretrained_path(calibrated_store, monkeypatch):
    # The store holds what a fetch would write: torchvision's full state dict (aux head
    # included), here of a random model whose BatchNorm statistics give several classes.
    image = photo(33, 47)
    loaded = semantic.load_model(FAST, "cpu")  # pretrained mode: from the file
    result = semantic.segment(image, FAST, device="cpu")
    assert result.extras["weights"] == "pretrained"

    monkeypatch.setenv("SEGDEMO_WEIGHTS", "random")
    assert not semantic.is_loaded(FAST, "cpu")
    random_model = semantic.load_model(FAST, "cpu")
    assert loaded is not random_model
    ours, theirs = loaded.state_dict(), random_model.state_dict()
    assert ours.keys() == theirs.keys()
    # Random mode is torchvision's seeded initialisation; pretrained mode holds the file's
    # tensors (the same weights, other BatchNorm statistics), the aux head dropped by both.
    seeded, file = torchvision_model(FAST).state_dict(), calibrated_store.state_dict()
    assert set(seeded) == set(file) == set(ours) | {k for k in file if k.startswith("aux_")}
    assert all(torch.equal(theirs[k], seeded[k]) for k in theirs)
    assert all(torch.equal(ours[k], file[k]) for k in ours)

    # One code path, only the tensors differ: given the file's tensors, random mode draws the
    # same map, which has several classes (random weights alone give one class everywhere).
    random_model.load_state_dict({k: file[k] for k in theirs}, strict=True)
    random_ids = semantic.segment(image, FAST, device="cpu").ids
    assert result.ids.unique().numel() > 1, "the compared maps must not be one class everywhere"
    assert torch.equal(result.ids, random_ids)


def test_a_damaged_checkpoint_is_weights_unavailable(monkeypatch, fresh_cache):
    path = weights.checkpoint_path(semantic.VARIANTS[FAST].weights.url)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a checkpoint")
    monkeypatch.setenv("SEGDEMO_WEIGHTS", "pretrained")
    with pytest.raises(WeightsUnavailable, match="python -m segdemo fetch"):
        semantic.load_model(FAST, "cpu")


# --- bench suite ---------------------------------------------------------------------------


def test_bench_suite_prints_the_contract_keys(capsys):
    from segdemo.bench import __main__ as bench_main

    argv = [
        "--quick",
        "--size",
        "24x32",
        "--suite",
        "semantic",
        "--only",
        "semantic_mobilenet",
        "--device",
        "cpu",
    ]
    assert bench_main.main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert [line["name"] for line in lines] == ["semantic_mobilenet_v3_large_24x32"]
    line = lines[0]
    for key in (
        "median_ms",
        "baseline_median_ms",
        "preprocess_ms",
        "model_ms",
        "postprocess_ms",
        "render_ms",
        "rerender_ratio",
    ):
        assert isinstance(line[key], float) and line[key] >= 0, key
    assert line["baseline"] and line["speedup"] is not None and line["weights"] == "random"
