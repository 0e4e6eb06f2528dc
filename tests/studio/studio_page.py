"""Driving the studio's page in the browser tests: open it, fill a form, start a job and
wait for its state, and where things are on the screen.

Importable as ``import studio_page`` from the studio's tests (pytest puts their folder on
``sys.path``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image

#: A laptop's window and a narrow one (a phone, an editor beside the page).
LAPTOP = {"width": 1280, "height": 800}
NARROW = {"width": 420, "height": 800}


def photo(path: Path, seed: int, size: tuple[int, int] = (64, 48)) -> Path:
    """A small smooth picture (different per seed), as a PNG."""
    rng = np.random.default_rng(seed)
    base = rng.random((4, 4, 3))
    big = Image.fromarray((base * 255).astype("uint8")).resize(size, Image.BICUBIC)
    big.save(path)
    return path


def clip(path: Path, frames: int = 8, size: tuple[int, int] = (64, 48), *, rate: int = 24,
         rotation: int = 0, seed: int = 0) -> Path:
    """A small H.264 clip (a smooth picture with a bar moving across it), written by PyAV
    as ``path`` (mp4, mov, mkv ...: by its suffix); ``rotation``: its display rotation."""
    import av

    width, height = size
    rng = np.random.default_rng(seed)
    base = np.asarray(Image.fromarray((rng.random((4, 4, 3)) * 255).astype("uint8"))
                      .resize(size, Image.BICUBIC))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for index in range(frames):
            picture = base.copy()
            left = index * width // max(frames, 1)
            picture[:, left:left + max(2, width // 8)] = 255
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def open_page(page, url: str, tab: str = "stylise"):
    page.goto(f"{url}#{tab}")
    page.wait_for_selector("body[data-ready='1']")
    return page


def open_all_options(page, form: str) -> None:
    page.eval_on_selector_all(f"{form} details", "ds => ds.forEach(d => { d.open = true; })")


def fill_options(page, form: str, values: dict[str, str]) -> None:
    open_all_options(page, form)
    for name, value in values.items():
        page.fill(f"{form} [name='{name}']", value)


def upload(page, selector: str, path: Path) -> None:
    page.set_input_files(selector, str(path))
    page.wait_for_selector(f".gallery figure[title='{path.name}']")


def start(page, view: str, button: str) -> None:
    """Click ``button`` and wait until ``view`` shows the job it started."""
    before = page.get_attribute(f"#{view}-view", "data-job")
    page.click(button)
    page.wait_for_function("([view, before]) => { const v = document.querySelector(`#${view}-view`);"
                           " return v.dataset.job && v.dataset.job !== before; }",
                           arg=[view, before])


def job_state(page, view: str) -> str:
    return page.inner_text(f"#{view}-view .state")


def wait_for_state(page, view: str, states: tuple[str, ...], timeout: float = 60_000) -> str:
    page.wait_for_function(
        "([view, states]) => { const s = document.querySelector(`#${view}-view .state`);"
        " return s && states.includes(s.textContent); }", arg=[view, list(states)],
        timeout=timeout)
    return job_state(page, view)


def in_view(page, selector: str) -> bool:
    """Whether the element ``selector`` is shown and wholly inside the window, below the
    sticky header (its top, for an element taller than the window)."""
    return page.eval_on_selector(selector, """node => {
        const box = node.getBoundingClientRect();
        const top = document.querySelector('header').getBoundingClientRect().bottom;
        const tall = box.height > window.innerHeight - top;
        return box.width > 0 && box.height > 0 && box.top >= top - 1
            && (tall ? box.top < window.innerHeight : box.bottom <= window.innerHeight + 1);
    }""")


def wait_for_job(http, job_id: str, timeout: float = 60.0) -> dict:
    """The job ``job_id`` once it has ended (over the studio's HTTP API)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"api/jobs/{job_id}").json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end in {timeout} s")
