"""The root command: method commands mounted from specs, error handling, lazy loading."""

from __future__ import annotations

import io
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import torch
import typer

import styx
from styx.core import plugins as plugins_module
from styx.core.config import Config, option
from styx.core.errors import StyxError
from styx.core.specs import MethodSpec

CALLS: list[dict] = []


@dataclass(kw_only=True)
class PaintConfig(Config):
    steps: int = option(3, help="How many steps.")
    fail: str = option("", help="Raise: 'user' or 'bug'.")


def paint(request, config: PaintConfig):
    """Paint something."""
    import torch

    from styx.core.method import RunResult

    if config.fail == "user":
        raise StyxError("bad painting", "paint better")
    if config.fail == "bug":
        raise ZeroDivisionError("division by zero in the method")
    CALLS.append({"steps": config.steps})
    typer.echo(f"painted {config.steps}")
    return RunResult(image=torch.zeros(1, 3, 4, 4), steps=config.steps)


@dataclass(kw_only=True)
class FitConfig(Config):
    epochs: int = option(1, help="Epochs.")


def fit(config: FitConfig):
    """Train something (and, like a DDP rank other than 0, save nothing)."""
    typer.echo(f"trained {config.epochs}")
    return SimpleNamespace(path=None)


class Methods:
    @styx.hookimpl
    def register_methods(self, register):
        register(MethodSpec(name="painter", summary="Paints pictures.", config=PaintConfig,
                            run=paint, train_config=FitConfig, train=fit,
                            generator="styx.generators.generator:Generator", aliases=("brush",)))
        register(MethodSpec(name="runner-only", summary="Only runs.", config=PaintConfig,
                            run=paint))
        register(MethodSpec(name="broken-cli", summary="Its config cannot import.",
                            config="no_such_module_for_styx_tests:Config", run=paint))


@pytest.fixture
def methods(use_plugins):
    CALLS.clear()
    return use_plugins({"methods": Methods()})


def test_help_lists_the_command_groups(styx_cli, monkeypatch):
    def no_plugins():
        raise AssertionError("styx --help must not load plugins")

    monkeypatch.setattr(plugins_module, "get_plugins", no_plugins)
    result = styx_cli("--help")
    assert result.exit_code == 0
    for command in ("plugins", "list", "run", "train"):
        assert f"  {command} " in result.stdout


def test_version(styx_cli):
    result = styx_cli("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"styx {styx.__version__}"


def test_run_help_lists_methods_and_warns_about_a_broken_one(methods, styx_cli):
    result = styx_cli("run", "--help")
    assert result.exit_code == 0
    assert "painter" in result.stdout and "runner-only" in result.stdout
    assert "brush" not in result.stdout  # aliases work but are hidden
    assert "broken-cli" not in result.stdout
    assert "cannot make 'styx run broken-cli'" in result.stderr
    result = styx_cli("train", "--help")
    assert "painter" in result.stdout and "runner-only" not in result.stdout


class CitedMethod:
    @styx.hookimpl
    def register_methods(self, register):
        register(MethodSpec(name="cited", summary="Smith et al. (2020): paints like others.",
                            config=PaintConfig, run=paint, train_config=FitConfig, train=fit,
                            generator="styx.generators.generator:Generator"))


@pytest.mark.parametrize("group", ["run", "train"])
def test_group_help_shows_the_whole_summary_not_up_to_its_first_period(use_plugins, styx_cli,
                                                                       group):
    use_plugins({"methods": CitedMethod()})
    result = styx_cli(group, "--help")
    assert result.exit_code == 0, result.stderr
    assert "Smith et al. (2020): paints like others." in result.stdout


def test_run_a_method_by_name_and_alias(methods, styx_cli, tmp_path):
    out = str(tmp_path / "out.png")
    result = styx_cli("run", "runner-only", "--steps", "7", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "painted 7"
    assert (tmp_path / "out.png").is_file()
    assert styx_cli("run", "RUNNER_ONLY", "-o", out, "-q").stdout.strip() == "painted 3"
    assert CALLS == [{"steps": 7}, {"steps": 3}]
    assert styx_cli("train", "BRUSH", "--epochs", "2").stdout.strip() == "trained 2"


def test_a_method_help_shows_its_options(methods, styx_cli):
    result = styx_cli("run", "runner-only", "--help")
    assert result.exit_code == 0 and "--steps" in result.stdout and CALLS == []


def test_running_one_method_ignores_another_broken_one(methods, styx_cli, tmp_path):
    assert styx_cli("run", "runner-only", "-o", str(tmp_path / "x.png")).exit_code == 0


@pytest.mark.parametrize("args, message, hint", [
    (("run", "paniter"), "unknown method 'paniter'", "did you mean 'painter'?"),
    (("train", "runner-only"), "method 'runner-only' has no 'train' command",
     "methods that have 'styx train': painter"),
    (("export", "runner-only"), "method 'runner-only' trains no generator",
     "methods that have 'styx export': painter"),
    (("run", "runner-only", "-o", "x.png", "--fail", "user"), "bad painting", "paint better"),
])
def test_user_errors_are_one_red_line_and_exit_2(methods, styx_cli, monkeypatch,
                                                 args, message, hint):
    monkeypatch.delenv("STYX_DEBUG", raising=False)
    result = styx_cli(*args)
    assert result.exit_code == 2
    assert f"error: {message}" in result.stderr and f"hint: {hint}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bug_is_one_line_and_exit_1(methods, styx_cli, monkeypatch):
    monkeypatch.delenv("STYX_DEBUG", raising=False)
    result = styx_cli("run", "runner-only", "-o", "x.png", "--fail", "bug")
    assert result.exit_code == 1
    assert "unexpected ZeroDivisionError: division by zero in the method" in result.stderr
    assert "STYX_DEBUG=1" in result.stderr and "Traceback" not in result.stderr


def test_a_method_whose_command_cannot_import_is_a_bug_not_a_crash(methods, styx_cli,
                                                                   monkeypatch):
    monkeypatch.delenv("STYX_DEBUG", raising=False)
    result = styx_cli("run", "broken-cli")
    assert result.exit_code == 1
    assert "No module named 'no_such_module_for_styx_tests'" in result.stderr
    assert "cannot make 'styx run broken-cli'" in result.stderr


def test_styx_debug_lets_the_traceback_through(methods, styx_cli, monkeypatch):
    monkeypatch.setenv("STYX_DEBUG", "1")
    with pytest.raises(StyxError, match="bad painting"):
        styx_cli("run", "runner-only", "-o", "x.png", "--fail", "user")
    with pytest.raises(ZeroDivisionError):
        styx_cli("run", "runner-only", "-o", "x.png", "--fail", "bug")


@pytest.mark.parametrize(("args", "error", "hint"), [
    (("run", "runner-only", "-o", "x.png", "--steps", "many"),
     "error: invalid value for '--steps': ", "hint: 'styx run runner-only --help' lists"),
    (("run", "runner-only", "-o", "x.png", "--stpes", "3"),
     "error: no such option: --stpes", "hint: did you mean '--steps'"),
    (("run", "runner-only"), "error: missing option '--output' / '-o'",
     "hint: 'styx run runner-only --help' lists the options"),
    (("models", "show"), "error: missing argument 'name'", "hint: 'styx models show --help'"),
    (("nope",), "error: no such command 'nope'", "hint: 'styx --help' lists"),
])
def test_a_usage_error_is_an_error_and_a_hint_line_and_exit_2(methods, styx_cli, args, error,
                                                              hint):
    result = styx_cli(*args)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith(error) and lines[1].startswith(hint), lines


def test_a_bare_command_group_shows_its_help(styx_cli):
    result = styx_cli("run")
    assert result.exit_code == 2 and "Usage: styx run" in result.stdout + result.stderr


def test_a_question_whose_input_ends_is_exit_1(styx_cli, monkeypatch, tmp_path):
    from styx.files.modelstore import save_model

    monkeypatch.setenv("STYX_HOME", str(tmp_path))
    save_model({"w": torch.ones(1)}, {"method": "texture-nets"}, name="kept")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    result = styx_cli("models", "rm", "kept")
    assert result.exit_code == 1
    assert "error: no answer: the input ended" in result.stderr and "--yes" in result.stderr
    assert (tmp_path / "models" / "kept").is_dir()


def test_python_dash_m_styx_works(styx_subprocess):
    result = styx_subprocess("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"styx {styx.__version__}"
