"""The photo list of a run: which files, in which order, under which names.

The order is the same for every run on the same inputs, so image ids (positions in the list)
and output stems are stable: a resumed run and a Ray run name every photo as a local run did.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

PHOTO_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


@dataclass(frozen=True)
class Photo:
    """One photo of a run and the names it goes by.

    ``image_id``: its 1-based position in the run's sorted photo list (:func:`iter_photos`
    order), so the same inputs give the same ids, failed photos included; ``file_name``: its
    path relative to the input folder it came from (its name for a file argument), POSIX
    separators; ``stem``: the name of its output files, unique in the run.
    """

    path: Path
    image_id: int
    file_name: str
    stem: str


def iter_photos(paths: Sequence[Path]) -> Iterator[Path]:
    """The files named, and the photos (by suffix) inside the folders named, in sorted order."""
    for path, _ in _walk(paths):
        yield path


def plan_photos(paths: Sequence[Path]) -> list[Photo]:
    """The run's photos in :func:`iter_photos` order, each with its image id, file name and an
    output stem no other photo of the run has (``x``, then ``x-2``, ``x-3``, …; compared
    case-insensitively, so case-insensitive file systems don't merge them either)."""
    taken: set[str] = set()
    photos = []
    for image_id, (path, file_name) in enumerate(_walk(paths), start=1):
        stem, n = path.stem, 2
        while stem.casefold() in taken:
            stem, n = f"{path.stem}-{n}", n + 1
        taken.add(stem.casefold())
        photos.append(Photo(path, image_id, file_name, stem))
    return photos


def _walk(paths: Sequence[Path]) -> Iterator[tuple[Path, str]]:
    """(photo, its name relative to the folder named, or its own name for a file named)."""
    for path in paths:
        if path.is_dir():
            found = (
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES
            )
            for p in sorted(found):
                yield p, p.relative_to(path).as_posix()
        else:
            yield path, path.name
