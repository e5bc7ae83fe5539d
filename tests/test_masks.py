"""segdemo.masks against plain numpy references, on every device; bad arguments, table-driven.

Comparing two empty or one-valued maps proves little, so: the properties keep the degenerate
scenes Hypothesis draws (no pixel, one id everywhere, an empty selection are part of the
contract), every property also runs on one fixed scene whose ids, masks and colours are neither
empty nor uniform (``@example(INFORMATIVE, ...)``), and a test checks that the strategies draw
such scenes often, not only degenerate ones.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from segdemo import masks
from tests.helpers import assert_varied

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


# --------------------------------------------------------------------------- numpy references


def voc_colormap_ref(n: int = 256) -> np.ndarray:
    """The Pascal VOC devkit's colormap (labelcolormap / bitget), as usually transcribed."""
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


def colorize_ref(ids: np.ndarray, pal: np.ndarray) -> np.ndarray:
    return pal[ids].transpose(2, 0, 1)


def overlay_ref(img: np.ndarray, ids: np.ndarray, pal: np.ndarray, alpha: float) -> np.ndarray:
    a = round(alpha * 128)
    col = pal[ids].transpose(2, 0, 1).astype(np.int32)
    blended = (img.astype(np.int32) * (128 - a) + col * a + 64) >> 7
    return np.where(ids[None] == 0, img, blended).astype(np.uint8)


def binarize_ref(ids: np.ndarray, selected: list[int]) -> np.ndarray:
    return np.isin(ids, np.asarray(selected, dtype=np.int64))


def cutout_ref(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    alpha = np.where(mask, 255, 0).astype(np.uint8)[None]
    return np.concatenate([np.where(mask[None], img, 0).astype(np.uint8), alpha])


def on_black_ref(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return (img * mask[None]).astype(np.uint8)


def informative(a: np.ndarray) -> bool:
    """Neither empty (no pixel; nothing but id 0 or False) nor uniform (one value everywhere)."""
    return a.size > 0 and len(np.unique(a)) > 1


def assert_informative(*arrays: np.ndarray | torch.Tensor) -> None:
    for a in arrays:
        values = a.cpu().numpy() if isinstance(a, torch.Tensor) else a
        assert informative(values), f"a compared map is empty or uniform: {values!r}"


# --------------------------------------------------------------------------- strategies


@st.composite
def scenes(draw: st.DrawFn, min_side: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image uint8 [3,H,W], ids int32 [H,W], palette uint8 [N,3]) with every id < N."""
    h = draw(st.integers(min_side, 9))
    w = draw(st.integers(min_side, 9))
    n = draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ids = rng.integers(0, n, size=(h, w), dtype=np.int32)
    if draw(st.booleans()):  # blobs: a few rectangles, like a real id map
        ids[:] = 0
        for k in range(1, n):
            y, x = rng.integers(0, max(h, 1)), rng.integers(0, max(w, 1))
            ids[y : y + rng.integers(1, 5), x : x + rng.integers(1, 5)] = k
    img = rng.integers(0, 256, size=(3, h, w), dtype=np.uint8)
    pal = rng.integers(0, 256, size=(n, 3), dtype=np.uint8)
    return img, ids, pal


def informative_scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fixed scene with everything to see: four ids in blobs, varied pixels, distinct colours."""
    ids = np.zeros((6, 7), dtype=np.int32)
    ids[1:4, 1:5] = 1
    ids[3:6, 4:7] = 2
    ids[0, 6] = 3
    img = np.random.default_rng(1).integers(0, 256, size=(3, 6, 7), dtype=np.uint8)
    pal = voc_colormap_ref(4)  # black for id 0, then three different colours
    return img, ids, pal


INFORMATIVE = informative_scene()
ODD = INFORMATIVE[1] % 2 == 1  # the cut-out mask the tests take from a scene's ids


def as_tensor(a: np.ndarray, device: torch.device, *, channels_last: bool = False) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(a)).to(device)
    if channels_last:  # what torch.from_numpy(hwc).permute(2, 0, 1) gives
        t = t.permute(1, 2, 0).contiguous().permute(2, 0, 1)
    return t


def numpy(t: torch.Tensor) -> np.ndarray:
    return t.cpu().numpy()


# --------------------------------------------------------------------------- palette


def test_palette_is_the_voc_colormap_then_distinct(device: torch.device) -> None:
    pal = masks.palette(4000, device=device)
    assert pal.dtype == torch.uint8 and pal.shape == (4000, 3) and pal.device.type == device.type
    np.testing.assert_array_equal(numpy(pal[:256]), voc_colormap_ref())
    assert tuple(pal[0].tolist()) == (0, 0, 0)
    assert torch.unique(pal, dim=0).shape[0] == 4000
    assert torch.equal(masks.palette(300, device=device), pal[:300])  # a prefix: stable colours
    assert tuple(pal[255].tolist()) == (224, 224, 192)  # VOC's void colour
    assert masks.palette(0).shape == (0, 3)


# --------------------------------------------------------------------------- the operations


# Ids up to 14: the scenes' ids (< 12), ids that do not occur, and the empty selection.
SELECTIONS = st.lists(st.integers(0, 14), max_size=5)


@SETTINGS
@given(scene=scenes(), selected=SELECTIONS, single=st.booleans())
@example(scene=INFORMATIVE, selected=[1, 3], single=False)
@example(scene=INFORMATIVE, selected=[2], single=True)
def test_binarize_matches_numpy(
    device: torch.device, scene: tuple[np.ndarray, ...], selected: list[int], single: bool
) -> None:
    _, ids, _ = scene
    chosen: int | list[int] = selected[0] if single and selected else selected
    out = masks.binarize(as_tensor(ids, device), chosen)
    assert out.dtype == torch.bool and out.device.type == device.type
    wanted = [chosen] if isinstance(chosen, int) else chosen
    np.testing.assert_array_equal(numpy(out), binarize_ref(ids, wanted))
    as_tensor_sel = masks.binarize(as_tensor(ids, device), torch.tensor(wanted, dtype=torch.int64))
    np.testing.assert_array_equal(numpy(as_tensor_sel), binarize_ref(ids, wanted))


def test_binarize_huge_selected_ids_match_nothing(device: torch.device) -> None:
    ids = torch.tensor([[0, 1], [2, 3]], dtype=torch.int32, device=device)
    assert_informative(ids)  # all False below is the answer, not a degenerate input
    assert masks.binarize(ids, [10**15, 2**40]).tolist() == [[False, False], [False, False]]
    assert masks.binarize(ids, [3, 10**15]).tolist() == [[False, False], [False, True]]
    assert masks.binarize(ids, 2**40).tolist() == [[False, False], [False, False]]


@SETTINGS
@given(scene=scenes())
@example(scene=INFORMATIVE)
def test_colorize_matches_numpy(device: torch.device, scene: tuple[np.ndarray, ...]) -> None:
    _, ids, pal = scene
    out = masks.colorize(as_tensor(ids, device), as_tensor(pal, device))
    assert out.dtype == torch.uint8 and out.shape == (3, *ids.shape)
    assert out.device.type == device.type
    np.testing.assert_array_equal(numpy(out), colorize_ref(ids, pal))


@SETTINGS
@given(
    scene=scenes(),
    alpha=st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0, 1)),
    channels_last=st.booleans(),
    int64_ids=st.booleans(),
    by_lanes=st.booleans(),
    chunk_pixels=st.sampled_from([1 << 18, 7]),
)
@example(
    scene=INFORMATIVE,
    alpha=0.5,
    channels_last=False,
    int64_ids=False,
    by_lanes=False,
    chunk_pixels=7,
)
@example(
    scene=INFORMATIVE,
    alpha=0.3,
    channels_last=True,
    int64_ids=True,
    by_lanes=True,
    chunk_pixels=1 << 18,
)
def test_overlay_matches_numpy(
    device: torch.device,
    scene: tuple[np.ndarray, ...],
    alpha: float,
    channels_last: bool,
    int64_ids: bool,
    by_lanes: bool,
    chunk_pixels: int,
) -> None:
    img, ids, pal = scene
    image = as_tensor(img, device, channels_last=channels_last)
    id_map = as_tensor(ids.astype(np.int64) if int64_ids else ids, device)
    # both algorithms (the lanes one is for long palettes), in one block or in many
    with (
        mock.patch.object(masks, "_MAX_TABLE_IDS", 0 if by_lanes else masks._MAX_TABLE_IDS),
        mock.patch.object(masks, "_CHUNK_PIXELS", chunk_pixels),
        mock.patch.object(masks, "_CHUNK_PIXELS_GPU", chunk_pixels),
    ):
        out = masks.overlay(image, id_map, as_tensor(pal, device), alpha)
    assert out.dtype == torch.uint8 and out.shape == image.shape
    assert out.device.type == device.type
    assert out.is_contiguous()
    np.testing.assert_array_equal(numpy(out), overlay_ref(img, ids, pal, alpha))
    assert torch.equal(image, as_tensor(img, device))  # the input is untouched


def test_overlay_extremes(device: torch.device) -> None:
    img = torch.tensor([[[10, 200]], [[20, 100]], [[30, 0]]], dtype=torch.uint8, device=device)
    ids = torch.tensor([[0, 1]], dtype=torch.int32, device=device)
    assert_informative(ids, img)
    pal = torch.tensor([[255, 255, 255], [1, 2, 3]], dtype=torch.uint8, device=device)
    assert torch.equal(masks.overlay(img, ids, pal, 0.0), img)
    assert masks.overlay(img, ids, pal, 1.0)[:, 0, 1].tolist() == [1, 2, 3]
    assert masks.overlay(img, ids, pal, 1.0)[:, 0, 0].tolist() == [10, 20, 30]  # id 0: kept


@SETTINGS
@given(scene=scenes(), channels_last=st.booleans(), odd_ids=st.booleans())
@example(scene=INFORMATIVE, channels_last=False, odd_ids=True)
@example(scene=INFORMATIVE, channels_last=True, odd_ids=True)
def test_cutout_and_on_black_match_numpy(
    device: torch.device, scene: tuple[np.ndarray, ...], channels_last: bool, odd_ids: bool
) -> None:
    img, ids, _ = scene
    # The pixels of odd ids, or no pixel at all (an empty mask is part of the contract)
    mask = ids % 2 == 1 if odd_ids else np.zeros(ids.shape, dtype=bool)
    image = as_tensor(img, device, channels_last=channels_last)
    mask_t = as_tensor(mask, device)
    rgba = masks.cutout(image, mask_t)
    assert rgba.dtype == torch.uint8 and rgba.shape == (4, *ids.shape)
    assert rgba.device.type == device.type
    np.testing.assert_array_equal(numpy(rgba), cutout_ref(img, mask))
    black = masks.on_black(image, mask_t)
    assert black.dtype == torch.uint8 and black.shape == image.shape
    np.testing.assert_array_equal(numpy(black), on_black_ref(img, mask))


# --------------------------------------------------------------------------- bad arguments

IMG = torch.zeros(3, 4, 5, dtype=torch.uint8)
IDS = torch.zeros(4, 5, dtype=torch.int32)
PAL = torch.zeros(3, 3, dtype=torch.uint8)
MASK = torch.zeros(4, 5, dtype=torch.bool)

BAD = [
    ("palette n negative", ValueError, lambda: masks.palette(-1), r"n must be .* got -1"),
    ("palette n float", TypeError, lambda: masks.palette(2.0), r"got 2\.0"),  # type: ignore[arg-type]
    ("ids not a tensor", TypeError, lambda: masks.binarize([[0]], 1), r"ids must be .* got a list"),  # type: ignore[arg-type]
    ("ids 3-D", ValueError, lambda: masks.binarize(IDS[None], 1), r"shape \(1, 4, 5\)"),
    (
        "ids float",
        ValueError,
        lambda: masks.binarize(IDS.float(), 1),
        r"integer dtype, got torch.float32",
    ),
    ("ids negative", ValueError, lambda: masks.binarize(IDS - 1, [1, 2]), r">= 0 .* minimum of -1"),
    ("selected negative", ValueError, lambda: masks.binarize(IDS, [1, -3]), r"got -3"),
    ("selected str", TypeError, lambda: masks.binarize(IDS, "1"), r"got '1'"),  # type: ignore[arg-type]
    ("selected float", TypeError, lambda: masks.binarize(IDS, [1.5]), r"got 1\.5"),  # type: ignore[list-item]
    ("selected bool", TypeError, lambda: masks.binarize(IDS, [True]), r"got True"),  # type: ignore[list-item]
    (
        "selected float tensor",
        ValueError,
        lambda: masks.binarize(IDS, torch.ones(2)),
        r"torch.float32",
    ),
    ("palette 2 channels", ValueError, lambda: masks.colorize(IDS, PAL[:, :2]), r"shape \(3, 2\)"),
    (
        "palette int32",
        ValueError,
        lambda: masks.colorize(IDS, PAL.int()),
        r"uint8, got torch.int32",
    ),
    ("palette empty", ValueError, lambda: masks.colorize(IDS, PAL[:0]), r"at least one row"),
    (
        "palette too short",
        ValueError,
        lambda: masks.colorize(IDS + 3, PAL),
        r"up to 3 .* only 3 rows",
    ),
    (
        "image RGBA",
        ValueError,
        lambda: masks.overlay(IMG.repeat(2, 1, 1)[:4], IDS, PAL, 0.5),
        r"\(4, 4, 5\)",
    ),
    (
        "image float",
        ValueError,
        lambda: masks.overlay(IMG.float(), IDS, PAL, 0.5),
        r"torch.float32",
    ),
    (
        "image/ids size",
        ValueError,
        lambda: masks.overlay(IMG, IDS[:3], PAL, 0.5),
        r"\(3, 5\) .* \(4, 5\)",
    ),
    ("alpha > 1", ValueError, lambda: masks.overlay(IMG, IDS, PAL, 1.5), r"alpha .* got 1\.5"),
    ("alpha negative", ValueError, lambda: masks.overlay(IMG, IDS, PAL, -0.1), r"got -0\.1"),
    ("alpha nan", ValueError, lambda: masks.overlay(IMG, IDS, PAL, float("nan")), r"got nan"),
    ("alpha str", TypeError, lambda: masks.overlay(IMG, IDS, PAL, "0.5"), r"got '0\.5'"),  # type: ignore[arg-type]
    (
        "ids > palette",
        ValueError,
        lambda: masks.overlay(IMG, IDS + 5, PAL, 0.5),
        r"up to 5 .* 3 rows",
    ),
    (
        "mask not bool",
        ValueError,
        lambda: masks.cutout(IMG, MASK.to(torch.uint8)),
        r"bool, got torch.uint8",
    ),
    ("mask size", ValueError, lambda: masks.cutout(IMG, MASK[:, :2]), r"\(4, 2\) .* \(4, 5\)"),
    ("mask 3-D", ValueError, lambda: masks.on_black(IMG, MASK[None]), r"shape \(1, 4, 5\)"),
]


@pytest.mark.parametrize(("error", "call", "match"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_arguments(error: type[Exception], call: object, match: str) -> None:
    """TypeError for a wrong kind of value, ValueError for a wrong value (segdemo.checks)."""
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_mixed_devices_are_refused() -> None:
    gpu = torch.device("cuda")
    with pytest.raises(ValueError, match=r"on cuda.* on cpu"):
        masks.overlay(IMG, IDS.to(gpu), PAL, 0.5)
    with pytest.raises(ValueError, match="palette is on cpu"):
        masks.overlay(IMG.to(gpu), IDS.to(gpu), PAL, 0.5)
    with pytest.raises(ValueError, match="mask is on cuda"):
        masks.cutout(IMG, MASK.to(gpu))


def test_overlay_long_palette_matches_numpy(device: torch.device) -> None:
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 3000, size=(5, 7), dtype=np.int32)
    ids[0, 0] = 2999  # past _MAX_TABLE_IDS: the int16-lanes algorithm
    img = rng.integers(0, 256, size=(3, 5, 7), dtype=np.uint8)
    assert_informative(ids, img)
    pal = masks.palette(3000)
    out = masks.overlay(as_tensor(img, device), as_tensor(ids, device), pal.to(device), 0.3)
    np.testing.assert_array_equal(numpy(out), overlay_ref(img, ids, pal.numpy(), 0.3))


# --------------------------------------------------------------------------- the strategies


def test_the_fixed_example_has_everything_to_see() -> None:
    img, ids, pal = INFORMATIVE
    assert set(np.unique(ids)) == {0, 1, 2, 3}
    assert_informative(ids, img, ODD, binarize_ref(ids, [1, 3]), binarize_ref(ids, [2]))
    assert len(np.unique(pal, axis=0)) == len(pal)  # every id has its own colour
    assert_informative(colorize_ref(ids, pal).reshape(3, -1).T @ [1, 256, 65536])
    assert not np.array_equal(overlay_ref(img, ids, pal, 0.5), img)
    assert_informative(cutout_ref(img, ODD)[3])


def test_the_strategies_draw_informative_scenes_not_only_degenerate_ones() -> None:
    drawn: list[tuple[bool, ...]] = []

    @settings(max_examples=100, deadline=None, derandomize=True, database=None)
    @given(scene=scenes(), selected=SELECTIONS)
    def draw(scene: tuple[np.ndarray, ...], selected: list[int]) -> None:
        ids = scene[1]
        drawn.append(
            (
                informative(ids),
                informative(binarize_ref(ids, selected)),
                informative(ids % 2 == 1),
                not informative(ids),  # empty or uniform: still drawn, and still tested
            )
        )

    draw()
    ids_ok, selection_ok, mask_ok, degenerate = np.mean(drawn, axis=0)
    assert ids_ok >= 0.4, f"only {ids_ok:.0%} of the id maps have two or more ids"
    assert selection_ok >= 0.15, f"only {selection_ok:.0%} of binarize's masks are informative"
    assert mask_ok >= 0.25, f"only {mask_ok:.0%} of the cut-out masks are informative"
    assert degenerate > 0


def spotlight_ref(image: np.ndarray, mask: np.ndarray, outline: int) -> np.ndarray:
    """masks.spotlight in plain numpy: a mask pixel with an outside pixel in its
    (2·outline+1)² window (inside the image) is white; outside pixels are halved."""
    out = np.where(mask[None], image, image // 2)
    for y, x in zip(*np.nonzero(mask), strict=True):
        window = mask[max(0, y - outline) : y + outline + 1, max(0, x - outline) : x + outline + 1]
        if outline and not window.all():
            out[:, y, x] = 255
    return out


@pytest.mark.parametrize("outline", [0, 1, 2])
def test_spotlight_matches_numpy(device: torch.device, outline: int) -> None:
    rng = np.random.default_rng(outline)
    image = rng.integers(0, 256, (3, 9, 11), dtype=np.uint8)
    mask = np.zeros((9, 11), dtype=bool)
    mask[2:7, 3:10] = True
    mask[0, 0] = True  # a lone pixel in the corner
    out = masks.spotlight(as_tensor(image, device), as_tensor(mask, device), outline=outline)
    assert out.device == device and out.dtype == torch.uint8 and out.is_contiguous()
    expected = spotlight_ref(image, mask, outline)
    np.testing.assert_array_equal(out.cpu().numpy(), expected)
    assert_varied(expected[0])


@pytest.mark.parametrize(
    ("outline", "error"), [(-1, ValueError), (1.5, ValueError), (True, ValueError)]
)
def test_spotlight_refuses_a_bad_outline(outline: object, error: type) -> None:
    with pytest.raises(error, match="outline must be an int >= 0"):
        masks.spotlight(IMG, IDS > 0, outline=outline)  # type: ignore[arg-type]
