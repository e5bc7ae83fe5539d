"""The page in a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is needed for the browser tests: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    page.goto(server_url)
    page.get_by_role("tab", name="Ground truth").wait_for()
    yield page
    context.close()


def output_image_sources(page, label: str) -> list[str]:
    block = page.locator(".block", has=page.get_by_text(label, exact=True))
    return [img.get_attribute("src") for img in block.locator("img").all()]


def test_example_shows_values_legend_mask_and_cutout(page, tmp_path):
    page.locator("img[src*='chelsea.png']").first.click()
    page.get_by_test_id("cell-0-1").get_by_text("0.003922").wait_for(timeout=60_000)
    assert page.get_by_test_id("cell-0-2").inner_text() == "pet"
    assert "451×300" in page.get_by_text("distinct values").inner_text()
    legend = [t.split()[0] for t in page.locator(".segdemo-legend-item").all_inner_texts()]
    assert legend == ["pet", "background", "border"]
    cutout = output_image_sources(page, "Cut-out (transparent PNG — use ⬇ to download)")
    assert cutout and cutout[0].endswith(".png")
    page.screenshot(path=tmp_path / "groundtruth.png", full_page=True)


def test_a_bad_upload_gets_a_message_and_the_results_stay(page, tmp_path):
    page.locator("img[src*='chelsea.png']").first.click()
    page.get_by_test_id("cell-0-1").get_by_text("0.003922").wait_for(timeout=60_000)
    before = output_image_sources(page, "Cut-out on black")
    bad = tmp_path / "holiday.png"
    bad.write_text("not an image at all")
    page.locator("input[type=file]").first.set_input_files(str(bad))
    page.get_by_role("button", name="Show").click()
    toast = page.locator(".toast-message-text")
    toast.wait_for(timeout=30_000)
    assert "holiday.png is not an image" in toast.inner_text()
    assert "Traceback" not in page.inner_text("body")
    assert output_image_sources(page, "Cut-out on black") == before
    assert page.get_by_test_id("cell-0-2").inner_text() == "pet"
