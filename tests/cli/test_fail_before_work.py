"""Every option, path and output location is checked before any network is built.

The descriptor ``recorder`` notes each time its factory is called; every bad command
below must exit 2 with one line (no traceback) and leave it uncalled. A good command
calls it, which shows the recorder works.
"""

from __future__ import annotations

import importlib

import pytest
from PIL import Image

RECORDER = """
from dataclasses import dataclass

import styx
from styx.core.checks import number
from styx.core.config import Config, option
from styx.core.specs import DescriptorSpec

CALLS = []


@dataclass(kw_only=True)
class RecorderOptions(Config):
    width: int = option(4, check=number(minimum=1, integer=True), help="Channels.")


@styx.hookimpl
def register_descriptors(register):
    register(DescriptorSpec(
        name="recorder", summary="", factory="recorder_plugin:build",
        config="recorder_plugin:RecorderOptions",
        layers=("conv1", "relu1", "conv2", "relu2"), default_content_layers=("relu2",),
        default_style_layers=("relu1", "relu2")))


def build(weights="random", *, seed=0, width=4):
    import torch
    from torch import nn

    from styx.perceptual.descriptor import Descriptor

    CALLS.append(weights)
    torch.manual_seed(seed)
    stages = [("conv1", nn.Conv2d(3, width, 3, padding=1)), ("relu1", nn.ReLU()),
              ("conv2", nn.Conv2d(width, width, 3, padding=1)), ("relu2", nn.ReLU())]
    return Descriptor("recorder", stages, default_content_layers=("relu2",),
                      default_style_layers=("relu1", "relu2"))
"""


@pytest.fixture
def recorder(make_dist, use_plugins):
    make_dist("recorder-plugin", {}, {"recorder_plugin": RECORDER})
    module = importlib.import_module("recorder_plugin")
    builtins = {name: importlib.import_module(f"styx.plugins.{path}") for name, path in (
        ("losses", "losses.builtin"), ("gatys", "methods.gatys"),
        ("texture_nets", "methods.texture_nets"))}
    use_plugins({**builtins, "recorder": module})
    module.CALLS.clear()
    return module.CALLS


@pytest.fixture
def files(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        Image.new("RGB", (40, 40), (60 * i, 90, 30)).save(photos / f"p{i}.png")
    Image.new("RGB", (40, 40), (200, 30, 60)).save(tmp_path / "style.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


GATYS = ["run", "gatys", "{d}/photos/p0.png", "{d}/style.png", "-d", "recorder",
         "--size", "32", "--steps", "1"]
TRAIN = ["train", "texture-nets", "--style", "{d}/style.png", "-d", "recorder",
         "--iterations", "1", "--batch-size", "1", "--image-size", "16"]

BAD_RUNS = {
    "gram normalization": (["-o", "{d}/o.png", "--loss-option", "style.normalization=gaty"],
                           "bad --loss-option style.normalization 'gaty'"),
    "loss option name": (["-o", "{d}/o.png", "--loss-option", "style.normalisation=gatys"],
                         "has no option 'normalisation'"),
    "loss option term": (["-o", "{d}/o.png", "--loss-option", "colour.x=1"],
                         "'colour' is no term"),
    "tv power": (["-o", "{d}/o.png", "--loss-option", "tv.power=0"],
                 "bad --loss-option tv.power"),
    "style loss kind": (["-o", "{d}/o.png", "--style-loss", "tv"], "works on image"),
    "descriptor option": (["-o", "{d}/o.png", "--descriptor-option", "width=0"],
                          "bad --descriptor-option width"),
    "layer": (["-o", "{d}/o.png", "--style-layers", "relu9"], "has no layer 'relu9'"),
    "weights file": (["-o", "{d}/o.png", "--weights", "{d}/none.pth"], "no such file"),
    "output folder": (["-o", "/proc/styx-nope/o.png"], "cannot write output"),
    "output in /proc": (["-o", "/proc/o.png"], "cannot write output"),
    "output suffix": (["-o", "{d}/o.txt"], "cannot write images as .txt"),
    "log folder": (["-o", "{d}/o.png", "--log-json", "/proc/styx-nope/log.json"],
                   "cannot write --log-json"),
    "init file": (["-o", "{d}/o.png", "--init", "{d}/none.png"], "none.png"),
    "steps": (["-o", "{d}/o.png", "--steps", "0"], "bad --steps"),
}

BAD_TRAININGS = {
    "no content": ([], "missing --content-dir"),
    "content folder": (["--content-dir", "{d}/none"], "bad --content-dir"),
    "empty content": (["--content-dir", "{d}/empty", "-o", "{d}/m"], "no images found"),
    "style file": (["--content-dir", "{d}/photos", "--style", "{d}/none.png"],
                   "bad --style"),
    "model folder": (["--content-dir", "{d}/photos", "-o", "/proc/styx-nope/m"],
                     "cannot write model"),
    "run folder": (["--content-dir", "{d}/photos", "-o", "{d}/m", "--run-dir",
                    "/proc/styx-nope/run"], "cannot write --run-dir"),
    "log": (["--content-dir", "{d}/photos", "-o", "{d}/m", "--log-json", "/proc/l.jsonl"],
            "cannot write --log-json"),
    "layer": (["--content-dir", "{d}/photos", "--content-layers", "conv7"],
              "has no layer 'conv7'"),
    "gram normalization": (["--content-dir", "{d}/photos", "--loss-option", "style.normalization=x"],
                           "bad --loss-option style.normalization"),
}


def _args(template: list[str], folder) -> list[str]:
    return [part.format(d=folder) for part in template]


CASES = {**{f"run: {case}": (GATYS, *value) for case, value in BAD_RUNS.items()},
         **{f"train: {case}": (TRAIN, *value) for case, value in BAD_TRAININGS.items()}}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_fails_before_the_descriptor_is_built(case, recorder, files, styx_cli):
    command, extra, message = CASES[case]
    result = styx_cli(*_args(command + extra, files))
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert recorder == [], f"the descriptor was built before the error ({case})"
    assert not (files / "o.png").exists() and not (files / "m").exists()


def test_good_commands_build_the_descriptor(recorder, files, styx_cli):
    result = styx_cli(*_args(GATYS + ["-o", "{d}/o.png", "--loss-option",
                                      "style.normalization=gatys"], files))
    assert result.exit_code == 0, result.stderr
    assert recorder and (files / "o.png").is_file()
    recorder.clear()
    result = styx_cli(*_args(TRAIN + ["--content-dir", "{d}/photos", "-o", "{d}/m"], files))
    assert result.exit_code == 0, result.stderr
    assert recorder and (files / "m").is_dir()


@pytest.mark.parametrize("bad", [["--loss-option", "style.normalization=gaty"], ["-o", "/proc/o.png"],
                                 ["--loss-option", "tv.power=0"]])
def test_bad_run_options_fail_before_torch_is_even_imported(bad, styx_subprocess, tmp_path):
    result = styx_subprocess("run", "gatys", "--weights", "random", "-o",
                             str(tmp_path / "o.png"), *bad, python_flags=("-X", "importtime"))
    assert result.returncode == 2 and "error:" in result.stderr
    imported = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert imported and [line for line in imported if "torch" in line] == []


# -- images too small for the descriptor at the layers used: refused before any step ------------
#: The sample photo is 512x384 and the sample painting 512x320: at --size 25 VGG19's default
#: layers (16 px a side from relu5_1 on) see a 25x19 photo and a 25x16 painting, at 24 a
#: 24x15 painting.
SMALLEST_SIZE = 25


def test_gatys_refuses_a_size_too_small_for_its_layers_before_any_step(styx_cli, tmp_path):
    import styx

    output, log = tmp_path / "o.png", tmp_path / "log.json"
    common = ["run", "gatys", "--weights", "random", "--steps", "1", "-o", str(output),
              "--log-json", str(log)]
    result = styx_cli(*common, "--size", str(SMALLEST_SIZE - 1))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "a 24x15 px style image is too small for descriptor 'vgg19' at layer 'relu5_1' " \
           "(it needs at least 16 px a side)" in result.stderr
    assert "--size 25 or more" in result.stderr
    assert not output.exists() and not log.exists()
    result = styx_cli(*common, "--size", "16")  # the option's own minimum, and too small
    assert result.exit_code == 2
    assert "a 16x12 px content image (--size 16) is too small for descriptor 'vgg19' at " \
           "layer 'relu5_1'" in result.stderr and "use --size 25 or more" in result.stderr
    steps = []
    with pytest.raises(styx.StyxError, match="too small for descriptor 'vgg19'"):
        styx.stylize("gatys", size=SMALLEST_SIZE - 1, weights="random", steps=1,
                     callback=steps.append)
    assert steps == []  # no step was taken
    result = styx_cli(*common, "--size", str(SMALLEST_SIZE))
    assert result.exit_code == 0, result.stderr
    assert output.is_file()


@pytest.mark.parametrize(("method", "args", "message"), [
    ("texture-nets", ["--style", "{d}/style.png", "-d", "vgg19", "--image-size", "12"],
     ("a 12x12 px training crop (--image-size 12) is too small for descriptor 'vgg19' at "
      "layer 'relu5_1' (it needs at least 16 px a side)")),
    ("stylebank", ["--style", "{d}/style.png", "-d", "vgg19", "--image-size", "15"],
     "a 15x15 px training crop (--image-size 15) is too small for descriptor 'vgg19'"),
    ("adain", ["--style-dir", "{d}/photos", "-d", "inception_v3", "--image-size", "16"],
     ("a 16x16 px training crop (--image-size 16) is too small for descriptor "
      "'inception_v3' at layer 'Mixed_5d' (it needs at least 27 px a side)")),
])
def test_training_refuses_crops_too_small_for_its_layers_before_the_first_iteration(
        method, args, message, files, styx_cli):
    log = files / "log.jsonl"
    result = styx_cli("train", method, *_args(args, files), "--content-dir",
                      str(files / "photos"), "--weights", "random", "--iterations", "1",
                      "--batch-size", "1", "-o", str(files / "m"), "--log-json", str(log))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert message in result.stderr and "use --image-size" in result.stderr
    # Not one iteration: no log line, no run folder (so no checkpoint), no model.
    assert not log.exists() and not (files / "m").exists() and not (files / "m.run").exists()


def test_an_experiment_with_a_cell_too_small_runs_no_cell_and_makes_no_folder(styx_cli,
                                                                              tmp_path):
    out = tmp_path / "study"
    result = styx_cli("experiment", "descriptors", "--values", "vgg19,inception_v3",
                      "--size", "96", "--weights", "random", "--steps", "1", "-o", str(out))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "cell 'inception_v3' of study 'descriptors': a 96x72 px content image (--size 96) " \
           "is too small for descriptor 'inception_v3' at layer 'Mixed_7b' (it needs at " \
           "least 75 px a side)" in result.stderr
    assert not out.exists()  # no cells/ folder, not even the study's


def test_an_experiment_checks_its_training_crops_before_any_cell(tmp_path):
    from styx.core.errors import StyxError
    from styx.experiments import run_study

    out = tmp_path / "study"
    with pytest.raises(StyxError, match=r"cell 'texture-nets' of study 'methods': a 12x12 px "
                       r"training crop \(--train-size 12\) is too small for descriptor "
                       r"'vgg19'") as caught:
        run_study("methods", values=["texture-nets"], descriptor="vgg19", weights="random",
                  size=40, iterations=1, train_size=12, output=out)
    assert caught.value.hint.startswith("use --train-size 16 or more")
    assert not (out / "cells").exists() and not (out / "models").exists()
