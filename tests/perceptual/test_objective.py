"""The perceptual objective: per-layer terms, weighting, blending, balancing, trimming."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import styx
from styx.core.errors import StyxError
from styx.core.plugins import reset_plugins
from styx.core.specs import LossSpec
from styx.perceptual.descriptor import Descriptor, he_normal_init_
from styx.perceptual.objective import LossTerms, PerceptualObjective


@pytest.fixture(autouse=True)
def real_plugins():
    reset_plugins()
    yield
    reset_plugins()


def tiny_descriptor(seed: int = 0) -> Descriptor:
    """Three conv blocks (4, 8, 8 channels), He-initialised so every depth is lively."""
    stages = [
        ("conv1", nn.Conv2d(3, 4, 3, padding=1)), ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(4, 8, 3, padding=1)), ("relu2", nn.ReLU()),
        ("pool2", nn.AvgPool2d(2)),
        ("conv3", nn.Conv2d(8, 8, 3, padding=1)), ("relu3", nn.ReLU()),
    ]
    descriptor = Descriptor("tiny", stages, layer_aliases={"block1": "relu1"},
                            default_content_layers=("relu2",),
                            default_style_layers=("relu1", "relu2", "relu3"))
    he_normal_init_(descriptor, torch.Generator().manual_seed(seed))
    return descriptor


def images(count: int, size: int = 16, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.rand(1, 3, size, size, generator=generator) for _ in range(count)]


def make_objective(descriptor: Descriptor | None = None, *, content_loss: str = "content",
                   style_loss: str = "gram", tv_loss: str = "tv",
                   style_loss_options: dict | None = None, **overrides) -> PerceptualObjective:
    """The objective over the tiny descriptor, its losses built by registered name."""
    from styx.perceptual.losses import build_loss

    options = {"content_layers": {"relu2": 1.0},
               "style_layers": {"relu1": 0.5, "relu2": 1.0, "relu3": 2.0},
               "content_weight": 3.0, "style_weight": 10.0, "tv_weight": 0.5}
    options.update(overrides)
    return PerceptualObjective(
        descriptor or tiny_descriptor(), **options,
        content_loss=build_loss(content_loss, scores="features"),
        style_loss=build_loss(style_loss, scores="features", **(style_loss_options or {})),
        tv_loss=build_loss(tv_loss, scores="image"))


# -- terms -----------------------------------------------------------------------------------
def test_every_layer_term_is_reported_and_the_total_is_their_weighted_sum():
    content, style, image = images(3)
    objective = make_objective()
    objective.set_style([style])
    objective.set_content(content)
    terms = objective(image)
    assert isinstance(terms, LossTerms)
    assert list(terms.content) == ["relu2"]
    assert list(terms.style) == ["relu1", "relu2", "relu3"]
    assert all(float(v) > 0 for v in [*terms.content.values(), *terms.style.values()])
    assert terms.tv is not None and float(terms.tv) > 0
    expected = (3.0 * float(terms.content["relu2"])
                + 10.0 * (0.5 * float(terms.style["relu1"]) + float(terms.style["relu2"])
                          + 2.0 * float(terms.style["relu3"]))
                + 0.5 * float(terms.tv))
    assert float(terms.total) == pytest.approx(expected, rel=1e-5)
    assert terms.total.dtype == torch.float32


def test_as_floats_lists_the_sums_and_every_layer():
    content, style, image = images(3)
    objective = make_objective()
    objective.set_style([style])
    objective.set_content(content)
    floats = objective(image).as_floats()
    assert set(floats) == {"total", "content", "style", "tv", "content/relu2",
                           "style/relu1", "style/relu2", "style/relu3"}
    assert floats["style"] == pytest.approx(
        floats["style/relu1"] + floats["style/relu2"] + floats["style/relu3"], rel=1e-6)
    assert all(isinstance(value, float) for value in floats.values())


def test_the_terms_match_the_losses_computed_directly():
    content, style, image = images(3)
    descriptor = tiny_descriptor()
    objective = make_objective(descriptor=descriptor)
    objective.set_style([style])
    objective.set_content(content)
    terms = objective(image)
    features = descriptor(image, ["relu2", "relu3"])
    style_features = descriptor(style, ["relu3"])
    content_features = descriptor(content, ["relu2"])
    assert torch.allclose(terms.content["relu2"],
                          ((features["relu2"] - content_features["relu2"]) ** 2).mean())
    gram = objective.style_loss.prepare
    assert torch.allclose(terms.style["relu3"],
                          ((gram(features["relu3"]) - gram(style_features["relu3"])) ** 2).mean())


def test_content_loss_is_zero_at_the_content_image():
    content, style = images(2)
    objective = make_objective()
    objective.set_style([style])
    objective.set_content(content)
    terms = objective(content)
    assert float(terms.content["relu2"]) == 0.0
    assert float(terms.style["relu1"]) > 0.0


def test_style_weight_zero_leaves_out_the_style_term():
    content, image = images(2)
    objective = make_objective(style_weight=0.0, tv_weight=0.0)
    objective.set_content(content)  # no set_style needed: style is off
    terms = objective(image)
    assert terms.style == {} and terms.tv is None
    assert float(terms.total) == pytest.approx(3.0 * float(terms.content["relu2"]), rel=1e-6)


def test_a_style_weight_below_one_keeps_the_style_term():
    content, style, image = images(3)
    objective = make_objective(style_weight=0.5, tv_weight=0.0)
    assert objective.style_layers  # only a weight of 0 turns the style term off
    objective.set_style([style])
    objective.set_content(content)
    assert objective(image).style


def test_tv_weight_zero_leaves_out_the_tv_term():
    content, style, image = images(3)
    objective = make_objective(tv_weight=0.0)
    objective.set_style([style])
    objective.set_content(content)
    assert objective(image).tv is None


def test_gradient_reaches_the_image_and_not_the_descriptor():
    content, style, image = images(3)
    objective = make_objective()
    objective.set_style([style])
    objective.set_content(content)
    image.requires_grad_(True)
    objective(image).total.backward()
    assert image.grad is not None and float(image.grad.abs().sum()) > 0
    assert all(p.grad is None for p in objective.descriptor.parameters())


def test_per_batch_content_targets():
    style = images(1)[0]
    batch = torch.cat(images(2, seed=5))
    objective = make_objective(tv_weight=0.0)
    objective.set_style([style])
    targets = objective.content_targets(batch)
    terms = objective(batch, content_targets=targets)
    assert float(terms.content["relu2"]) == 0.0
    assert float(objective(batch.flip(0), content_targets=targets).content["relu2"]) > 0


def test_bf16_autocast_keeps_the_losses_in_fp32():
    content, style, image = images(3)
    objective = make_objective()
    objective.set_style([style])
    objective.set_content(content)
    reference = objective(image).as_floats()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        terms = objective(image)
    assert terms.total.dtype == torch.float32
    assert all(value.dtype == torch.float32 for value in terms.style.values())
    assert float(terms.total) == pytest.approx(reference["total"], rel=0.1)


# -- targets ---------------------------------------------------------------------------------
def test_blend_one_zero_equals_the_single_style():
    first, second, image = images(3)
    single = make_objective(content_layers={}, tv_weight=0.0)
    single.set_style([first])
    blended = make_objective(content_layers={}, tv_weight=0.0)
    blended.set_style([first, second], blend=[1.0, 0.0])
    for layer in single.style_targets:
        assert torch.allclose(single.style_targets[layer], blended.style_targets[layer])
    assert float(single(image).total) == pytest.approx(float(blended(image).total), rel=1e-6)


def test_blend_weights_are_normalised_and_mix_the_targets():
    first, second = images(2)
    one, two, mixed = (make_objective(content_layers={}) for _ in range(3))
    one.set_style([first])
    two.set_style([second])
    mixed.set_style([first, second], blend=[3.0, 1.0])  # = 0.75 / 0.25
    for layer in mixed.style_targets:
        expected = 0.75 * one.style_targets[layer] + 0.25 * two.style_targets[layer]
        assert torch.allclose(mixed.style_targets[layer], expected, atol=1e-7)
    default = make_objective(content_layers={})
    default.set_style([first, second])  # no blend: equal weights
    for layer in default.style_targets:
        expected = 0.5 * (one.style_targets[layer] + two.style_targets[layer])
        assert torch.allclose(default.style_targets[layer], expected, atol=1e-7)


@pytest.mark.parametrize(("count", "blend"), [(2, [1.0]), (2, [1.0, -0.5]), (2, [0.0, 0.0]),
                                             (0, None)])
def test_bad_blends(count, blend):
    objective = make_objective()
    with pytest.raises(StyxError):
        objective.set_style(images(count), blend=blend)


def test_missing_targets_are_styx_errors():
    content, image = images(2)
    objective = make_objective()
    objective.set_content(content)
    with pytest.raises(StyxError, match="style targets are not set"):
        objective(image)
    objective = make_objective()
    objective.set_style([image])
    with pytest.raises(StyxError, match="content targets are not set"):
        objective(image)
    with pytest.raises(StyxError, match="style targets are not set"):
        make_objective().balance_style_layers(image)


def test_style_images_of_other_sizes_share_one_target():
    objective = make_objective(content_layers={})
    objective.set_style([torch.rand(1, 3, 24, 16), torch.rand(1, 3, 12, 12)])
    assert objective.style_targets["relu1"].shape == (1, 4, 4)
    assert float(objective(torch.rand(1, 3, 16, 16)).total) > 0


# -- balancing -------------------------------------------------------------------------------
def test_balance_style_layers_makes_the_weighted_layer_losses_equal():
    style, image = images(2)
    objective = make_objective(content_layers={}, tv_weight=0.0)
    objective.set_style([style])
    before = objective(image)
    weighted_before = [objective.style_layers[k] * float(v) for k, v in before.style.items()]
    assert max(weighted_before) / min(weighted_before) > 1.5  # unequal to start with
    weights = objective.balance_style_layers(image)
    assert weights == objective.style_layers
    after = objective(image)
    weighted = [weights[layer] * float(value) for layer, value in after.style.items()]
    assert weighted == pytest.approx([weighted[0]] * len(weighted), rel=1e-5)
    assert float(after.total) == pytest.approx(float(before.total), rel=1e-5)  # same total


def test_balance_keeps_a_switched_off_layer_off():
    style, image = images(2)
    objective = make_objective(content_layers={}, style_layers={"relu1": 1.0, "relu2": 0.0,
                                                                "relu3": 1.0})
    objective.set_style([style])
    weights = objective.balance_style_layers(image)
    assert weights["relu2"] == 0.0
    assert weights["relu1"] * float(objective(image).style["relu1"]) == pytest.approx(
        weights["relu3"] * float(objective(image).style["relu3"]), rel=1e-5)


# -- layers and trimming ---------------------------------------------------------------------
def test_bad_layer_name_is_a_styx_error_with_a_suggestion():
    with pytest.raises(StyxError, match="no layer 'relu_2'") as caught:
        make_objective(content_layers={"relu_2": 1.0})
    assert "relu2" in caught.value.hint
    with pytest.raises(StyxError, match="no layer 'conv9'"):
        make_objective(style_layers={"conv9": 1.0})


def test_no_layers_at_all_is_a_styx_error():
    with pytest.raises(StyxError, match="no content or style layer"):
        make_objective(content_layers={}, style_layers={})


@pytest.mark.parametrize("name", ["content_weight", "style_weight", "tv_weight"])
@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf")])
def test_bad_weights(name, value):
    with pytest.raises(StyxError, match="bad"):
        make_objective(**{name: value})


def test_aliases_work_as_layer_names():
    style, image = images(2)
    objective = make_objective(content_layers={}, style_layers={"block1": 1.0})
    objective.set_style([style])
    assert list(objective(image).style) == ["block1"]


def test_one_layer_under_two_names_is_a_styx_error_not_counted_twice():
    with pytest.raises(StyxError, match="style layers 'relu1' and 'block1' are the same"):
        make_objective(style_layers={"relu1": 1.0, "block1": 1.0})
    with pytest.raises(StyxError, match="content layers 'block1' and 'relu1'"):
        make_objective(content_layers={"block1": 1.0, "relu1": 1.0})
    make_objective(content_layers={"block1": 1.0}, style_layers={"relu1": 1.0})  # two terms


def test_the_descriptor_is_trimmed_after_the_deepest_layer():
    descriptor = tiny_descriptor()
    assert len(descriptor.stages) == 7
    content, style, image = images(3)
    objective = make_objective(descriptor=descriptor, content_layers={"relu1": 1.0},
                               style_layers={"conv1": 1.0, "relu2": 1.0})
    assert len(descriptor.stages) == 4  # conv1 relu1 conv2 relu2
    objective.set_style([style])
    objective.set_content(content)
    assert set(objective(image).style) == {"conv1", "relu2"}
    with pytest.raises(StyxError, match="trimmed"):
        descriptor(image, ["relu3"])


def test_trimming_does_not_change_the_values():
    (image,) = images(1)
    full = tiny_descriptor(seed=4)
    reference = tiny_descriptor(seed=4)(image, ["relu2"])["relu2"]
    make_objective(descriptor=full, style_layers={"relu2": 1.0})
    assert torch.equal(full(image, ["relu2"])["relu2"], reference)


# -- losses by registered name ---------------------------------------------------------------
class AbsoluteContentLoss:
    """A plugin's loss: mean absolute feature difference."""

    def prepare(self, features):
        return features.detach().float()

    def __call__(self, features, target):
        return (features.float() - target).abs().mean()


class AbsoluteLossPlugin:
    @styx.hookimpl
    def register_losses(self, register):
        register(LossSpec(name="abs", summary="Mean absolute difference.",
                          factory=AbsoluteContentLoss))


def test_a_plugin_loss_is_used_by_name(use_plugins):
    from styx.plugins.losses import builtin

    use_plugins({"losses": builtin, "abs-plugin": AbsoluteLossPlugin()})
    content, style, image = images(3)
    objective = make_objective(content_loss="abs", tv_weight=0.0)
    objective.set_style([style])
    objective.set_content(content)
    terms = objective(image)
    features = objective.descriptor(torch.cat([image, content]), ["relu2"])["relu2"]
    assert float(terms.content["relu2"]) == pytest.approx(
        float((features[0] - features[1]).abs().mean()), rel=1e-5)


def test_style_loss_options_reach_the_loss():
    objective = make_objective(style_loss_options={"normalization": "gatys"})
    assert objective.style_loss.normalization == "gatys"
    with pytest.raises(StyxError, match="no option"):
        make_objective(style_loss_options={"scale": 2})


def test_an_image_loss_cannot_be_the_style_loss():
    with pytest.raises(StyxError, match="works on image"):
        make_objective(style_loss="tv")


# -- terms in use and styles per sample -------------------------------------------------------
def test_zero_weight_terms_are_dropped_and_named():
    assert make_objective().terms == ("content", "style", "tv")
    style_only = make_objective(content_weight=0.0, tv_weight=0.0)
    assert style_only.terms == ("style",) and style_only.content_layers == {}
    assert style_only.content_loss is None  # not even kept
    with pytest.raises(StyxError, match="switched off"):
        make_objective(content_weight=0.0, style_weight=0.0, tv_weight=0.0)


def test_a_batch_may_mix_styles():
    """Each image of a batch is scored against its own style's target."""
    first, second, image_a, image_b = images(4)
    mixed = make_objective(content_layers={}, tv_weight=0.0)
    mixed.set_styles([first, second])
    assert mixed.num_styles == 2 and mixed.style_targets["relu1"].shape == (2, 4, 4)
    one, two = (make_objective(content_layers={}, tv_weight=0.0) for _ in range(2))
    one.set_style([first])
    two.set_style([second])
    batch = torch.cat([image_a, image_b])
    together = mixed(batch, style_ids=torch.tensor([0, 1]))
    expected = (float(one(image_a).total) + float(two(image_b).total)) / 2  # batch mean
    assert float(together.total) == pytest.approx(expected, rel=1e-5)
    swapped = mixed(batch, style_ids=torch.tensor([1, 0]))
    assert float(swapped.total) != pytest.approx(float(together.total), rel=1e-3)
    with pytest.raises(StyxError, match="no style_ids"):
        mixed(batch)


# -- LossTerms on its own ---------------------------------------------------------------------
def _terms_with_a_graph() -> tuple[LossTerms, torch.Tensor]:
    x = torch.tensor(2.0, requires_grad=True)
    terms = LossTerms(total=x * 10, content={"c1": x * 1, "c2": x * 2},
                      style={"s1": x * 3}, tv=x * 4, extra={"reconstruction": x * 5},
                      reported_total=x * 6)
    return terms, x


def test_detached_keeps_every_value_and_cuts_the_graph():
    terms, _ = _terms_with_a_graph()
    cut = terms.detached()
    assert cut.as_floats() == terms.as_floats()
    for value in [cut.total, *cut.content.values(), *cut.style.values(), cut.tv,
                  *cut.extra.values(), cut.reported_total]:
        assert value is not None and not value.requires_grad
    assert float(cut.tv) == 8.0 and float(cut.reported_total) == 12.0
    assert list(cut.style) == ["s1"] and float(cut.extra["reconstruction"]) == 10.0
    bare = LossTerms(total=torch.tensor(1.0)).detached()
    assert bare.tv is None and bare.reported_total is None
    assert bare.content == {} and bare.style == {} and bare.extra == {}


def test_as_floats_of_every_part_with_extra_values_and_a_reported_total():
    terms, _ = _terms_with_a_graph()
    assert terms.as_floats() == {
        "total": 12.0,  # the reported total, not total
        "content": 6.0, "style": 6.0, "tv": 8.0,
        "content/c1": 2.0, "content/c2": 4.0, "style/s1": 6.0, "reconstruction": 10.0}
    terms.reported_total = None
    terms.tv = None
    floats = terms.as_floats()
    assert floats["total"] == 20.0 and floats["tv"] == 0.0
    assert floats["reconstruction"] == 10.0


def test_missing_targets_and_style_ids_say_what_to_call():
    content, style, image = images(3)
    objective = make_objective()
    objective.set_style([style])
    with pytest.raises(StyxError) as caught:
        objective(image)
    assert caught.value.message == "content targets are not set"
    assert caught.value.hint == "call set_content() first or pass content_targets"
    objective = make_objective()
    objective.set_content(content)
    with pytest.raises(StyxError) as caught:
        objective(image)
    assert caught.value.message == "style targets are not set"
    assert caught.value.hint == "call set_style() first"
    mixed = make_objective(content_layers={}, tv_weight=0.0)
    mixed.set_styles([content, style])  # relu1 has 4 channels: targets are 2 x 4 x 4
    with pytest.raises(StyxError) as caught:
        mixed(image)
    assert caught.value.message == "2 style targets are set but no style_ids given"
    assert caught.value.hint == ("pass style_ids (one per image), or set one style with "
                                 "set_style")


def test_layer_weights_multiply_their_term():
    content, style, image = images(3)
    objective = make_objective(content_layers={"relu2": 4.0}, style_layers={"relu1": 0.5},
                               content_weight=3.0, style_weight=10.0, tv_weight=0.0)
    objective.set_content(content)
    objective.set_style([style])
    terms = objective(image)
    expected = 3.0 * 4.0 * float(terms.content["relu2"]) + 10.0 * 0.5 * float(terms.style["relu1"])
    assert float(terms.total) == pytest.approx(expected, rel=1e-5)
    assert terms.total.dtype == torch.float32


@pytest.mark.parametrize("name, label", [("content_weight", "content weight"),
                                         ("style_weight", "style weight"),
                                         ("tv_weight", "TV weight")])
def test_a_bad_weight_is_named(name, label):
    with pytest.raises(StyxError) as caught:
        make_objective(**{name: -1.0})
    assert caught.value.message.startswith(f"bad {label} -1.0")


def test_a_style_batch_is_not_a_style_image():
    objective = make_objective()
    with pytest.raises(StyxError) as caught:
        objective.set_style([torch.rand(2, 3, 8, 8)])
    assert caught.value.message == "a style image is 1 x 3 x H x W, got shape (2, 3, 8, 8)"
    assert caught.value.hint


# -- the exact errors of a badly built objective ------------------------------------------------
def test_an_objective_without_layers_or_weights_says_what_to_give():
    with pytest.raises(StyxError) as no_layers:
        make_objective(content_layers={}, style_layers={})
    assert (no_layers.value.message, no_layers.value.hint) == \
        ("no content or style layer selected", "give --content-layers and/or --style-layers")
    with pytest.raises(StyxError) as all_off:
        make_objective(content_weight=0.0, style_weight=0.0, tv_weight=0.0)
    assert (all_off.value.message, all_off.value.hint) == \
        ("every term of the objective is switched off",
         "give a positive --content-weight, --style-weight or --tv-weight with layers to match")


@pytest.mark.parametrize("term", ["content", "style", "tv"])
def test_a_term_in_use_without_its_loss_is_a_programming_error_naming_it(term):
    from styx.perceptual.losses import build_loss

    losses = {"content_loss": build_loss("content", scores="features"),
              "style_loss": build_loss("gram", scores="features"),
              "tv_loss": build_loss("tv", scores="image"), f"{term}_loss": None}
    with pytest.raises(TypeError) as caught:
        PerceptualObjective(tiny_descriptor(), content_layers={"relu2": 1.0},
                            style_layers={"relu1": 1.0}, content_weight=1.0,
                            style_weight=1.0, tv_weight=1.0, **losses)
    assert str(caught.value) == f"the {term} term is in use but no {term}_loss was given"


def test_one_layer_under_two_names_is_refused_with_a_hint():
    with pytest.raises(StyxError) as caught:
        make_objective(style_layers={"relu1": 1.0, "block1": 1.0})
    assert "relu1" in caught.value.message and "block1" in caught.value.message
    assert caught.value.hint == "give each layer once"


def test_an_objective_has_no_style_until_one_is_set():
    objective = make_objective()
    assert objective.num_styles == 0
    objective.set_style(images(2))
    assert objective.num_styles == 1


def test_detached_terms_leave_the_graph_and_may_move():
    from styx.perceptual.objective import LossTerms

    value = torch.ones((), requires_grad=True) * 2
    terms = LossTerms(total=value, content={"a": value}, style={"b": value}, tv=value,
                      extra={"r": value}, reported_total=value)
    for made in (terms.detached(), terms.detached("cpu")):
        parts = [made.total, made.content["a"], made.style["b"], made.tv, made.extra["r"],
                 made.reported_total]
        assert all(not p.requires_grad and p.device.type == "cpu" for p in parts)
    moved = terms.detached("meta")
    parts = [moved.total, moved.content["a"], moved.style["b"], moved.tv, moved.extra["r"],
             moved.reported_total]
    assert all(p.device.type == "meta" for p in parts)
