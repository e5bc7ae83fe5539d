"""Debian's Chromium driven by Playwright: the browser the e2e tests and the app bench share,
and the bench's browser lines: ``browser_rerender_1080p`` (release the opacity slider → new
overlay painted) and ``browser_run_overhead_1080p_semantic`` (press Segment → result painted)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OVERLAY_LABEL = "click a segment to pick it"
#: After an upload: time for the page's own photo check to finish before the button is pressed.
UPLOAD_SETTLE_MS = 1000
#: The overlay's <img> (the visible block labelled OVERLAY_LABEL), in the page's JavaScript.
_OVERLAY_IMG = (
    "[...document.querySelectorAll('.block')].find("
    "b => b.offsetParent && b.textContent.includes(label))?.querySelector('img')"
)
_OVERLAY_SRC = f"(label) => {{ const img = {_OVERLAY_IMG}; return img ? img.src : ''; }}"
#: True once the overlay shows a source other than ``before``, fully decoded.
_NEW_OVERLAY = (
    f"([label, before]) => {{ const img = {_OVERLAY_IMG};"
    "  return !!img && img.src !== before && img.complete && img.naturalWidth > 0; }"
)


#: The Semantic tab's status line once a result is shown.
_STATUS = "p:visible"
_STATUS_TEXT = " segments · "


def rerender_samples_ms(url: str, photo: Path, repeat: int) -> list[float]:
    """Semantic tab at ``url``: run ``photo``, then ``repeat`` times release the opacity slider
    at a new value and time until the new overlay is decoded (polled every animation frame)."""
    with _semantic_page(url) as (page, panel):
        _run_photo(page, panel, photo)
        slider = panel.locator("input[type=range]").first
        return [_release_at(page, slider, 0.2 + 0.6 * (i % 2)) for i in range(repeat)]


def run_samples(url: str, warm_up: Path, photos: list[Path]) -> list[tuple[float, str]]:
    """Semantic tab at ``url``: run ``warm_up`` (the model loads), then each photo: upload it
    (untimed, as a user picks a file before pressing the button) and time from pressing
    Segment to the new overlay decoded. Each photo's (ms, status line)."""
    with _semantic_page(url) as (page, panel):
        _run_photo(page, panel, warm_up)
        return [_run_photo(page, panel, photo) for photo in photos]


@contextmanager
def _semantic_page(url: str) -> Iterator[tuple[Any, Any]]:
    """(page, Semantic tab panel) in a fresh headless Chromium at ``url``."""
    if CHROMIUM is None:
        raise RuntimeError("Debian's chromium is needed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(url)
            page.get_by_role("tab", name="Semantic").click()
            yield page, page.locator("[role=tabpanel]:visible")
        finally:
            browser.close()


def _run_photo(page: Any, panel: Any, photo: Path) -> tuple[float, str]:
    """Upload ``photo``, let the upload settle, press Segment; (ms from the press to the new
    overlay decoded, the status line then)."""
    before = _overlay_src(page)
    panel.locator("input[type=file]").first.set_input_files(str(photo))
    page.wait_for_timeout(UPLOAD_SETTLE_MS)
    start = time.perf_counter()
    panel.locator("button:visible", has_text="Segment").click()
    page.wait_for_function(
        _NEW_OVERLAY, arg=[OVERLAY_LABEL, before], polling="raf", timeout=300_000
    )
    elapsed = (time.perf_counter() - start) * 1e3
    return elapsed, page.locator(_STATUS, has_text=_STATUS_TEXT).first.inner_text()


def _release_at(page: Any, slider: Any, fraction: float) -> float:
    before = _overlay_src(page)
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * fraction, y)
    start = time.perf_counter()
    page.mouse.up()
    page.wait_for_function(_NEW_OVERLAY, arg=[OVERLAY_LABEL, before], polling="raf", timeout=60_000)
    return (time.perf_counter() - start) * 1e3


def _overlay_src(page: Any) -> str:
    return page.evaluate(_OVERLAY_SRC, OVERLAY_LABEL)
