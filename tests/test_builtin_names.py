"""Installing a plugin never changes what a built-in name means.

``tests/fixtures/styx-override-plugin`` registers ``vgg19``, the loss ``gram`` with the
aliases ``style`` and ``meanstd``, and the method ``gatys``; its entry point sorts before
every built-in's. It is pip-installed for real (not editable) into a private folder that
only the child processes of these tests see, so the test environment stays as it was.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

FIXTURE = Path(__file__).parent / "fixtures" / "styx-override-plugin"
PLUGIN = "aaa-override"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The plugin, built as a wheel and installed with pip into a folder of its own."""
    work = tmp_path_factory.mktemp("override")
    source = work / "source"
    shutil.copytree(FIXTURE, source, ignore=shutil.ignore_patterns(
        "*.egg-info", "__pycache__", "build"))
    target = work / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
         "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(target.glob("styx_override_plugin-*.dist-info"))
    return target


@pytest.fixture
def styx_with_plugin(styx_subprocess, site):
    def run(*args: str) -> subprocess.CompletedProcess:
        return styx_subprocess(*args, extra_path=[site])
    return run


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("images") / "photo.png"
    image = Image.new("RGB", (40, 32))
    image.putdata([(x * 6, y * 8, (x * y) % 256) for y in range(32) for x in range(40)])
    image.save(path)
    return path


def test_the_builtins_keep_their_names_and_the_refusals_are_reported(styx_with_plugin):
    result = styx_with_plugin("plugins", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    refused = {(r["kind"], r["name"]): r for r in data["refused"]}
    assert set(refused) == {("descriptor", "vgg19"), ("loss", "gram"), ("loss", "style"),
                            ("method", "gatys")}
    assert refused["descriptor", "vgg19"]["holder"] == "vgg"
    assert all(r["plugin"] == PLUGIN and r["holder_builtin"] for r in refused.values())
    [info] = [p for p in data["plugins"] if p["name"] == PLUGIN]
    assert info["registered"]["descriptors"] == [f"{PLUGIN}:vgg19"]
    assert any("'vgg'" in warning for warning in info["warnings"])
    table = styx_with_plugin("plugins").stdout
    assert "refused names" in table and f"{PLUGIN}:vgg19" in table


def test_plain_names_mean_the_builtins(styx_with_plugin):
    descriptors = json.loads(styx_with_plugin("list", "descriptors", "--json").stdout)
    plugin_of = {d["name"]: d["plugin"] for d in descriptors}
    assert plugin_of["vgg19"] == "vgg" and plugin_of[f"{PLUGIN}:vgg19"] == PLUGIN
    losses = json.loads(styx_with_plugin("list", "losses", "--json").stdout)
    by_name = {spec["name"]: spec for spec in losses}
    assert by_name["gram"]["plugin"] == "losses" and "style" in by_name["gram"]["aliases"]
    assert by_name[f"{PLUGIN}:gram"]["plugin"] == PLUGIN


def test_gatys_is_the_builtin_and_the_qualified_name_reaches_the_plugins(
        styx_with_plugin, photo, tmp_path):
    builtin = tmp_path / "builtin.png"
    result = styx_with_plugin("run", "gatys", str(photo), str(photo), "-o", str(builtin),
                              "--weights", "random", "--size", "32", "--steps", "2", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["steps"] == 2  # the real optimisation ran
    grey = tmp_path / "grey.png"
    result = styx_with_plugin("run", f"{PLUGIN}:gatys", str(photo), str(photo), "-o", str(grey),
                              "--level", "0.25")
    assert result.returncode == 0, result.stderr
    assert [color for _, color in Image.open(grey).convert("RGB").getcolors()] == [(64, 64, 64)]


def test_qualified_descriptor_and_loss_with_options_in_gatys(styx_with_plugin, photo,
                                                             tmp_path):
    out = tmp_path / "out.png"
    result = styx_with_plugin("run", "gatys", str(photo), str(photo), "-o", str(out),
                              "--descriptor", f"{PLUGIN}:vgg19", "--style-loss", "meanstd",
                              "--loss-option", "meanstd.std_weight=2", "--size", "32",
                              "--steps", "2", "--log-json", str(tmp_path / "log.json"))
    assert result.returncode == 0, result.stderr
    log = json.loads((tmp_path / "log.json").read_text())
    assert log["config"]["descriptor"] == f"{PLUGIN}:vgg19"
    assert log["config"]["loss_options"] == {"style": {"std_weight": 2.0}}
    assert log["style_layers"] == {"relu1": 1.0, "relu2": 1.0}  # the plugin's layers
    bad = styx_with_plugin("run", "gatys", str(photo), "-o", str(tmp_path / "bad.png"),
                           "--style-loss", f"{PLUGIN}:gram", "--loss-option",
                           "style.std_weight=-1", "--weights", "random")
    assert bad.returncode == 2 and "bad --loss-option style.std_weight '-1'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_the_plugins_loss_passes_the_kit_by_its_qualified_name(styx_with_plugin):
    result = styx_with_plugin("plugins", "--check", f"{PLUGIN}:gram", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    [report] = json.loads(result.stdout)
    assert report["name"] == f"{PLUGIN}:gram" and report["ok"]
