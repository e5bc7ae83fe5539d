"""The local batch engine: one pipeline, so decoding and writing overlap the model.

    decode (thread pool) ──► segment (the calling thread, one photo at a time) ──► write (pool)

The model runs in the calling thread, one photo after the other, while the next photos are
decoded and the previous ones' PNGs encoded and written in worker threads (PIL's codecs, zlib
and torch release the GIL). Both queues are bounded, so memory holds a few photos whatever the
run's size. Outcomes come out roughly in order, as their files are written.

Interrupting (Ctrl-C: KeyboardInterrupt in the calling thread) cancels the decodes not yet
started and lets the writes already queued finish (their outcomes still come out, then the
KeyboardInterrupt): their model work is done, and every file appears atomically whatever
happens, so what finished is kept and nothing half-written counts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import torch

from segdemo.batch.job import Job, Outcome, failure_reason
from segdemo.batch.photos import Photo
from segdemo.weights import WeightsUnavailable


def run(
    job: Job, photos: Sequence[Photo], *, decoders: int = 1, writers: int = 2
) -> Iterator[Outcome]:
    """Run ``job`` on ``photos``, yielding each photo's outcome once its files are written (or
    it failed). ``decoders`` / ``writers``: worker threads of each stage; at most
    ``decoders + 1`` photos wait decoded and ``2 * writers`` wait to be written.

    :class:`WeightsUnavailable` (no photo can work) and KeyboardInterrupt are raised, after the
    writes already queued have finished.
    """
    todo = iter(photos)
    decoding: deque[tuple[Photo, Future[torch.Tensor]]] = deque()
    writing: deque[tuple[Photo, Future[tuple[Path, ...]]]] = deque()
    decode_pool = ThreadPoolExecutor(decoders, thread_name_prefix="segdemo-decode")
    write_pool = ThreadPoolExecutor(writers, thread_name_prefix="segdemo-write")

    def read_ahead() -> None:
        while len(decoding) <= decoders and (photo := next(todo, None)) is not None:
            decoding.append((photo, decode_pool.submit(job.decode, photo)))

    try:
        read_ahead()
        while decoding:
            photo, decoded = decoding.popleft()
            read_ahead()
            try:
                image = decoded.result()
                seg = job.segment(image)
            except WeightsUnavailable:
                raise
            except Exception as error:
                yield Outcome(photo, reason=failure_reason(error))
                continue
            writing.append((photo, write_pool.submit(job.write, photo, image, seg)))
            while writing and (writing[0][1].done() or len(writing) > 2 * writers):
                yield _written(*writing.popleft())
        while writing:
            yield _written(*writing.popleft())
    except KeyboardInterrupt:
        decode_pool.shutdown(wait=False, cancel_futures=True)
        while writing:  # their model work is done: keep it, and say so
            yield _written(*writing.popleft())
        raise
    finally:
        decode_pool.shutdown(wait=True, cancel_futures=True)
        write_pool.shutdown(wait=True)


def _written(photo: Photo, future: Future[tuple[Path, ...]]) -> Outcome:
    """The outcome of a write: its files, or why it failed (a full disk, a bad label)."""
    try:
        return Outcome(photo, future.result())
    except Exception as error:
        return Outcome(photo, reason=failure_reason(error))
