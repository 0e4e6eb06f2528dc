"""The plugin manager: loads the ``styx`` entry points one by one and isolates failures.

Every built-in is an entry point of the styx-nst distribution itself, so built-ins and
third-party plugins take exactly the same path. A plugin that fails to import, or raises in
a hook, or registers something malformed, is recorded in :attr:`Plugins.failures` and
skipped; the rest keep working. ``STYX_DISABLE_PLUGINS=a,b`` skips entry points by name
before they are imported; ``STYX_PLUGINS=NAME=module,...`` loads plugin modules that no
installed distribution declares (a plugin being written, a test's), after the entry points.

Plugins are loaded on first use (:func:`get_plugins`), not when :mod:`styx` is imported, so
commands that need no plugin never pay for them.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from styx.core import hookspecs
from styx.core.deprecation import warn_renamed
from styx.core.errors import StyxError
from styx.core.registry import QUALIFIER, RefusedName, Registry, normalize_name
from styx.core.specs import DescriptorSpec, ExporterSpec, LossSpec, MethodSpec, Spec
from styx.core.suggest import close_matches, did_you_mean, suggestion

ENTRY_POINT_GROUP = "styx"

#: hook name -> (registry attribute, spec class it accepts)
HOOKS: dict[str, tuple[str, type[Spec]]] = {
    "register_descriptors": ("descriptors", DescriptorSpec),
    "register_losses": ("losses", LossSpec),
    "register_methods": ("methods", MethodSpec),
    "register_exporters": ("exporters", ExporterSpec),
}

#: The registry attributes, in the order commands list them.
KINDS: tuple[str, ...] = tuple(attribute for attribute, _ in HOOKS.values())

#: Modules a plugin must not import at import time (they make every ``styx`` command slow).
HEAVY_MODULES: tuple[str, ...] = ("torch",)

#: The distribution whose entry points are the built-ins: their names cannot be taken.
BUILTIN_DISTRIBUTION = "styx-nst"


@dataclass
class PluginInfo:
    """One loaded plugin: its entry point and what it registered."""

    name: str
    module: str
    distribution: str
    version: str
    registered: dict[str, list[str]] = field(default_factory=dict)
    #: Problems that did not stop the plugin, e.g. importing torch at import time.
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "module": self.module, "distribution": self.distribution,
                "version": self.version, "registered": self.registered,
                "warnings": list(self.warnings)}


@dataclass
class PluginFailure:
    """A plugin that could not be loaded, or whose hook raised or registered a bad spec."""

    name: str
    distribution: str
    stage: str  # "load", "import", "register" or the hook's name
    error: str
    traceback: str

    def as_dict(self, *, with_traceback: bool = False) -> dict[str, Any]:
        out = {"name": self.name, "distribution": self.distribution, "stage": self.stage,
               "error": self.error}
        if with_traceback:
            out["traceback"] = self.traceback
        return out


def disabled_plugins() -> set[str]:
    """The entry-point names in ``STYX_DISABLE_PLUGINS`` (comma separated), normalised."""
    raw = os.environ.get("STYX_DISABLE_PLUGINS", "")
    return {normalize_name(name) for name in raw.split(",") if name.strip()}


def extra_plugins() -> dict[str, str]:
    """``STYX_PLUGINS`` as {plugin name: module}: comma-separated ``NAME=module`` items (a
    bare ``module`` is named by its last dotted part)."""
    raw = os.environ.get("STYX_PLUGINS", "")
    items = [item.strip() for item in raw.split(",") if item.strip()]
    return {(name.strip() if sep else module.rpartition(".")[2]): module.strip()
            for name, sep, module in (item.rpartition("=") for item in items)}


def debug_enabled() -> bool:
    """Whether ``STYX_DEBUG`` asks for tracebacks."""
    return os.environ.get("STYX_DEBUG", "") not in ("", "0")


class Plugins:
    """Loaded plugins and the four registries they filled."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager("styx")
        self.manager.add_hookspecs(hookspecs)
        def disabled() -> list[str]:
            return self.disabled

        self.descriptors: Registry[DescriptorSpec] = Registry("descriptor", self._failed,
                                                              disabled)
        self.losses: Registry[LossSpec] = Registry("loss", self._failed, disabled)
        self.methods: Registry[MethodSpec] = Registry("method", self._failed, disabled)
        self.exporters: Registry[ExporterSpec] = Registry("exporter", self._failed, disabled)
        self.info: list[PluginInfo] = []
        self.failures: list[PluginFailure] = []
        self.disabled: list[str] = []

    # -- loading ---------------------------------------------------------------------------
    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Import every entry point of ``group`` (built-ins first), then every module
        ``STYX_PLUGINS`` names that no entry point does, and run their hooks, each plugin
        in isolation."""
        def builtin_first(ep: metadata.EntryPoint) -> tuple[bool, str]:
            return (not _is_builtin(ep.dist.name if ep.dist else ""), ep.name)

        found = sorted(metadata.entry_points(group=group), key=builtin_first)
        plugins = [(ep.name, ep.dist.name if ep.dist else "?",
                    ep.dist.version if ep.dist else "?", ep.load) for ep in found]
        declared = {ep.value for ep in found}
        plugins += [(name, "STYX_PLUGINS", "", functools.partial(importlib.import_module, module))
                    for name, module in extra_plugins().items() if module not in declared]
        skip = disabled_plugins()
        owners: dict[str, str] = {}  # plugin name -> distribution that claimed it
        for name, dist, version, load in plugins:
            if name in owners:
                if owners[name] != dist:
                    self._fail(name, dist, "load", ValueError(
                        f"entry point name {name!r} is already used by distribution "
                        f"{owners[name]!r}"))
                continue  # the same distribution found twice on sys.path: load it once
            owners[name] = dist
            if normalize_name(name) in skip:
                self.disabled.append(name)
                self.manager.set_blocked(name)
                continue
            heavy_before = {m for m in HEAVY_MODULES if m in sys.modules}
            try:
                module = load()
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - must not break styx
                self._fail(name, dist, "import", exc)
                continue
            info = self.add_plugin(module, name=name, distribution=dist, version=version)
            if info is not None:
                for heavy in HEAVY_MODULES:
                    if heavy not in heavy_before and heavy in sys.modules:
                        info.warnings.append(
                            f"imports {heavy} at import time, which slows every styx command")

    def add_plugin(self, plugin: ModuleType | object, *, name: str,
                   distribution: str = "", version: str = "",
                   builtin: bool | None = None) -> PluginInfo | None:
        """Register one plugin object and run its hooks, each in isolation.

        Returns what the plugin registered, or ``None`` when the plugin is disabled or pluggy
        refused it (a hook implementation with an argument no hook spec names, a plugin name
        already taken). ``builtin`` (default: whether ``distribution`` is styx-nst): its
        names cannot be taken by other plugins (see :mod:`styx.core.registry`).
        """
        if builtin is None:
            builtin = _is_builtin(distribution)
        if QUALIFIER in name:
            self._fail(name, distribution, "register", ValueError(
                f"plugin name {name!r} contains {QUALIFIER!r}, which qualified names use"))
            return None
        try:
            registered = self.manager.register(plugin, name=name)
        except Exception as exc:  # noqa: BLE001
            self._fail(name, distribution, "register", exc)
            return None
        if registered is None:  # blocked: disabled by STYX_DISABLE_PLUGINS
            if name not in self.disabled:
                self.disabled.append(name)
            return None
        info = PluginInfo(name, getattr(plugin, "__name__", type(plugin).__name__),
                          distribution, version)
        self._check_unknown_hooks(plugin, name, distribution)
        for hook_name, (attribute, spec_class) in HOOKS.items():
            impls = [i for i in getattr(self.manager.hook, hook_name).get_hookimpls()
                     if i.plugin is plugin]
            for impl in impls:
                specs: list[Any] = []
                try:
                    impl.function(**self._hook_kwargs(impl, specs.append))
                except (Exception, SystemExit) as exc:  # noqa: BLE001
                    # A hook that raises registers nothing, not half of its specs.
                    self._fail(name, distribution, hook_name, exc)
                    continue
                registry: Registry = getattr(self, attribute)
                for spec in specs:
                    try:
                        self._check_spec(spec, spec_class, hook_name)
                        refusals = len(registry.refused)
                        spec = registry.add(dataclasses.replace(spec, plugin=name),
                                            builtin=builtin)
                    except (StyxError, TypeError, ValueError) as exc:
                        self._fail(name, distribution, hook_name, exc)
                        continue
                    info.registered.setdefault(attribute, []).append(spec.name)
                    for refusal in registry.refused[refusals:]:
                        self._warn_refused(refusal, info)
        self.info.append(info)
        return info

    def _warn_refused(self, refusal: RefusedName, taker: PluginInfo) -> None:
        """Say in the refused plugin's entry of ``styx plugins`` that it lost a name."""
        owner = taker if refusal.plugin == taker.name else \
            next((i for i in self.info if i.name == refusal.plugin), None)
        if owner is None:
            return
        owner.warnings.append(refusal.message())
        if refusal.plugin != taker.name:  # a built-in took the name back: list it so
            kind = next(a for a in KINDS if getattr(self, a).kind == refusal.kind)
            registered = owner.registered.get(kind, [])
            owner.registered[kind] = [refusal.qualified if n == refusal.name else n
                                      for n in registered]

    @property
    def refused(self) -> list[RefusedName]:
        """Every name refused to a plugin because another (a built-in first) holds it."""
        return [r for attribute in KINDS for r in getattr(self, attribute).refused]

    @staticmethod
    def _hook_kwargs(impl: Any, register: Callable[[Spec], None]) -> dict[str, Any]:
        # pluggy lets an implementation take fewer arguments than the spec names.
        available = {"register": register}
        return {arg: available[arg] for arg in impl.argnames if arg in available}

    def _check_unknown_hooks(self, plugin: object, name: str, distribution: str) -> None:
        """A ``@hookimpl`` whose name no hook spec has (a typo) is reported, not ignored."""
        for caller in self.manager.get_hookcallers(plugin) or []:
            if caller.spec is not None:
                continue
            if all(impl.optionalhook for impl in caller.get_hookimpls()
                   if impl.plugin is plugin):
                continue
            hint = did_you_mean(caller.name, HOOKS, n=1)
            hint = f"; {hint}" if hint else ""
            self._fail(name, distribution, "register",
                       ValueError(f"unknown hook {caller.name!r}{hint}"))

    @staticmethod
    def _check_spec(spec: Any, spec_class: type[Spec], hook_name: str) -> None:
        if not isinstance(spec, spec_class):
            raise TypeError(f"{hook_name} registered {type(spec).__name__}, "
                            f"expected {spec_class.__name__}")
        spec.validate()

    def _fail(self, name: str, distribution: str, stage: str, exc: BaseException) -> None:
        self.failures.append(PluginFailure(
            name, distribution, stage, _one_line(f"{type(exc).__name__}: {exc}"),
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))))

    # -- lookup ----------------------------------------------------------------------------
    def registry(self, kind: str) -> Registry:
        """The registry for ``kind``: descriptors, losses, methods or exporters.

        The singular (``descriptor``) is accepted too; anything else is a StyxError with a
        suggestion.
        """
        return getattr(self, self.kind_of(kind))

    def kind_of(self, kind: str, *, extra: Mapping[str, str] | None = None) -> str:
        """The canonical kind (``descriptors``, ...) for ``kind``, singular or plural, or one
        of the ``extra`` names (name -> what it means); else a StyxError with "did you
        mean"."""
        choices = {attribute: attribute for attribute in KINDS}
        choices.update({getattr(self, attribute).kind: attribute for attribute in KINDS})
        choices.update(extra or {})
        key = normalize_name(kind)
        if key in choices:
            return choices[key]
        close = close_matches(key, list(choices), n=1, cutoff=0.5)
        hint = suggestion([choices[c] for c in close]) or \
            "choose " + ", ".join(dict.fromkeys(choices.values()))
        raise StyxError(f"unknown kind {kind!r}", hint)

    def get(self, kind: str, name: str) -> Spec:
        """The spec ``name`` of ``kind``; the error also mentions plugins that failed to load."""
        return self.registry(kind).get(name)

    def _failed(self) -> list[str]:
        return [failure.name for failure in self.failures]


def _is_builtin(distribution: str) -> bool:
    return normalize_name(distribution) == BUILTIN_DISTRIBUTION


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


_current: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugins, loaded from entry points on first use."""
    global _current
    if _current is None:
        plugins = Plugins()
        plugins.load_entry_points()
        _current = plugins
    return _current


def reset_plugins(plugins: Plugins | None = None) -> None:
    """Forget the loaded plugins (tests use this after changing the environment).

    With ``plugins``, make them the process-wide ones instead (tests that fake plugins).
    """
    global _current
    _current = plugins


def descriptors() -> Registry[DescriptorSpec]:
    return get_plugins().descriptors


def losses() -> Registry[LossSpec]:
    return get_plugins().losses


def methods() -> Registry[MethodSpec]:
    return get_plugins().methods


def exporters() -> Registry[ExporterSpec]:
    return get_plugins().exporters


def loss_spec(name: str, *, scores: str | None = None, target: str | None = None) -> LossSpec:
    """The spec of the registered loss ``name``; a StyxError unless it scores ``scores``
    ("features" or "image"; ``target``, its name in styx 0.1, still works). Imports
    nothing heavy."""
    if target is not None:
        warn_renamed("target=", "scores= (what a loss scores)", stacklevel=3)
        scores = scores or target
    spec = losses().get(name)
    if scores is not None and spec.scores != scores:
        raise StyxError(f"loss {spec.name!r} works on {spec.scores}, not on {scores}",
                        f"choose a loss that scores {scores}: see 'styx list losses'")
    return spec
