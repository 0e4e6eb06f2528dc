"""The hooks styx plugins implement.

Every hook receives a ``register`` callback and calls it once per thing it provides, with a
light *spec* from :mod:`styx.core.specs`. Specs name their heavy parts by import path, so
listing what is installed never imports torch.

Each hook of a plugin is called once, when the plugin is loaded, by the plugin manager
(:mod:`styx.core.plugins`), in isolation: if it raises, nothing it registered counts and
the failure is shown by ``styx plugins``. Its return value is ignored.

Hooks only ever grow: a new argument may be added to a hook, never removed, and pluggy lets
an implementation accept fewer arguments than the hook names. Documented, with the spec
fields, in ``docs/plugins.md``.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("styx")

#: The marker plugins put on their hook implementations (``styx.hookimpl`` is the same).
hookimpl = pluggy.HookimplMarker("styx")


@hookspec
def register_descriptors(register: Callable) -> None:
    """Register descriptor networks: ``register(DescriptorSpec(...))``."""


@hookspec
def register_losses(register: Callable) -> None:
    """Register losses: ``register(LossSpec(...))``."""


@hookspec
def register_methods(register: Callable) -> None:
    """Register style transfer methods: ``register(MethodSpec(...))``."""


@hookspec
def register_exporters(register: Callable) -> None:
    """Register exporters of trained generators: ``register(ExporterSpec(...))``."""
