"""The conformance kit (``styx.testing``): the built-ins pass it, and it catches the traps
plugin authors fall into (an in-place ReLU, an alias that resolves elsewhere, a layer the
network lacks, torch imported by the plugin module, a loss that sums over the batch, a
method option without help, an image out of [0, 1])."""

from __future__ import annotations

import importlib
import json

import pytest

from styx.testing import (
    PluginCheckError,
    check_descriptor,
    check_loss,
    check_method,
    check_plugin,
)

BUILTIN_DESCRIPTORS = ("vgg16", "vgg19", "resnet50", "inception_v3")


@pytest.mark.parametrize("name", BUILTIN_DESCRIPTORS)
def test_builtin_descriptors_pass(name):
    report = check_descriptor(name)
    assert report.ok and len(report.results) >= 10


@pytest.mark.parametrize("name", ["content", "gram", "mean-std", "tv"])
def test_builtin_losses_pass(name):
    assert check_loss(name).ok


def test_the_gram_loss_passes_with_each_normalization():
    for normalization in ("gatys", "seed-report", "none"):
        assert check_loss("gram", options={"normalization": normalization}).ok


@pytest.mark.parametrize("name", ["gatys", "texture-nets", "stylebank", "adain"])
def test_builtin_methods_pass(name):
    report = check_method(name)
    names = [result.check for result in report.results]
    assert "runs" in names and "same seed, same image" in names
    if name != "gatys":
        assert "trains" in names and "the model loads" in names
        assert "exports to ONNX" in names  # the kit checks the exporter round trip
    # AdaIN's generator declares a style image: run with the painting, and checked to follow it
    assert ("follows its style images" in names) == (name == "adain")


# -- plugins that break the contract ---------------------------------------------------------
HEAVY = """
import torch
from torch import nn

import styx
from styx.perceptual.descriptor import Descriptor
from styx.core.specs import DescriptorSpec

LAYERS = ("conv1", "relu1", "conv2", "relu2")


def spec(name, **fields):
    return DescriptorSpec(name=name, summary="", factory=f"heavy_plugin:{name}",
                          layers=fields.pop("layers", LAYERS),
                          default_style_layers=("relu1", "relu2"), **fields)


@styx.hookimpl
def register_descriptors(register):
    register(spec("inplace"))
    register(spec("bogus", layers=(*LAYERS, "conv9")))
    register(spec("misaliased", layer_aliases={"first": "conv1"}))
    register(spec("unseeded"))


def network(*, inplace=False, aliases=None):
    stages = [("conv1", nn.Conv2d(3, 4, 3, padding=1)), ("relu1", nn.ReLU(inplace=inplace)),
              ("conv2", nn.Conv2d(4, 4, 3, padding=1)), ("relu2", nn.ReLU())]
    return Descriptor("x", stages, layer_aliases=aliases, default_style_layers=("relu1",))


def inplace(weights="random", seed=0):
    torch.manual_seed(seed)
    return network(inplace=True)


def bogus(weights="random", seed=0):
    torch.manual_seed(seed)
    return network()


def misaliased(weights="random", seed=0):
    torch.manual_seed(seed)
    return network(aliases={"first": "relu1"})


def unseeded(weights="random", seed=0):
    return network()
"""

LIGHT = """
import styx
from styx.core.specs import DescriptorSpec, LossSpec, MethodSpec


@styx.hookimpl
def register_descriptors(register):
    register(DescriptorSpec(name="good", summary="", factory="light_parts:good",
                            layers=("conv1", "relu1", "conv2", "relu2"),
                            layer_aliases={"first": "relu1"},  # not repeated in the factory
                            default_style_layers=("relu1", "relu2")))


@styx.hookimpl
def register_losses(register):
    register(LossSpec(name="summed", summary="", factory="light_parts:SummedLoss"))


@styx.hookimpl
def register_methods(register):
    register(MethodSpec(name="sloppy", summary="", config="light_parts:SloppyConfig",
                        run="light_parts:run", uses_styles=False))
    register(MethodSpec(name="tensorish", summary="", config="light_parts:SloppyConfig",
                        run="light_parts:run_tensor", uses_styles=False))
"""

LIGHT_PARTS = """
from dataclasses import dataclass

from styx.core.bundles import RuntimeOptions
from styx.core.config import option
from styx.core.method import RunResult


def good(weights="random", seed=0):
    import torch
    from torch import nn

    from styx.perceptual.descriptor import Descriptor

    torch.manual_seed(seed)
    stages = [("conv1", nn.Conv2d(3, 4, 3, padding=1)), ("relu1", nn.ReLU()),
              ("conv2", nn.Conv2d(4, 4, 3, padding=1)), ("relu2", nn.ReLU())]
    return Descriptor("good", stages, default_style_layers=("relu1",))


class SummedLoss:
    def prepare(self, features):
        return features.detach().float()

    def __call__(self, features, target):
        return ((features.float() - target) ** 2).sum()  # sums over the batch


@dataclass(kw_only=True)
class SloppyConfig(RuntimeOptions):
    gain: float = option(2.0, help="")


def run(request, config):
    image = request.content_image(long_side=16).rgb * config.gain
    return RunResult(image=image, config=config)


def run_tensor(request, config):
    return request.content_image(long_side=16).rgb
"""


@pytest.fixture
def broken_plugins(make_dist, use_plugins, monkeypatch):
    folder = make_dist("broken-plugins", {}, {"heavy_plugin": HEAVY, "light_plugin": LIGHT,
                                              "light_parts": LIGHT_PARTS})
    monkeypatch.setenv("PYTHONPATH", str(folder))  # the import checks run in a child
    return use_plugins({"heavy": importlib.import_module("heavy_plugin"),
                        "light": importlib.import_module("light_plugin")})


def failures(report) -> dict[str, str]:
    return {result.check: result.detail for result in report.failures}


def test_the_kit_catches_an_in_place_relu_and_a_torch_import(broken_plugins):
    found = failures(check_descriptor("inplace", raise_on_failure=False))
    assert "heavy_plugin loads torch" in found["imports no torch"]
    assert "changed in place" in found["taps are finite feature maps"]  # the runtime guard
    assert "conv1" in found["taps are not changed in place"]
    assert "inplace=True" in found["taps are not changed in place"]


def test_the_kit_catches_a_bogus_layer_and_a_wrong_alias(broken_plugins):
    bogus = failures(check_descriptor("bogus", raise_on_failure=False))
    assert "conv9" in bogus["layers match the spec"]
    misaliased = failures(check_descriptor("misaliased", raise_on_failure=False))
    assert "first -> conv1" in misaliased["aliases resolve"]
    unseeded = failures(check_descriptor("unseeded", raise_on_failure=False))
    assert "differs between two builds" in unseeded["random weights are seeded"]


def test_a_good_descriptor_passes_and_its_spec_aliases_work(broken_plugins):
    report = check_descriptor("good")
    assert report.ok
    assert next(r for r in report.results if r.check == "imports no torch").passed


def test_the_kit_raises_one_error_listing_every_failure(broken_plugins):
    with pytest.raises(PluginCheckError) as error:
        check_descriptor("bogus")
    text = str(error.value)
    assert "FAIL imports no torch" in text and "FAIL layers match the spec" in text
    assert error.value.report.name == "bogus"


def test_the_kit_catches_a_loss_that_sums_over_the_batch(broken_plugins):
    found = failures(check_loss("summed", raise_on_failure=False))
    assert set(found) == {"batch mean"}
    assert "not the mean" in found["batch mean"]


def test_the_kit_catches_a_sloppy_method(broken_plugins):
    found = failures(check_method("sloppy", raise_on_failure=False))
    assert "--gain has no help text" in found["run config is well formed"]
    assert "leaves [0, 1]" in found["runs"]


def test_a_run_that_returns_no_result_is_named_a_plugin_bug(broken_plugins):
    import styx

    with pytest.raises(TypeError, match="method 'tensorish': run.. returned Tensor"):
        styx.stylize("tensorish")
    found = failures(check_method("tensorish", raise_on_failure=False))
    assert "returned Tensor" in found["runs"]
    assert found["same seed, same image"] == "not run: it did not run"


def test_a_spec_layer_the_network_lacks_is_named_a_plugin_bug(broken_plugins):
    from styx.core.errors import StyxError
    from styx.perceptual.descriptor import build_descriptor

    with pytest.raises(StyxError, match="lists layer 'conv9', but its network") as error:
        build_descriptor("bogus", "random", layers=["conv9"])
    assert "plugins --check bogus" in error.value.hint


def test_check_plugin_checks_everything_a_plugin_registered(broken_plugins):
    reports = check_plugin("light")
    assert {(r.kind, r.name) for r in reports} == {
        ("descriptor", "good"), ("loss", "summed"), ("method", "sloppy"),
        ("method", "tensorish")}
    assert [r.name for r in check_plugin("good")] == ["good"]


def test_styx_plugins_check(broken_plugins, styx_cli):
    result = styx_cli("plugins", "--check", "heavy")
    assert result.exit_code == 1
    assert "FAIL" in result.stdout and "failed" in result.stdout
    ok = styx_cli("plugins", "--check", "good", "--json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)[0]["ok"] is True
    unknown = styx_cli("plugins", "--check", "godo")
    assert unknown.exit_code == 2 and "did you mean 'good'" in unknown.stderr


def test_styx_plugins_check_on_the_builtin_losses(styx_cli):
    result = styx_cli("plugins", "--check", "losses")
    assert result.exit_code == 0 and "31 of 31 checks passed" in result.stdout  # 4 losses
