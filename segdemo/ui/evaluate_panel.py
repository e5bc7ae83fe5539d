"""Score a model against the Ground truth tab's annotation (an accordion under its results).

The photo and the annotation are the tab's decoded ones (its state); the model's result comes
from the cache the model tabs share. The scores are :mod:`segdemo.evaluate`'s: the mapping turns
the prediction and the annotation into two class maps, and everything shown follows from them.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import torch

from segdemo import masks
from segdemo.evaluate import (
    ERROR_LABELS,
    PET_CLASSES,
    ClassMapping,
    Confusion,
    Evaluation,
    LabelMapping,
    TrimapMapping,
    VocMapping,
    error_map,
    error_palette,
    evaluate,
    evaluate_panoptic,
    panoptic_class_maps,
)
from segdemo.groundtruth import annotation_kind
from segdemo.images import read_panoptic_annotation
from segdemo.render import LegendEntry
from segdemo.result import Segmentation
from segdemo.ui.compare_tab import KINDS, TITLES, model_choices, model_result
from segdemo.ui.encoding import png_file
from segdemo.ui.errors import refusal, user_errors
from segdemo.ui.inputs import ChoiceDropdown, ChoiceRadio, NameDropdown, Upload
from segdemo.ui.model_tab import MODEL_CONCURRENCY_ID, progress_callback
from segdemo.ui.picking import State
from segdemo.ui.view import legend_html

#: The models to score, one dropdown for task and model: "<task>:<model key>".
MODELS = [
    (f"{TITLES[kind]} — {title}", f"{kind}:{key}")
    for kind in KINDS
    for title, key in model_choices(kind)
]
MAPPINGS = [
    ("Auto (trimap or VOC, from the values)", "auto"),
    ("Pascal VOC class PNG", "voc"),
    ("Oxford-IIIT Pet trimap", "trimap"),
    ("Label map: my table below", "labels"),
]
CLASS_HEADERS = ["class", "IoU", "Dice", "precision", "recall", "TP px", "FP px", "FN px"]
TABLE_HEADERS = ["annotation value", "predicted classes (comma-separated)"]
#: Opacity of the TP / FP / FN colours over the photo.
ERROR_ALPHA = 0.6
NOT_LOADED = "Press Show first: there is no annotation to score against yet."
UNDEFINED = "—"


def evaluate_model(
    state: State,
    model: str,
    mapping: str,
    pets: list[str] | None,
    table: list[list[Any]] | None,
    panoptic_json: Upload,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented idiom
) -> tuple[Any, ...]:
    """Score a model's result on the loaded photo against its annotation.

    Args:
        state: The Ground truth tab's decoded photo and annotation.
        model: "<task>:<model>", e.g. "semantic:mobilenet_v3_large" (see MODELS).
        mapping: auto, voc, trimap or labels: how annotation values relate to predicted classes.
        pets: The predicted classes that count as the pet against a trimap (default cat, dog).
        table: Rows of [annotation value, "class, class"] for the labels mapping.
        panoptic_json: A COCO panoptic JSON describing the annotation PNG: scores PQ, SQ, RQ too.

    Returns:
        metrics line, per-class table, confusion table, TP/FP/FN picture, its legend, JSON
    """
    if not state:
        raise refusal(NOT_LOADED)
    kind, _, key = model.partition(":")
    image: torch.Tensor = state["image"]
    pred = model_result(kind, image, key, progress_callback(progress))
    image = image.to(pred.device)
    try:
        if panoptic_json:
            gt = _panoptic_annotation(state, panoptic_json, pred)
            maps, evaluation = panoptic_class_maps(pred, gt), evaluate_panoptic(pred, gt)
            how = "COCO panoptic"
        else:
            values: torch.Tensor = state["values"]
            chosen = _mapping(mapping, state, pets, table)
            maps, evaluation = chosen.apply(pred, values), evaluate(pred, values, chosen)
            how = type(chosen).__name__.removesuffix("Mapping")
    except (ValueError, TypeError) as error:
        raise refusal(_sentence(str(error))) from None
    errors = error_map(maps)
    picture = masks.overlay(image, errors, error_palette(errors.device), ERROR_ALPHA)
    return (
        _metrics_line(pred, evaluation, how),
        _class_rows(evaluation),
        _confusion_rows(Confusion.of(maps)),
        png_file(picture, "errors"),
        legend_html(_error_legend(errors)),
        evaluation.to_json(),
    )


def _panoptic_annotation(
    state: dict[str, Any], panoptic_json: Upload, pred: Segmentation
) -> Segmentation:
    """The tab's annotation PNG read as a COCO panoptic annotation with ``panoptic_json``."""
    path = panoptic_json.get("path") if isinstance(panoptic_json, dict) else panoptic_json
    return read_panoptic_annotation(
        state["annotation"], str(path), size=pred.size, device=pred.device
    )


def _mapping(
    mapping: str, state: dict[str, Any], pets: list[str] | None, table: list[list[Any]] | None
) -> ClassMapping:
    """The mapping chosen; "auto" picks the trimap or VOC one as the Ground truth tab names the
    values (trimap values 1, 2, 3; a palette PNG with VOC values)."""
    if mapping == "auto":
        mapping = annotation_kind(state["seg"].extras["values"], state["mode"]) or ""
        if not mapping:
            raise refusal(
                "Auto cannot tell what these values mean: choose Label map and fill in the table."
            )
    if mapping == "voc":
        return VocMapping()
    if mapping == "trimap":
        return TrimapMapping(tuple(pets or ()) or PET_CLASSES)
    return LabelMapping(_table(table))


def _table(rows: list[list[Any]] | None) -> dict[int, list[str]]:
    """The label table as {value: [class, …]}; empty rows are skipped."""
    table: dict[int, list[str]] = {}
    for row in rows or ():
        value, names = [*row, None, None][:2]
        if value in (None, "") and not names:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if not number.is_integer():
            raise refusal(f"The table's annotation value must be a whole number, got {value!r}.")
        table[int(number)] = [n.strip() for n in str(names or "").split(",") if n.strip()]
    return table


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:].rstrip(".") + "."


def _number(value: float | None) -> str:
    return UNDEFINED if value is None else f"{value:.3f}"


def _metrics_line(pred: Segmentation, evaluation: Evaluation, how: str) -> str:
    scores = evaluation.semantic
    line = (
        f"**{pred.extras.get('model', pred.task)}** against the annotation ({how}): "
        f"mIoU {_number(scores.miou)} · pixel accuracy {_number(scores.pixel_accuracy)} · "
        f"{scores.pixels} scored pixels"
    )
    if evaluation.panoptic is not None:
        pq = evaluation.panoptic.all
        line += f" · PQ {_number(pq.pq)} · SQ {_number(pq.sq)} · RQ {_number(pq.rq)}"
    return line


def _class_rows(evaluation: Evaluation) -> list[list[Any]]:
    return [
        [
            c.label,
            _number(c.iou),
            _number(c.dice),
            _number(c.precision),
            _number(c.recall),
            c.tp,
            c.fp,
            c.fn,
        ]
        for c in evaluation.semantic.classes
    ]


def _confusion_rows(confusion: Confusion) -> dict[str, Any]:
    """The confusion matrix over the classes present in either map, with a "none" column."""
    counts = confusion.counts.cpu()
    k = len(confusion.names)
    present = [c for c in range(k) if counts[c].sum() or counts[:, c].sum()]
    headers = ["annotation ↓ / predicted →", *(confusion.names[c] for c in present), "none"]
    data = [
        [confusion.names[g], *(int(counts[g, p]) for p in present), int(counts[g, k])]
        for g in present
    ]
    return {"headers": headers, "data": data}


def _error_legend(errors: torch.Tensor) -> list[LegendEntry]:
    """The legend of the TP / FP / FN picture: each colour with its share of the photo."""
    counts = torch.bincount(errors.flatten().long(), minlength=len(ERROR_LABELS) + 1).tolist()
    colors = error_palette().tolist()
    total = max(1, errors.numel())
    return [
        LegendEntry(
            value, label, "#" + "".join(f"{c:02x}" for c in colors[value]), counts[value] / total
        )
        for value, label in enumerate(ERROR_LABELS, start=1)
    ]


def build(state: gr.State) -> None:
    """Lay out the panel and wire ``/evaluate`` (inside the Ground truth tab, with its state)."""
    with gr.Row():
        model = ChoiceDropdown(MODELS, value=MODELS[0][1], label="Task and model")
        mapping = ChoiceRadio(MAPPINGS, value="auto", label="How annotation values map to classes")
    with gr.Row():
        pets = NameDropdown(
            choices=list(PET_CLASSES),
            value=list(PET_CLASSES),
            multiselect=True,
            allow_custom_value=True,
            label="Trimap: predicted classes that count as the pet",
        )
        panoptic_json = gr.File(
            label="COCO panoptic JSON (for a COCO panoptic PNG annotation: PQ, SQ, RQ)",
            file_types=[".json"],
            type="filepath",
        )
    table = gr.Dataframe(
        headers=TABLE_HEADERS,
        datatype=["number", "str"],
        row_count=3,
        column_count=2,
        type="array",
        interactive=True,
        label="Label map: each annotation value and the predicted classes that mean it",
    )
    score = gr.Button("Score", variant="primary")
    line = gr.Markdown(min_height=40)
    classes = gr.Dataframe(headers=CLASS_HEADERS, label="Per class", interactive=False)
    confusion = gr.Dataframe(label="Confusion matrix (pixels)", interactive=False)
    with gr.Row():
        picture = gr.Image(label="Right and wrong pixels", format="png", interactive=False, scale=3)
        legend = gr.HTML(label="Legend")
    scores = gr.JSON(label="Scores (JSON)")
    score.click(
        user_errors(evaluate_model),
        [state, model, mapping, pets, table, panoptic_json],
        [line, classes, confusion, picture, legend, scores],
        api_name="evaluate",
        api_visibility="undocumented",
        concurrency_id=MODEL_CONCURRENCY_ID,
        show_progress_on=[line],
    )
