"""Random weights that give segments: the heads of an untrained Mask2Former made decisive.

With transformers' own initialisation an untrained Mask2Former yields no segment on a photo,
for three reasons, each enough on its own:

1. **No query is confident.** The class head starts with weights of std 0.02, so every query's
   134 class logits are within about ±1 of each other and its best class scores about 1/134,
   far below the 0.5 threshold: nothing is kept.
2. **The queries collapse into one.** The decoder is post-norm (``x = LayerNorm(x + branch(x))``)
   and its random attention is nearly uniform, so every layer adds about the same image average
   to every query, and the LayerNorm shrinks what told the queries apart. After the 9 layers of
   a Swin-T checkpoint's decoder the 100 queries point the same way (cosine 0.997 on the example
   photos): one class for all, and masks that differ in noise only, so each query wins a sliver
   of its own mask and the overlap rule (a segment needs 80 % of its mask) drops them all.
   Sharpening the class head alone therefore gives segments on some photos only.
3. **The masks are soft and wide.** Mask logits of about ±0.3 put every query's mask (weighted
   probability ≥ 0.5) over a third of the image or none of it, overlapping every other mask.

:func:`make_decisive` changes tensors only (the model's code, and so the inference path, is
that of pretrained weights), under :func:`segdemo.models.seeded`, so the model is the same every
run; it treats the checkpoints' architectures and the tiny test one alike:

1. the decoder layers' residual branches (self-attention, cross-attention and feed-forward
   output projections) are scaled by :data:`RESIDUAL_SCALE`, so a query keeps its own learned
   embedding through the layers (a small-residual initialisation, as in Fixup or ReZero);
2. the class head gets weights of std :data:`CLASS_LOGIT_STD` / √hidden, so each query names
   one class clearly, and a "no object" bias that leaves about :data:`KEPT_SHARE` of the
   queries naming a class;
3. the masks are made sharp and sparse: one pixel-embedding channel becomes the constant 1 (the
   mask projection's), so the mask head's bias becomes a bias of every mask logit; the logits
   are scaled to a standard deviation of :data:`MASK_LOGIT_STD` and shifted so that about
   :data:`MASK_SHARE` of them are positive.

The "no object" bias and the mask scale and shift are measured on one forward pass over a
smooth seeded random image (a data-dependent initialisation, as in LSUV), not on any photo the
demo ships, so they adapt to each architecture's own feature scales. The segments then follow
the image (colour, texture, position) but mean nothing: untrained weights name random classes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Factor on the decoder layers' residual branches: queries keep their identity.
RESIDUAL_SCALE = 0.1
#: Standard deviation of the class logits (the decoder output is layer-normed: unit variance).
CLASS_LOGIT_STD = 8.0
#: Share of the queries whose best class beats "no object" on the calibration image.
KEPT_SHARE = 1 / 3
#: Standard deviation of the mask logits on the calibration image: sigmoids mostly saturated.
MASK_LOGIT_STD = 25.0
#: Share of the (query, pixel) mask logits above 0 on the calibration image: sparse masks.
MASK_SHARE = 0.03
#: Side of the square calibration image (pixel values as the model sees them: normalised).
CALIBRATION_SIZE = 256
_CALIBRATION_CELLS = 8  # the image is bicubic noise over an 8×8 grid: smooth regions


def make_decisive(model: torch.nn.Module) -> None:
    """Re-initialise a freshly built ``Mask2FormerForUniversalSegmentation``'s heads in place.

    Call it on the CPU, in float32, inside :func:`segdemo.models.seeded` (it draws from the
    global generator) right after the model is built; it runs the model once at
    :data:`CALIBRATION_SIZE`² and leaves it in eval mode (no dropout, no stochastic depth).
    See the module docstring for what changes and why.
    """
    model.eval()
    decoder = model.model.transformer_module.decoder
    projection = model.model.pixel_level_module.decoder.mask_projection
    mask_head = decoder.mask_predictor.mask_embedder.layers[-1].layers[0]
    class_head = model.class_predictor
    with torch.no_grad():
        for layer in decoder.layers:
            for branch in (layer.self_attn.out_proj, layer.cross_attn.out_proj, layer.fc2):
                branch.weight.mul_(RESIDUAL_SCALE)
        class_head.weight.normal_(0.0, CLASS_LOGIT_STD / class_head.in_features**0.5)
        class_head.bias.zero_()
        projection.weight[0] = 0.0  # pixel-embedding channel 0 is the constant 1 ...
        projection.bias[0] = 1.0
        mask_head.weight[0] = 0.0  # ... and mask-embedding channel 0 the bias it is multiplied by
        mask_head.bias[0] = 0.0

        noise = torch.randn(1, 3, _CALIBRATION_CELLS, _CALIBRATION_CELLS)
        image = F.interpolate(noise, size=(CALIBRATION_SIZE,) * 2, mode="bicubic")
        outputs = model(pixel_values=image)

        best_class = outputs.class_queries_logits[0, :, :-1].amax(-1)
        class_head.bias[-1] = _quantile(best_class, 1 - KEPT_SHARE)
        logits = outputs.masks_queries_logits[0]
        scale = MASK_LOGIT_STD / float(logits.std())
        mask_head.weight.mul_(scale)
        mask_head.bias.mul_(scale)
        mask_head.bias[0] = -_quantile(logits * scale, 1 - MASK_SHARE)


def _quantile(values: torch.Tensor, q: float) -> float:
    """The ``q`` quantile of ``values`` (lower value; torch.quantile caps the input size)."""
    flat = values.flatten()
    return float(flat.kthvalue(max(1, round(q * flat.numel()))).values)
