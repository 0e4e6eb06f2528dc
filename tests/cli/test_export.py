"""``styx export METHOD --FORMAT``: a command group that exporter plugins fill."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch
from safetensors.torch import load_file, save_file

import styx
from styx.core.checks import number
from styx.core.config import Config, option
from styx.core.specs import ExporterSpec
from styx.exports import export
from styx.files.modelstore import save_model
from styx.plugins.methods import gatys, texture_nets


@dataclass(kw_only=True)
class TensorOptions(Config):
    half: bool = option(False, help="Store the weights in float16.")


def write_tensors(model, output, config: TensorOptions):
    """A real (if humble) exporter: the generator's weights in one safetensors file."""
    dtype = torch.float16 if config.half else torch.float32
    state = {k: v.to(dtype).contiguous() for k, v in model.generator.state_dict().items()}
    output.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(output), metadata={"method": model.method})
    return output


@dataclass(kw_only=True)
class LevelOptions(Config):
    level: int = option(1, check=number(minimum=0, integer=True), help="Level.")


class Exporters:
    @styx.hookimpl
    def register_exporters(self, register):
        register(ExporterSpec(name="tensors", summary="the weights as safetensors.",
                              export=write_tensors, config=TensorOptions,
                              suffix=".safetensors"))
        register(ExporterSpec(name="bank-only", summary="StyleBank files.",
                              export=write_tensors, config=LevelOptions, suffix=".bank",
                              methods=("stylebank",)))


@pytest.fixture
def plugins(use_plugins, tmp_path, monkeypatch):
    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return use_plugins({"gatys": gatys, "texture_nets": texture_nets, "exp": Exporters()})


def store(name: str, created: str) -> None:
    from styx.plugins.methods.texture_nets.generator import GeneratorConfig, TextureNetwork

    network = TextureNetwork(GeneratorConfig(scales=2, channels=2))
    save_model(network, {"method": "texture-nets", "architecture": network.architecture()},
               name=name)
    meta = styx.files.modelstore.models_home() / name / "model.json"
    data = json.loads(meta.read_text())
    data["created"] = created
    meta.write_text(json.dumps(data))


def test_each_installed_exporter_is_a_flag_with_its_options(plugins, styx_cli):
    help_text = styx_cli("export", "texture-nets", "--help").stdout
    for text in ("--tensors", "--bank-only", "--half", "--level", "--model", "--output"):
        assert text in help_text, text
    assert "texture-nets" in styx_cli("export", "--help").stdout
    assert "gatys" not in styx_cli("export", "--help").stdout


def test_the_only_or_newest_model_is_exported_and_the_command_says_which(plugins, styx_cli,
                                                                          tmp_path):
    result = styx_cli("export", "texture-nets", "--tensors")
    assert result.exit_code == 2 and "no texture-nets model is stored" in result.stderr
    store("old", "2026-01-01T00:00:00+00:00")
    result = styx_cli("export", "texture-nets", "--tensors")
    assert result.exit_code == 0, result.stderr
    assert "using model 'old' (the only stored texture-nets model)" in result.stderr
    assert (tmp_path / "old.safetensors").is_file()
    store("new", "2026-06-01T00:00:00+00:00")
    result = styx_cli("export", "texture-nets", "--tensors", "--half", "-o",
                      str(tmp_path / "out" / "x.safetensors"), "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["format"] == "tensors" and report["model"].endswith("new")
    tensors = load_file(str(tmp_path / "out" / "x.safetensors"))
    assert {t.dtype for t in tensors.values()} == {torch.float16}
    model = styx.load_model("new")
    assert tensors.keys() == model.generator.state_dict().keys()


@pytest.mark.parametrize("args, message", [
    ([], "no format chosen"),
    (["--tensors", "--bank-only"], "one format at a time"),
    (["--bank-only"], "exporter 'bank-only' cannot export texture-nets models"),
    (["--tensors", "--level", "2"], "--level is an option of --bank-only"),
    (["--tensors", "--model", "nowhere"], "no model named 'nowhere'"),
])
def test_bad_export_requests_are_one_line(plugins, styx_cli, args, message):
    store("m", "2026-01-01T00:00:00+00:00")
    result = styx_cli("export", "texture-nets", *args)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_method_with_nothing_to_export(plugins, styx_cli):
    result = styx_cli("export", "gatys", "--tensors")
    assert result.exit_code == 2
    assert "method 'gatys' trains no generator, so it has nothing to export" in result.stderr
    assert "texture-nets" in result.stderr


def test_with_no_exporter_installed_the_group_says_so(use_plugins, styx_cli):
    use_plugins({"texture_nets": texture_nets})
    result = styx_cli("export", "texture-nets")
    assert result.exit_code == 2
    assert "no exporter is installed" in result.stderr


def test_export_is_a_library_call_too(plugins, tmp_path):
    store("lib", "2026-01-01T00:00:00+00:00")
    path = export("lib", "tensors", tmp_path / "lib.safetensors", half=True)
    assert path == tmp_path / "lib.safetensors" and path.is_file()
    assert export(styx.load_model("lib"), "tensors", tmp_path / "two.safetensors").is_file()
    assert styx.export("lib", "tensors", overwrite=True).name == "lib.safetensors"
    with pytest.raises(styx.StyxError, match="did you mean 'tensors'"):
        export("lib", "tensor")
    with pytest.raises(styx.StyxError, match="cannot export texture-nets"):
        export("lib", "bank-only")


def test_the_output_is_checked_and_written_atomically(plugins, styx_cli, tmp_path):
    store("m", "2026-01-01T00:00:00+00:00")
    model_file = styx.files.modelstore.models_home() / "m" / "model.safetensors"
    before = model_file.read_bytes()
    existing = tmp_path / "taken.safetensors"
    existing.write_bytes(b"keep me")
    (tmp_path / "a-folder.safetensors").mkdir()
    for output, message in ((model_file, "inside the model folder"),
                            (existing, "already exists"),
                            (tmp_path / "a-folder.safetensors", "is a folder"),
                            (tmp_path / "x.onnx", "does not end in .safetensors")):
        result = styx_cli("export", "texture-nets", "--tensors", "-o", str(output))
        assert result.exit_code == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
    assert model_file.read_bytes() == before and existing.read_bytes() == b"keep me"
    result = styx_cli("export", "texture-nets", "--tensors", "-o", str(existing),
                      "--overwrite", "-q")
    assert result.exit_code == 0 and existing.read_bytes() != b"keep me"

    def broken(model, output, config):
        output.write_bytes(b"half a file")
        raise RuntimeError("the exporter fell over")

    with pytest.raises(RuntimeError, match="fell over"), pytest.MonkeyPatch.context() as patch:
        patch.setattr(ExporterSpec, "load", lambda self: broken)
        export("m", "tensors", tmp_path / "never.safetensors")
    assert not list(tmp_path.glob("*never*"))  # nothing half-written is left


def test_exporters_may_share_an_option_but_one_that_clashes_is_left_out(
        use_plugins, styx_cli, tmp_path, monkeypatch):
    @dataclass(kw_only=True)
    class Levels(Config):
        half: int = option(16, help="Bits, not a flag: clashes with --half.")

    class More:
        @styx.hookimpl
        def register_exporters(self, register):
            register(ExporterSpec(name="tensors16", summary="the same options again.",
                                  export=write_tensors, config=TensorOptions,
                                  suffix=".safetensors"))
            register(ExporterSpec(name="zbits", summary="a clashing option.",
                                  export=write_tensors, config=Levels, suffix=".bits"))

    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    use_plugins({"texture_nets": texture_nets, "exp": Exporters(), "zz": More()})
    store("m", "2026-01-01T00:00:00+00:00")
    out = tmp_path / "shared.safetensors"
    result = styx_cli("export", "texture-nets", "--tensors16", "--half", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert {t.dtype for t in load_file(str(out)).values()} == {torch.float16}
    assert "exporter 'zbits' of plugin 'zz' is left out" in result.stderr
    assert "its option 'half' differs from exporter 'tensors''s" in result.stderr
    assert "--zbits" not in styx_cli("export", "texture-nets", "--help").stdout



def test_an_exporters_flags_and_required_options_are_its_own(use_plugins, styx_cli,
                                                              tmp_path, monkeypatch):
    seen = []

    @dataclass(kw_only=True)
    class Shaped(Config):
        dynamic: bool = option(True, help="Dynamic sizes.")
        target: str = option(help="The runtime to target.")

    def write_shaped(model, output, config):
        seen.append(config)
        output.write_text("shaped")
        return output

    class More:
        @styx.hookimpl
        def register_exporters(self, register):
            register(ExporterSpec(name="shaped", summary="with a required option.",
                                  export=write_shaped, config=Shaped, suffix=".shape"))

    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    use_plugins({"texture_nets": texture_nets, "exp": Exporters(), "more": More()})
    store("m", "2026-01-01T00:00:00+00:00")
    other = styx_cli("export", "texture-nets", "--tensors", "-o", str(tmp_path / "t.safetensors"))
    assert other.exit_code == 0, other.stderr  # neither --target nor --dynamic is in the way
    missing = styx_cli("export", "texture-nets", "--shaped", "-o", str(tmp_path / "a.shape"))
    assert missing.exit_code == 2 and "missing --target" in missing.stderr
    result = styx_cli("export", "texture-nets", "--shaped", "--target", "web", "--no-dynamic",
                      "-o", str(tmp_path / "b.shape"))
    assert result.exit_code == 0, result.stderr
    assert (seen[-1].target, seen[-1].dynamic) == ("web", False)
    styx_cli("export", "texture-nets", "--shaped", "--target", "web", "-o",
             str(tmp_path / "c.shape"))
    assert seen[-1].dynamic is True  # not given: the config's default
