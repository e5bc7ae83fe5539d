"""The Live tab in headless Chromium with its fake camera (a moving test pattern).

Two viewers stream at once, each gets its own painted frames and they change; at the time
limit each stream's event ends cleanly and the page joins the queue again (Gradio's
``time_limit``: no stream holds a slot for longer); the other tabs still answer meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from gradio_client import Client, handle_file

from segdemo.bench.browser import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.conftest import EXAMPLES, served

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.e2e

TIME_LIMIT_S = 15
FAKE_CAMERA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(tmp_path_factory.mktemp("live"), SEGDEMO_LIVE_TIME_LIMIT=str(TIME_LIMIT_S)) as url:
        yield url


@pytest.fixture(scope="module")
def camera_browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is needed for the browser tests: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS + FAKE_CAMERA
        )
        yield chromium
        chromium.close()


def open_live(browser: Browser, url: str, mode: str) -> Page:
    """A new viewer on the Live tab, streaming from the fake camera, painted as ``mode``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    context.grant_permissions(["camera"])
    page = context.new_page()
    page.goto(url)
    page.get_by_role("tab", name="Live").click()
    page.get_by_label(mode).check()
    access = page.get_by_text("Click to Access Webcam")
    access.first.click(timeout=30_000)
    # Gradio labels the streaming webcam's Record button "capture photo".
    page.get_by_role("button", name="capture photo").click(timeout=30_000)
    return page


def shown_frame(page: Page) -> str | None:
    """The src of the Live output image (a new file for every frame), or None yet."""
    image = page.locator(".block", has=page.get_by_text("Live", exact=True)).locator("img")
    return image.first.get_attribute("src") if image.count() else None


def frames_seen(pages: list[Page], seconds: float) -> list[set[str]]:
    """The distinct output frames each viewer showed during ``seconds``."""
    seen: list[set[str]] = [set() for _ in pages]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for page, frames in zip(pages, seen, strict=True):
            src = shown_frame(page)
            if src:
                frames.add(src)
        time.sleep(0.2)
    return seen


def test_two_viewers_stream_their_own_frames_past_the_time_limit(camera_browser, live_url):
    viewers = [
        open_live(camera_browser, live_url, mode)
        for mode in ("Overlay with legend", "Cut-out on blurred background")
    ]
    started = time.monotonic()
    seen = frames_seen(viewers, 8)
    for frames in seen:
        assert len(frames) >= 2, f"frames must come back and change: {[len(f) for f in seen]}"
    assert not seen[0] & seen[1], "each viewer gets its own stream, painted as it chose"
    for page in viewers:
        assert "frames/s" in page.locator("#live-fps").inner_text()
    # Another tab answers while both streams run.
    status, *_ = Client(live_url, verbose=False).predict(
        handle_file(str(EXAMPLES / "chelsea.png")),
        handle_file(str(EXAMPLES / "chelsea_trimap.png")),
        1,
        0.5,
        api_name="/groundtruth",
    )
    assert status
    # Past the time limit each stream's event has ended and the page has joined the queue
    # again: frames still come, and nothing went wrong on the way.
    time.sleep(max(0.0, started + TIME_LIMIT_S + 2 - time.monotonic()))
    after = frames_seen(viewers, 6)
    for before, frames in zip(seen, after, strict=True):
        assert frames - before, "the stream did not come back after its time limit"
    for page in viewers:
        assert not page.locator(".toast-body:visible").count(), "an error toast appeared"
        page.context.close()
