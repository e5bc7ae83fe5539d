"""One batch run, whichever engine: resume, progress bar, failures.json, the summary.

An engine is a function ``engine(job, photos) -> iterator of Outcome`` (:func:`local.run`,
:func:`ray.run`); :func:`run_batch` feeds it the photos still to do and listens.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from segdemo.batch.job import Job, Outcome, write_json
from segdemo.batch.photos import Photo

#: Every photo of the last run that failed, with its reason, inside the output folder.
FAILURES_JSON = "failures.json"

Engine = Callable[[Job, Sequence[Photo]], Iterator[Outcome]]


@dataclass
class Summary:
    """How a run went: ``planned`` photos, of which ``skipped`` were complete already
    (``--resume``), ``done`` were completed now and ``failures`` failed; ``interrupted`` when
    Ctrl-C stopped it."""

    planned: int
    skipped: int = 0
    done: int = 0
    failures: list[Outcome] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def complete(self) -> int:
        """Photos whose outputs are complete now, from this run or an earlier one."""
        return self.skipped + self.done

    def line(self, out: Path) -> str:
        """One line for the end of the run."""
        text = f"{self.done} photos done in {self.seconds:.1f} s"
        if self.done and self.seconds > 0:
            text += f" ({self.done / self.seconds:.2f} photos/s)"
        if self.skipped:
            text += f", {self.skipped} complete already"
        if self.failures:
            text += f", {len(self.failures)} failed (see {out / FAILURES_JSON})"
        if self.interrupted:
            left = self.planned - self.complete - len(self.failures)
            text += f"; interrupted with {left} to go: run again with --resume"
        return text


def run_batch(job: Job, photos: Sequence[Photo], engine: Engine, *, resume: bool) -> Summary:
    """Run ``engine`` on ``photos`` (with ``resume``, only those not complete yet) under a
    progress bar (photos/s, ETA; shown on a terminal), name each failure on stderr as it
    comes, and write ``OUT/failures.json`` (sorted by image id; ``[]`` when none failed),
    also when interrupted. KeyboardInterrupt ends the run early (``interrupted``); missing
    weights are raised."""
    todo = [p for p in photos if not job.is_done(p)] if resume else list(photos)
    summary = Summary(len(photos), skipped=len(photos) - len(todo))
    start = time.perf_counter()
    bar = tqdm(total=len(todo), unit="photo", file=sys.stderr, disable=None, dynamic_ncols=True)
    try:
        with bar, contextlib.closing(engine(job, todo)) as outcomes:
            for outcome in outcomes:
                if outcome.ok:
                    summary.done += 1
                else:
                    summary.failures.append(outcome)
                    bar.write(f"skipped {outcome.photo.path}: {outcome.reason}", file=sys.stderr)
                bar.update()
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        summary.seconds = time.perf_counter() - start
        write_failures(job.out, summary.failures)
    return summary


def write_failures(out: Path, failures: Sequence[Outcome]) -> Path:
    """``OUT/failures.json``: one object per failed photo (image_id, path, file_name, reason)."""
    rows = [
        {
            "image_id": f.photo.image_id,
            "path": str(f.photo.path),
            "file_name": f.photo.file_name,
            "reason": f.reason,
        }
        for f in sorted(failures, key=lambda f: f.photo.image_id)
    ]
    return write_json(out / FAILURES_JSON, rows, indent=1)
