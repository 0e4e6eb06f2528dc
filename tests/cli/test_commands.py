"""The generated ``styx run`` command: options from the config, the result written and
reported the same way for every method, built-in or plugin."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import styx
from styx.cli.params import config_parameters
from styx.core.bundles import ColorOptions
from styx.core.checks import choice, number
from styx.core.config import Config, option
from styx.core.errors import StyxError
from styx.core.method import RunError, RunResult, StepInfo
from styx.core.specs import MethodSpec
from styx.runtime.image_tensors import save_image

CALLS: list[dict] = []


@dataclass(kw_only=True)
class BlurConfig(ColorOptions):
    """A toy method's options: every kind the command line handles."""

    steps: int = option(4, check=number(minimum=1, integer=True), help="Steps.")
    strength: float = option(0.5, check=number(minimum=0), help="How much.")
    mode: str = option("box", check=choice("box", "gauss"), help="box or gauss.")
    sharpen: bool = option(True, help="Sharpen at the end.")
    tags: list[str] = option(default_factory=list, name="tag", help="A tag (repeatable).")
    scale: float | None = option(None, default_text="the content's", help="Scale.")
    init: str = option("content", input_file=True, help="content or an image file.")
    fail_at: int = option(0, help="Fail (1: a StyxError, 2: a RunError) or stop (3).")

    def check_inputs(self, *, contents: int, styles: int) -> None:
        if styles > 2:
            raise StyxError(f"{styles} styles, blur takes two at most")


def blur(request, config: BlurConfig) -> RunResult:
    content = request.content_image(long_side=16)
    styles = request.style_images(long_side=8)
    CALLS.append({"config": config, "styles": len(styles)})
    history = []
    image = content.rgb.clone()
    for step in range(1, config.steps + 1):
        if config.fail_at == 1:
            raise StyxError("the blur went wrong", "try less")
        image = (image * (1 - config.strength) + image.mean() * config.strength).clamp(0, 1)
        history.append({"step": step, "total": 1.0 / step})
        if config.fail_at == 2 and step == 2:
            error = RunError("the blur diverged at step 2")
            error.history = history
            raise error
        if config.fail_at == 3 and step == 2:
            return RunResult(image=image, steps=step, loss=0.5, history=history,
                             interrupted=True, alpha=content.alpha)
        request.report(StepInfo(step, config.steps, history[-1], 0.0,
                                lambda current=image: current))
    return RunResult(image=image, steps=config.steps, loss=history[-1]["total"],
                     history=history, config=config, alpha=content.alpha)


class BlurPlugin:
    @styx.hookimpl
    def register_methods(self, register):
        register(MethodSpec(name="blur", summary="Blurs.", config=BlurConfig, run=blur))


@pytest.fixture
def method(use_plugins, tmp_path):
    CALLS.clear()
    use_plugins({"blur": BlurPlugin()})
    content = tmp_path / "content.png"
    save_image(torch.rand(1, 3, 12, 20), content)
    return {"content": content, "out": tmp_path / "out.png", "root": tmp_path}


def test_the_options_come_from_the_config_with_their_defaults(method, styx_cli):
    help_text = styx_cli("run", "blur", "--help").stdout
    for text in ("--steps", "[default: 4]", "--sharpen / --no-sharpen", "--preserve-color",
                 "--tag", "[default: the content's]", "CONTENT", "STYLE"):
        assert text in help_text, text
    result = styx_cli("run", "blur", str(method["content"]), "-o", str(method["out"]),
                      "--steps", "2", "--mode", "GAUSS", "--no-sharpen", "--tag", "a",
                      "--tag", "b", "-q")
    assert result.exit_code == 0, result.stderr
    config = CALLS[-1]["config"]
    assert (config.steps, config.mode, config.sharpen, config.tags) == (2, "gauss", False,
                                                                       ["a", "b"])
    assert config.scale is None and config.strength == 0.5  # not given: the config's
    assert method["out"].is_file() and result.stderr == ""


def test_bad_values_are_one_line_before_the_method_runs(method, styx_cli):
    for args, message in ((["--steps", "0"], "bad --steps 0"),
                          (["--mode", "boxy"], "did you mean 'box'"),
                          (["s1.png", "s2.png", "s3.png"], "3 styles, blur takes two")):
        result = styx_cli("run", "blur", str(method["content"]), *args, "-o",
                          str(method["out"]))
        assert result.exit_code == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
    assert CALLS == [] and not method["out"].exists()


def test_json_log_and_intermediate_images(method, styx_cli):
    log = method["root"] / "log.json"
    result = styx_cli("run", "blur", str(method["content"]), "-o", str(method["out"]),
                      "--save-every", "2", "--steps", "5", "--log-json", str(log), "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary == {"output": str(method["out"]), "width": 16, "height": 10, "steps": 5,
                       "loss": 0.2, "seconds": 0.0, "interrupted": False, "device": "cpu",
                       "precision": "fp32"}
    assert sorted(p.name for p in method["root"].glob("out.*.png")) == \
        ["out.00002.png", "out.00004.png"]
    data = json.loads(log.read_text())
    assert data["method"] == "blur" and data["status"] == "done"
    assert data["config"]["steps"] == 5 and len(data["history"]) == 5
    assert data["result"] == summary
    assert CALLS[-1]["styles"] == 1  # none given: the sample painting


def test_a_run_error_is_logged_and_nothing_is_written(method, styx_cli):
    log = method["root"] / "log.json"
    result = styx_cli("run", "blur", str(method["content"]), "-o", str(method["out"]),
                      "--fail-at", "2", "--log-json", str(log))
    assert result.exit_code == 2 and "the blur diverged at step 2" in result.stderr
    assert not method["out"].exists()
    data = json.loads(log.read_text())
    assert data["status"] == "failed" and len(data["history"]) == 2
    result = styx_cli("run", "blur", str(method["content"]), "-o", str(method["out"]),
                      "--fail-at", "1")
    assert result.exit_code == 2 and "hint: try less" in result.stderr


def test_an_interrupted_run_writes_its_best_image_and_exits_130(method, styx_cli):
    result = styx_cli("run", "blur", str(method["content"]), "-o", str(method["out"]),
                      "--fail-at", "3", "-q")
    assert result.exit_code == 130
    assert "interrupted after 2 steps: wrote the best image so far (loss 0.5)" in result.stderr
    assert method["out"].is_file()


def test_outputs_never_overwrite_an_input_named_by_an_option(method, styx_cli):
    init = method["root"] / "init.png"
    init.write_bytes(method["content"].read_bytes())
    result = styx_cli("run", "blur", str(method["content"]), "--init", str(init), "-o",
                      str(init))
    assert result.exit_code == 2 and "would overwrite the input image" in result.stderr
    assert CALLS == []


def test_a_method_that_takes_no_styles_has_no_style_argument(use_plugins, styx_cli):
    class NoStyles:
        @styx.hookimpl
        def register_methods(self, register):
            register(MethodSpec(name="plain", summary="Plain.", config=BlurConfig, run=blur,
                                uses_styles=False))

    use_plugins({"plain": NoStyles()})
    help_text = styx_cli("run", "plain", "--help").stdout
    assert "CONTENT" in help_text and "STYLE" not in help_text


def test_a_config_flag_that_clashes_with_styxs_own_is_a_plugin_bug():
    @dataclass(kw_only=True)
    class Clash(Config):
        output: Path = option(Path("x"), flags=("-o",), help="Clashes with -o.")

    with pytest.raises(TypeError, match="flag -o is taken"):
        config_parameters(Clash, taken={"-o", "--output-dir"})
