"""What a person sees of the studio, in a real headless Chromium, on a laptop-sized window
and on a narrow one: the job and any error in view when a button is pressed at the end of
a long form, labels in words, history cards that show their inputs, a comparison of two
runs that differ only by their style image, the connection lost and back, uploads deleted,
the Train tab's folder, and no console error on any page.

Every run is a tiny gatys with random descriptor weights; the server is a real uvicorn on a
loopback port (tests/live_server.py), shared by the module's tests.
"""

from __future__ import annotations

import pytest
import tiny
from studio_page import (
    LAPTOP,
    NARROW,
    fill_options,
    in_view,
    open_page,
    photo,
    start,
    wait_for_job,
    wait_for_state,
)

pytestmark = pytest.mark.browser

FAST = tiny.FAST_DESCRIPTOR
#: A gatys run of a second or two.
QUICK = {"size": "40", "steps": "8", **FAST}


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    import httpx
    from live_server import live_studio

    from styx.studio.app import StudioSettings

    root = tmp_path_factory.mktemp("page-studio")
    # an allowed root of no photos, its photos one level down: the Train tab must offer
    # the folder with photos, not the empty root
    photos = root / "allowed" / "holiday"
    photos.mkdir(parents=True)
    for seed in range(2):
        photo(photos / f"p{seed}.png", seed)
    styles = [photo(root / "ochre.png", 10), photo(root / "teal.png", 11)]
    settings = StudioSettings(folder=root / "studio", allow_dirs=[root / "allowed"],
                              study_dirs=[])
    with live_studio(settings) as (url, _app):
        http = httpx.Client(base_url=url)
        uploaded = [upload_file(http, path) for path in styles]
        yield {"url": url, "root": root, "http": http, "styles": uploaded,
               "settings": settings}


def upload_file(http, path) -> str:
    with open(path, "rb") as handle:
        response = http.post("api/images", files={"file": (path.name, handle, "image/png")})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def sample_photo(http) -> str:
    images = http.get("api/catalogue").json()["images"]
    return next(i["id"] for i in images if i["name"].startswith("tubingen"))


def gatys_job(http, styles: list[str], **options) -> dict:
    body = {"kind": "stylize", "method": "gatys", "content": sample_photo(http),
            "styles": styles, "options": {**QUICK, **options}}
    response = http.post("api/jobs", json=body)
    assert response.status_code == 201, response.text
    return wait_for_job(http, response.json()["id"])


@pytest.fixture(params=["laptop", "narrow"])
def window(request, browser_page):
    """The page, in a laptop-sized window and in a narrow one."""
    browser_page.set_viewport_size(LAPTOP if request.param == "laptop" else NARROW)
    return browser_page


def test_a_run_started_at_the_end_of_the_form_is_in_view_with_its_frames(
        studio, window, save_screenshot):
    page = open_page(window, studio["url"])
    page.select_option("#method", "method:gatys")
    fill_options(page, "#run-form", {**QUICK, "steps": "40"})
    page.locator("#run").scroll_into_view_if_needed()
    start(page, "stylise", "#run")
    assert in_view(page, "#stylise-view")
    page.wait_for_function("() => { const i = document.querySelector('#stylise-view img.live');"
                           " return i && !i.hidden && i.naturalWidth > 0; }", timeout=60_000)
    assert in_view(page, "#stylise-view .job-head") and in_view(page, "#stylise-view .progress")
    assert page.eval_on_selector("#stylise-view img.live", """img => {
        const box = img.getBoundingClientRect();
        return box.top < window.innerHeight && box.bottom > 0; }""")
    # the page never scrolls sideways, however narrow the window
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    save_screenshot(page, f"studio-run-in-view-{page.viewport_size['width']}")
    assert wait_for_state(page, "stylise", ("done", "failed")) == "done"


def test_a_refused_run_shows_its_error_where_the_user_looks(studio, window, save_screenshot):
    page = open_page(window, studio["url"])
    page.select_option("#method", "method:gatys")
    fill_options(page, "#run-form", {**QUICK, "steps": "0"})
    page.locator("#run").scroll_into_view_if_needed()
    page.click("#run")
    page.wait_for_selector("#stylise .refusal:not([hidden])")
    assert in_view(page, "#stylise .refusal") and in_view(page, "#message")
    error = page.inner_text("#stylise .refusal")
    assert "0" in error and "styx " not in error
    # the option at fault is marked
    assert page.locator("#run-form .field.bad [name='steps']").count() == 1
    save_screenshot(page, f"studio-error-in-view-{page.viewport_size['width']}")
    # fixed and sent again: the refusal goes, the job comes
    page.fill("#run-form [name='steps']", "4")
    start(page, "stylise", "#run")
    assert page.is_hidden("#stylise .refusal")
    assert page.locator("#run-form .field.bad").count() == 0


def test_options_are_labelled_in_words_with_the_flag_small_and_advanced_ones_folded(
        studio, browser_page):
    page = open_page(browser_page, studio["url"])
    page.select_option("#method", "method:gatys")
    label = page.locator("#run-form label:has([name='preserve_color'])")
    assert label.locator("span").inner_text() == "Keep the content's colours"
    assert label.locator("code.flag").inner_text() == "--preserve-color"
    assert page.locator("#run-form label:has(code:text-is('--lbfgs-history')) span") \
        .text_content() == "L-BFGS memory"
    advanced = page.locator("#run-form details.advanced")
    assert advanced.count() == 1 and not advanced.evaluate("d => d.open")
    assert page.is_hidden("#run-form [name='lbfgs_history']")
    assert page.is_visible("#run-form [name='steps']")


def test_a_picked_photo_clicked_again_stays_picked(studio, browser_page):
    page = open_page(browser_page, studio["url"])
    picked = page.locator("#content-gallery figure.picked")
    assert picked.count() == 1
    chosen = picked.get_attribute("data-id")
    picked.click()
    assert page.locator("#content-gallery figure.picked").get_attribute("data-id") == chosen


def test_history_cards_show_their_inputs_and_compare_runs_that_differ_by_style(
        studio, browser_page, save_screenshot):
    http = studio["http"]
    first = gatys_job(http, [studio["styles"][0]])
    second = gatys_job(http, [studio["styles"][1]])
    assert first["state"] == second["state"] == "done"
    page = open_page(browser_page, studio["url"], "history")
    for job, style in ((first, studio["styles"][0]), (second, studio["styles"][1])):
        card = page.locator(f"#history-list .card[data-id='{job['id']}']")
        assert card.locator(".inputs img[data-role='photo']").count() == 1
        assert card.locator(".inputs img[data-role='style']").get_attribute("src") \
            == f"/api/images/{style}"
    assert page.is_disabled("#compare")
    for job in (first, second):
        page.check(f"#history-list .card[data-id='{job['id']}'] input[type=checkbox]")
    page.click("#compare")
    # the one difference is the style image, shown as pictures
    rows = page.eval_on_selector_all("#comparison tr[data-row]", "rs => rs.map(r => r.dataset.row)")
    assert rows == ["style images"]
    assert page.locator("#comparison tr[data-row='style images'] img").count() == 2
    # side by side at a useful size
    widths = page.eval_on_selector_all("#comparison .compare-side img",
                                       "is => is.map(i => i.getBoundingClientRect().width)")
    assert len(widths) == 2 and min(widths) >= 300
    assert in_view(page, "#comparison .compare-tools")
    save_screenshot(page, "studio-compare-side")
    page.click("#comparison button[data-mode='slider']")
    slider = page.locator("#comparison .compare-slider input[type=range]")
    slider.fill("20")
    assert "80%" in page.get_attribute("#comparison .compare-slider img.top", "style")
    save_screenshot(page, "studio-compare-slider")
    page.click("#comparison button[data-mode='flicker']")
    flicker = page.locator("#comparison .compare-flicker img")
    shown = flicker.get_attribute("src")
    page.wait_for_function("(old) => document.querySelector('#comparison .compare-flicker img')"
                           ".getAttribute('src') !== old", arg=shown, timeout=5_000)
    page.click("#comparison button.clear")
    assert page.is_hidden("#comparison")
    assert page.locator("#history-list input[type=checkbox]:checked").count() == 0


def test_the_page_says_when_the_connection_is_lost_and_when_it_is_back(
        tmp_path, browser_page, save_screenshot):
    from live_server import live_studio
    from ports import free_port

    from styx.studio.app import StudioSettings

    settings = StudioSettings(folder=tmp_path / "studio", study_dirs=[])
    port = free_port()
    with live_studio(settings, port=port) as (url, _app):
        page = open_page(browser_page, url)
        page.select_option("#method", "method:gatys")
        fill_options(page, "#run-form", {**QUICK, "steps": "100000"})
        start(page, "stylise", "#run")
        page.wait_for_function("() => /step \\d+ of 100000/.test("
                               "document.querySelector('#stylise-view .progress').textContent)",
                               timeout=60_000)
    # the server has stopped (its job with it): the page says so, and no time left
    page.wait_for_selector("#message.offline:not([hidden])", timeout=10_000)
    assert "lost" in page.inner_text("#message")
    progress = page.inner_text("#stylise-view .progress")
    assert "lost" in progress and "left" not in progress, progress
    save_screenshot(page, "studio-connection-lost")
    with live_studio(settings, port=port):
        page.wait_for_function("() => /back/.test(document.querySelector('#message')"
                               ".textContent)", timeout=15_000)
        # what happened meanwhile is shown: the job the stop interrupted
        assert wait_for_state(page, "stylise", ("interrupted",), timeout=10_000)
        assert "lost" not in page.inner_text("#stylise-view .progress")


def test_an_upload_is_deleted_from_the_page(studio, browser_page, tmp_path):
    http = studio["http"]
    image_id = upload_file(http, photo(tmp_path / "to-delete.png", 30))
    page = open_page(browser_page, studio["url"])
    page.on("dialog", lambda dialog: dialog.accept())
    figure = page.locator(f"#content-gallery figure[data-id='{image_id}']")
    assert figure.count() == 1
    # bundled samples have no delete button
    assert page.locator("#content-gallery figure[title='tubingen.jpg'] .delete-image") \
        .count() == 0
    figure.locator(".delete-image").click()
    page.wait_for_function("(id) => !document.querySelector("
                           "`#content-gallery figure[data-id='${id}']`)", arg=image_id)
    assert http.get(f"api/images/{image_id}").status_code == 404


def test_the_train_tab_offers_the_folder_with_photos(studio, browser_page):
    page = open_page(browser_page, studio["url"], "train")
    page.wait_for_function("() => document.querySelector('#content-folder').options.length > 1")
    chosen = page.eval_on_selector("#content-folder", "s => s.selectedOptions[0].textContent")
    assert "holiday" in chosen and "(2 images here)" in chosen


@pytest.mark.parametrize("tab", ["stylise", "history", "train", "studies"])
def test_no_console_error_on_any_page(studio, browser_page, console_errors, tab):
    page = open_page(browser_page, studio["url"], tab)
    page.wait_for_load_state("networkidle")
    page.set_viewport_size(NARROW)
    page.wait_for_timeout(100)
    assert console_errors == []


def test_a_stylebank_of_two_styles_trained_from_the_page_ends_done_and_is_offered(
        studio, browser_page, save_screenshot):
    page = open_page(browser_page, studio["url"], "train")
    page.select_option("#train-method", "stylebank")
    picked = page.eval_on_selector_all("#train-style-gallery figure.picked",
                                       "fs => fs.map(f => f.dataset.id)")
    for figure in picked:  # the bundled painting, picked at the start
        page.click(f"#train-style-gallery figure[data-id='{figure}']")
    for style in studio["styles"]:
        page.click(f"#train-style-gallery figure[data-id='{style}']")
    assert page.locator("#train-style-gallery figure.picked").count() == 2
    fill_options(page, "#train-form", {"iterations": "6", "image_size": "32",
                                       "batch_size": "1", "log_every": "1", "width": "8",
                                       "name": "page-bank2", **FAST})
    start(page, "train", "#start-training")
    assert wait_for_state(page, "train", ("done", "failed"), timeout=120_000) == "done", \
        page.inner_text("#train-view")
    page.wait_for_function("() => document.querySelector('#train-view img.live')"
                           ".naturalWidth > 0")
    assert "final training loss" in page.inner_text("#train-view .progress")
    save_screenshot(page, "studio-train-stylebank")
    # the new model is offered at once, no reload
    page.evaluate("window.notReloaded = true")
    page.click("nav a[data-tab='stylise']")
    assert page.evaluate("window.notReloaded === true")
    page.wait_for_function("() => [...document.querySelectorAll('#method option')]"
                           ".some(o => o.value === 'model:page-bank2')")
