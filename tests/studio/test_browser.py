"""The studio in a real headless Chromium: upload, watch gatys live, download, stop, train a
texture-nets model and run it, a StyleBank model's style buttons and fusion sliders, an AdaIN
model's painting picker, history and compare, the studies page. A screenshot of each page is
saved (``STYX_TEST_ARTIFACTS``).

Every run uses random descriptor weights and tiny sizes; the server is a real uvicorn on a
loopback port (tests/live_server.py), shared by the module's tests in order.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import tiny
from PIL import Image
from studio_page import (
    fill_options,
    job_state,
    open_page,
    photo,
    start,
    upload,
    wait_for_state,
)

pytestmark = pytest.mark.browser

FAST = tiny.FAST_DESCRIPTOR


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    import httpx
    from live_server import live_studio

    import styx
    from styx.studio.app import StudioSettings

    root = tmp_path_factory.mktemp("browser-studio")
    photos = root / "photos"
    photos.mkdir()
    for seed in range(3):
        photo(photos / f"p{seed}.png", seed)
    styles = [photo(root / "ochre.png", 10), photo(root / "blue.png", 11)]
    studies = root / "experiments" / "tv-weight"
    (studies / "plots").mkdir(parents=True)
    photo(studies / "grid.png", 20)
    (studies / "report.html").write_text('<h1>tv-weight</h1><img src="grid.png" id="grid">')
    # A StyleBank model of two styles, trained with the library (seconds at this size).
    styx.train("stylebank", style=[str(s) for s in styles], content_dir=str(photos),
               name="bank2", **{**tiny.TRAINING, **FAST, "width": 8})
    settings = StudioSettings(folder=root / "studio", allow_dirs=[photos],
                              study_dirs=[root / "experiments"])
    with live_studio(settings) as (url, _app):
        yield {"url": url, "root": root, "styles": styles, "http": httpx.Client(base_url=url)}


def test_upload_run_gatys_watch_it_live_and_download(studio, browser_page, save_screenshot,
                                                      tmp_path):
    page = open_page(browser_page, studio["url"])
    upload(page, "#content-upload", photo(tmp_path / "my-photo.png", 1))
    upload(page, "#style-upload", studio["styles"][0])
    # the uploads are picked: the photo alone as content, the painting among the styles
    assert page.get_attribute("#content-gallery figure.picked", "title") == "my-photo.png"
    assert "ochre.png" in page.eval_on_selector_all("#style-gallery figure.picked",
                                                    "fs => fs.map(f => f.title)")
    page.select_option("#method", "method:gatys")
    # the form comes from gatys' config: its options, with their defaults as placeholders
    assert page.get_attribute("#run-form [name='steps']", "placeholder")
    fill_options(page, "#run-form", {"size": "48", "steps": "60", **FAST})
    start(page, "stylise", "#run")
    page.wait_for_function("() => document.querySelectorAll('#stylise-view img.live').length"
                           " && Number(document.querySelector('#stylise-view img.live')"
                           ".dataset.liveFrames || 0) >= 2", timeout=60_000)
    assert re.search(r"step \d+ of 60", page.inner_text("#stylise-view .progress")) \
        or job_state(page, "stylise") == "done"
    save_screenshot(page, "studio-stylise-running")
    assert wait_for_state(page, "stylise", ("done", "failed")) == "done"
    page.wait_for_function("() => { const i = document.querySelector('#stylise-view img.live');"
                           " return i.src.includes('result.png') && i.complete"
                           " && i.naturalWidth > 0; }")
    assert page.eval_on_selector("#stylise-view img.live", "i => i.naturalWidth") == 48
    with page.expect_download() as download_info:
        page.click("#stylise-view a.download")
    saved = tmp_path / "download.png"
    download_info.value.save_as(saved)
    with Image.open(saved) as result:
        assert result.format == "PNG" and result.size == (48, 36)
    with page.expect_download() as settings_info:
        page.click("#stylise-view a:text('Settings JSON')")
    settings = json.loads(Path(settings_info.value.path()).read_text())
    assert settings["settings"]["steps"] == [60] and settings["method"] == "gatys"
    save_screenshot(page, "studio-stylise-done")


def test_a_second_run_is_stopped_midway_and_keeps_its_picture(studio, browser_page,
                                                               save_screenshot):
    page = open_page(browser_page, studio["url"])
    page.select_option("#method", "method:gatys")
    fill_options(page, "#run-form", {"size": "48", "steps": "5000", **FAST})
    start(page, "stylise", "#run")
    try:
        page.wait_for_function("() => /step ([3-9]|\\d\\d+) of 5000/.test("
                               "document.querySelector('#stylise-view .progress').textContent)",
                               timeout=60_000)
    except Exception:
        print(page.inner_text("#stylise-view"), page.inner_text("#message"))
        raise
    page.click("#stylise-view button.stop")
    assert wait_for_state(page, "stylise", ("stopped", "done", "failed")) == "stopped"
    page.wait_for_function("() => { const i = document.querySelector('#stylise-view img.live');"
                           " return i.src.includes('result.png') && i.naturalWidth > 0; }")
    job_id = page.get_attribute("#stylise-view", "data-job")
    job = studio["http"].get(f"api/jobs/{job_id}").json()
    assert job["summary"]["interrupted"] is True and 0 < job["summary"]["steps"] < 5000
    save_screenshot(page, "studio-stopped")


def test_train_a_texture_nets_model_then_run_it(studio, browser_page, save_screenshot):
    page = open_page(browser_page, studio["url"], "train")
    page.select_option("#train-method", "texture-nets")
    page.click("#train-style-gallery figure[title='ochre.png']")
    assert page.eval_on_selector_all("#train-style-gallery figure.picked",
                                     "fs => fs.map(f => f.title)") == ["ochre.png"]
    assert "photos" in page.inner_text("#content-folder")
    fill_options(page, "#train-form", {"iterations": "12", "image_size": "32",
                                       "batch_size": "1", "log_every": "2",
                                       "name": "ochre-tn", **FAST})
    start(page, "train", "#start-training")
    assert wait_for_state(page, "train", ("done", "failed"), timeout=120_000) == "done"
    page.wait_for_function("() => document.querySelector('#train-view img.live')"
                           ".naturalWidth > 0")
    save_screenshot(page, "studio-train")

    page.goto(f"{studio['url']}#stylise")
    page.wait_for_selector("body[data-ready='1']")
    page.select_option("#method", "model:ochre-tn")
    assert page.is_hidden("#style-gallery")  # the model holds its style
    start(page, "stylise", "#run")
    assert wait_for_state(page, "stylise", ("done", "failed")) == "done"
    page.wait_for_function("() => { const i = document.querySelector('#stylise-view img.live');"
                           " return i.src.includes('result.png') && i.naturalWidth > 0; }")
    assert "ochre-tn" in page.inner_text("#stylise-view h3")
    save_screenshot(page, "studio-model-run")


def test_a_stylebank_model_has_a_button_per_style_and_fusion_sliders(studio, browser_page,
                                                                     save_screenshot):
    page = open_page(browser_page, studio["url"])
    page.select_option("#method", "model:bank2")
    buttons = page.eval_on_selector_all("#style-buttons button", "bs => bs.map(b => b.textContent)")
    assert len(buttons) == 2
    page.wait_for_function("() => document.querySelector('#preview').naturalWidth > 0")
    first = page.get_attribute("#preview", "src")
    page.click("#style-buttons button >> nth=1")
    page.wait_for_function("(old) => document.querySelector('#preview').src !== old"
                           " && document.querySelector('#preview').naturalWidth > 0", arg=first)
    assert page.eval_on_selector("#style-buttons button >> nth=1",
                                 "b => b.classList.contains('chosen')")
    slider = page.locator("#fusion input[type=range]").first
    slider.fill("0.5")
    assert page.eval_on_selector_all("#style-buttons button.chosen", "bs => bs.length") == 0
    start(page, "stylise", "#run")
    assert wait_for_state(page, "stylise", ("done", "failed")) == "done"
    job_id = page.get_attribute("#stylise-view", "data-job")
    job = studio["http"].get(f"api/jobs/{job_id}").json()
    assert len(job["settings"].get("style_mix") or {}) == 2, job
    save_screenshot(page, "studio-stylebank")


def test_an_adain_model_offers_every_painting_and_runs_with_the_picked_ones(studio,
                                                                          browser_page):
    from trained_models import save_adain

    from styx.files.modelstore import models_home

    folder = save_adain(models_home() / "adain-any")
    try:
        page = open_page(browser_page, studio["url"])
        page.select_option("#method", "model:adain-any")
        assert page.is_visible("#style-gallery") and page.is_visible("#style-upload")
        images = studio["http"].get("api/catalogue").json()["images"]
        assert page.locator("#style-gallery figure").count() == len(images)
        page.click("#style-gallery figure:not(.picked) >> nth=0")
        picked = page.eval_on_selector_all("#style-gallery figure.picked",
                                           "fs => fs.map(f => f.dataset.id)")
        assert len(picked) == 2  # the sample painting, picked at the start, and this one
        fill_options(page, "#run-form", {"long_side": "32", "style_size": "32"})
        start(page, "stylise", "#run")
        assert wait_for_state(page, "stylise", ("done", "failed")) == "done"
        job_id = page.get_attribute("#stylise-view", "data-job")
        job = studio["http"].get(f"api/jobs/{job_id}").json()
        assert sorted(job["request"]["styles"]) == sorted(picked)
        page.select_option("#method", "model:bank2")  # holds its styles: no painting picker
        assert page.is_hidden("#style-gallery")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_history_compares_results_and_reruns_one(studio, browser_page, save_screenshot):
    page = open_page(browser_page, studio["url"], "history")
    cards = page.locator("#history-list .card")
    assert cards.count() >= 4
    done = page.locator("#history-list .card:has(.state.done) input[type=checkbox]")
    done.nth(0).check()
    done.nth(1).check()
    page.click("#compare")
    assert page.locator("#comparison figure").count() == 2
    save_screenshot(page, "studio-history")
    # a reload keeps the history (it is the server's)
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#history-list .card").count() == cards.count()
    page.locator("#history-list .card:has(.state.done) button:text('Re-run')").last.click()
    assert page.evaluate("location.hash").startswith("#")


def test_the_studies_page_opens_a_report(studio, browser_page, save_screenshot):
    page = open_page(browser_page, studio["url"], "studies")
    link = page.locator("#study-list a", has_text="tv-weight")
    link.wait_for()
    with page.context.expect_page() as report_info:
        link.click()
    report = report_info.value
    report.wait_for_load_state()
    assert report.eval_on_selector("#grid", "i => i.naturalWidth") > 0
    save_screenshot(page, "studio-studies")


def test_a_bad_upload_is_a_clear_message_on_the_page(studio, browser_page, tmp_path):
    page = open_page(browser_page, studio["url"])
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    page.set_input_files("#content-upload", str(bad))
    page.wait_for_selector("#message:not([hidden])")
    message = page.inner_text("#message")
    assert "notes.png" in message and "not an image" in message
    assert str(tmp_path) not in message and "/studio/" not in message
