"""What the plugins registered, looked up by name or alias, with "did you mean" on a typo.

A plain name (``vgg19``, ``gram``, an alias such as ``style``) means one spec. Built-in
specs (those of the styx-nst distribution itself) always keep their names: a plugin's spec
that claims one is *refused* the plain name, whatever the order the plugins load in, and a
built-in registered after it takes the name back. A refused spec stays reachable by its
qualified name ``PLUGIN:NAME`` (``extra:vgg19``), as is every spec (``vgg:vgg19``), so
nothing a plugin registers is lost and nothing is ambiguous. A spec refused its own name
is renamed to its qualified name (its aliases nobody else holds still work), so
``spec.name`` always finds the spec it belongs to again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from styx.core.errors import StyxError
from styx.core.specs import QUALIFIER, Spec, normalize_name
from styx.core.suggest import close_matches, suggestion

S = TypeVar("S", bound=Spec)


_key = normalize_name


def qualified_name(plugin: str, name: str) -> str:
    """``PLUGIN:NAME``, the name that reaches ``name`` of ``plugin`` whatever else is
    installed."""
    return f"{plugin}{QUALIFIER}{name}"


@dataclass(frozen=True)
class RefusedName:
    """A name a spec asked for but did not get, because another plugin holds it."""

    kind: str
    #: The name (or alias) refused.
    name: str
    #: The plugin refused, and the qualified name that still reaches its spec.
    plugin: str
    qualified: str
    #: The plugin that keeps the name, and whether it is built in.
    holder: str
    holder_builtin: bool

    def message(self) -> str:
        keeper = "built-in plugin" if self.holder_builtin else "plugin"
        return (f"{self.kind} name {self.name!r} of plugin {self.plugin!r} is refused: "
                f"{keeper} {self.holder!r} has it; use {self.qualified!r} for the plugin's")

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "name": self.name, "plugin": self.plugin,
                "qualified": self.qualified, "holder": self.holder,
                "holder_builtin": self.holder_builtin}


class Registry(Generic[S]):
    """The specs of one kind (descriptors, losses, methods or exporters)."""

    def __init__(self, kind: str, failed: Callable[[], Iterable[str]] = tuple,
                 disabled: Callable[[], Iterable[str]] = tuple) -> None:
        self.kind = kind
        #: The names of plugins that failed to load, or were disabled, mentioned when a
        #: lookup fails.
        self._failed = failed
        self._disabled = disabled
        self._specs: dict[str, S] = {}  # spec.name -> spec (refused ones: the qualified name)
        self._names: dict[str, str] = {}  # key of a plain name or alias -> spec.name
        self._by_plugin: dict[str, dict[str, str]] = {}  # plugin key -> name key -> spec.name
        self._builtin: set[str] = set()  # spec.name of built-in specs
        #: Names refused to a plugin because another holds them (see :class:`RefusedName`).
        self.refused: list[RefusedName] = []

    # -- adding ----------------------------------------------------------------------------
    def add(self, spec: S, *, builtin: bool = False) -> S:
        """Add ``spec`` and return it as registered.

        A plain name or alias that another plugin holds is refused (and recorded in
        :attr:`refused`) unless ``spec`` is built in and the holder is not: then the
        holder is refused instead. A spec refused its own name is registered under its
        qualified name (and returned so). Two specs of one plugin with one name are a
        StyxError.
        """
        plugin_names = self._by_plugin.setdefault(_key(spec.plugin), {})
        own = (spec.name, *spec.aliases)
        for name in own:
            if _key(name) in plugin_names:
                raise StyxError(f"{self.kind} name {name!r} is registered twice by plugin "
                                f"{spec.plugin!r}", "a plugin bug: each name once")
        if builtin:
            for name in own:
                holder = self._names.get(_key(name))
                if holder is not None and holder not in self._builtin:
                    self._refuse(self._specs[holder], name, spec.plugin, builtin=True)
        refused = [name for name in own if _key(name) in self._names]
        for name in refused:
            holder = self._specs[self._names[_key(name)]]
            self._record(spec, name, holder.plugin, holder.name in self._builtin)
        plain = [name for name in own if name not in refused]
        if spec.name in refused:  # known by its qualified name (and its free aliases)
            spec = dataclasses.replace(spec, name=qualified_name(spec.plugin, spec.name),
                                       aliases=tuple(plain))
            plain = [spec.name, *plain]
        self._specs[spec.name] = spec
        if builtin:
            self._builtin.add(spec.name)
        for name in plain:
            self._names[_key(name)] = spec.name
        for name in own:
            plugin_names[_key(name)] = spec.name
        return spec

    def _refuse(self, holder: S, name: str, taker: str, *, builtin: bool) -> None:
        """Take ``name`` from ``holder`` (for built-in plugin ``taker``); if it is the
        holder's own name, the holder keeps only its qualified name."""
        self._record(holder, name, taker, builtin)
        del self._names[_key(name)]
        if _key(name) != _key(holder.name):
            renamed = dataclasses.replace(holder, aliases=tuple(
                a for a in holder.aliases if _key(a) != _key(name)))
        else:
            renamed = dataclasses.replace(holder, name=qualified_name(holder.plugin,
                                                                      holder.name))
        del self._specs[holder.name]
        self._specs[renamed.name] = renamed
        for table in (self._names, self._by_plugin[_key(holder.plugin)]):
            for key in [k for k, v in table.items() if v == holder.name]:
                table[key] = renamed.name
        self._names[_key(renamed.name)] = renamed.name

    def _record(self, spec: S, name: str, holder: str, holder_builtin: bool) -> None:
        self.refused.append(RefusedName(
            kind=self.kind, name=name, plugin=spec.plugin,
            qualified=qualified_name(spec.plugin, name), holder=holder,
            holder_builtin=holder_builtin))

    # -- looking up ------------------------------------------------------------------------
    def get(self, name: str) -> S:
        """The spec called ``name`` (or aliased so, or ``PLUGIN:NAME``); a clear error with
        suggestions if none."""
        found = self._find(name)
        if found is not None:
            return self._specs[found]
        plugin, sep, rest = name.partition(QUALIFIER)
        if sep and _key(plugin) not in self._by_plugin:
            plugins = sorted(p for p, names in self._by_plugin.items() if names)
            raise StyxError(f"unknown {self.kind} {name!r}: no plugin {plugin!r} registers a "
                            f"{self.kind}", "plugins with one: " + ", ".join(plugins)
                            if plugins else self.suggest(rest))
        if sep:
            own = sorted(dict.fromkeys(self._by_plugin[_key(plugin)].values()))
            raise StyxError(f"unknown {self.kind} {name!r}",
                            f"plugin {plugin!r} registers: {', '.join(own)}")
        raise StyxError(f"unknown {self.kind} {name!r}", self.suggest(name))

    def _find(self, name: str) -> str | None:
        if not isinstance(name, str):
            return None
        if QUALIFIER in name:
            plugin, _, rest = name.partition(QUALIFIER)
            return self._by_plugin.get(_key(plugin), {}).get(_key(rest))
        return self._names.get(_key(name))

    def default(self, chosen: Callable[[S], bool]) -> S | None:
        """The spec a plugin marked as the default (``chosen(spec)``): a built-in's first,
        else the first by name; None if no spec is marked."""
        marked = [spec for spec in self if chosen(spec)]
        return next((s for s in marked if s.name in self._builtin), None) or \
            next(iter(marked), None)

    def suggest(self, name: str) -> str:
        """The hint for an unknown ``name``: close names, or the choices; and the plugins
        that failed to load, which may be where ``name`` should have come from."""
        close = close_matches(_key(name), list(self._names), cutoff=0.6)
        if close:
            hint = suggestion(sorted({self._names[c] for c in close}))
        elif not self._specs:
            hint = f"no {self.kind} is registered"
        else:
            hint = f"choose one of: {', '.join(self.names())}"
        broken = sorted(set(self._failed()))
        if broken:
            hint = f"{hint}; plugin(s) {', '.join(broken)} failed to load, see 'styx plugins'"
        off = sorted(set(self._disabled()))
        if off:
            hint = f"{hint}; plugin(s) {', '.join(off)} disabled by STYX_DISABLE_PLUGINS"
        return f"{hint}; see 'styx plugins'" if not self._specs and not broken else hint

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def __iter__(self) -> Iterator[S]:
        return iter(sorted(self._specs.values(), key=lambda s: s.name))

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> list[str]:
        """The names of every spec, sorted (aliases left out; a refused spec by its
        qualified name)."""
        return sorted(self._specs)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()!r})"
