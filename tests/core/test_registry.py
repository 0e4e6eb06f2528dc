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


def test_a_taken_alias_is_refused_and_the_rest_registered(registry):
    added = registry.add(loss("fresh", "Content", plugin="q"))
    assert added.name == "fresh" and registry.get("fresh").plugin == "q"
    assert registry.get("content").plugin == "p"  # the holder keeps it
    assert registry.get("q:content").name == "fresh"  # the refused alias, qualified
    [refused] = registry.refused
    assert (refused.name, refused.plugin, refused.holder) == ("Content", "q", "p")
    assert "'p'" in refused.message() and "'q:Content'" in refused.message()


def test_a_taken_name_leaves_the_spec_its_qualified_name_and_free_aliases(registry):
    added = registry.add(loss("Gram", "gramish", plugin="q"))
    assert added.name == "q:Gram" and added.aliases == ("gramish",)
    assert registry.get("gram").plugin == "p"
    assert registry.get("q:gram") is added and registry.get("Q:GRAMISH") is added
    assert registry.get("p:gram").plugin == "p"
    assert registry.get("gramish") is added  # its free alias still works
    assert registry.get(added.name) is added  # spec.name finds the spec again
    assert "q:Gram" in registry.names()


def test_a_builtin_takes_its_names_back_whatever_the_order():
    reg: Registry[LossSpec] = Registry("loss")
    early = reg.add(loss("gram", "mine", plugin="extra"))
    assert early.name == "gram"
    reg.add(loss("gram", "style", plugin="losses"), builtin=True)
    assert reg.get("gram").plugin == "losses"
    assert reg.get("extra:gram").plugin == "extra"
    assert reg.get("extra:gram").name == "extra:gram"
    assert reg.get("mine").name == "extra:gram"  # its free alias follows it
    [refused] = reg.refused
    assert refused.holder == "losses" and refused.holder_builtin
    # and a later plugin cannot take it either
    assert reg.add(loss("style", plugin="late")).name == "late:style"


def test_one_plugin_registering_a_name_twice_is_an_error(registry):
    with pytest.raises(StyxError, match="registered twice by plugin 'p'"):
        registry.add(loss("gram"))


def test_qualified_lookups_explain_what_is_missing(registry):
    with pytest.raises(StyxError, match="no plugin 'nope'") as error:
        registry.get("nope:gram")
    assert "p" in error.value.hint
    with pytest.raises(StyxError) as error:
        registry.get("p:gramm")
    assert "content, gram, total_variation" in error.value.hint


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


def test_a_far_name_suggests_nothing_misleading():
    reg: Registry[LossSpec] = Registry("descriptor")
    for name in ("vgg16", "vgg19", "resnet50", "inception_v3"):
        reg.add(loss(name))
    with pytest.raises(StyxError) as error:
        reg.get("squeezenet")
    assert "did you mean" not in error.value.hint and "resnet50" in error.value.hint
    with pytest.raises(StyxError) as error:
        reg.get("resnet5")
    assert error.value.hint == "did you mean 'resnet50'?"
