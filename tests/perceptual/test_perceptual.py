"""The loss options every method shares and the objective built from them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from styx.core.bundles import LossOptions
from styx.core.errors import StyxError
from styx.core.layers import layer_selection
from styx.core.plugins import descriptors, reset_plugins
from styx.perceptual.objective import build_objective, layer_weights


@dataclass(kw_only=True)
class Scored(LossOptions):
    """A method's config as far as scoring goes: the bundle, with the weights it chose."""

    content_weight: float = 1.0
    style_weight: float = 10.0
    tv_weight: float = 0.0


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
    with pytest.raises(StyxError, match="bad weight of style layer 'relu1_1': -1"):
        layer_selection({"relu1_1": -1}, what="style")
    with pytest.raises(StyxError, match="bad weight"):
        layer_selection({"relu1_1": float("nan")})
    with pytest.raises(StyxError, match="bad weight of layer 'relu1_1': 'x'"):
        layer_selection("relu1_1:x")


def test_options_parse_layers_and_the_loss_options():
    options = Scored(style_layers="relu1_1:0.5,relu2_1", content_layers="  ",
                     loss_options={"style": {"normalization": "gatys"}}, descriptor_options=["pooling=avg"])
    assert options.style_layers == {"relu1_1": 0.5, "relu2_1": 1.0}
    assert options.content_layers is None
    assert options.term_loss_options("style") == {"normalization": "gatys"}
    assert options.descriptor_options == {"pooling": "avg"}
    # No normalization given: the style loss keeps its own default (no option passed).
    assert Scored().term_loss_options("style") == {}


def test_the_bundle_leaves_the_term_weights_to_each_method():
    with pytest.raises(TypeError, match="content_weight"):
        LossOptions()  # no default in the core: a method's config must choose one
    assert (Scored().content_weight, Scored().style_weight) == (1.0, 10.0)


def test_weights_must_be_finite_non_negative_and_not_all_zero():
    assert Scored(content_weight="2", style_weight="1e5").style_weight == 1e5
    for weights, message in [({"content_weight": -1}, "bad --content-weight -1"),
                             ({"style_weight": float("inf")}, "bad --style-weight inf"),
                             ({"tv_weight": "much"}, "bad --tv-weight 'much'"),
                             ({"content_weight": 0, "style_weight": 0}, "all zero")]:
        with pytest.raises(StyxError, match=message):
            Scored(**weights)


def test_layer_weights_fall_back_to_the_descriptors_defaults():
    spec = descriptors().get("vgg19")
    content, style = layer_weights(Scored(descriptor="VGG19"))
    assert content == dict.fromkeys(spec.default_content_layers, 1.0)
    assert style == dict.fromkeys(spec.default_style_layers, 1.0) and len(style) > 1
    assert layer_weights(Scored(style_layers={"relu1_1": 0.3}))[1] == {"relu1_1": 0.3}
    with pytest.raises(StyxError, match="did you mean"):
        layer_weights(Scored(descriptor="vgg91"))


def test_build_objective_trims_the_descriptor_and_passes_every_setting():
    options = Scored(weights="random", content_weight=2.0, style_weight=3.0, tv_weight=0.5,
                     loss_options={"style": {"normalization": "none"}}, content_layers="relu2_1",
                     style_layers="relu1_1:0.5,relu2_1")
    objective = build_objective(options, seed=1)
    descriptor = objective.descriptor
    assert len(descriptor.stages) == descriptor.depth("relu2_1") + 1
    assert (objective.content_weight, objective.style_weight, objective.tv_weight) == \
        (2.0, 3.0, 0.5)
    assert objective.style_layers == {"relu1_1": 0.5, "relu2_1": 1.0}
    assert objective.style_loss.normalization == "none"
    assert objective.terms == ("content", "style", "tv")
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    objective.set_content(image)
    objective.set_style([image.flip(-1)])
    terms = objective(image)
    assert terms.content["relu2_1"] == 0 and terms.style["relu1_1"] > 0
    # The same seed gives the same random descriptor.
    again = build_objective(options, seed=1)
    assert torch.equal(next(descriptor.parameters()), next(again.descriptor.parameters()))
    with pytest.raises(StyxError, match="no layer 'relu9_9'"):
        build_objective(Scored(weights="random", content_layers="relu9_9"), seed=1)


def test_zero_weight_terms_are_dropped_and_the_descriptor_stops_earlier():
    options = Scored(weights="random", content_layers="relu4_2", style_layers="relu1_1",
                     content_weight=0.0)
    objective = build_objective(options)
    assert objective.terms == ("style",)
    assert objective.content_layers == {}
    assert len(objective.descriptor.stages) == objective.descriptor.depth("relu1_1") + 1
    # A dropped term's layers must still be real names, and its loss a real loss.
    with pytest.raises(StyxError, match="no layer 'relu9_9'"):
        build_objective(options.with_options(content_layers="relu9_9"))
    with pytest.raises(StyxError, match="unknown loss"):
        build_objective(options.with_options(content_loss="nope"))
    without_content = build_objective(Scored(weights="random"), content=False)
    assert without_content.terms == ("style",)


def use_vgg19_without_defaults(name: str, **defaults: tuple[str, ...]) -> None:
    """Plugins of the built-in losses and of descriptor ``name``: VGG19 with only the
    default layers given (``default_content_layers=("relu4_2",)``, or none)."""
    from styx.core.plugins import Plugins, reset_plugins
    from styx.core.specs import DescriptorSpec
    from styx.plugins.descriptors import vgg
    from styx.plugins.losses import builtin

    class WithoutDefaults:
        import styx

        @styx.hookimpl
        def register_descriptors(self, register):
            spec = vgg.spec("vgg19")
            register(DescriptorSpec(name=name, summary="VGG19 with fewer default layers",
                                    factory=spec.factory, layers=spec.layers, **defaults))

    plugins = Plugins()
    plugins.add_plugin(builtin, name="losses")
    plugins.add_plugin(WithoutDefaults(), name=name)
    reset_plugins(plugins)


def test_a_weighted_term_without_layers_is_a_styx_error():
    use_vgg19_without_defaults("bare", default_content_layers=("relu4_2",))
    with pytest.raises(StyxError, match="has no default style layers") as caught:
        build_objective(Scored(descriptor="bare", weights="random"))
    assert "--style-layers" in caught.value.hint
    assert build_objective(Scored(descriptor="bare", weights="random",
                                  style_weight=0)).terms == ("content",)


def test_loss_metadata_records_the_layers_used():
    options = Scored(weights="random", loss_options={"style": {"normalization": "gatys"}})
    metadata = options.loss_metadata({}, {"relu1_1": 1.0})
    assert metadata["content_layers"] == {} and metadata["style_layers"] == {"relu1_1": 1.0}
    assert metadata["weights"] == "random"
    assert metadata["loss_options"] == {"style": {"normalization": "gatys"}}
    assert list(metadata)[:2] == ["descriptor", "weights"]


def test_build_objective_builds_only_the_terms_in_use(monkeypatch):
    from styx.perceptual import objective as objective_module

    built = []
    real = objective_module.build_loss

    def recording(name, **options):
        built.append(name)
        return real(name, **options)

    monkeypatch.setattr(objective_module, "build_loss", recording)
    build_objective(Scored(weights="random", tv_weight=0.0))
    assert built == ["content", "gram"]  # a TV weight of 0: no TV loss built
    built.clear()
    build_objective(Scored(weights="random", tv_weight=0.5), content=False)
    assert built == ["gram", "tv"]  # no content term without content


def test_build_objective_gives_the_descriptor_its_seed_options_device_and_layers():
    options = Scored(weights="random", content_layers="relu3_1", style_layers="relu1_1",
                     descriptor_options=["pooling=avg"])
    first = build_objective(options, seed=1).descriptor
    assert torch.equal(next(first.parameters()),
                       next(build_objective(options, seed=1).descriptor.parameters()))
    assert not torch.equal(next(first.parameters()),
                           next(build_objective(options, seed=2).descriptor.parameters()))
    pools = [type(m) for m in first.modules() if isinstance(m, (torch.nn.AvgPool2d,
                                                                torch.nn.MaxPool2d))]
    assert pools and set(pools) == {torch.nn.AvgPool2d}  # pooling=avg reached the factory
    assert len(first.stages) == first.depth("relu3_1") + 1  # trimmed to the deepest in use
    on_meta = build_objective(options, seed=1, device="meta").descriptor
    assert {p.device.type for p in on_meta.parameters()} == {"meta"}
    # Without content, the content layers neither count nor deepen the descriptor.
    texture = build_objective(options, content=False)
    assert texture.content_weight == 0.0 and texture.content_layers == {}
    assert len(texture.descriptor.stages) == texture.descriptor.depth("relu1_1") + 1


def test_used_layers_follow_the_weights_and_the_content_switch():
    from styx.perceptual.objective import used_layers

    both = Scored(weights="random", content_layers="relu2_1", style_layers="relu1_1",
                  content_weight=0.5, style_weight=0.5)
    assert used_layers(both) == ({"relu2_1": 1.0}, {"relu1_1": 1.0})
    assert used_layers(both, content=False) == ({}, {"relu1_1": 1.0})
    assert used_layers(both.with_options(content_weight=0.0)) == ({}, {"relu1_1": 1.0})
    assert used_layers(both.with_options(style_weight=0.0)) == ({"relu2_1": 1.0}, {})


def test_a_small_positive_weight_without_layers_is_a_styx_error_too():
    from styx.perceptual.objective import used_layers

    use_vgg19_without_defaults("blank")
    for weights, missing in (({"content_weight": 0.5, "style_layers": "relu1_1"}, "content"),
                             ({"style_weight": 0.5, "content_layers": "relu1_1"}, "style")):
        with pytest.raises(StyxError, match=f"has no default {missing} layers"):
            used_layers(Scored(descriptor="blank", weights="random", **weights))
    # without content, a content weight asks for no content layers
    assert used_layers(Scored(descriptor="blank", weights="random", content_weight=0.5,
                              style_layers="relu1_1"), content=False) == ({}, {"relu1_1": 1.0})


def test_build_objective_asks_for_the_descriptor_it_needs(monkeypatch):
    """The layers in use reach the factory (which may trim before allocating weights), and
    the seed is 0 unless given."""
    from styx.perceptual import objective as objective_module

    asked = []
    real = objective_module.build_descriptor

    def recording(name, weights, **options):
        asked.append({"name": name, **options})
        return real(name, weights, **options)

    monkeypatch.setattr(objective_module, "build_descriptor", recording)
    options = Scored(weights="random", content_layers="relu3_1", style_layers="relu1_1")
    build_objective(options)
    build_objective(options, seed=5, device="cpu", content=False)
    assert asked == [
        {"name": "vgg19", "seed": 0, "device": None, "layers": ["relu3_1", "relu1_1"]},
        {"name": "vgg19", "seed": 5, "device": "cpu", "layers": ["relu1_1"]}]
