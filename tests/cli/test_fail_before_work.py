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
