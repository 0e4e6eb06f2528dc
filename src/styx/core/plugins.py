"""The plugin manager: loads the ``styx`` entry points one by one and isolates failures.

Every built-in is an entry point of the styx-nst distribution itself, so built-ins and
third-party plugins take exactly the same path. A plugin that fails to import, or raises in
a hook, is recorded in :attr:`Plugins.failures` and skipped; the rest keep working.
``STYX_DISABLE_PLUGINS=a,b`` skips entry points by name before they are imported.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from types import ModuleType
from typing import Any, Callable

import pluggy

from styx.core import hookspecs
from styx.core.errors import StyxError
from styx.core.registry import Registry
from styx.core.specs import DescriptorSpec, ExporterSpec, LossSpec, MethodSpec, Spec

ENTRY_POINT_GROUP = "styx"

#: hook name -> (registry attribute, spec class it accepts)
HOOKS: dict[str, tuple[str, type[Spec]]] = {
    "register_descriptors": ("descriptors", DescriptorSpec),
    "register_losses": ("losses", LossSpec),
    "register_methods": ("methods", MethodSpec),
    "register_exporters": ("exporters", ExporterSpec),
}


@dataclass
class PluginInfo:
    """One loaded plugin: its entry point and what it registered."""

    name: str
    module: str
    distribution: str
    version: str
    registered: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "module": self.module, "distribution": self.distribution,
                "version": self.version, "registered": self.registered}


@dataclass
class PluginFailure:
    """A plugin that could not be loaded, or whose hook raised."""

    name: str
    distribution: str
    stage: str  # "import" or the hook's name
    error: str
    traceback: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "distribution": self.distribution, "stage": self.stage,
                "error": self.error}


def disabled_plugins() -> set[str]:
    raw = os.environ.get("STYX_DISABLE_PLUGINS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


class Plugins:
    """Loaded plugins and the four registries they filled."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager("styx")
        self.manager.add_hookspecs(hookspecs)
        self.descriptors: Registry[DescriptorSpec] = Registry("descriptor")
        self.losses: Registry[LossSpec] = Registry("loss")
        self.methods: Registry[MethodSpec] = Registry("method")
        self.exporters: Registry[ExporterSpec] = Registry("exporter")
        self.info: list[PluginInfo] = []
        self.failures: list[PluginFailure] = []
        self.disabled: list[str] = []

    # -- loading ---------------------------------------------------------------------------
    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        skip = disabled_plugins()
        seen: set[str] = set()
        for ep in sorted(metadata.entry_points(group=group), key=lambda e: e.name):
            if ep.name in seen:  # the same distribution found twice on sys.path
                continue
            seen.add(ep.name)
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            if ep.name in skip:
                self.disabled.append(ep.name)
                continue
            try:
                module = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break styx
                self._fail(ep.name, dist, "import", exc)
                continue
            self.add_plugin(module, name=ep.name, distribution=dist, version=version)

    def add_plugin(self, plugin: ModuleType | object, *, name: str,
                   distribution: str = "", version: str = "") -> PluginInfo | None:
        """Register one plugin object and run its hooks, each in isolation."""
        try:
            self.manager.register(plugin, name=name)
        except Exception as exc:  # noqa: BLE001
            self._fail(name, distribution, "register", exc)
            return None
        info = PluginInfo(name, getattr(plugin, "__name__", type(plugin).__name__),
                          distribution, version)
        for hook_name, (attribute, spec_class) in HOOKS.items():
            impls = [i for i in getattr(self.manager.hook, hook_name).get_hookimpls()
                     if i.plugin is plugin]
            for impl in impls:
                specs: list[Spec] = []
                try:
                    impl.function(**self._hook_kwargs(impl, specs.append))
                    for spec in specs:
                        self._check_spec(spec, spec_class, hook_name)
                except Exception as exc:  # noqa: BLE001
                    self._fail(name, distribution, hook_name, exc)
                    continue
                registry: Registry = getattr(self, attribute)
                for spec in specs:
                    spec = _with_plugin(spec, name)
                    try:
                        registry.add(spec)
                    except StyxError as exc:
                        self._fail(name, distribution, hook_name, exc)
                        continue
                    info.registered.setdefault(attribute, []).append(spec.name)
        self.info.append(info)
        return info

    @staticmethod
    def _hook_kwargs(impl: Any, register: Callable[[Spec], None]) -> dict[str, Any]:
        # pluggy lets an implementation take fewer arguments than the spec names.
        available = {"register": register}
        return {arg: available[arg] for arg in impl.argnames if arg in available}

    @staticmethod
    def _check_spec(spec: Any, spec_class: type[Spec], hook_name: str) -> None:
        if not isinstance(spec, spec_class):
            raise TypeError(f"{hook_name} registered {type(spec).__name__}, "
                            f"expected {spec_class.__name__}")
        if not spec.name:
            raise ValueError(f"{hook_name} registered a {spec_class.__name__} with no name")

    def _fail(self, name: str, distribution: str, stage: str, exc: BaseException) -> None:
        self.failures.append(PluginFailure(
            name, distribution, stage, f"{type(exc).__name__}: {exc}",
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))))

    # -- lookup ----------------------------------------------------------------------------
    def registry(self, kind: str) -> Registry:
        """The registry for ``kind``: descriptors, losses, methods or exporters."""
        attribute = {"descriptor": "descriptors", "loss": "losses", "method": "methods",
                     "exporter": "exporters"}.get(kind, kind)
        if attribute not in {a for a, _ in HOOKS.values()}:
            raise StyxError(f"unknown kind {kind!r}",
                            "choose descriptors, losses, methods or exporters")
        return getattr(self, attribute)


def _with_plugin(spec: Spec, plugin: str) -> Spec:
    object.__setattr__(spec, "plugin", plugin)
    return spec


@lru_cache(maxsize=1)
def get_plugins() -> Plugins:
    """The process-wide plugins, loaded from entry points on first use."""
    plugins = Plugins()
    plugins.load_entry_points()
    return plugins


def reset_plugins() -> None:
    """Forget the loaded plugins (tests use this after changing the environment)."""
    get_plugins.cache_clear()


def descriptors() -> Registry[DescriptorSpec]:
    return get_plugins().descriptors


def losses() -> Registry[LossSpec]:
    return get_plugins().losses


def methods() -> Registry[MethodSpec]:
    return get_plugins().methods


def exporters() -> Registry[ExporterSpec]:
    return get_plugins().exporters
