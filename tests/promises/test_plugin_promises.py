"""Promises of docs/plugins.md and docs/architecture.md that no other test held: the
built-in entry points, what may import what, and what styx does around an exporter."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
import torch

import styx
from styx.core.config import Config, option
from styx.core.specs import ExporterSpec
from styx.files.modelstore import save_model

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "styx"


def test_the_entry_points_the_docs_name_are_styxs_own():
    """plugins.md: "styx's own entry points are `vgg`, `resnet`, ..."."""
    text = " ".join((ROOT / "docs" / "plugins.md").read_text().split())
    sentence = re.search(r"styx's own entry points are (.+?)\.", text).group(1)
    documented = set(re.findall(r"`([a-z_]+)`", sentence))
    installed = {ep.name for ep in metadata.entry_points(group="styx")
                 if ep.dist is not None and ep.dist.name == "styx-nst"}
    assert documented == installed


def _imports(path: Path) -> list[str]:
    """The styx modules ``path`` imports (at any depth, inside functions too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return [name for name in found if name == "styx" or name.startswith("styx.")]


def test_core_imports_no_plugin_cli_api_or_exporter():
    """architecture.md: "core imports nothing from plugins, cli, api or exports"."""
    bad = [(path.name, name) for path in sorted((SRC / "core").rglob("*.py"))
           for name in _imports(path)
           if name.startswith(("styx.plugins", "styx.cli", "styx.api", "styx.exports"))]
    assert bad == []


def _plugin_of(module: str) -> str:
    """The built-in plugin a module of ``styx.plugins`` belongs to: a method's package
    (``styx.plugins.methods.gatys``), a descriptor's module with its network module
    (``vgg`` and ``vgg_net``), or the losses package."""
    parts = module.split(".")[2:]  # after styx.plugins
    if parts[:1] == ["losses"]:
        return "losses"
    if len(parts) >= 2:
        return f"{parts[0]}.{parts[1].removesuffix('_net')}"
    return ".".join(parts)


def test_a_plugin_never_imports_another_plugin_or_the_cli():
    """architecture.md: "A plugin imports styx.core (and styx for hookimpl), never another
    plugin or the CLI"."""
    bad = []
    files = sorted((SRC / "plugins").rglob("*.py"))
    assert len(files) > 20
    for path in files:
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        for name in _imports(path):
            if name.startswith(("styx.cli", "styx.api", "styx.exports")) or (
                    name.startswith("styx.plugins.")
                    and _plugin_of(name) != _plugin_of(module)):
                bad.append((module, name))
    assert bad == []
    assert _plugin_of("styx.plugins.descriptors.vgg_net") == "descriptors.vgg"
    assert _plugin_of("styx.plugins.methods.stylebank.task") == "methods.stylebank"


# -- what styx does around an exporter ---------------------------------------------------
@dataclass(kw_only=True)
class NoOptions(Config):
    level: int = option(1, help="Unused.")


SEEN: list[Path] = []


def write_weights(model, output: Path, config):
    SEEN.append(output)
    output.write_bytes(b"exported " + model.method.encode())
    return {"answer": 42, "bytes": output.stat().st_size}


class Exporter:
    @styx.hookimpl
    def register_exporters(self, register):
        register(ExporterSpec(name="weights", summary="a test format.", export=write_weights,
                              config=NoOptions, suffix=".wts"))


@pytest.fixture
def plugins(use_plugins, tmp_path, monkeypatch):
    from styx.plugins.methods import texture_nets
    from styx.plugins.methods.texture_nets.generator import GeneratorConfig, TextureNetwork

    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    use_plugins({"texture_nets": texture_nets, "exp": Exporter()})
    network = TextureNetwork(GeneratorConfig(scales=2, channels=2))
    save_model(network, {"method": "texture-nets", "architecture": network.architecture()},
               name="m")
    SEEN.clear()


def test_an_exporter_writes_a_temporary_file_beside_the_target_renamed_when_done(
        plugins, styx_cli, tmp_path):
    """"export is given a temporary path beside the target, with the same suffix ... the
    result is renamed into place only when export returns"."""
    target = tmp_path / "out" / "m.wts"
    target.parent.mkdir()
    result = styx_cli("export", "texture-nets", "--weights", "-o", str(target), "--json")
    assert result.exit_code == 0, result.stderr
    [temporary] = SEEN
    assert temporary != target and temporary.parent == target.parent
    assert temporary.suffix == ".wts"
    assert target.read_bytes() == b"exported texture-nets"
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.wts"]
    # "export may return a dict ...: styx export ... adds them to --json"
    report = json.loads(result.stdout)
    assert report["answer"] == 42 and report["bytes"] == len(b"exported texture-nets")


def test_an_exporters_details_are_printed_under_the_wrote_line(plugins, styx_cli, tmp_path):
    result = styx_cli("export", "texture-nets", "--weights", "-o", str(tmp_path / "a.wts"))
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    wrote = next(i for i, line in enumerate(lines) if "wrote" in line)
    assert any("answer" in line and "42" in line for line in lines[wrote + 1:]), lines


def test_a_feed_forward_method_is_exported_without_code_of_its_own(plugins, tmp_path):
    """"Running, storing, exporting need nothing more": the exporter gets the loaded
    model, its generator rebuilt from the stored architecture."""
    seen = {}

    def keep(model, output, config):
        seen["model"] = model
        output.write_bytes(b"x")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ExporterSpec, "load", lambda self: keep)
        styx.export("m", "weights", tmp_path / "m.wts")
    model = seen["model"]
    assert model.method == "texture-nets" and model.name == "m"
    stored = styx.load_model("m").generator.state_dict()
    assert all(torch.equal(model.generator.state_dict()[k], v) for k, v in stored.items())
