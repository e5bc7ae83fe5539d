"""The three kinds of segmentation side by side: one-line summaries and one pick for all three.

No Gradio here: the Compare tab, the API and the tests call these on the common result type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from segdemo.result import Segment, Segmentation

#: How much of the photo a class must cover to be named in a semantic summary.
MIN_SHARE = 0.01
#: Most names in one summary line; the rest is counted ("+ 3 more").
MAX_NAMES = 6


#: Pascal VOC's names (DeepLabV3) that COCO (Mask R-CNN, Mask2Former) spells otherwise, so that
#: one class has one name in all three kinds.
VOC_TO_COCO: Mapping[str, str] = {
    "__background__": "background",
    "aeroplane": "airplane",
    "diningtable": "dining table",
    "motorbike": "motorcycle",
    "pottedplant": "potted plant",
    "sofa": "couch",
    "tvmonitor": "tv",
}


def class_name(seg: Segmentation, segment: Segment) -> str:
    """The class of ``segment``, one name across the kinds (VOC names spelt as COCO's)."""
    name = seg.categories[segment.category_id]
    return VOC_TO_COCO.get(name, name)


def instance_names(seg: Segmentation, segments: Sequence[Segment]) -> list[str]:
    """ "cat 1", "cat 2", "dog 1": each segment named by its class and its rank within the class,
    in table order (instances: descending score)."""
    counts: dict[str, int] = {}
    names = []
    for s in segments:
        name = class_name(seg, s)
        counts[name] = counts.get(name, 0) + 1
        names.append(f"{name} {counts[name]}")
    return names


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:MAX_NAMES])
    more = len(names) - MAX_NAMES
    return f"{shown} + {more} more" if more > 0 else shown


def summary(seg: Segmentation) -> str:
    """One line that says what the result holds, written from the result itself.

    - semantic: "Semantic: cat 58 % · chair 28 % — one region per class" (classes over
      MIN_SHARE of the photo, largest first, background last);
    - instance: "Instance: cat 1, cat 2";
    - panoptic: "Panoptic: cat 1, cat 2 + wall, floor" (things, then stuff by area);
    - an empty result says so.
    """
    title = seg.task.capitalize() if seg.task != "groundtruth" else "Ground truth"
    if not seg.segments:
        return f"{title}: no segment"
    areas = seg.areas()
    total = max(1, seg.ids.numel())
    if seg.task == "semantic":
        rows = sorted(
            (s for s in seg.segments if areas[s.id] / total >= MIN_SHARE),
            key=lambda s: (class_name(seg, s) == "background", -areas[s.id]),
        )
        shares = [f"{class_name(seg, s)} {round(100 * areas[s.id] / total)} %" for s in rows]
        listed = " · ".join(shares[:MAX_NAMES]) or "small classes only"
        return f"{title}: {listed} — one region per class"
    things = [s for s in seg.segments if s.is_thing or seg.task == "instance"]
    text = _listed(instance_names(seg, things)) if things else "no object"
    if seg.task == "panoptic":
        stuff = sorted((s for s in seg.segments if not s.is_thing), key=lambda s: -areas[s.id])
        if stuff:
            text += " + " + _listed([class_name(seg, s) for s in stuff])
    return f"{title}: {text}"


def class_at(seg: Segmentation, x: int, y: int) -> str | None:
    """The class name of the segment under pixel (x, y), or None (no segment, or off the photo)."""
    height, width = seg.size
    if not (0 <= x < width and 0 <= y < height):
        return None
    segment_id = int(seg.ids[y, x])
    return class_name(seg, seg.segment(segment_id)) if segment_id else None


def picks_for_class(results: Mapping[str, Segmentation], name: str | None) -> dict[str, list[int]]:
    """The segment ids of class ``name`` in each result (kind → ids; empty where it has none):
    a click on any overlay picks that class in all three kinds where it exists."""
    if name is None:
        return {kind: [] for kind in results}
    return {
        kind: [s.id for s in seg.segments if class_name(seg, s) == name]
        for kind, seg in results.items()
    }
