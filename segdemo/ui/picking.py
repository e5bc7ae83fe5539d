"""Picking segments: the picker's choices, a click on the overlay, re-rendering the picks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr

from segdemo.result import Segmentation
from segdemo.ui.view import share_text, view_values

#: A model tab's per-session state: {"image": uint8 [3,H,W], "seg": Segmentation, ...}.
State = dict[str, Any] | None
NO_RESULT = "Run the model first: there is no result to show yet."


def selected_ids(seg: Segmentation, labels: Sequence[str] | None) -> list[int]:
    """Segment ids whose labels are in ``labels`` (the picker's values)."""
    wanted = set(labels or ())
    return [s.id for s in seg.segments if s.label in wanted]


def picker_update(
    seg: Segmentation, keep: Sequence[str] | None, default: Sequence[str]
) -> tuple[dict[str, Any], list[str]]:
    """The picker listing ``seg``'s segments with their share, and the labels it picks.

    It keeps the user's picks that still exist, else picks ``default``'s that exist.
    """
    areas = seg.areas()
    total = max(1, seg.ids.numel())
    labels = [s.label for s in seg.segments]
    value = [label for label in (keep or ()) if label in labels] or [
        label for label in default if label in labels
    ]
    choices = [(f"{s.label} · {share_text(areas[s.id] / total)}", s.label) for s in seg.segments]
    return gr.update(choices=choices, value=value), value


def label_at(state: State, event: gr.SelectData) -> str | None:
    """The label of the segment under a click on the overlay (one id-map lookup), if any."""
    if not state or "seg" not in state:
        raise gr.Error("Run the model first: there is no result to click on yet.")
    seg: Segmentation = state["seg"]
    x, y = (int(v) for v in event.index)
    height, width = seg.size
    if not (0 <= x < width and 0 <= y < height):
        return None
    segment_id = int(seg.ids[y, x])
    return seg.segment(segment_id).label if segment_id else None


def labels_matching(state: State, query: str | None) -> list[str]:
    """The labels of the result's segments that contain ``query`` (any case; all when empty)."""
    if not state or "seg" not in state:
        raise gr.Error(NO_RESULT)
    words = (query or "").strip().lower()
    return [s.label for s in state["seg"].segments if words in s.label.lower()]


def toggled(picked: Sequence[str] | None, label: str | None) -> list[str]:
    """The picked labels with ``label`` added, or removed if it was picked."""
    names = list(picked or ())
    if label is None:
        return names
    return [n for n in names if n != label] if label in names else [*names, label]


def rerender(state: State, picked: list[str] | None, alpha: float) -> tuple[Any, ...]:
    """Re-render a result when only the picked segments or alpha changed (no model runs).

    The state remembers the picks last sent by a re-render: when they are the same, only alpha
    changed, and only the overlay is sent (the mask and cut-outs on the page stay as they are).
    """
    if not state:
        raise gr.Error(NO_RESULT)
    seg = state["seg"]
    selected = selected_ids(seg, picked)
    same_picks = state.get("sent_picks") == selected
    state["sent_picks"] = selected
    return view_values(
        state["image"],
        seg,
        selected,
        alpha,
        overlay_only=same_picks,
        stem=state.get("stem", "photo"),
    )


def pick_by_click(
    state: State, picked: list[str] | None, alpha: float, event: gr.SelectData
) -> tuple[Any, ...]:
    """Click on the overlay: toggle the segment under the cursor in the picker, re-render."""
    names = toggled(picked, label_at(state, event))
    return (names, *rerender(state, names, alpha))
