"""``styx plugins`` and ``styx list``: tables, JSON, errors, no torch, broken plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import styx
from styx.core.specs import DescriptorSpec, ExporterSpec, LossSpec, MethodSpec


def _run(x: int = 1) -> None:
    """A stand-in method command."""


class Everything:
    """A plugin registering one of each kind."""

    @styx.hookimpl
    def register_descriptors(self, register):
        register(DescriptorSpec(
            name="tinynet", summary="A tiny descriptor.", factory="m:f", aliases=("tiny",),
            layers=("conv1", "relu1", "conv2", "relu2"),
            layer_aliases={"block1_conv1": "conv1", "first_relu": "relu1"},
            default_content_layers=("relu2",), default_style_layers=("relu1", "relu2")))

    @styx.hookimpl
    def register_losses(self, register):
        register(LossSpec(name="l1", summary="Mean absolute difference.", factory="m:f",
                          options={"scale": "a factor"}))

    @styx.hookimpl
    def register_methods(self, register):
        register(MethodSpec(name="invert", summary="Invert an image.", config="m:Config",
                            run=_run, aliases=("inv",), generator="m:Generator"))

    @styx.hookimpl
    def register_exporters(self, register):
        register(ExporterSpec(name="onnx", summary="ONNX files.", export="m:f", suffix=".onnx"))


class Broken:
    @styx.hookimpl
    def register_losses(self, register):
        raise RuntimeError("hook exploded")


@pytest.fixture
def fake(use_plugins):
    plugins = use_plugins({"everything": Everything(), "broken": Broken()})
    plugins.disabled.append("sleepy")
    return plugins


# -- styx plugins ----------------------------------------------------------------------------
def test_plugins_json(fake, styx_cli, monkeypatch):
    monkeypatch.delenv("STYX_DEBUG", raising=False)
    result = styx_cli("plugins", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    [everything, broken] = data["plugins"]
    assert everything["name"] == "everything"
    assert everything["version"] == "1.0" and everything["distribution"] == "everything-dist"
    assert everything["registered"] == {"descriptors": ["tinynet"], "losses": ["l1"],
                                        "methods": ["invert"], "exporters": ["onnx"]}
    assert broken["registered"] == {}
    assert data["failures"] == [{"name": "broken", "distribution": "broken-dist",
                                 "stage": "register_losses",
                                 "error": "RuntimeError: hook exploded"}]
    assert data["disabled"] == ["sleepy"]


def test_plugins_json_with_debug_has_tracebacks(fake, styx_cli, monkeypatch):
    monkeypatch.setenv("STYX_DEBUG", "1")
    data = json.loads(styx_cli("plugins", "--json").stdout)
    assert "Traceback" in data["failures"][0]["traceback"]
    assert "hook exploded" in data["failures"][0]["traceback"]


def test_plugins_table(fake, styx_cli, monkeypatch):
    monkeypatch.delenv("STYX_DEBUG", raising=False)
    result = styx_cli("plugins")
    assert result.exit_code == 0
    out = result.stdout
    assert "everything-dist" in out and "descriptors: tinynet" in out
    assert "methods: invert" in out and "exporters: onnx" in out
    assert "register_losses" in out and "RuntimeError: hook exploded" in out
    assert "disabled by STYX_DISABLE_PLUGINS: sleepy" in out
    assert "Traceback" not in out and "STYX_DEBUG=1 shows the tracebacks" in out
    assert "2 loaded, 1 failure(s), 1 disabled, 0 name(s) refused" in out


def test_plugins_table_with_debug_shows_tracebacks(fake, styx_cli, monkeypatch):
    monkeypatch.setenv("STYX_DEBUG", "1")
    out = styx_cli("plugins").stdout
    assert "Traceback (most recent call last)" in out
    assert 'raise RuntimeError("hook exploded")' in out


# -- styx list -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, singular, name, extra", [
    ("descriptors", "descriptor", "tinynet",
     {"layers": 4, "default_content_layers": ["relu2"]}),
    ("losses", "loss", "l1", {"scores": "features", "options": {"scale": "a factor"}}),
    ("methods", "method", "invert", {"commands": ["run", "export"], "feed_forward": True}),
    ("exporters", "exporter", "onnx", {"suffix": ".onnx", "methods": []}),
])
def test_list_json_each_kind(fake, styx_cli, kind, singular, name, extra):
    for asked in (kind, singular, kind.upper()):
        result = styx_cli("list", asked, "--json")
        assert result.exit_code == 0, result.stderr
        [entry] = json.loads(result.stdout)
        assert entry["name"] == name and entry["plugin"] == "everything"
        assert entry.items() >= extra.items()


def test_list_tables(fake, styx_cli):
    out = styx_cli("list", "descriptors").stdout
    assert "tinynet" in out and "A tiny descriptor." in out and "relu1, relu2" in out
    out = styx_cli("list", "methods").stdout
    assert "invert" in out and "inv" in out and "yes" in out
    out = styx_cli("list", "losses").stdout
    assert "l1" in out and "scale" in out
    assert "onnx" in styx_cli("list", "exporters").stdout


def test_list_one_by_name_or_alias(fake, styx_cli):
    [entry] = json.loads(styx_cli("list", "methods", "INV", "--json").stdout)
    assert entry["name"] == "invert"


def test_list_layers_json(fake, styx_cli):
    result = styx_cli("list", "layers", "tiny", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["descriptor"] == "tinynet"
    assert [row["name"] for row in data["layers"]] == ["conv1", "relu1", "conv2", "relu2"]
    rows = {row["name"]: row for row in data["layers"]}
    assert rows["conv1"]["aliases"] == ["block1_conv1"]
    assert rows["relu1"] == {"name": "relu1", "aliases": ["first_relu"],
                             "default_content": False, "default_style": True}
    assert rows["relu2"]["default_content"] and rows["relu2"]["default_style"]
    assert data["default_style_layers"] == ["relu1", "relu2"]


def test_list_layers_table(fake, styx_cli):
    out = styx_cli("list", "layers", "tinynet").stdout
    lines = {line.split("│")[2].strip(): line for line in out.splitlines() if "│" in line}
    assert "block1_conv1" in lines["conv1"]
    assert "style" in lines["relu1"] and "content" not in lines["relu1"]
    assert "content, style" in lines["relu2"]
    assert "content" not in lines["conv2"] and "style" not in lines["conv2"]


class AliasDefaults:
    @styx.hookimpl
    def register_descriptors(self, register):
        register(DescriptorSpec(
            name="kerasnet", summary="Defaults named by alias.", factory="m:f",
            layers=("conv1", "relu1", "conv2", "relu2"),
            layer_aliases={"block1_conv1": "relu1", "block2_conv1": "relu2"},
            default_content_layers=("block2_conv1",),
            default_style_layers=("block1_conv1", "block2_conv1")))


def test_list_layers_marks_defaults_given_by_alias(use_plugins, styx_cli):
    use_plugins({"keras": AliasDefaults()})
    rows = {r["name"]: r for r in
            json.loads(styx_cli("list", "layers", "kerasnet", "--json").stdout)["layers"]}
    assert rows["relu1"]["default_style"] and not rows["relu1"]["default_content"]
    assert rows["relu2"]["default_style"] and rows["relu2"]["default_content"]
    out = styx_cli("list", "layers", "kerasnet").stdout
    lines = {line.split("│")[2].strip(): line for line in out.splitlines() if "│" in line}
    assert "content, style" in lines["relu2"]


@pytest.mark.parametrize("args, message, hint", [
    (("list", "lossez"), "unknown kind 'lossez'", "did you mean 'losses'?"),
    (("list", "layer"), "needs a descriptor name", "styx list layers tinynet"),
    (("list", "layers", "tinynte"), "unknown descriptor 'tinynte'", "did you mean 'tinynet'?"),
    (("list", "methods", "invret"), "unknown method 'invret'", "did you mean 'invert'?"),
    (("list", "bananas"), "unknown kind 'bananas'", "choose descriptors"),
])
def test_list_bad_input_is_one_line_and_exit_2(fake, styx_cli, args, message, hint):
    result = styx_cli(*args)
    assert result.exit_code == 2
    assert message in result.stderr and hint in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_list_with_nothing_registered_points_at_failures(use_plugins, styx_cli):
    use_plugins({"broken": Broken()})
    result = styx_cli("list", "methods")
    assert result.exit_code == 0
    assert "methods (0)" in result.stdout
    assert "some plugins failed to load" in result.stdout


# -- real processes: no torch, broken plugins ---------------------------------------------------
TINY_PLUGIN = """
    import styx
    from styx.core.specs import DescriptorSpec, LossSpec

    @styx.hookimpl
    def register_descriptors(register):
        register(DescriptorSpec(name="fake-desc", summary="s", factory="fake_desc_plugin:f",
                                layers=("a", "b"), default_style_layers=("a",)))

    @styx.hookimpl
    def register_losses(register):
        register(LossSpec(name="fake-loss", summary="s", factory="fake_desc_plugin:f"))
"""


@pytest.fixture
def fake_site(make_dist):
    """A folder for PYTHONPATH holding a working plugin and two broken ones."""
    return make_dist("fake-site", {
        "fake_good": "fake_desc_plugin",
        "fake_broken_import": "fake_broken_plugin",
        "fake_missing": "no_such_module_for_styx_tests",
    }, {
        "fake_desc_plugin": TINY_PLUGIN,
        "fake_broken_plugin": "raise SyntaxError('broken on purpose')\n",
    }, on_path=False)


LISTING_COMMANDS = [
    ("--help",), ("plugins",), ("plugins", "--json"), ("list", "descriptors"),
    ("list", "losses", "--json"), ("list", "layers", "fake-desc"), ("run", "--help"),
    ("train", "--help"), ("export", "--help"), ("run", "gatys", "--help"),
    ("train", "texture-nets", "--help"), ("export", "texture-nets", "--help"),
    ("infer", "--help"), ("experiment", "--help"), ("experiment", "list"),
    ("experiment", "tv-weight", "--help"), ("serve", "--help"),
]

#: Runs each listing command in turn in one fresh interpreter and reports, after each, its
#: exit code and the torch modules loaded so far (one interpreter, not one per command).
_LISTING_SCRIPT = """
import contextlib, io, json, sys
from styx.cli.app import main
report = []
for args in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(args)
            code = 0
        except SystemExit as exit_:
            code = exit_.code or 0
    torch = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
    report.append({"args": args, "code": code, "torch": torch[:3]})
print("REPORT " + json.dumps(report))
"""


def test_listing_commands_import_no_torch(fake_site):
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(fake_site),
                                                       os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", _LISTING_SCRIPT,
                             json.dumps(LISTING_COMMANDS)], env=env, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("REPORT "))
    report = json.loads(line.removeprefix("REPORT "))
    assert [tuple(entry["args"]) for entry in report] == LISTING_COMMANDS
    for entry in report:
        assert entry["code"] == 0, entry
        assert entry["torch"] == [], f"styx {' '.join(entry['args'])} imported torch"


def test_a_broken_plugin_does_not_break_listing(styx_subprocess, fake_site):
    result = styx_subprocess("list", "losses", "--json", extra_path=[fake_site])
    assert result.returncode == 0, result.stderr
    assert "fake-loss" in {entry["name"] for entry in json.loads(result.stdout)}

    result = styx_subprocess("list", "layers", "fake-desc", "--json", extra_path=[fake_site])
    assert result.returncode == 0, result.stderr
    assert [row["name"] for row in json.loads(result.stdout)["layers"]] == ["a", "b"]

    result = styx_subprocess("plugins", "--json", extra_path=[fake_site])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    failures = {f["name"]: f for f in data["failures"]}
    assert failures["fake_broken_import"]["error"] == "SyntaxError: broken on purpose"
    assert failures["fake_broken_import"]["distribution"] == "fake-site"
    assert "ModuleNotFoundError" in failures["fake_missing"]["error"]
    assert "fake_good" in {p["name"] for p in data["plugins"]}


def test_disabling_a_plugin_in_a_real_process(styx_subprocess, fake_site):
    result = styx_subprocess("plugins", "--json", extra_path=[fake_site],
                             env={"STYX_DISABLE_PLUGINS": "fake_broken_import,fake-missing"})
    data = json.loads(result.stdout)
    assert {"fake_broken_import", "fake_missing"} <= set(data["disabled"])
    assert not {"fake_broken_import", "fake_missing"} & {f["name"] for f in data["failures"]}


def test_list_losses_shows_the_options_of_an_options_class(styx_cli):
    out = styx_cli("list", "losses").stdout
    gram = next(line for line in out.splitlines() if line.startswith("│ gram"))
    assert "normalization" in gram
    described = json.loads(styx_cli("list", "losses", "tv", "--json").stdout)[0]
    assert described["options"] == {"power": "Exponent of each neighbour difference (>= 1)."}
