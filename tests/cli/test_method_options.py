"""The method commands are made from the methods' configs: shared options are declared once."""

from __future__ import annotations

import typer
from typer.main import get_command

from styx.cli.run import run_command
from styx.cli.train import train_command
from styx.core.plugins import methods


def options_of(function) -> dict[str, object]:
    """``{"--seed": click option, ...}`` of a typer-style function."""
    app = typer.Typer()
    app.command()(function)
    return {param.opts[0]: param for param in get_command(app).params
            if param.opts[0].startswith("--")}


def commands() -> dict[str, dict[str, object]]:
    return {"run gatys": options_of(run_command(methods().get("gatys"))),
            "train texture-nets": options_of(train_command(methods().get("texture-nets"))),
            "run texture-nets": options_of(run_command(methods().get("texture-nets")))}


def test_an_option_two_commands_share_has_one_help_text():
    seen: dict[str, tuple[str, str]] = {}
    shared = set()
    for command, options in commands().items():
        for name, param in options.items():
            if name in ("--help", "--output", "--size", "--scales", "--lr", "--log-every",
                        "--texture", "--log-json", "--batch-size", "--overwrite"):
                continue  # the same name, a different meaning per method (or command)
            if name == "--style-layers" and command == "run gatys":
                continue  # gatys re-declares it: it also takes 'balanced'
            if name in seen:
                shared.add(name)
                assert param.help == seen[name][1], f"{name}: {command} vs {seen[name][0]}"
            else:
                seen[name] = (command, param.help)
    assert {"--descriptor", "--weights", "--style-weight", "--tv-weight", "--seed", "--device",
            "--amp", "--quiet", "--json", "--preserve-color", "--style-loss"} <= shared


def test_each_command_keeps_its_own_defaults_and_the_same_flags():
    gatys, train, run = commands().values()
    assert gatys["--tv-weight"].default == 1.0 and train["--tv-weight"].default == 1e-3
    assert gatys["--style-weight"].default == train["--style-weight"].default == 1e5
    assert gatys["--descriptor"].opts == train["--descriptor"].opts == ["--descriptor", "-d"]
    assert gatys["--quiet"].opts == train["--quiet"].opts == run["--quiet"].opts \
        == ["--quiet", "-q"]
    assert gatys["--channels-last"].secondary_opts == ["--no-channels-last"]
    assert train["--style"].required


def test_gatys_takes_every_loss_option_the_bundle_declares():
    gatys = commands()["run gatys"]
    for flag in ("--content-loss", "--style-loss", "--tv-loss",
                 "--descriptor-option"):
        assert flag in gatys


def test_texture_nets_checks_the_loss_weights_before_reading_anything(styx_cli, tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not an image")  # read only after the checks
    result = styx_cli("train", "texture-nets", "--style", str(tmp_path / "broken.jpg"),
                      "--texture", "--output", str(tmp_path / "model"),
                      "--content-weight", "0", "--style-weight", "0", "--tv-weight", "0")
    assert result.exit_code == 2
    assert "all zero" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "model").exists()
