"""Typed configs: one declaration per option, checked when made, bundles shared by methods."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from styx.core.bundles import LossOptions, RuntimeOptions, TrainingOptions
from styx.core.checks import number
from styx.core.config import Config, cli_type_of, describe_options, option, options_of
from styx.core.errors import StyxError


@dataclass(kw_only=True)
class Painting(LossOptions, RuntimeOptions):
    """A method's config: two bundles, its own weights, two options of its own."""

    label = "painting"

    content_weight: float = 2.0
    style_weight: float = 30.0
    tv_weight: float = 0.0
    brushes: tuple[int, ...] = option((1, 2), cli_type=str,
                                      check=lambda v, label: tuple(int(x) for x in
                                                                   (v.split(",") if
                                                                    isinstance(v, str) else v)),
                                      help="Brush sizes, e.g. 1,2.")
    canvas: Path = option(help="Where to paint.")
    strokes: int = option(10, name="stroke-count", check=number(minimum=1, integer=True),
                          help="Strokes per brush.")

    def check(self) -> None:
        super().check()
        if self.strokes > 100 and self.style_weight > 1e3:
            raise StyxError("too many strokes for that style weight")

    def check_inputs(self, *, contents: int, styles: int) -> None:
        if styles > 2:
            raise StyxError(f"{styles} styles for a painting of two")


def test_a_method_sets_its_own_default_and_keeps_the_bundles_help_and_check():
    infos = {info.field: info for info in options_of(Painting)}
    assert infos["tv_weight"].default == 0.0
    assert infos["tv_weight"].option.help == "Weight of the total-variation loss (smoothness)."
    with pytest.raises(StyxError, match="bad --tv-weight -1"):
        Painting(canvas="c", tv_weight=-1)  # the bundle's check, through the override


def test_every_option_has_one_default_in_one_place():
    """The loss bundle sets no term weight: a method must choose it."""
    infos = {info.field: info for info in options_of(LossOptions)}
    assert infos["style_weight"].required and infos["content_weight"].required
    # The core names no descriptor or loss: the installed plugins mark the defaults.
    assert infos["descriptor"].default is None and infos["style_loss"].default is None
    made = Painting(canvas="c")
    assert (made.descriptor, made.content_loss, made.style_loss, made.tv_loss) == \
        ("vgg19", "content", "gram", "tv")
    assert {i.field: i.default for i in options_of(Painting)}["style_weight"] == 30.0


def test_values_are_checked_and_made_canonical_when_the_config_is_made():
    config = Painting(canvas="out", brushes="3,4", style_layers="relu1_1:0.5",
                      amp="BFLOAT16", seed="7", strokes=5.0)
    assert config.brushes == (3, 4) and config.style_layers == {"relu1_1": 0.5}
    assert config.amp == "bf16" and config.seed == 7 and config.strokes == 5
    with pytest.raises(StyxError, match="bad --stroke-count 0"):  # named as typed
        Painting(canvas="out", strokes=0)
    with pytest.raises(StyxError, match="too many strokes"):
        Painting(canvas="out", strokes=200, style_weight=1e4)
    with pytest.raises(StyxError, match="all zero"):
        Painting(canvas="out", content_weight=0, style_weight=0)


def test_from_options_names_unknown_and_missing_options():
    with pytest.raises(StyxError, match="unknown option 'strokez' for painting") as caught:
        Painting.from_options({"canvas": "x", "strokez": 3})
    assert "did you mean 'strokes'" in caught.value.hint
    with pytest.raises(StyxError, match="missing --canvas") as caught:
        Painting.from_options({})
    assert caught.value.hint == "give --canvas: Where to paint."
    base = Painting(canvas="a", strokes=4)
    again = Painting.from_options({"seed": 2}, base=base)
    assert (again.canvas, again.strokes, again.seed) == (Path("a"), 4, 2)


def test_with_options_checks_again_and_leaves_the_original_alone():
    config = Painting(canvas="a")
    changed = config.with_options(style_weight="5")
    assert changed.style_weight == 5.0 and config.style_weight == 30.0
    with pytest.raises(StyxError, match="bad --style-weight"):
        config.with_options(style_weight=-5)
    with pytest.raises(StyxError, match="did you mean 'seed'"):
        config.with_options(sed=1)


def test_to_dict_is_json_ready_and_makes_the_same_config_again():
    config = Painting(canvas="a/b", brushes=(5,), descriptor_options=["pooling=avg"])
    data = config.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["canvas"] == "a/b" and data["brushes"] == [5]
    assert data["descriptor_options"] == {"pooling": "avg"}
    assert Painting.from_options(data) == config


def test_check_inputs_is_the_methods_to_say():
    Painting(canvas="a").check_inputs(contents=1, styles=2)
    with pytest.raises(StyxError, match="3 styles"):
        Painting(canvas="a").check_inputs(contents=1, styles=3)


def test_training_options_name_their_flags_as_the_command_line_does():
    with pytest.raises(StyxError, match="bad --workers -1"):
        TrainingOptions(num_workers=-1)
    with pytest.raises(StyxError, match="bad --short-side 16"):
        TrainingOptions(image_size=32, short_side=16)


def test_a_field_without_option_or_with_an_unparsable_type_is_a_plugin_bug():
    @dataclass(kw_only=True)
    class Plain(Config):
        size: int = 3

    with pytest.raises(TypeError, match="not declared with"):
        options_of(Plain)

    @dataclass(kw_only=True)
    class Odd(Config):
        weights: dict[str, float] = option(default_factory=dict, help="Weights.")
        layers: dict[str, float] = option(default_factory=dict, cli_type=str, help="Layers.")

    infos = {info.field: info for info in options_of(Odd)}
    with pytest.raises(TypeError, match="cli_type=str"):
        cli_type_of(infos["weights"])
    assert cli_type_of(infos["layers"]) is str
    with pytest.raises(TypeError, match="is not a config"):
        options_of(dict)


def test_describe_options_for_forms_and_listings():
    described = {d["name"]: d for d in describe_options(Painting)}
    assert described["strokes"]["flag"] == "--stroke-count"
    assert described["canvas"]["required"] and described["canvas"]["default"] is None
    assert described["brushes"]["default"] == [1, 2]
    assert described["content_layers"]["default_text"] == "the descriptor's"
    kinds = {name: d["kind"] for name, d in described.items()}
    assert (kinds["strokes"], kinds["brushes"], kinds["canvas"], kinds["seed"],
            kinds["style_weight"]) == ("integer", "text", "path", "integer", "number")
    assert json.loads(json.dumps(list(described.values())))


def test_library_only_options_stay_off_the_command_line():
    @dataclass(kw_only=True)
    class Secret(Config):
        visible: int = option(1, help="Shown.")
        hidden: list = option(default_factory=list, cli=False, help="Library only.")

    assert [d["name"] for d in describe_options(Secret)] == ["visible"]


def test_the_device_is_checked_when_the_config_is_made():
    assert RuntimeOptions(device="CUDA:1").device == "cuda:1"
    for bad in ("tpu", "cuda:x", ""):
        with pytest.raises(StyxError, match="bad --device"):
            RuntimeOptions(device=bad)


def test_fields_without_a_check_are_checked_by_their_type(tmp_path):
    from styx.plugins.methods.texture_nets.config import TextureNetsTrainConfig

    (tmp_path / "s.png").write_bytes(b"")
    (tmp_path / "photos").mkdir()
    base = {"style": tmp_path / "s.png", "content_dir": tmp_path / "photos"}
    with pytest.raises(StyxError, match="missing --style"):
        TextureNetsTrainConfig(**{**base, "style": None})
    assert TextureNetsTrainConfig(**base, texture="false").texture is False
    assert TextureNetsTrainConfig(**base, overwrite="yes").overwrite is True
    with pytest.raises(StyxError, match="bad --texture 'maybe'"):
        TextureNetsTrainConfig(**base, texture="maybe")
    with pytest.raises(StyxError, match="empty --run-dir"):
        TextureNetsTrainConfig(**base, run_dir="")
    with pytest.raises(StyxError, match="bad --style 3"):
        TextureNetsTrainConfig(**{**base, "style": 3})
    with pytest.raises(StyxError, match="bad --style .*: not found"):
        TextureNetsTrainConfig(**{**base, "style": tmp_path / "nope.png"})
    with pytest.raises(StyxError, match="bad --content-dir .*: a file, not a folder"):
        TextureNetsTrainConfig(**{**base, "content_dir": tmp_path / "s.png"})
    names = TextureNetsTrainConfig(**base, style_layers=["relu1_1", "relu2_1"])
    assert names.style_layers == {"relu1_1": 1.0, "relu2_1": 1.0}
    with pytest.raises(StyxError, match="bad --descriptor-option 5"):
        TextureNetsTrainConfig(**base, descriptor_options=5)
