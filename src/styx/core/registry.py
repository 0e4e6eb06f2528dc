"""What the plugins registered, looked up by name or alias, with "did you mean" on a typo."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from styx.core.errors import StyxError
from styx.core.specs import Spec
from styx.core.suggest import close_matches, suggestion

S = TypeVar("S", bound=Spec)


def normalize_name(name: str) -> str:
    """Names match case-insensitively, and '-' and '_' are the same."""
    return name.strip().lower().replace("_", "-")


_key = normalize_name


class Registry(Generic[S]):
    """The specs of one kind (descriptors, losses, methods or exporters)."""

    def __init__(self, kind: str, failed: Callable[[], Iterable[str]] = tuple,
                 disabled: Callable[[], Iterable[str]] = tuple) -> None:
        self.kind = kind
        #: The names of plugins that failed to load, or were disabled, mentioned when a
        #: lookup fails.
        self._failed = failed
        self._disabled = disabled
        self._specs: dict[str, S] = {}
        self._names: dict[str, str] = {}  # key of a name or alias -> canonical name

    def add(self, spec: S) -> None:
        """Add ``spec``; a name or alias already taken by another plugin is an error."""
        for name in (spec.name, *spec.aliases):
            owner = self._names.get(_key(name))
            if owner is not None:
                other = self._specs[owner]
                raise StyxError(
                    f"{self.kind} name {name!r} from plugin {spec.plugin!r} is already "
                    f"registered by plugin {other.plugin!r}",
                    "disable one of them with STYX_DISABLE_PLUGINS",
                )
        self._specs[spec.name] = spec
        for name in (spec.name, *spec.aliases):
            self._names[_key(name)] = spec.name

    def get(self, name: str) -> S:
        """The spec called ``name`` (or aliased so); a clear error with suggestions if none."""
        canonical = self._names.get(_key(name))
        if canonical is not None:
            return self._specs[canonical]
        raise StyxError(f"unknown {self.kind} {name!r}", self.suggest(name))

    def suggest(self, name: str) -> str:
        """The hint for an unknown ``name``: close names, or the choices; and the plugins
        that failed to load, which may be where ``name`` should have come from."""
        close = close_matches(_key(name), list(self._names), cutoff=0.5)
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
        return isinstance(name, str) and _key(name) in self._names

    def __iter__(self) -> Iterator[S]:
        return iter(sorted(self._specs.values(), key=lambda s: s.name))

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> list[str]:
        """The canonical names, sorted (aliases left out)."""
        return sorted(self._specs)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()!r})"
