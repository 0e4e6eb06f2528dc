"""The browser harness itself (tests/browser.py, fixtures in conftest.py): a real headless
Chromium opens local files and reports what it decoded, and a broken image reads as one."""

from __future__ import annotations

import pytest
from PIL import Image

pytestmark = pytest.mark.browser

IMAGE_SIZE = (37, 23)  # odd, distinct sizes: neither a default nor the other axis


def write_page(folder, title: str, image_name: str):
    page = folder / "page.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
                    f"</head><body><img id='picture' src='{image_name}'></body></html>")
    return page.as_uri()


def image_state(page) -> dict:
    return page.evaluate("""() => {
        const img = document.getElementById('picture');
        return {title: document.title, complete: img.complete,
                naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight};
    }""")


def test_chromium_decodes_a_png_the_test_wrote(browser_page, save_screenshot, tmp_path):
    Image.new("RGB", IMAGE_SIZE, (200, 40, 90)).save(tmp_path / "swatch.png")
    url = write_page(tmp_path, "styx harness", "swatch.png")

    browser_page.goto(url)  # waits for the load event, images included
    state = image_state(browser_page)

    assert state == {"title": "styx harness", "complete": True,
                     "naturalWidth": IMAGE_SIZE[0], "naturalHeight": IMAGE_SIZE[1]}
    shot = save_screenshot(browser_page, "browser-harness-png")
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.width > 0


def test_a_missing_image_has_no_natural_width(browser_page, tmp_path):
    url = write_page(tmp_path, "missing", "nowhere.png")

    browser_page.goto(url)
    state = image_state(browser_page)

    assert state["title"] == "missing"
    assert state["complete"] and state["naturalWidth"] == 0  # loaded and broken, not pending
