"""The example third-party plugin, pip-installed for real, into a throwaway folder.

``pip install --no-deps --target SITE`` of a private copy of
``tests/fixtures/styx-example-plugin`` (a real wheel build and install: its
``entry_points.txt`` lands in ``SITE``), then ``styx plugins``, ``styx list`` and
``styx run example-invert`` in fresh processes whose ``PYTHONPATH`` starts with ``SITE``.
The environment running the tests is never touched: nothing to uninstall, no lock file,
and two test runs at once cannot get in each other's way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "styx-example-plugin"
DIST = "styx-example-plugin"


def pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args, "--disable-pip-version-check"],
                          capture_output=True, text=True, timeout=600, check=False)


def with_site(site: Path | None) -> dict[str, str]:
    """This process's environment, with ``site`` first on PYTHONPATH."""
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site),
                                                          env.get("PYTHONPATH")]))
    return env


def installed(site: Path | None = None) -> bool:
    probe = subprocess.run(
        [sys.executable, "-c",
         f"import importlib.metadata as m; m.distribution({DIST!r})"],
        capture_output=True, check=False, env=with_site(site))
    return probe.returncode == 0


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    """A folder the example plugin was pip-installed into (put it on PYTHONPATH)."""
    root = tmp_path_factory.mktemp("plugin")
    copy, site = root / FIXTURE.name, root / "site"
    shutil.copytree(FIXTURE, copy, ignore=shutil.ignore_patterns(
        "*.egg-info", "__pycache__", "build"))
    result = pip("install", "--no-deps", "--no-compile", "--target", str(site), str(copy))
    assert result.returncode == 0, result.stdout + result.stderr
    assert installed(site)
    assert not installed(), "the install reached the environment running the tests"
    return site


@pytest.fixture(scope="module")
def example_plugin(plugin_site):
    """The installed example plugin's source folder (its own tests live there)."""
    return plugin_site.parent / FIXTURE.name


@pytest.fixture
def styx_with_plugin(styx_subprocess, plugin_site):
    """``styx ARGS...`` in a fresh interpreter that sees the installed plugin."""

    def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
        return styx_subprocess(*args, extra_path=[plugin_site], **kwargs)

    return run


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from PIL import Image

    path = tmp_path_factory.mktemp("images") / "photo.png"
    image = Image.new("RGB", (48, 32))
    image.putdata([(x * 5, y * 8, (x * y) % 256) for y in range(32) for x in range(48)])
    image.save(path)
    return path


@pytest.mark.slow
def test_installed_plugin_is_listed(styx_with_plugin):
    result = styx_with_plugin("plugins", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    [example] = [p for p in data["plugins"] if p["name"] == "example"]
    assert example["distribution"] == DIST and example["version"] == "0.1.0"
    assert example["module"] == "styx_example"
    assert example["registered"] == {"descriptors": ["example-tinynet"],
                                     "losses": ["example-l1"], "methods": ["example-invert"]}
    assert example["warnings"] == []  # it imports no torch at import time
    assert "example" not in {f["name"] for f in data["failures"]}

    table = styx_with_plugin("plugins").stdout
    assert "styx-example-plugin" in table and "example-invert" in table

    for kind, name in (("descriptors", "example-tinynet"), ("losses", "example-l1"),
                       ("methods", "example-invert")):
        result = styx_with_plugin("list", kind, "--json")
        assert result.returncode == 0, result.stderr
        entries = {entry["name"]: entry for entry in json.loads(result.stdout)}
        assert entries[name]["plugin"] == "example"

    layers = json.loads(styx_with_plugin("list", "layers", "tinynet", "--json").stdout)
    assert layers["descriptor"] == "example-tinynet"
    assert layers["default_content_layers"] == ["relu2"]
    assert {"name": "relu3", "aliases": ["last"], "default_content": False,
            "default_style": True} in layers["layers"]


@pytest.mark.slow
def test_installed_method_runs_through_styx_run(styx_with_plugin, photo, tmp_path):
    from PIL import Image

    # The command is made from the method's config: its options, with help and defaults.
    help_text = styx_with_plugin("run", "example-invert", "--help").stdout
    for flag in ("--layer", "--loss", "--size", "--steps", "--lr", "--descriptor", "--seed",
                 "-o, --output", "--json", "--save-every"):
        assert flag in help_text, flag
    assert "[STYLE]" not in help_text  # the method takes no style images

    out, log = tmp_path / "inverted.png", tmp_path / "log.json"
    result = styx_with_plugin("run", "example-invert", str(photo), "-o", str(out),
                             "--size", "32", "--steps", "25", "--json", "--log-json", str(log))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["layer"] == "relu2" and report["output"] == str(out)
    assert report["steps"] == 25 and report["loss"] < 0.7 * report["first_loss"]
    with Image.open(out) as image:
        assert image.size == (32, 21)
    logged = json.loads(log.read_text())
    assert logged["method"] == "example-invert" and len(logged["history"]) == 25
    assert logged["config"]["descriptor"] == "example-tinynet"

    # a third-party method composes with a built-in loss, through the registry
    other = tmp_path / "with-content-loss.png"
    result = styx_with_plugin("run", "example-invert", str(photo), "-o", str(other),
                             "--size", "32", "--steps", "3", "--loss", "mse",
                             "--layer", "first", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["layer"] == "relu1" and other.is_file()

    # bad input: one line, exit 2, nothing written
    missing = tmp_path / "nope.png"
    for args, message in (([str(tmp_path / "missing.jpg")], "image file not found"),
                          ([str(photo), "--layer", "relu9"], "did you mean"),
                          ([str(photo), "--steps", "0"], "bad --steps 0")):
        result = styx_with_plugin("run", "example-invert", *args, "-o", str(missing))
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
        assert not missing.exists()


@pytest.mark.slow
def test_installed_method_is_a_library_call(plugin_site, photo):
    code = (f"import json, styx; r = styx.stylize('example-invert', {str(photo)!r}, "
            "size=32, steps=5); print(json.dumps({'shape': list(r.image.shape), "
            "'layer': r.layer, 'steps': r.steps}))")
    result = subprocess.run([sys.executable, "-W", "default::DeprecationWarning", "-c", code],
                            capture_output=True, text=True, timeout=300, check=False,
                            env=with_site(plugin_site))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == \
        {"shape": [1, 3, 21, 32], "layer": "relu2", "steps": 5}
    # The plugin is written for styx 0.1 and left so: it runs on the old names, which warn.
    for old in ("styx.core.descriptor is now styx.perceptual.descriptor",
                "styx.core.losses is now styx.perceptual.losses",
                "LossSpec(target=...) is now LossSpec(scores=...)"):
        assert old in result.stderr, result.stderr


@pytest.mark.slow
def test_the_example_plugins_own_tests_use_the_conformance_kit(example_plugin, plugin_site,
                                                               tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(example_plugin / "tests")], cwd=tmp_path, capture_output=True, text=True,
        timeout=600, check=False, env=with_site(plugin_site))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


@pytest.mark.slow
def test_styx_plugins_check_runs_the_kit_on_the_installed_plugin(styx_with_plugin):
    result = styx_with_plugin("plugins", "--check", "example", "--json", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    reports = json.loads(result.stdout)
    assert {(r["kind"], r["name"]) for r in reports} == {
        ("descriptor", "example-tinynet"), ("loss", "example-l1"), ("method", "example-invert")}
    assert all(r["ok"] for r in reports)
