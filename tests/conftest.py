"""Shared fixtures: run the CLI, fake plugins, fake installed distributions.

Kept small and generic; test folders add their own ``conftest.py`` for anything specific.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: The fixture packages' own tests run with their package installed
#: (tests/test_example_plugin.py does that), not as part of this suite.
collect_ignore = ["fixtures"]


def pytest_configure(config: pytest.Config) -> None:
    """Isolate every test run from the network and from the user's files.

    No test may try a download (``STYX_OFFLINE``), nor read or write the user's torchvision
    cache or model store. Tiny tensors run faster on one thread, and a single thread per
    process keeps the multi-process tests from oversubscribing two cores. Child processes
    inherit all of this.
    """
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="styx-tests-"))
    os.environ["STYX_OFFLINE"] = "1"
    os.environ["TORCH_HOME"] = str(home / "torch")
    os.environ["STYX_HOME"] = str(home / "styx")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if "mutmut" in sys.modules:
        _warm_up_for_mutants()


#: Imported once before mutmut forks a process per mutant, so that no mutant pays for them.
#: ``torch._dynamo`` is the big one: torch imports it on the first optimizer built in a
#: process (about 2.5 s here), which was most of the time of a training test's mutant.
MUTANT_WARM_UP = ("torch._dynamo", "torch.optim", "torchvision.models", "safetensors.torch",
                  "PIL.PngImagePlugin", "PIL.JpegImagePlugin", "styx.training.loop")


def _warm_up_for_mutants() -> None:
    for name in MUTANT_WARM_UP:
        importlib.import_module(name)


@pytest.fixture(autouse=True)
def _fp32_by_default():
    """Every test sees a CPU without native bf16, so ``--amp auto`` means exact fp32 and a
    test's numbers do not depend on the CPU it runs on. tests/runtime/test_precision.py mocks
    the capability both ways; fresh interpreters (subprocess tests) see the real CPU, so
    those that compare numbers with an in-process run give ``--amp off``. Its own
    MonkeyPatch: a test's ``monkeypatch.undo()`` leaves it in place."""
    from styx.runtime import device

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(device, "cpu_has_native_bf16", lambda: False)
        yield


@pytest.fixture
def one_thread():
    """One intra-op thread: on a small, busy CI machine two threads that wait on each other
    made tiny convolutions up to 50x slower (folders of such tests make it autouse)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def styx_cli(capsys, monkeypatch):
    """Run ``styx ARGS...`` in this process: ``styx_cli("list", "losses").stdout``.

    Wide, colourless output so assertions can read table cells.
    """
    from styx.cli.app import main

    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    return run


@pytest.fixture
def styx_subprocess():
    """Run ``python -m styx ARGS...`` in a fresh interpreter (``extra_path`` joins PYTHONPATH)."""

    def run(*args: str, env: dict[str, str] | None = None, extra_path: list[Path] = (),
            python_flags: tuple[str, ...] = (), timeout: float = 120
            ) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
        paths = [str(p) for p in extra_path]
        if full_env.get("PYTHONPATH"):
            paths.append(full_env["PYTHONPATH"])
        if paths:
            full_env["PYTHONPATH"] = os.pathsep.join(paths)
        return subprocess.run([sys.executable, *python_flags, "-m", "styx", *args],
                              env=full_env, capture_output=True, text=True, timeout=timeout,
                              check=False)

    return run


@pytest.fixture
def use_plugins():
    """Make ``Plugins`` built from the given objects the process-wide ones.

    ``plugins = use_plugins({"name": plugin_object, ...})``; the real ones come back after
    the test.
    """
    from styx.core.plugins import Plugins, reset_plugins

    def install(named: dict[str, object]) -> Plugins:
        plugins = Plugins()
        for name, plugin in named.items():
            plugins.add_plugin(plugin, name=name, distribution=f"{name}-dist", version="1.0")
        reset_plugins(plugins)
        return plugins

    yield install
    reset_plugins()


@pytest.fixture
def make_dist(tmp_path, monkeypatch):
    """Lay out a fake installed distribution (``*.dist-info`` + modules) in a new folder.

    ``folder = make_dist("my-dist", {"ep": "my_module"}, {"my_module": "source"})``.
    The folder is put on ``sys.path`` (``on_path=False`` to only create it, e.g. for a
    subprocess's PYTHONPATH); modules imported from it are forgotten after the test.
    """
    folders: list[Path] = []

    def make(dist: str, entry_points: dict[str, str], modules: dict[str, str], *,
             version: str = "1.0", group: str = "styx", on_path: bool = True) -> Path:
        folder = tmp_path / f"site-{len(folders)}"
        info = folder / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = [f"[{group}]"] + [f"{name} = {target}" for name, target in entry_points.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for module, source in modules.items():
            path = folder / (module.replace(".", "/") + ".py")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
        folders.append(folder)
        if on_path:
            monkeypatch.syspath_prepend(str(folder))
            importlib.invalidate_caches()
        return folder

    yield make
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if any(file.startswith(str(folder)) for folder in folders):
            del sys.modules[name]


@pytest.fixture(scope="session")
def chromium_browser():
    """The system's Chromium, headless, launched once per session through Playwright.

    Skips the tests that use it when Chromium or the ``playwright`` package is missing
    (fails them under ``STYX_REQUIRE_BROWSER=1``); ``STYX_CHROMIUM`` names another binary.
    See tests/browser.py. Tests usually take ``browser_page`` instead.
    """
    from browser import launch_chromium

    playwright, browser = launch_chromium()
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def browser_page(chromium_browser):
    """A fresh Playwright ``Page`` (its own browser context) in the session's Chromium,
    closed after the test; actions and waits time out after 15 s."""
    from browser import TIMEOUT_MS

    page = chromium_browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    page.close()


@pytest.fixture
def console_errors(browser_page):
    """What went wrong in ``browser_page``'s console: a list, filled as the page runs, of
    ``"console: TEXT"`` (an error logged, a failed resource load included) and
    ``"page: TEXT"`` (an uncaught exception)."""
    found: list[str] = []
    browser_page.on("console", lambda message: found.append(f"console: {message.text}")
                    if message.type == "error" else None)
    browser_page.on("pageerror", lambda error: found.append(f"page: {error}"))
    return found


@pytest.fixture
def save_screenshot(tmp_path):
    """``path = save_screenshot(page, "name")``: a PNG of the page, ``name.png`` in
    ``$STYX_TEST_ARTIFACTS`` when that is set, else in the test's ``tmp_path``."""
    from browser import write_screenshot

    return lambda page, name: write_screenshot(page, name, tmp_path)
