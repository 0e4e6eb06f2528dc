"""Specs: light descriptions, validation without imports, loading by import path."""

from __future__ import annotations

import dataclasses
import json

import pytest

from styx.core.errors import StyxError
from styx.core.specs import (
    DescriptorSpec,
    ExporterSpec,
    LossSpec,
    MethodSpec,
    load_object,
)


def test_load_object_imports_dotted_attributes():
    assert load_object("os.path:join") is __import__("os").path.join
    assert load_object("json:JSONDecoder.decode") is json.JSONDecoder.decode
    assert load_object(len) is len


def test_load_object_bad_path_is_a_styx_error():
    with pytest.raises(StyxError, match="bad import path"):
        load_object("os.path.join")


def test_validate_imports_nothing():
    spec = LossSpec(name="x", summary="", factory="surely_not_a_module_xyz:Loss")
    spec.validate()  # would raise if it tried to import
    with pytest.raises(ModuleNotFoundError):
        spec.load()


def test_describe_is_json_ready_for_every_kind():
    specs = [
        DescriptorSpec(name="d", summary="s", factory="m:f", layers=("a", "b"),
                       default_content_layers=("b",), default_style_layers=("a",),
                       options={"pooling": "max|avg"}),
        LossSpec(name="l", summary="s", factory="m:f", scores="image"),
        MethodSpec(name="m", summary="s", config="m:C", run="m:run", generator="m:G"),
        ExporterSpec(name="e", summary="s", export="m:f", suffix=".onnx"),
    ]
    described = json.loads(json.dumps([s.describe() for s in specs]))
    assert described[0]["layers"] == 2 and described[0]["default_style_layers"] == ["a"]
    assert described[1]["scores"] == "image"
    assert described[2]["commands"] == ["run", "export"]
    assert described[2]["feed_forward"] is True
    assert described[3]["suffix"] == ".onnx" and described[3]["methods"] == []
    assert [s.kind for s in specs] == ["descriptor", "loss", "method", "exporter"]
    for spec in specs:
        spec.validate()


def test_specs_are_frozen_and_plugin_is_not_part_of_equality():
    spec = LossSpec(name="l", summary="s", factory="m:f")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]
    assert dataclasses.replace(spec, plugin="p") == spec


def test_descriptor_defaults_may_use_aliases():
    DescriptorSpec(name="d", summary="", factory="m:f", layers=("relu1_1",),
                   layer_aliases={"block1_conv1": "relu1_1"},
                   default_style_layers=("block1_conv1",)).validate()


def test_an_options_class_error_names_the_option_as_given():
    from dataclasses import dataclass

    from styx.core.config import Config, option
    from styx.core.errors import StyxError
    from styx.core.specs import LossSpec, checked_options

    @dataclass(kw_only=True)
    class Needs(Config):
        strength: float = option(help="How strong.")

    spec = LossSpec(name="needy", summary="", factory="m:f", config=Needs)
    with pytest.raises(StyxError) as error:
        checked_options(spec, {}, label="--loss-option style.")
    assert error.value.message == "missing --loss-option style.strength"
    assert "--strength" not in error.value.hint
    assert checked_options(spec, {"strength": "2"}) == {"strength": 2.0}


def test_the_names_of_styx_0_1_still_work_and_warn():
    from styx.core import specs

    with pytest.warns(DeprecationWarning, match="LossSpec\\(scores=...\\)"):
        old = LossSpec(name="l", summary="s", factory="m:f", target="image")
    assert old.scores == "image" and old == LossSpec(name="l", summary="s", factory="m:f",
                                                      scores="image")
    assert dataclasses.replace(old, plugin="p").scores == "image"  # no second warning
    with pytest.raises(ValueError, match="disagree"), pytest.warns(DeprecationWarning):
        LossSpec(name="l", summary="s", factory="m:f", target="image", scores="features")
    with pytest.warns(DeprecationWarning, match="load_object"):
        assert specs.load_target is load_object
    with pytest.warns(DeprecationWarning, match="ObjectRef"):
        assert specs.Target is specs.ObjectRef
