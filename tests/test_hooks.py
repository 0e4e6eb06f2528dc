"""A test per hook: what a plugin registers through it is used, end to end.

``test_every_hook_has_a_test`` is parametrised over the hook specifications: a hook added to
``styx.core.hookspecs`` without a ``test_hook_<name>`` here fails the suite.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass

import pytest
import torch
from torch import nn

import styx
from styx.core import hookspecs
from styx.core.config import Config, option
from styx.core.method import RunResult
from styx.core.specs import DescriptorSpec, ExporterSpec, LossSpec, MethodSpec
from styx.files.modelstore import save_model
from styx.perceptual.descriptor import Descriptor, he_normal_init_
from styx.plugins.losses import builtin
from styx.plugins.methods import gatys, texture_nets
from styx.runtime.image_tensors import load_image, save_image

HOOKS = sorted(name for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
               if hasattr(function, "styx_spec"))


def test_the_hooks_are_found():
    assert HOOKS == ["register_descriptors", "register_exporters", "register_losses",
                     "register_methods"]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    assert f"test_hook_{hook}" in globals(), \
        f"hook {hook} has no test: add test_hook_{hook} to tests/test_hooks.py"


# -- register_descriptors --------------------------------------------------------------------
def hooknet(weights: str = "random", *, seed: int = 0) -> Descriptor:
    stages = [("conv1", nn.Conv2d(3, 4, 3, padding=1)), ("relu1", nn.ReLU()),
              ("conv2", nn.Conv2d(4, 8, 3, padding=1)), ("relu2", nn.ReLU())]
    descriptor = Descriptor("hooknet", stages, default_content_layers=("relu2",),
                            default_style_layers=("relu1", "relu2"))
    he_normal_init_(descriptor, torch.Generator().manual_seed(seed))
    return descriptor


class DescriptorPlugin:
    @styx.hookimpl
    def register_descriptors(self, register):
        register(DescriptorSpec(name="hooknet", summary="Two convolutions.", factory=hooknet,
                                layers=("conv1", "relu1", "conv2", "relu2"),
                                default_content_layers=("relu2",),
                                default_style_layers=("relu1", "relu2")))


def test_hook_register_descriptors(use_plugins, styx_cli):
    use_plugins({"losses": builtin, "gatys": gatys, "desc": DescriptorPlugin()})
    layers = json.loads(styx_cli("list", "layers", "hooknet", "--json").stdout)
    assert [row["name"] for row in layers["layers"]] == ["conv1", "relu1", "conv2", "relu2"]
    result = styx.stylize("gatys", torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16),
                          descriptor="hooknet", steps=2)
    assert result.style_layers == {"relu1": 1.0, "relu2": 1.0} and result.steps == 2


# -- register_losses -------------------------------------------------------------------------
class MeanStdLoss:
    """Style as each channel's mean and standard deviation."""

    def __init__(self, std_weight: float = 1.0) -> None:
        self.std_weight = float(std_weight)

    def prepare(self, features):
        flat = features.detach().float().flatten(2)
        return torch.stack([flat.mean(-1), flat.std(-1)], 1)

    def __call__(self, features, target):
        flat = features.float().flatten(2)
        mean, std = flat.mean(-1), flat.std(-1)
        return ((mean - target[:, 0]) ** 2).mean() + \
            self.std_weight * ((std - target[:, 1]) ** 2).mean()


class LossPlugin:
    @styx.hookimpl
    def register_losses(self, register):
        register(LossSpec(name="mean-std", summary="Channel means and deviations.",
                          factory=MeanStdLoss, options={"std_weight": "weight of the stds"}))


def test_hook_register_losses(use_plugins, styx_cli, tmp_path):
    from styx.plugins.descriptors import vgg

    use_plugins({"vgg": vgg, "losses": builtin, "gatys": gatys, "mine": LossPlugin()})
    assert "mean-std" in styx_cli("list", "losses").stdout
    content = tmp_path / "content.png"
    save_image(torch.rand(1, 3, 24, 24), content)
    out = tmp_path / "out.png"
    result = styx_cli("run", "gatys", str(content), str(content), "-o", str(out),
                      "--weights", "random", "--steps", "2", "--size", "24",
                      "--style-loss", "mean-std", "--style-layers", "relu1_1", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["style_layers"] == {"relu1_1": 1.0} and out.is_file()


# -- register_methods ------------------------------------------------------------------------
@dataclass(kw_only=True)
class InvertConfig(Config):
    amount: float = option(1.0, help="How far to invert.")


def invert(request, config: InvertConfig) -> RunResult:
    image = request.content_image().rgb
    return RunResult(image=(1 - image) * config.amount + image * (1 - config.amount))


class MethodPlugin:
    @styx.hookimpl
    def register_methods(self, register):
        register(MethodSpec(name="invert", summary="Inverts colours.", config=InvertConfig,
                            run=invert, uses_styles=False))


def test_hook_register_methods(use_plugins, styx_cli, tmp_path):
    use_plugins({"mine": MethodPlugin()})
    image = torch.rand(1, 3, 8, 10)
    result = styx.stylize("invert", image, amount=1.0)
    torch.testing.assert_close(result.image, 1 - image)
    content, out = tmp_path / "in.png", tmp_path / "out.png"
    save_image(image, content)
    cli = styx_cli("run", "invert", str(content), "-o", str(out), "--amount", "0.0", "-q")
    assert cli.exit_code == 0, cli.stderr
    assert torch.equal(load_image(out), load_image(content))  # amount 0: unchanged
    assert "invert" in styx_cli("list", "methods").stdout


# -- register_exporters ----------------------------------------------------------------------
def write_architecture(model, output, config):
    output.write_text(json.dumps(model.generator.architecture()))
    return output


class ExporterPlugin:
    @styx.hookimpl
    def register_exporters(self, register):
        register(ExporterSpec(name="architecture", summary="the architecture as JSON.",
                              export=write_architecture, suffix=".json"))


def test_hook_register_exporters(use_plugins, styx_cli, tmp_path, monkeypatch):
    from styx.plugins.methods.texture_nets.generator import GeneratorConfig, TextureNetwork

    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    use_plugins({"texture_nets": texture_nets, "mine": ExporterPlugin()})
    network = TextureNetwork(GeneratorConfig(scales=2, channels=2))
    save_model(network, {"method": "texture-nets", "architecture": network.architecture()},
               name="tiny")
    out = tmp_path / "tiny.json"
    result = styx_cli("export", "texture-nets", "--architecture", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert json.loads(out.read_text()) == network.architecture()
    assert "architecture" in styx_cli("list", "exporters").stdout
