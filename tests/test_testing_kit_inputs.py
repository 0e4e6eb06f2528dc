"""The conformance kit on generators that take style images at run time: it feeds them the
painting, and it catches a style input the generator ignores or fills with noise (the
built-in AdaIN passes: tests/test_testing_kit.py)."""

from __future__ import annotations

import importlib

import pytest

from styx.testing import check_method

STYLED_PLUGIN = """
import styx
from styx.core.specs import MethodSpec

METHODS = ("tinted", "blind", "noisy")


@styx.hookimpl
def register_methods(register):
    for name in METHODS:
        register(MethodSpec(name=name, summary="", config="styx.core.bundles:ModelRunOptions",
                            run="styx.generators.models:run_feed_forward",
                            train_config="styx.core.bundles:ModelOutputOptions",
                            train=f"styled_networks:train_{name}",
                            generator=f"styled_networks:{name.capitalize()}"))
"""

STYLED_NETWORKS = """
import torch
from torch import nn

from styx.core.inputs import content_image, style_image
from styx.files.modelstore import save_model
from styx.generators.generator import Generator
from styx.training.feedforward import TrainedModel
from styx.training.loop import TrainingResult


class Tinted(Generator):
    \"\"\"The photo, tinted by the painting's mean colour.\"\"\"

    inputs = (content_image(), style_image())

    def __init__(self):
        super().__init__()
        self.mix = nn.Conv2d(3, 3, 1)

    def architecture(self):
        return {}

    @classmethod
    def from_architecture(cls, architecture):
        return cls()

    def forward(self, image, style):
        return torch.sigmoid(self.mix(image) + style.mean(dim=(2, 3), keepdim=True))


class Blind(Tinted):
    def forward(self, image, style):  # the painting is declared, and ignored
        return torch.sigmoid(self.mix(image))


class Noisy(Tinted):
    def make_inputs(self, image, *, generator=None, **options):  # noise, whatever is given
        return {"image": image, "style": torch.rand(1, 3, 8, 8, generator=generator)}


def trainer(cls):
    def train(config):  # no training: the untrained network, saved
        generator = cls().eval()
        path = save_model(generator, {"method": cls.__name__.lower(), "architecture": {}},
                          path=config.output, overwrite=True)
        return TrainedModel(path=path, name=None, generator=generator, metadata={},
                            result=TrainingResult(generator, [], 0, 0.0, []))
    return train


train_tinted, train_blind, train_noisy = (trainer(cls) for cls in (Tinted, Blind, Noisy))
"""


@pytest.fixture
def styled_plugins(make_dist, use_plugins, monkeypatch):
    folder = make_dist("styled-plugins", {}, {"styled_plugin": STYLED_PLUGIN,
                                              "styled_networks": STYLED_NETWORKS})
    monkeypatch.setenv("PYTHONPATH", str(folder))  # the command checks run in a child
    return use_plugins({"styled": importlib.import_module("styled_plugin")})


def failures(report) -> dict[str, str]:
    return {result.check: result.detail for result in report.failures}


def test_the_kit_runs_a_model_with_the_style_images_its_generator_declares(styled_plugins):
    report = check_method("tinted")
    passed = {result.check: result.detail for result in report.results}
    assert passed["runs"] == "64x48"  # given the painting: run_feed_forward needs it
    assert passed["follows its style images"].startswith("style: mean change ")


def test_the_kit_catches_a_style_input_the_generator_ignores(styled_plugins):
    found = failures(check_method("blind", raise_on_failure=False))
    assert "the output does not change when the style image 'style' changes" in \
        found["follows its style images"]
    assert "seed" not in found["follows its style images"]
    assert set(found) == {"follows its style images"}


def test_the_kit_catches_a_style_input_filled_with_noise(styled_plugins):
    found = failures(check_method("noisy", raise_on_failure=False))
    detail = found["follows its style images"]
    assert "the output changes with the seed" in detail and "'style'" in detail
    assert "does not change when the style image 'style' changes" in detail
    assert set(found) == {"follows its style images"}

