"""Registry lookup: aliases, loose matching, "did you mean", duplicate names."""

from __future__ import annotations

import dataclasses

import pytest

from styx.core.errors import StyxError
from styx.core.registry import Registry, normalize_name
from styx.core.specs import LossSpec


def loss(name: str, *aliases: str, plugin: str = "p") -> LossSpec:
    return dataclasses.replace(LossSpec(name=name, summary="", factory="m:f", aliases=aliases),
                               plugin=plugin)


@pytest.fixture
def registry() -> Registry[LossSpec]:
    reg: Registry[LossSpec] = Registry("loss")
    reg.add(loss("total_variation", "tv"))
    reg.add(loss("gram", "style"))
    reg.add(loss("content"))
    return reg


@pytest.mark.parametrize("asked, found", [
    ("gram", "gram"), ("GRAM", "gram"), (" style ", "gram"), ("total-variation",
                                                              "total_variation"),
    ("Total_Variation", "total_variation"), ("TV", "total_variation"),
])
def test_get_by_name_or_alias_ignoring_case_and_dashes(registry, asked, found):
    assert registry.get(asked).name == found
    assert asked in registry


def test_unknown_name_suggests_close_ones(registry):
    with pytest.raises(StyxError, match="unknown loss 'gramm'") as error:
        registry.get("gramm")
    assert error.value.hint == "did you mean 'gram'?"
    with pytest.raises(StyxError) as error:
        registry.get("styel")  # close to an alias: the canonical name is suggested
    assert error.value.hint == "did you mean 'gram'?"


def test_unknown_far_name_lists_the_choices(registry):
    with pytest.raises(StyxError) as error:
        registry.get("zzzzzz")
    assert error.value.hint == "choose one of: content, gram, total_variation"


def test_empty_registry_points_at_styx_plugins():
    with pytest.raises(StyxError) as error:
        Registry("method").get("gatys")
    assert "no method is registered" in error.value.hint
    assert "styx plugins" in error.value.hint


def test_duplicate_name_or_alias_is_refused_whole(registry):
    with pytest.raises(StyxError, match="already registered by plugin 'p'") as error:
        registry.add(loss("fresh", "Content", plugin="q"))
    assert "'q'" in str(error.value)
    assert "fresh" not in registry  # nothing half-added
    with pytest.raises(StyxError):
        registry.add(loss("Gram", plugin="q"))
    assert registry.get("gram").plugin == "p"


def test_iteration_is_sorted_and_counts_canonical_names(registry):
    assert [s.name for s in registry] == ["content", "gram", "total_variation"]
    assert registry.names() == ["content", "gram", "total_variation"]
    assert len(registry) == 3
    assert 42 not in registry
    assert "gram" in repr(registry)


def test_an_alias_equal_to_its_own_name_is_harmless():
    reg: Registry[LossSpec] = Registry("loss")
    reg.add(loss("vgg19", "VGG-19", "vgg_19"))
    assert reg.get("vgg_19").name == "vgg19"


def test_normalize_name():
    assert normalize_name(" Texture_Nets ") == "texture-nets"
