"""A real headless Chromium for the tests, driven through Playwright for Python.

The fixtures live in the root ``conftest.py``: ``chromium_browser`` (one browser per
session), ``browser_page`` (a fresh page per test) and ``save_screenshot`` (``path =
save_screenshot(page, "name")``); mark such tests ``@pytest.mark.browser``. This module, the
plumbing behind them, is importable as ``import browser`` (pytest puts this folder, the one
of the root ``conftest.py``, on ``sys.path``).

No browser is ever downloaded (``playwright install`` has no network here): the system's
Chromium is launched, the one named by ``STYX_CHROMIUM`` if that is set, else
``/usr/bin/chromium`` (Debian's ``chromium`` package), else ``chromium`` on ``PATH``.
Without a Chromium or without the ``playwright`` package the browser tests skip, saying
what is missing; with ``STYX_REQUIRE_BROWSER=1`` (CI sets it) they fail instead.

Screenshots: ``save_screenshot(page, "name")`` writes ``name.png`` into the folder
``STYX_TEST_ARTIFACTS`` names (created if need be, kept after the run; names should then be
unique across tests) or, when that is unset, into the test's ``tmp_path``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

#: Where Debian's ``chromium`` package puts the browser.
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
#: Running as root (CI, containers) Chromium refuses to start without ``--no-sandbox``.
LAUNCH_ARGS = ("--no-sandbox",)
#: How long a page action or wait may take before it fails (Playwright's default is 30 s).
TIMEOUT_MS = 15_000


def browser_required() -> bool:
    """Whether a missing browser fails the tests (``STYX_REQUIRE_BROWSER=1``) or skips them."""
    return os.environ.get("STYX_REQUIRE_BROWSER") == "1"


def find_chromium() -> tuple[Path | None, str]:
    """The Chromium to launch, or None and what is missing.

    ``STYX_CHROMIUM``, when set, is the only candidate: a wrong path is reported, never
    replaced by another browser.
    """
    named = os.environ.get("STYX_CHROMIUM")
    if named:
        path = Path(named)
        if path.is_file() and os.access(path, os.X_OK):
            return path, ""
        return None, (f"STYX_CHROMIUM={named} is not an executable file; point it at a "
                      "Chromium binary or unset it to use /usr/bin/chromium")
    if DEBIAN_CHROMIUM.is_file() and os.access(DEBIAN_CHROMIUM, os.X_OK):
        return DEBIAN_CHROMIUM, ""
    found = shutil.which("chromium")
    if found:
        return Path(found), ""
    return None, ("no Chromium: neither /usr/bin/chromium nor chromium on PATH; install it "
                  "with `apt-get install chromium` or set STYX_CHROMIUM to its path")


def missing_browser(reason: str) -> None:
    """Skip the test (or fail it under ``STYX_REQUIRE_BROWSER=1``) for ``reason``."""
    if browser_required():
        pytest.fail(f"browser test cannot run (STYX_REQUIRE_BROWSER=1): {reason}",
                    pytrace=False)
    pytest.skip(f"browser test: {reason}")


def launch_chromium():
    """Start Playwright and launch the system's Chromium, headless: ``(playwright, browser)``.

    Skips (or fails, see ``missing_browser``) when the ``playwright`` package or the
    browser is missing. The caller stops both: ``browser.close()``, ``playwright.stop()``.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_browser("the playwright package is not installed; install it with "
                        "`pip install playwright` (or `pip install -e .[test]`); no "
                        "`playwright install` is needed, the system's Chromium is used")
    executable, why = find_chromium()
    if executable is None:
        missing_browser(why)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(executable), headless=True,
                                             args=list(LAUNCH_ARGS))
    except BaseException:
        playwright.stop()
        raise
    return playwright, browser


def write_screenshot(page, name: str, tmp_path: Path) -> Path:
    """Write a PNG screenshot of ``page`` as ``name.png`` and return its path.

    Into ``$STYX_TEST_ARTIFACTS`` when that is set (kept after the run, e.g. for CI to
    upload), else into ``tmp_path`` (pytest's folder for the test).
    """
    artifacts = os.environ.get("STYX_TEST_ARTIFACTS")
    folder = Path(artifacts) if artifacts else Path(tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name if name.endswith(".png") else f"{name}.png")
    page.screenshot(path=str(path), full_page=True)
    return path
