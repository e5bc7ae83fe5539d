"""The page in a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pytest

from segdemo.bench.browser import CHROMIUM, CHROMIUM_ARGS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is needed for the browser tests: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser: Browser, server_url: str, height: int) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": height})
    page = context.new_page()
    page.goto(server_url)
    page.get_by_role("tab", name="Ground truth").wait_for()
    yield page
    context.close()


@pytest.fixture
def page(browser: Browser, server_url: str) -> Iterator[Page]:
    """The page in a tall window: every tab's results fit without scrolling."""
    yield from open_page(browser, server_url, 1800)


@pytest.fixture
def screen(browser: Browser, server_url: str) -> Iterator[Page]:
    """The page in a laptop's window, 1400×1000, as a person meets it."""
    yield from open_page(browser, server_url, SCREEN_HEIGHT)


SCREEN_HEIGHT = 1000


#: True once the page shows mask, cut-out on black and cut-out PNGs, each decoded at [w, h].
DECODED_PNGS = """([w, h]) => {
  const shown = [...document.querySelectorAll('img')].filter(
    (img) => img.offsetParent && /-(mask|cutout-on-black|cutout)\\.png$/.test(img.src));
  return shown.length === 3
    && shown.every((img) => img.complete && img.naturalWidth === w && img.naturalHeight === h);
}"""


def output_image_sources(page: Page, label: str) -> list[str]:
    block = page.locator(".block", has=page.get_by_text(label, exact=True))
    return [img.get_attribute("src") for img in block.locator("img").all()]


def test_example_shows_values_legend_mask_and_cutout(page, tmp_path) -> None:
    page.locator("img[src*='chelsea.png']").first.click()
    page.get_by_test_id("cell-0-1").get_by_text("0.003922").wait_for(timeout=60_000)
    assert page.get_by_test_id("cell-0-2").inner_text() == "pet"
    assert "451×300" in page.get_by_text("distinct values").inner_text()
    legend = [t.split()[0] for t in page.locator(".segdemo-legend-item").all_inner_texts()]
    assert legend == ["pet", "background", "border"]
    cutout = output_image_sources(page, "Cut-out (transparent PNG — use ⬇ to download)")
    assert cutout and cutout[0].endswith(".png")
    # Chromium decodes the PNGs of segdemo's own writer (the 1-bit mask, RGB, RGBA) at full size
    page.wait_for_function(DECODED_PNGS, arg=[451, 300], timeout=30_000)
    page.screenshot(path=tmp_path / "groundtruth.png", full_page=True)


def test_a_bad_upload_gets_a_message_and_the_results_stay(page, tmp_path) -> None:
    page.locator("img[src*='chelsea.png']").first.click()
    page.get_by_test_id("cell-0-1").get_by_text("0.003922").wait_for(timeout=60_000)
    before = output_image_sources(page, "Cut-out on black")
    bad = tmp_path / "holiday.png"
    bad.write_text("not an image at all")
    page.locator("#gt-photo input[type=file]").set_input_files(str(bad))
    page.get_by_role("button", name="Show").click()
    toast = page.locator(".toast-message-text")
    toast.wait_for(timeout=30_000)
    assert "holiday.png is not an image" in toast.inner_text()
    assert "Traceback" not in page.inner_text("body")
    assert output_image_sources(page, "Cut-out on black") == before
    assert page.get_by_test_id("cell-0-2").inner_text() == "pet"


def test_an_uploaded_photo_and_voc_palette_annotation(page, tmp_path) -> None:
    import numpy as np
    from PIL import Image

    photo = np.zeros((40, 60, 3), np.uint8)
    photo[..., 1] = 200
    labels = np.zeros((40, 60), np.uint8)
    labels[5:25, 10:30] = 15  # person
    labels[24:26, :] = 255  # void border
    annotation = Image.fromarray(labels, mode="P")
    annotation.putpalette([0, 0, 0, *([128, 128, 128] * 255)])
    Image.fromarray(photo).save(tmp_path / "photo.png")
    annotation.save(tmp_path / "labels.png")

    page.locator("#gt-photo input[type=file]").set_input_files(str(tmp_path / "photo.png"))
    page.locator("#gt-annotation input[type=file]").set_input_files(str(tmp_path / "labels.png"))
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Show").click()
    page.get_by_test_id("cell-1-2").get_by_text("person").wait_for(timeout=60_000)
    stored = [page.get_by_test_id(f"cell-{row}-0").inner_text() for row in range(3)]
    assert stored == ["0", "15", "255"]
    assert page.get_by_test_id("cell-2-2").inner_text() == "void"
    # value 1 is not in this annotation, so the status says which value is shown instead
    assert "Value 1 does not occur in this annotation; showing 0." in page.inner_text("body")


def test_clicking_the_overlay_picks_the_value_under_the_cursor(page) -> None:
    page.locator("img[src*='chelsea.png']").first.click()
    page.get_by_test_id("cell-0-1").get_by_text("0.003922").wait_for(timeout=60_000)
    overlay = (
        page.locator(".block", has=page.get_by_text("click a segment to pick it"))
        .locator("img")
        .first
    )
    box = overlay.bounding_box()
    # the right edge of chelsea.png is background (trimap value 2) at mid height
    overlay.click(position={"x": box["width"] * 0.975, "y": box["height"] * 0.5})
    page.wait_for_function(
        "() => document.querySelector('#gt-object-value input').value.startsWith('2')",
        timeout=30_000,
    )
    assert page.locator("#gt-object-value input").input_value() == "2 (background)"
    # the status line describes what is on screen: after the click, then after the dropdown
    page.locator("p:visible", has_text="object value 2").wait_for(timeout=30_000)
    page.locator("#gt-object-value input").click()
    page.get_by_role("option", name="3 (border)").click()
    page.locator("p:visible", has_text="object value 3").wait_for(timeout=30_000)
    assert page.locator("p:visible", has_text="object value 2").count() == 0


def checked_boxes(page: Page, label: str) -> int:
    block = page.locator(".block:visible", has=page.get_by_text(label, exact=True))
    return block.locator("input[type=checkbox]:checked").count()


def wait_for_checked_change(page: Page, label: str, before: int) -> None:
    """Wait until the visible picker labelled ``label`` has other than ``before`` boxes checked."""
    page.wait_for_function(
        "([label, before]) => {"
        "  const block = [...document.querySelectorAll('.block')].find("
        "    b => b.offsetParent && b.textContent.includes(label));"
        "  return block && block.querySelectorAll('input[type=checkbox]:checked').length"
        "    !== before; }",
        arg=[label, before],
        timeout=30_000,
    )


def test_an_example_runs_and_the_overlay_names_and_toggles_the_class_under_the_cursor(
    page,
) -> None:
    page.get_by_role("tab", name="Semantic").click()
    page.locator("img[src*='chelsea.png']:visible").first.click()  # runs: no button press
    page.locator("button:visible:disabled", has_text="Working…").wait_for(timeout=30_000)
    page.locator(
        "p:visible", has_text=re.compile(r"DeepLabV3-ResNet50 on \w+ in \w+: \d+ segments?")
    ).wait_for(timeout=120_000)
    page.locator("button:visible:enabled", has_text="Segment").wait_for(timeout=30_000)
    picked = checked_boxes(page, "Classes to cut out")
    assert picked > 1  # random ResNet-50 weights give several classes; all but background picked
    overlay = (
        page.locator(".block:visible", has=page.get_by_text("click a segment to pick it"))
        .locator("img")
        .first
    )
    box = overlay.bounding_box()
    # hovering names the class under the pointer, one of the legend's
    overlay.hover(position={"x": box["width"] * 0.5, "y": box["height"] * 0.5})
    tip = page.locator(".segdemo-tip")
    tip.wait_for(state="visible", timeout=10_000)
    legend = page.locator(".segdemo-legend-item:visible").all_inner_texts()
    assert any(item.startswith(tip.inner_text() + "\xa0") for item in legend), (
        tip.inner_text(),
        legend,
    )
    page.mouse.move(1, 1)
    tip.wait_for(state="hidden", timeout=10_000)
    # Enter in the opacity box re-renders, as leaving the box does
    before = overlay.get_attribute("src")
    opacity = page.locator("[role=tabpanel]:visible input[type=number]").first
    opacity.fill("0.9")
    opacity.press("Enter")
    page.wait_for_function(
        "([img, before]) => img.getAttribute('src') !== before",
        arg=[overlay.element_handle(), before],
        timeout=30_000,
    )
    overlay.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.5})
    # every pixel belongs to a class: the click adds or removes exactly that one
    wait_for_checked_change(page, "Classes to cut out", picked)
    assert abs(checked_boxes(page, "Classes to cut out") - picked) == 1
    assert page.locator(".toast-message-text").count() == 0


def test_the_instance_tab_takes_every_control_from_the_page(page) -> None:
    page.get_by_role("tab", name="Instance").click()
    page.locator("img[src*='chelsea.png']:visible").first.click()
    page.locator("button:visible", has_text="Detect").click()
    status = page.locator("p:visible", has_text=re.compile(r"\d+ detections ≥ 0\.05"))
    status.wait_for(timeout=120_000)
    assert "shown ≥ 0.5" in status.inner_text()
    assert page.locator(".toast-message-text").count() == 0


def test_the_download_button_gives_the_results_zip(page) -> None:
    import io
    import zipfile

    download = page.locator("button:visible", has_text="Download results (ZIP)")
    download.click()
    toast = page.locator(".toast-message-text")
    toast.wait_for(timeout=30_000)
    assert "Press Show first" in toast.inner_text()
    page.locator("img[src*='chelsea.png']").first.click()
    page.get_by_test_id("cell-0-1").get_by_text("0.003922").wait_for(timeout=60_000)
    download.click()
    link = page.locator("a[download='chelsea-groundtruth.zip']:visible")
    link.wait_for(timeout=30_000)
    response = page.request.get(link.get_attribute("href"))
    assert response.ok
    with zipfile.ZipFile(io.BytesIO(response.body())) as archive:
        names = archive.namelist()
    assert {"README.txt", "chelsea.ids.png", "chelsea.cutout.png"} <= set(names)


def test_the_compare_tab_shows_three_overlays_after_a_run(page) -> None:
    page.get_by_role("tab", name="Compare").click()
    page.locator("img[src*='chelsea.png']:visible").first.click()
    page.locator("button.primary:visible", has_text="Compare").click()
    page.locator("p:visible", has_text="Click a segment in any overlay").first.wait_for(
        timeout=240_000
    )
    blocks = page.locator(
        ".block:visible", has=page.get_by_text("click a segment to pick its class")
    )
    assert blocks.count() == 3
    sources = [block.locator("img").first.get_attribute("src") for block in blocks.all()]
    assert all(src and src.endswith(".png") for src in sources) and len(set(sources)) == 3
    for kind in ("Semantic:", "Instance:", "Panoptic:"):
        assert page.locator("p:visible", has_text=kind).count() >= 1
    assert page.locator(".toast-message-text").count() == 0


def test_an_evaluation_of_the_ground_truth_example_shows_the_metrics(page) -> None:
    page.locator("img[src*='chelsea.png']").first.click()
    page.get_by_test_id("cell-0-1").get_by_text("0.003922").wait_for(timeout=60_000)
    page.get_by_text("Score a model against this annotation").click()
    page.get_by_role("button", name="Score", exact=True).click()
    line = page.locator("p:visible", has_text="pixel accuracy")
    line.wait_for(timeout=180_000)
    assert re.search(r"mIoU (\d\.\d{3}|—) · pixel accuracy \d\.\d{3}", line.inner_text())
    assert page.get_by_text("true positive: the right class").count() >= 1
    assert page.locator(".toast-message-text").count() == 0


def image_pixels(page: Page, src: str) -> np.ndarray:
    """The pixels of an image the page shows: uint8 [H, W, C]."""
    from PIL import Image

    response = page.request.get(src)
    assert response.ok, src
    return np.asarray(Image.open(io.BytesIO(response.body())))


def visible_image(page: Page, label: str) -> Locator:
    return page.locator(".block:visible", has=page.get_by_text(label)).locator("img").first


def overlay_top(page: Page) -> float:
    return page.evaluate(
        "() => [...document.querySelectorAll('.segdemo-overlay')]"
        ".find(e => e.offsetParent).getBoundingClientRect().top"
    )


def test_after_a_run_the_result_is_in_view_and_old_toasts_are_gone(screen) -> None:
    page = screen
    page.get_by_role("tab", name="Semantic").click()
    page.locator("button:visible", has_text="Segment").click()  # no photo yet: a toast
    page.locator(".toast-message-text").first.wait_for(timeout=30_000)
    # a refused run gives the button back too
    page.locator("button:visible:enabled", has_text="Segment").wait_for(timeout=10_000)
    page.locator("img[src*='chelsea.png']:visible").first.click()  # runs by itself
    page.locator(
        "p:visible", has_text=re.compile(r"DeepLabV3-ResNet50 on \w+ in \w+: \d+ segments?")
    ).wait_for(timeout=120_000)
    page.wait_for_function(
        "height => { const o = [...document.querySelectorAll('.segdemo-overlay')]"
        ".find(e => e.offsetParent); const top = o.getBoundingClientRect().top;"
        " return top >= 0 && top < height; }",
        arg=SCREEN_HEIGHT,
        timeout=10_000,
    )
    assert 0 <= overlay_top(page) < SCREEN_HEIGHT
    page.locator(".toast-message-text").first.wait_for(state="detached", timeout=10_000)
    assert page.locator(".toast-message-text").count() == 0


def test_100_detections_fit_two_screens_and_a_click_on_the_overlay_unpicks_and_dims(
    screen,
) -> None:
    page = screen
    page.get_by_role("tab", name="Instance").click()
    page.locator("img[src*='chelsea.png']:visible").first.click()
    page.locator("button:visible", has_text="Detect").click()
    status = page.locator("p:visible", has_text=re.compile(r"\d+ detections ≥ 0\.05"))
    status.wait_for(timeout=180_000)
    shown = int(re.search(r"(\d+) segments?", status.inner_text()).group(1))
    assert shown >= 90  # random Mask R-CNN v2 weights: about 100 detections on chelsea.png
    assert checked_boxes(page, "Instances to cut out") == shown  # all picked by default
    assert page.evaluate("document.documentElement.scrollHeight") <= 2 * SCREEN_HEIGHT
    legend = page.locator(".segdemo-legend-item:visible").all_inner_texts()
    assert len(legend) < shown and any(" × " in item for item in legend)  # grouped by class

    overlay = visible_image(page, "click a segment to pick it")
    before_src = overlay.get_attribute("src")
    before = image_pixels(page, before_src)
    mask = image_pixels(page, visible_image(page, "Binary mask").get_attribute("src")) > 0
    height, width = mask.shape[:2]
    # a pixel deep inside the picked region, so the click lands on a segment whatever rounds
    inside = np.ones_like(mask)
    for dy in range(-4, 5):
        for dx in range(-4, 5):
            inside &= np.roll(mask, (dy, dx), axis=(0, 1))
    ys, xs = np.nonzero(inside[5:-5, 5:-5])
    y, x = int(ys[len(ys) // 2]) + 5, int(xs[len(xs) // 2]) + 5
    overlay.scroll_into_view_if_needed()
    box = overlay.bounding_box()
    overlay.click(
        position={"x": (x + 0.5) * box["width"] / width, "y": (y + 0.5) * box["height"] / height}
    )
    wait_for_checked_change(page, "Instances to cut out", shown)
    assert checked_boxes(page, "Instances to cut out") == shown - 1
    page.wait_for_function(
        "([label, src]) => [...document.querySelectorAll('.block')].some("
        "  b => b.offsetParent && b.textContent.includes(label)"
        "    && b.querySelector('img') && b.querySelector('img').src !== src)",
        arg=["click a segment to pick it", before_src],
        timeout=30_000,
    )
    after = image_pixels(page, overlay.get_attribute("src"))
    # the unpicked segment is dimmed on the overlay itself
    assert (after[..., :3] < before[..., :3]).all(-1).sum() > 0
    assert page.locator(".toast-message-text").count() == 0
    # Find narrows the list to one class; "Pick only these" picks every instance of it
    name = next(item for item in legend if " × " in item).split(" × ")[0]
    picker = page.locator(".block:visible", has=page.get_by_text("Instances to cut out"))
    labels = picker.locator("label:has(input)").all_inner_texts()
    expected = sum(name.lower() in label.lower() for label in labels)
    page.locator("[role=tabpanel]:visible [placeholder^='Find']").fill(name)
    page.wait_for_function(
        "([count]) => [...document.querySelectorAll('.segdemo-picker label:has(input)')]"
        ".filter(l => l.offsetParent).length === count",
        arg=[expected],
        timeout=10_000,
    )
    page.locator("button:visible", has_text="Pick only these").click()
    wait_for_checked_change(page, "Instances to cut out", shown - 1)
    assert checked_boxes(page, "Instances to cut out") == expected < shown - 1
