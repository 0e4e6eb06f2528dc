"""The plugin manager: hooks, isolation of failures, entry points, STYX_DISABLE_PLUGINS."""

from __future__ import annotations

import inspect
import sys
from importlib import metadata

import pluggy
import pytest

import styx
from styx.core import hookspecs
from styx.core import plugins as plugins_module
from styx.core.errors import StyxError
from styx.core.plugins import HOOKS, Plugins, get_plugins, reset_plugins
from styx.core.specs import DescriptorSpec, ExporterSpec, LossSpec, MethodSpec

BUILT_INS = {"vgg", "resnet", "inception", "losses", "gatys", "texture_nets"}


def _command(x: int = 1) -> None:
    """A stand-in for a method's typer command."""


#: One valid spec per hook, as a plugin would register it.
SAMPLE_SPECS = {
    "register_descriptors": lambda name: DescriptorSpec(
        name=name, summary="a descriptor", factory="somewhere.module:build",
        layers=("a", "b"), layer_aliases={"first": "a"}, default_content_layers=("b",),
        default_style_layers=("first", "b")),
    "register_losses": lambda name: LossSpec(
        name=name, summary="a loss", factory="somewhere.module:Loss"),
    "register_methods": lambda name: MethodSpec(
        name=name, summary="a method", config="somewhere.module:Config", run=_command),
    "register_exporters": lambda name: ExporterSpec(
        name=name, summary="an exporter", export="somewhere.module:export", suffix=".x"),
}


def plugin_for(hook_name: str, *names: str) -> object:
    """A plugin object implementing ``hook_name`` that registers one sample spec per name."""

    def impl(register):
        for name in names:
            register(SAMPLE_SPECS[hook_name](name))

    impl.__name__ = hook_name
    return type("Plugin", (), {hook_name: staticmethod(styx.hookimpl(impl))})()


# -- every hook ------------------------------------------------------------------------------
def hookspec_names() -> set[str]:
    return {name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(fn, "styx_spec")}


def test_every_hookspec_is_dispatched_by_the_manager():
    assert hookspec_names() == set(HOOKS)


@pytest.mark.parametrize("hook_name", sorted(HOOKS))
def test_each_hook_registers_its_spec_kind(hook_name):
    attribute, spec_class = HOOKS[hook_name]
    plugins = Plugins()
    info = plugins.add_plugin(plugin_for(hook_name, "thing-one", "thing-two"), name="p",
                              distribution="p-dist", version="2.0")
    assert plugins.failures == []
    registry = getattr(plugins, attribute)
    assert registry.names() == ["thing-one", "thing-two"]
    spec = registry.get("THING_ONE")
    assert isinstance(spec, spec_class)
    assert spec.plugin == "p"
    assert info.registered == {attribute: ["thing-one", "thing-two"]}
    assert (info.distribution, info.version) == ("p-dist", "2.0")
    # the other registries stay empty
    for other, _ in HOOKS.values():
        if other != attribute:
            assert len(getattr(plugins, other)) == 0


@pytest.mark.parametrize("hook_name", sorted(HOOKS))
def test_each_hook_rejects_the_wrong_spec_kind(hook_name):
    attribute, spec_class = HOOKS[hook_name]
    wrong_hook = next(h for h in HOOKS if h != hook_name)
    wrong = SAMPLE_SPECS[wrong_hook]("wrong")
    right = SAMPLE_SPECS[hook_name]("right")

    def impl(register):
        register(wrong)
        register(right)

    plugin = type("Plugin", (), {hook_name: staticmethod(styx.hookimpl(impl))})()
    plugins = Plugins()
    plugins.add_plugin(plugin, name="mixed")
    [failure] = plugins.failures
    assert failure.stage == hook_name
    assert f"expected {spec_class.__name__}" in failure.error
    assert getattr(plugins, attribute).names() == ["right"]  # the valid one still counts
    assert "wrong" not in getattr(plugins, HOOKS[wrong_hook][0])


# -- isolation -------------------------------------------------------------------------------
def test_a_hook_that_raises_registers_nothing_and_spares_the_rest():
    class Broken:
        @styx.hookimpl
        def register_losses(self, register):
            register(SAMPLE_SPECS["register_losses"]("half-done"))
            raise RuntimeError("boom\nsecond line")

        @styx.hookimpl
        def register_methods(self, register):
            register(SAMPLE_SPECS["register_methods"]("still-here"))

    plugins = Plugins()
    plugins.add_plugin(Broken(), name="broken")
    plugins.add_plugin(plugin_for("register_losses", "fine"), name="good")
    [failure] = plugins.failures
    assert (failure.name, failure.stage) == ("broken", "register_losses")
    assert failure.error == "RuntimeError: boom second line"  # one line
    assert "Traceback" in failure.traceback and "boom" in failure.traceback
    assert plugins.losses.names() == ["fine"]  # nothing of the failed hook
    assert plugins.methods.names() == ["still-here"]  # its other hook ran


def test_a_hook_calling_sys_exit_is_contained():
    class Exits:
        @styx.hookimpl
        def register_losses(self, register):
            sys.exit(3)

    plugins = Plugins()
    plugins.add_plugin(Exits(), name="exits")
    assert [f.stage for f in plugins.failures] == ["register_losses"]


def test_duplicate_names_across_plugins_keep_the_first():
    plugins = Plugins()
    plugins.add_plugin(plugin_for("register_methods", "same"), name="first")
    plugins.add_plugin(plugin_for("register_methods", "same", "other"), name="second")
    assert plugins.methods.get("same").plugin == "first"
    assert plugins.methods.get("second:same").plugin == "second"
    assert plugins.methods.get("other").plugin == "second"
    assert plugins.failures == []
    [refused] = plugins.refused
    assert (refused.name, refused.plugin, refused.holder) == ("same", "second", "first")
    assert [i.registered for i in plugins.info] == [{"methods": ["same"]},
                                                    {"methods": ["second:same", "other"]}]
    assert "'first'" in plugins.info[1].warnings[0]


def test_an_alias_clashing_with_another_plugins_name_is_refused():
    class Aliased:
        @styx.hookimpl
        def register_losses(self, register):
            register(LossSpec(name="new", summary="", factory="m:f", aliases=("Old",)))

    plugins = Plugins()
    plugins.add_plugin(plugin_for("register_losses", "old"), name="a")
    plugins.add_plugin(Aliased(), name="b")
    assert plugins.losses.names() == ["new", "old"]
    assert plugins.losses.get("old").plugin == "a"
    assert plugins.losses.get("b:old").name == "new"
    assert plugins.failures == [] and len(plugins.refused) == 1


def test_an_implementation_may_take_fewer_arguments_than_the_spec():
    calls = []

    class NoArgs:
        @styx.hookimpl
        def register_losses(self):
            calls.append("called")

    plugins = Plugins()
    info = plugins.add_plugin(NoArgs(), name="noargs")
    assert calls == ["called"]
    assert plugins.failures == [] and info.registered == {}


def test_an_implementation_with_an_unknown_argument_is_refused():
    class TooMany:
        @styx.hookimpl
        def register_losses(self, register, config):
            register(SAMPLE_SPECS["register_losses"]("x"))

    plugins = Plugins()
    assert plugins.add_plugin(TooMany(), name="toomany") is None
    [failure] = plugins.failures
    assert failure.stage == "register" and "config" in failure.error
    assert len(plugins.losses) == 0 and plugins.info == []


def test_a_misspelt_hook_is_reported_with_a_suggestion():
    class Typo:
        @styx.hookimpl
        def register_descriptor(self, register):
            pass

        @styx.hookimpl
        def register_losses(self, register):
            register(SAMPLE_SPECS["register_losses"]("ok"))

    plugins = Plugins()
    plugins.add_plugin(Typo(), name="typo")
    [failure] = plugins.failures
    assert failure.stage == "register"
    assert "'register_descriptor'" in failure.error and "'register_descriptors'" in failure.error
    assert plugins.losses.names() == ["ok"]


def test_an_optional_unknown_hook_is_not_an_error():
    class Future:
        @styx.hookimpl(optionalhook=True)
        def register_samplers(self, register):
            pass

    plugins = Plugins()
    plugins.add_plugin(Future(), name="future")
    assert plugins.failures == []


@pytest.mark.parametrize("spec, message", [
    (LossSpec(name="", summary="", factory="m:f"), "non-empty name"),
    (LossSpec(name="two words", summary="", factory="m:f"), "whitespace"),
    (LossSpec(name="a", summary="", factory="m:f", aliases="b"), "tuple of strings"),
    (LossSpec(name="a", summary="", factory="no_colon"), "package.module:attribute"),
    (LossSpec(name="a", summary="", factory=""), "factory is missing"),
    (LossSpec(name="a", summary="", factory="m:f", scores="pixels"), "scores must be"),
    (DescriptorSpec(name="d", summary="", factory="m:f", layers=("a",),
                    default_style_layers=("zz",)), "default layer 'zz'"),
    (DescriptorSpec(name="d", summary="", factory="m:f", layers=("a",),
                    layer_aliases={"x": "zz"}), "unknown layer 'zz'"),
    (MethodSpec(name="m", summary="", config="m:C", run=42), "import path or a callable"),
    (MethodSpec(name="m", summary="", run="m:run"), "give both run and config"),
    (MethodSpec(name="m", summary=""), "neither run nor train"),
    (MethodSpec(name="m", summary="", train="m:t", train_config="m:C"), "generator class"),
    (ExporterSpec(name="e", summary="", export="m:e", suffix="onnx"), "suffix must be"),
])
def test_malformed_specs_are_failures_not_registrations(spec, message):
    hook_name = next(h for h, (_, cls) in HOOKS.items() if isinstance(spec, cls))

    def impl(register):
        register(spec)

    plugin = type("Plugin", (), {hook_name: staticmethod(styx.hookimpl(impl))})()
    plugins = Plugins()
    plugins.add_plugin(plugin, name="bad")
    [failure] = plugins.failures
    assert message in failure.error
    assert len(getattr(plugins, HOOKS[hook_name][0])) == 0


def test_registered_specs_are_copies_tagged_with_their_plugin():
    spec = SAMPLE_SPECS["register_losses"]("shared")

    class Plugin:
        @styx.hookimpl
        def register_losses(self, register):
            register(spec)

    plugins = Plugins()
    plugins.add_plugin(Plugin(), name="tagger")
    assert plugins.losses.get("shared").plugin == "tagger"
    assert spec.plugin == ""  # the plugin's own object is left alone


# -- entry points ----------------------------------------------------------------------------
def test_built_ins_are_entry_points_of_the_installed_distribution():
    found = {ep.name: ep for ep in metadata.entry_points(group="styx")}
    assert BUILT_INS <= set(found)
    for name in BUILT_INS:
        assert found[name].dist.name == "styx-nst"
        assert found[name].value.startswith("styx.plugins.")


def test_entry_points_are_loaded_with_their_distribution(make_dist, monkeypatch):
    group = "styx_test_load"
    make_dist("good-dist", {"good": "good_plugin"}, {"good_plugin": """
        import styx
        from styx.core.specs import LossSpec

        @styx.hookimpl
        def register_losses(register):
            register(LossSpec(name="good-loss", summary="s", factory="good_plugin:f"))
    """}, version="3.1.4", group=group)
    plugins = Plugins()
    plugins.load_entry_points(group)
    [info] = plugins.info
    assert (info.name, info.module, info.distribution, info.version) == \
        ("good", "good_plugin", "good-dist", "3.1.4")
    assert plugins.losses.get("good-loss").plugin == "good"
    assert plugins.failures == []


def test_a_plugin_that_fails_to_import_spares_the_others(make_dist):
    group = "styx_test_import"
    make_dist("mixed-dist", {"broken": "broken_plugin", "missing": "no_such_module_xyz",
                             "fine": "fine_plugin"}, {
        "broken_plugin": "raise ImportError('needs libfoo')\n",
        "fine_plugin": """
            import styx
            from styx.core.specs import MethodSpec

            @styx.hookimpl
            def register_methods(register):
                register(MethodSpec(name="fine", summary="s", config="fine_plugin:C",
                                    run="fine_plugin:run"))
        """}, group=group)
    plugins = Plugins()
    plugins.load_entry_points(group)
    failures = {f.name: f for f in plugins.failures}
    assert set(failures) == {"broken", "missing"}
    assert failures["broken"].stage == "import"
    assert failures["broken"].error == "ImportError: needs libfoo"
    assert failures["broken"].distribution == "mixed-dist"
    assert "ModuleNotFoundError" in failures["missing"].error
    assert plugins.methods.names() == ["fine"]


def test_disabled_plugins_are_never_imported(make_dist, monkeypatch):
    group = "styx_test_disable"
    make_dist("dis-dist", {"noisy-one": "noisy_one_plugin", "noisy_two": "noisy_two_plugin",
                           "kept": "kept_plugin"}, {
        "noisy_one_plugin": "raise RuntimeError('imported although disabled')\n",
        "noisy_two_plugin": "raise RuntimeError('imported although disabled')\n",
        "kept_plugin": "",
    }, group=group)
    # names match like registry names: case and '-'/'_' do not matter
    monkeypatch.setenv("STYX_DISABLE_PLUGINS", " Noisy_One, noisy-two ,")
    plugins = Plugins()
    plugins.load_entry_points(group)
    assert sorted(plugins.disabled) == ["noisy-one", "noisy_two"]
    assert "noisy_one_plugin" not in sys.modules
    assert "noisy_two_plugin" not in sys.modules
    assert "kept_plugin" in sys.modules
    assert plugins.failures == []
    assert [i.name for i in plugins.info] == ["kept"]
    # pluggy blocks the name too, so it cannot sneak in later
    assert plugins.add_plugin(plugin_for("register_losses", "x"), name="noisy-one") is None
    assert len(plugins.losses) == 0
    # a name a disabled plugin might have given says so
    with pytest.raises(StyxError, match="unknown method") as caught:
        plugins.methods.get("noisy-method")
    assert "noisy-one, noisy_two disabled by STYX_DISABLE_PLUGINS" in caught.value.hint


def test_styx_plugins_loads_modules_no_distribution_declares(make_dist, monkeypatch):
    """STYX_PLUGINS=NAME=module,module: loaded after the entry points, in isolation; a
    module an entry point loads is not loaded twice; STYX_DISABLE_PLUGINS skips them too."""
    group = "styx_test_extra"
    loss = """
        import styx
        from styx.core.specs import LossSpec

        @styx.hookimpl
        def register_losses(register):
            register(LossSpec(name="{name}", summary="s", factory="m:f"))
    """
    make_dist("extra-dist", {"declared": "declared_plugin"}, {
        "declared_plugin": loss.format(name="declared-loss"),
        "loose_plugin": loss.format(name="loose-loss"),
        "pkg.named_plugin": loss.format(name="named-loss"),
        "muted_plugin": "raise RuntimeError('imported although disabled')\n",
        "broken_plugin": "raise ImportError('needs libfoo')\n"}, group=group)
    monkeypatch.setenv("STYX_PLUGINS", "declared_plugin, loose_plugin,mine=pkg.named_plugin,"
                                       "muted=muted_plugin,broken_plugin")
    monkeypatch.setenv("STYX_DISABLE_PLUGINS", "muted")
    plugins = Plugins()
    plugins.load_entry_points(group)
    assert [(i.name, i.module, i.distribution) for i in plugins.info] == [
        ("declared", "declared_plugin", "extra-dist"),
        ("loose_plugin", "loose_plugin", "STYX_PLUGINS"),
        ("mine", "pkg.named_plugin", "STYX_PLUGINS")]
    assert plugins.losses.names() == ["declared-loss", "loose-loss", "named-loss"]
    assert plugins.disabled == ["muted"] and "muted_plugin" not in sys.modules
    [failure] = plugins.failures
    assert (failure.name, failure.distribution, failure.stage, failure.error) == \
        ("broken_plugin", "STYX_PLUGINS", "import", "ImportError: needs libfoo")


def test_the_same_entry_point_name_from_two_distributions(make_dist):
    group = "styx_test_dupe"
    source = """
        import styx
        from styx.core.specs import LossSpec

        @styx.hookimpl
        def register_losses(register):
            register(LossSpec(name=__name__, summary="s", factory="m:f"))
    """
    make_dist("dist-a", {"clash": "clash_a"}, {"clash_a": source}, group=group)
    make_dist("dist-b", {"clash": "clash_b"}, {"clash_b": source}, group=group)
    plugins = Plugins()
    plugins.load_entry_points(group)
    assert len(plugins.info) == 1
    [failure] = plugins.failures
    assert failure.stage == "load" and "already used by distribution" in failure.error
    assert {failure.distribution, plugins.info[0].distribution} == {"dist-a", "dist-b"}


def test_a_plugin_importing_a_heavy_module_gets_a_warning(make_dist, monkeypatch):
    group = "styx_test_heavy"
    make_dist("heavy-dist", {"heavy": "heavy_plugin", "light": "light_plugin"}, {
        "fake_heavy_lib": "",
        "heavy_plugin": "import fake_heavy_lib\n",
        "light_plugin": "",
    }, group=group)
    monkeypatch.setattr(plugins_module, "HEAVY_MODULES", ("fake_heavy_lib",))
    plugins = Plugins()
    plugins.load_entry_points(group)
    warnings = {i.name: i.warnings for i in plugins.info}
    assert warnings["light"] == []
    assert warnings["heavy"] == [
        "imports fake_heavy_lib at import time, which slows every styx command"]


def test_entry_points_can_be_faked_without_files(monkeypatch):
    module = type(sys)("faked_plugin_module")
    module.register_losses = styx.hookimpl(
        lambda register: register(LossSpec(name="faked", summary="", factory="m:f")))
    module.register_losses.__name__ = "register_losses"
    monkeypatch.setitem(sys.modules, "faked_plugin_module", module)
    fake = [metadata.EntryPoint("faked", "faked_plugin_module", "styx")]
    monkeypatch.setattr(plugins_module.metadata, "entry_points",
                        lambda group: fake if group == "styx" else [])
    plugins = Plugins()
    plugins.load_entry_points()
    assert plugins.losses.names() == ["faked"]
    assert plugins.info[0].distribution == "?"  # no distribution behind it


# -- the process-wide plugins -----------------------------------------------------------------
def test_get_plugins_loads_once_and_reset_forgets(monkeypatch):
    calls = []
    monkeypatch.setattr(Plugins, "load_entry_points", lambda self: calls.append(self))
    reset_plugins()
    try:
        first = get_plugins()
        assert get_plugins() is first and len(calls) == 1
        reset_plugins()
        assert get_plugins() is not first and len(calls) == 2
        mine = Plugins()
        reset_plugins(mine)
        assert get_plugins() is mine and len(calls) == 2
    finally:
        reset_plugins()


def test_registry_by_kind_and_lookup_mentions_failed_plugins():
    plugins = Plugins()
    plugins.add_plugin(plugin_for("register_descriptors", "tiny"), name="ok")

    class Broken:
        @styx.hookimpl
        def register_methods(self, register):
            raise RuntimeError("nope")

    plugins.add_plugin(Broken(), name="broken-plugin")
    assert plugins.registry("descriptor") is plugins.descriptors
    assert plugins.registry("Descriptors") is plugins.descriptors
    with pytest.raises(StyxError, match="unknown kind") as error:
        plugins.registry("descriptr")
    assert "did you mean 'descriptors'" in error.value.hint
    assert plugins.get("descriptors", "TINY").name == "tiny"
    with pytest.raises(StyxError) as error:
        plugins.get("methods", "gatys")
    assert "broken-plugin failed to load" in error.value.hint
    # Direct registry lookups (how build_descriptor and build_loss look names up) say so too.
    with pytest.raises(StyxError) as error:
        plugins.descriptors.get("vgg19")
    assert "broken-plugin failed to load" in error.value.hint
    assert error.value.hint.count("see 'styx plugins'") == 1


def test_pluggy_marker_is_the_styx_project():
    assert isinstance(styx.hookimpl, pluggy.HookimplMarker)
    assert styx.hookimpl.project_name == "styx"
