"""Loss settings shared by the methods: parsing, checking, default layers, the built objective."""

from __future__ import annotations

import pytest
import torch

from styx.core.errors import StyxError
from styx.core.layers import layer_selection
from styx.core.perceptual import (
    DEFAULT_TV_WEIGHT,
    LossSettings,
    build_objective,
    check_loss_weights,
)
from styx.core.plugins import descriptors, reset_plugins


@pytest.fixture(autouse=True)
def real_plugins():
    reset_plugins()
    yield
    reset_plugins()


def test_layer_selection_reads_text_and_mappings_and_blank_means_defaults():
    assert layer_selection("relu1_1:0.2, relu2_1") == {"relu1_1": 0.2, "relu2_1": 1.0}
    assert layer_selection({"relu3_1": 2}) == {"relu3_1": 2.0}
    for blank in (None, "", "  ", ",", {}):
        assert layer_selection(blank) is None
    with pytest.raises(StyxError, match="bad weight -1 of style layer 'relu1_1'"):
        layer_selection({"relu1_1": -1}, what="style")
    with pytest.raises(StyxError, match="bad weight"):
        layer_selection({"relu1_1": float("nan")})
    with pytest.raises(StyxError, match="bad weight 'x'"):
        layer_selection("relu1_1:x")


def test_from_options_parses_layers_and_maps_the_gram_normalization():
    settings = LossSettings.from_options(style_layers="relu1_1:0.5,relu2_1",
                                         content_layers="  ", gram_normalization="gatys",
                                         descriptor_options={"pooling": "avg"})
    assert settings.style_layers == {"relu1_1": 0.5, "relu2_1": 1.0}
    assert settings.content_layers is None
    assert settings.style_loss_options == {"normalization": "gatys"}
    assert settings.descriptor_options == {"pooling": "avg"}
    assert settings.tv_weight == DEFAULT_TV_WEIGHT
    # No normalization given: the style loss keeps its own default (no option passed).
    assert LossSettings.from_options().style_loss_options == {}


def test_weights_must_be_finite_non_negative_and_not_all_zero():
    assert check_loss_weights(1, "1e5", 0) == (1.0, 1e5, 0.0)
    for weights, message in [((-1, 1, 1), "bad content weight -1"),
                             ((1, float("inf"), 1), "bad style weight inf"),
                             ((1, 1, "much"), "bad TV weight 'much'"),
                             ((0, 0, 0), "all zero")]:
        with pytest.raises(StyxError, match=message):
            check_loss_weights(*weights)
    with pytest.raises(StyxError, match="all zero"):
        LossSettings(content_weight=0, style_weight=0, tv_weight=0).check()


def test_layer_weights_fall_back_to_the_descriptors_defaults():
    spec = descriptors().get("vgg19")
    content, style = LossSettings(descriptor="VGG19").layer_weights()
    assert content == dict.fromkeys(spec.default_content_layers, 1.0)
    assert style == dict.fromkeys(spec.default_style_layers, 1.0) and len(style) > 1
    given = LossSettings(content_layers={}, style_layers={"relu1_1": 0.3})
    assert given.layer_weights() == ({}, {"relu1_1": 0.3})  # an explicit mapping is kept
    with pytest.raises(StyxError, match="did you mean"):
        LossSettings(descriptor="vgg91").layer_weights()


def test_build_objective_trims_the_descriptor_and_passes_every_setting():
    settings = LossSettings.from_options(weights="random", content_weight=2.0,
                                         style_weight=3.0, tv_weight=0.5,
                                         gram_normalization="none")
    objective = build_objective(settings, {"relu2_1": 1.0}, {"relu1_1": 0.5, "relu2_1": 1.0},
                                seed=1)
    descriptor = objective.descriptor
    assert descriptor.num_stages == descriptor.depth("relu2_1") + 1
    assert (objective.content_weight, objective.style_weight, objective.tv_weight) == \
        (2.0, 3.0, 0.5)
    assert objective.style_layers == {"relu1_1": 0.5, "relu2_1": 1.0}
    assert objective.style_loss.normalization == "none"
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    objective.set_content(image)
    objective.set_style([image.flip(-1)])
    terms = objective(image)
    assert terms.content["relu2_1"] == 0 and terms.style["relu1_1"] > 0
    # The same seed gives the same random descriptor.
    again = build_objective(settings, {"relu2_1": 1.0}, {"relu1_1": 0.5}, seed=1)
    first = next(descriptor.parameters())
    assert torch.equal(first, next(again.descriptor.parameters()))
    with pytest.raises(StyxError, match="no layer 'relu9_9'"):
        build_objective(settings, {"relu9_9": 1.0}, {}, seed=1)


def test_as_metadata_records_the_layers_used():
    settings = LossSettings(weights="random", style_loss_options={"normalization": "gatys"})
    metadata = settings.as_metadata({}, {"relu1_1": 1.0})
    assert metadata["content_layers"] == {} and metadata["style_layers"] == {"relu1_1": 1.0}
    assert metadata["weights"] == "random"
    assert metadata["style_loss_options"] == {"normalization": "gatys"}
    assert list(metadata)[:2] == ["descriptor", "weights"]
