"""A clip in the studio's page, in a real headless Chromium, in a laptop-sized window and a
narrow one: uploaded through the content photo's input, refused with a method that is not a
trained model, stylised by a tiny model with its frames shown as they come, and its video
played in the job view (in view), downloadable, and in the history.

The model is a tiny texture network (made, not trained) and the clip 8 frames of 64 x 48:
the job takes a second or two; the server is a real uvicorn on a loopback port.
"""

from __future__ import annotations

import pytest
from studio_page import LAPTOP, NARROW, clip, in_view, open_page, start, upload, wait_for_state

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def studio(tmp_path_factory, clip_model):
    from live_server import live_studio

    from styx.studio.app import StudioSettings

    root = tmp_path_factory.mktemp("clip-studio")
    settings = StudioSettings(folder=root / "studio", study_dirs=[])
    with live_studio(settings) as (url, _app):
        yield {"url": url, "model": clip_model}


@pytest.mark.parametrize("window", ["laptop", "narrow"])
def test_a_clip_uploaded_in_the_page_comes_back_as_a_video_in_view(
        studio, browser_page, console_errors, save_screenshot, tmp_path, window):
    page = browser_page
    page.set_viewport_size(LAPTOP if window == "laptop" else NARROW)
    open_page(page, studio["url"])
    clip_file = clip(tmp_path / f"walk-{window}.mp4", seed=1 if window == "laptop" else 2)
    upload(page, "#content-upload", clip_file)
    picked = "#content-gallery figure.picked"
    assert page.get_attribute(picked, "title") == clip_file.name
    assert page.get_attribute(picked, "data-kind") == "clip"
    assert page.inner_text(f"{picked} .badge") == "▶ 0.3 s"
    assert "64 × 48, 8 frames" in page.inner_text("#clip-note")
    # a method of many steps per picture is refused a clip, where the user looks
    page.select_option("#method", "method:gatys")
    assert "trained model" in page.inner_text("#clip-note")
    page.click("#run")
    page.wait_for_selector("#stylise .refusal:not([hidden])")
    assert "trained model" in page.inner_text("#stylise .refusal")
    assert in_view(page, "#stylise .refusal")
    assert len(console_errors) == 1 and "400" in console_errors[0]  # the refusal's answer
    console_errors.clear()
    # a trained model takes it: the job, then its video, in view
    page.select_option("#method", f"model:{studio['model']}")
    assert page.is_visible("#clip-form [name='temporal']")
    page.locator("#run").scroll_into_view_if_needed()
    start(page, "stylise", "#run")
    assert in_view(page, "#stylise-view")
    assert wait_for_state(page, "stylise", ("done", "failed")) == "done", \
        page.inner_text("#stylise-view")
    video = "#stylise-view video.result-video"
    page.wait_for_function(f"() => {{ const v = document.querySelector('{video}');"
                           " return v && !v.hidden && v.readyState >= 1; }")
    assert page.eval_on_selector(video, "v => [v.videoWidth, v.videoHeight]") == [64, 48]
    assert "/result.mp4" in page.get_attribute(video, "src")
    assert page.get_attribute(video, "controls") is not None
    assert page.is_hidden("#stylise-view img.live")
    assert in_view(page, video) and in_view(page, "#stylise-view .job-head")
    assert "8 frames" in page.inner_text("#stylise-view .progress")
    assert page.inner_text("#stylise-view a.download") == "Download MP4"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    save_screenshot(page, f"studio-clip-{window}")
    # the history shows it as a video too
    page.click("nav a[data-tab='history']")
    card = f"#history-list .card[data-id='{page.get_attribute('#stylise-view', 'data-job')}']"
    assert page.get_attribute(f"{card} video.result", "src").endswith(
        page.get_attribute(video, "src").split("/api/")[-1])
    assert console_errors == []
