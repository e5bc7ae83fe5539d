"""The Mask2Former panoptic checkpoints on offer, what to say about them, and their architecture.

Each :class:`Checkpoint` names a Hugging Face Hub repository, its dataset (a key of
:data:`segdemo.panoptic.datasets.DATASETS`), the published figures (PQ, parameters) and the
Swin backbone dimensions, so that :func:`random_config` can build the same architecture with
random weights and no files (``SEGDEMO_WEIGHTS=random``).

The working sizes are the shorter side the image is resized to before the model: 384 is what the
stock image processor uses; the published PQ was measured at about 800 (COCO; Cityscapes 1024,
ADE20K 640).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from segdemo.panoptic.datasets import DATASETS

#: The shorter side the model sees by default: the stock image processor's.
DEFAULT_WORKING_SIZE = 384
#: The working sizes the UI offers: the stock one, and about what the published PQ was measured at.
WORKING_SIZES = (384, 800)
#: The working sizes :func:`segdemo.panoptic.segment` accepts (inclusive).
WORKING_SIZE_RANGE = (128, 1536)
#: The longest side the model sees (the stock processor's cap) and the multiple both sides are
#: rounded up to.
LONGEST_EDGE = 1333
SIZE_DIVISOR = 32


@dataclass(frozen=True)
class Backbone:
    """Swin backbone dimensions, to build a checkpoint's architecture without its files."""

    embed_dim: int
    depths: tuple[int, ...]
    num_heads: tuple[int, ...]
    window_size: int


SWIN_T = Backbone(96, (2, 2, 6, 2), (3, 6, 12, 24), 7)
SWIN_S = Backbone(96, (2, 2, 18, 2), (3, 6, 12, 24), 7)
SWIN_B = Backbone(128, (2, 2, 18, 2), (4, 8, 16, 32), 12)
SWIN_L = Backbone(192, (2, 2, 18, 2), (6, 12, 24, 48), 12)


@dataclass(frozen=True)
class Checkpoint:
    """A Mask2Former panoptic checkpoint on the Hugging Face Hub and what to say about it."""

    repo_id: str
    title: str
    dataset: str  # key of segdemo.panoptic.datasets.DATASETS
    pq: float  # published panoptic quality on the dataset's validation set
    eval_size: int  # shorter side the PQ was measured at
    params_m: int  # published parameter count, in millions
    description: str
    backbone: Backbone
    num_queries: int = 100


def _coco(
    size: str,
    backbone: Backbone,
    pq: float,
    params: int,
    note: str = "",
    queries: int = 100,
    title: str = "",
) -> Checkpoint:
    repo = f"facebook/mask2former-swin-{size}-coco-panoptic"
    name = title or f"Swin-{size[0].upper()}"
    return Checkpoint(
        repo,
        f"COCO · {name}",
        "coco",
        pq,
        800,
        params,
        f"COCO panoptic (133 classes: 80 things, 53 stuff), {name} backbone{note}, "
        f"{params} M parameters: PQ {pq} on COCO val2017.",
        backbone,
        queries,
    )


#: The checkpoints on offer, default first; keys are the Hub repository ids.
CHECKPOINTS: dict[str, Checkpoint] = {
    c.repo_id: c
    for c in (
        _coco("tiny", SWIN_T, 53.2, 47),
        _coco("small", SWIN_S, 54.6, 69),
        _coco("base", SWIN_B, 55.1, 107),
        _coco(
            "base-IN21k",
            SWIN_B,
            56.4,
            107,
            " pretrained on ImageNet-21k",
            title="Swin-B (IN-21k)",
        ),
        _coco("large", SWIN_L, 57.8, 216, " pretrained on ImageNet-21k", queries=200),
        Checkpoint(
            "facebook/mask2former-swin-tiny-cityscapes-panoptic",
            "Cityscapes · Swin-T",
            "cityscapes",
            63.9,
            1024,
            47,
            "Cityscapes panoptic (street scenes; 19 classes: 8 things, 11 stuff), Swin-T "
            "backbone, 47 M parameters: PQ 63.9 on Cityscapes val.",
            SWIN_T,
        ),
        Checkpoint(
            "facebook/mask2former-swin-large-ade-panoptic",
            "ADE20K · Swin-L",
            "ade20k",
            48.1,
            640,
            216,
            "ADE20K panoptic (indoor and outdoor scenes; 150 classes: 100 things, 50 stuff), "
            "Swin-L backbone pretrained on ImageNet-21k, 216 M parameters: PQ 48.1 on ADE20K val.",
            SWIN_L,
            200,
        ),
    )
}
DEFAULT_CHECKPOINT = "facebook/mask2former-swin-tiny-coco-panoptic"

#: For the tab: what panoptic segmentation is and what the working size does.
DESCRIPTION = (
    "Panoptic segmentation labels every pixel: each thing (person, car, cat) as its own "
    "instance in its own colour, each kind of stuff (sky, road, grass) as one region in its "
    "class colour. Mask2Former proposes up to 100 (Swin-L: 200) masks with a class each; "
    "stuff masks of one class are fused. The stock image processor resizes the shorter side "
    "to 384 px, while the published PQ was measured at about 800 px (Cityscapes 1024, ADE20K "
    "640): a working size of 800 finds smaller objects and follows outlines more closely, "
    "with about four times the pixels to compute on."
)


def get_checkpoint(key: str) -> Checkpoint:
    """The checkpoint named ``key`` (a Hub repository id); ValueError naming the choices."""
    try:
        return CHECKPOINTS[key]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown panoptic checkpoint {key!r}; choose one of {list(CHECKPOINTS)}"
        ) from None


def shipped_labels(checkpoint: str) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """The category names and thing flags shipped for ``checkpoint``'s dataset."""
    categories = DATASETS[get_checkpoint(checkpoint).dataset]
    return tuple(c.name for c in categories), tuple(c.is_thing for c in categories)


def random_config(checkpoint: str, *, tiny: bool = False) -> Any:
    """A ``Mask2FormerConfig`` with ``checkpoint``'s architecture and the shipped labels (no files).

    ``tiny=True`` shrinks every dimension (for tests); the label list stays the full one.
    """
    from transformers import Mask2FormerConfig, SwinConfig

    spec = get_checkpoint(checkpoint)
    names, _ = shipped_labels(checkpoint)
    id2label = dict(enumerate(names))
    labels = {"id2label": id2label, "label2id": {v: k for k, v in id2label.items()}}
    stages = ["stage1", "stage2", "stage3", "stage4"]
    if tiny:
        swin = SwinConfig(
            embed_dim=16,
            depths=[1, 1, 1, 1],
            num_heads=[1, 1, 1, 1],
            window_size=7,
            out_features=stages,
        )
        return Mask2FormerConfig(
            backbone_config=swin,
            hidden_dim=32,
            feature_size=32,
            mask_feature_size=32,
            encoder_feedforward_dim=32,
            dim_feedforward=32,
            encoder_layers=1,
            decoder_layers=2,
            num_attention_heads=2,
            num_queries=20,
            **labels,
        )
    b = spec.backbone
    swin = SwinConfig(
        embed_dim=b.embed_dim,
        depths=list(b.depths),
        num_heads=list(b.num_heads),
        window_size=b.window_size,
        drop_path_rate=0.3,
        out_features=stages,
    )
    return Mask2FormerConfig(backbone_config=swin, num_queries=spec.num_queries, **labels)
