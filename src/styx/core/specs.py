"""Light descriptions of what a plugin provides.

A spec holds names, words and import paths (``"package.module:attribute"``), never a loaded
network: building ``styx list`` from specs costs no torch import. The heavy object is built
by :meth:`Spec.load` only when a command needs it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Union

from styx.core.errors import StyxError

#: Either a callable or the import path of one, ``"package.module:attribute"``.
Target = Union[str, Callable[..., Any]]


def load_target(target: Target) -> Any:
    """Import ``"package.module:attribute"`` (dotted attributes allowed); return callables as is."""
    if not isinstance(target, str):
        return target
    module_name, _, attribute = target.partition(":")
    if not attribute:
        raise StyxError(f"bad import path {target!r}", "expected 'package.module:attribute'")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Spec:
    """What every registered thing has: a unique name, a one-line summary, aliases."""

    name: str
    summary: str
    aliases: tuple[str, ...] = ()
    #: Filled in by the plugin manager: the plugin (entry point) that registered this spec.
    plugin: str = field(default="", compare=False)

    @property
    def kind(self) -> str:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description for ``styx list --json``."""
        return {"name": self.name, "summary": self.summary, "aliases": list(self.aliases),
                "plugin": self.plugin}


@dataclass(frozen=True)
class DescriptorSpec(Spec):
    """A descriptor network: an image in, named feature maps out.

    ``factory(weights: str = "imagenet", **options) -> styx.core.descriptor.Descriptor``.
    ``layers`` lists every tap in forward order; ``layer_aliases`` maps other accepted
    names (such as the seed report's Keras names) onto them.
    """

    factory: Target = ""
    layers: tuple[str, ...] = ()
    layer_aliases: dict[str, str] = field(default_factory=dict, compare=False)
    default_content_layers: tuple[str, ...] = ()
    default_style_layers: tuple[str, ...] = ()
    #: Extra keyword options of the factory, name -> one-line help (e.g. {"pooling": "max|avg"}).
    options: dict[str, str] = field(default_factory=dict, compare=False)

    kind = "descriptor"  # type: ignore[assignment]

    def load(self) -> Callable[..., Any]:
        return load_target(self.factory)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "layers": len(self.layers),
                "default_content_layers": list(self.default_content_layers),
                "default_style_layers": list(self.default_style_layers),
                "options": dict(self.options)}


@dataclass(frozen=True)
class LossSpec(Spec):
    """A loss. ``target`` is what it compares: "features" (per descriptor layer) or "image".

    ``factory(**options)`` returns a loss object (see :mod:`styx.core.losses`).
    """

    factory: Target = ""
    target: str = "features"
    options: dict[str, str] = field(default_factory=dict, compare=False)

    kind = "loss"  # type: ignore[assignment]

    def load(self) -> Callable[..., Any]:
        return load_target(self.factory)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "target": self.target, "options": dict(self.options)}


@dataclass(frozen=True)
class MethodSpec(Spec):
    """A style transfer method.

    ``run_command`` / ``train_command`` are import paths of typer apps (or click commands)
    mounted lazily as ``styx run NAME`` / ``styx train NAME``; the modules they live in must
    not import torch at import time, so ``styx run NAME --help`` stays fast. ``api`` is the
    library entry point. ``feed_forward`` methods train a generator that exporters can export.
    """

    run_command: Target | None = None
    train_command: Target | None = None
    api: Target | None = None
    feed_forward: bool = False

    kind = "method"  # type: ignore[assignment]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "feed_forward": self.feed_forward,
                "commands": [c for c, t in (("run", self.run_command),
                                            ("train", self.train_command)) if t]}


@dataclass(frozen=True)
class ExporterSpec(Spec):
    """An exporter: ``factory(**options)`` returns a callable that writes a deployable file."""

    factory: Target = ""
    formats: tuple[str, ...] = ()
    export_command: Target | None = None

    kind = "exporter"  # type: ignore[assignment]

    def load(self) -> Callable[..., Any]:
        return load_target(self.factory)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "formats": list(self.formats)}


SPEC_KINDS: dict[str, type[Spec]] = {
    "descriptor": DescriptorSpec,
    "loss": LossSpec,
    "method": MethodSpec,
    "exporter": ExporterSpec,
}
