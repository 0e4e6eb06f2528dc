"""The method commands declare their shared options once (styx.cli.options)."""

from __future__ import annotations

import typer
from typer.main import get_command

from styx.cli import options
from styx.plugins.methods.gatys.cli import run as gatys_run
from styx.plugins.methods.texture_nets.cli import run as texture_run
from styx.plugins.methods.texture_nets.cli import train as texture_train

COMMANDS = {"run gatys": gatys_run, "train texture-nets": texture_train,
            "run texture-nets": texture_run}


def options_of(function) -> dict[str, object]:
    """``{"--seed": click option, ...}`` of a typer-style function."""
    app = typer.Typer()
    app.command()(function)
    return {param.opts[0]: param for param in get_command(app).params
            if param.opts[0].startswith("--")}


def test_an_option_two_commands_share_has_one_help_text():
    seen: dict[str, tuple[str, str]] = {}
    shared = set()
    for command, function in COMMANDS.items():
        for name, param in options_of(function).items():
            if name in ("--help", "--output", "--size", "--scales", "--lr", "--log-every",
                        "--texture", "--install-completion", "--show-completion"):
                continue  # the same name, a different meaning per method
            if name in seen:
                shared.add(name)
                assert param.help == seen[name][1], f"{name}: {command} vs {seen[name][0]}"
            else:
                seen[name] = (command, param.help)
    assert {"--descriptor", "--weights", "--style-weight", "--tv-weight", "--seed", "--device",
            "--amp", "--quiet", "--json", "--log-json", "--preserve-color"} <= shared


def test_each_command_keeps_its_own_defaults_and_flags():
    gatys, train, run = (options_of(f) for f in COMMANDS.values())
    assert gatys["--tv-weight"].default == 1.0 and train["--tv-weight"].default == 1e-3
    assert gatys["--gram-normalization"].default == "elements"
    assert train["--gram-normalization"].default is None  # the loss's own default
    assert gatys["--descriptor"].opts == ["--descriptor", "-d"]
    assert train["--descriptor"].opts == ["--descriptor"]
    assert gatys["--quiet"].opts == train["--quiet"].opts == run["--quiet"].opts \
        == ["--quiet", "-q"]
    assert options.DescriptorOption.__metadata__[0].help == \
        options.descriptor_option().help


def test_texture_nets_checks_the_loss_weights_before_reading_anything(styx_cli, tmp_path):
    result = styx_cli("train", "texture-nets", "--style", str(tmp_path / "missing.jpg"),
                      "--texture", "--output", str(tmp_path / "model"),
                      "--content-weight", "0", "--style-weight", "0", "--tv-weight", "0")
    assert result.exit_code == 2
    assert "all zero" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "model").exists()
