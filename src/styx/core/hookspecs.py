"""The hooks styx plugins implement.

Every hook receives a ``register`` callback and calls it once per thing it provides, with a
light *spec* from :mod:`styx.core.specs`. Specs name their heavy parts by import path, so
listing what is installed never imports torch.

Hooks only ever grow: a new argument may be added to a spec, never removed, and pluggy lets
an implementation accept fewer arguments than the spec names.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("styx")


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
