"""The app suite: what a user waits for, through the real server (`python app.py`, random
weights, loopback) and gradio_client, at 1080p, per model tab.

- ``roundtrip_cached_1080p_<tab>``: a repeated identical API call (served from the result
  cache): upload, decode, render, encode and the client's download of every output;
- ``rerender_1080p_<tab>``: the alpha re-render event (``/<tab>_render``) with the same picks;
- ``run_overhead_1080p_<tab>``: a fresh photo's round trip minus the adapter's own stage times
  (preprocess, model, postprocess), with ``share_of_model`` = overhead / model time;
- ``cold_page_served``: ``python app.py`` → the page answers; ``cold_first_run_semantic``: the
  first run, started USER_DELAY_S after the page is up (a user picking a photo), model load
  included;
- ``browser_rerender_1080p``: headless Chromium on the Semantic tab, from releasing the opacity
  slider to the new overlay decoded (see :mod:`segdemo.bench.browser`);
- ``browser_run_overhead_1080p_semantic``: the run overhead as the page feels it, from pressing
  Segment (the fresh photo already uploaded) to the new overlay decoded, minus the stage times.

Each line's baseline runs in the same bench run on a second server: the old encoding path
(SEGDEMO_BENCH_ENCODING=baseline: every output a default-level PNG, every output re-sent) for
the first three, no background model loading (SEGDEMO_PRELOAD=0) for the cold start. The
model servers run with SEGDEMO_PRELOAD=0 so that no background load competes with the timing.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from segdemo.bench import browser
from segdemo.bench.server import served
from segdemo.bench.timing import photo_like, repeats, report, wants

#: The model tabs, their run arguments after the photo and their re-render arguments (alpha
#: is last in both and alternates).
TABS: dict[str, tuple[tuple[Any, ...], tuple[Any, ...]]] = {
    "semantic": (("resnet50", []), ([],)),
    "instance": (("v2", 800, 0.5, [], False, []), (0.5, [], False, [])),
    "panoptic": (("facebook/mask2former-swin-tiny-coco-panoptic", 384, 0.5, []), ([],)),
}
BASELINE_ENCODING = "PIL default PNG for every output, all re-sent (SEGDEMO_BENCH_ENCODING)"
#: How long after the page is up the cold first run starts: a user choosing a photo.
USER_DELAY_S = 5.0
SIZE = (1080, 1920)
T = TypeVar("T")


def run(args: argparse.Namespace) -> None:
    """Run the app benchmarks ``--only`` asks for; one JSON line each."""
    with tempfile.TemporaryDirectory(prefix="segdemo-bench-app-") as folder:
        work = Path(folder)
        if wants(args, "cold_"):
            _cold_start(work)
        tabs = [t for t in TABS if any(wants(args, f"{k}_1080p_{t}") for k in _MODEL_BENCHES)]
        if tabs:
            _model_tabs(args, work, tabs)
        if wants(args, "browser_rerender_1080p") or wants(args, "browser_run_overhead"):
            _browser(args, work)


def _cold_start(work: Path) -> None:
    photo = _photo(work, seed=1)
    timings = {}
    for variant, env in (("ours", {}), ("baseline", {"SEGDEMO_PRELOAD": "0"})):
        start = time.perf_counter()
        with served(work / f"cold-{variant}.log", **env) as url:
            page_ms = (time.perf_counter() - start) * 1e3
            time.sleep(USER_DELAY_S)
            client = _client(url)
            run_ms = _sample(partial(_run, client, "semantic", photo))[0].ms
        timings[variant] = (page_ms, run_ms)
    baseline = "python app.py with SEGDEMO_PRELOAD=0 (no background model loading)"
    (ours_page, ours_run), (base_page, base_run) = timings["ours"], timings["baseline"]
    report("cold_page_served", ours_page, baseline=baseline, baseline_ms=base_page)
    report(
        "cold_first_run_semantic",
        ours_run,
        baseline=baseline,
        baseline_ms=base_run,
        user_delay_s=USER_DELAY_S,
    )


_MODEL_BENCHES = ("roundtrip_cached", "rerender", "run_overhead")


def _model_tabs(args: argparse.Namespace, work: Path, tabs: list[str]) -> None:
    cached_photo = _photo(work, seed=0)
    fresh = [_photo(work, seed=100 + i) for i in range(repeats(args, slow=True)["repeat"])]
    samples: dict[str, dict[str, list[Sample]]] = {}
    model_ms: dict[str, float] = {}
    for variant, env in (("ours", {}), ("baseline", {"SEGDEMO_BENCH_ENCODING": "baseline"})):
        with served(work / f"{variant}.log", SEGDEMO_PRELOAD="0", **env) as url:
            client = _client(url)
            for tab in tabs:
                found, model_ms[tab] = _time_tab(args, client, tab, cached_photo, fresh)
                samples.setdefault(variant, {}).update(found)
    for name, ours_samples in samples["ours"].items():
        if not wants(args, name):
            continue
        ours = statistics.median(s.ms for s in ours_samples)
        base = statistics.median(s.ms for s in samples["baseline"][name])
        setup = statistics.median(s.client_setup_ms for s in ours_samples)
        fields: dict[str, Any] = {"client_setup_ms": round(setup, 1)}
        if name.startswith("run_overhead"):
            model = model_ms[name.rsplit("_", 1)[1]]
            fields |= {
                "model_ms": round(model, 1),
                "share_of_model": round(ours / model, 3),
                "share_without_client_setup": round((ours - setup) / model, 3),
            }
        report(name, ours, baseline=BASELINE_ENCODING, baseline_ms=base, **fields)


@dataclass(frozen=True)
class Sample:
    """One timed API call: its ms (a run's minus its stage times) and the part of it that
    gradio_client spent building HTTP clients (:func:`_client_setup_ms`)."""

    ms: float
    client_setup_ms: float


@contextmanager
def _client_setup_ms() -> Iterator[list[float]]:
    """Time (ms, appended on exit) spent inside ``httpx.Client()`` while in the block.

    gradio_client builds a new httpx client (and with it a TLS context: ~16 ms here) for every
    request of a call: the upload, the queue join, the result stream and each output file. That
    is the same for any server, so the app lines report it beside the time, as
    ``client_setup_ms``.
    """
    import httpx

    spent = [0.0]
    build = httpx.Client.__init__

    def timed_build(self: Any, *args: Any, **kwargs: Any) -> None:
        start = time.perf_counter()
        try:
            build(self, *args, **kwargs)
        finally:
            spent[0] += (time.perf_counter() - start) * 1e3

    httpx.Client.__init__ = timed_build
    total: list[float] = []
    try:
        yield total
    finally:
        httpx.Client.__init__ = build
        total.append(spent[0])


def _browser(args: argparse.Namespace, work: Path) -> None:
    photo = _photo_file(work, seed=2)
    fresh = [_photo_file(work, seed=200 + i) for i in range(repeats(args, slow=True)["repeat"])]
    rerender, overhead, model = {}, {}, {}
    for variant, env in (("ours", {}), ("baseline", {"SEGDEMO_BENCH_ENCODING": "baseline"})):
        with served(work / f"browser-{variant}.log", SEGDEMO_PRELOAD="0", **env) as url:
            if wants(args, "browser_rerender_1080p"):
                samples = browser.rerender_samples_ms(url, photo, repeats(args)["repeat"])
                rerender[variant] = statistics.median(samples)
            if wants(args, "browser_run_overhead_1080p_semantic"):
                runs = browser.run_samples(url, photo, fresh)
                overhead[variant] = statistics.median(ms - _adapter_ms(s) for ms, s in runs)
                model[variant] = statistics.median(_adapter_ms(s) for _, s in runs)
    if rerender:
        report(
            "browser_rerender_1080p",
            rerender["ours"],
            baseline=BASELINE_ENCODING,
            baseline_ms=rerender["baseline"],
            tab="semantic",
        )
    if overhead:
        report(
            "browser_run_overhead_1080p_semantic",
            overhead["ours"],
            baseline=BASELINE_ENCODING,
            baseline_ms=overhead["baseline"],
            model_ms=round(model["ours"], 1),
            share_of_model=round(overhead["ours"] / model["ours"], 3),
        )


def _time_tab(
    args: argparse.Namespace, client: Any, tab: str, cached_photo: Any, fresh: list[Any]
) -> tuple[dict[str, list[Sample]], float]:
    """One tab's samples by bench name, and the median adapter time of its fresh runs."""
    cached = partial(_run, client, tab, cached_photo)
    cached()  # loads the model and fills the result cache (untimed)
    alphas = iter([0.3, 0.7] * 10_000)
    render = partial(_render, client, tab, alphas)
    found = {
        f"roundtrip_cached_1080p_{tab}": _samples(cached, repeats(args)),
        f"rerender_1080p_{tab}": _samples(render, repeats(args)),
    }
    overheads, models = [], []
    for photo in fresh:
        sample, answer = _sample(partial(_run, client, tab, photo))
        model = _adapter_ms(answer[0])
        overheads.append(Sample(sample.ms - model, sample.client_setup_ms))
        models.append(model)
    found[f"run_overhead_1080p_{tab}"] = overheads
    return found, statistics.median(models)


def _run(client: Any, tab: str, photo: Any) -> Any:
    return client.predict(photo, *TABS[tab][0], 0.5, api_name=f"/{tab}")


def _render(client: Any, tab: str, alphas: Iterator[float]) -> Any:
    return client.predict(*TABS[tab][1], next(alphas), api_name=f"/{tab}_render")


def _client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False)


def _photo(work: Path, seed: int) -> Any:
    """:func:`_photo_file`, ready for gradio_client."""
    from gradio_client import handle_file

    return handle_file(str(_photo_file(work, seed)))


def _photo_file(work: Path, seed: int) -> Path:
    """A 1080p JPEG (q90, like a camera's) of :func:`photo_like`."""
    from segdemo.images import jpeg_bytes

    path = work / f"photo-{seed}.jpg"
    path.write_bytes(jpeg_bytes(photo_like(*SIZE, seed=seed)))
    return path


def _sample(fn: Callable[[], T]) -> tuple[Sample, T]:
    """``fn()`` timed, with its client setup time; and what it returned."""
    with _client_setup_ms() as setup:
        start = time.perf_counter()
        answer = fn()
        elapsed = (time.perf_counter() - start) * 1e3
    return Sample(elapsed, setup[0]), answer


def _samples(fn: Callable[[], object], counts: dict[str, int]) -> list[Sample]:
    for _ in range(counts["warmup"]):
        fn()
    return [_sample(fn)[0] for _ in range(counts["repeat"])]


def _adapter_ms(status: str) -> float:
    """The adapter's own time from the status line: its stage times except loading."""
    stages = re.findall(r"(\w+) (\d+(?:\.\d+)?) ms", status)
    if not stages:
        raise ValueError(f"no stage times in the status line {status!r}")
    return sum(float(ms) for stage, ms in stages if stage != "load")
