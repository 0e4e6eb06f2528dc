"""Light descriptions of what a plugin provides.

A spec holds names, words and import paths (``"package.module:attribute"``), never a loaded
network: building ``styx list`` from specs costs no torch import. The heavy object is built
by :meth:`Spec.load` only when a command needs it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from styx.core.config import options_of
from styx.core.deprecation import renamed, warn_renamed
from styx.core.errors import StyxError
from styx.core.suggest import did_you_mean

#: Separates a plugin's name from a spec's in a qualified name, ``extra:vgg19``; so no
#: spec or plugin name may contain it.
QUALIFIER = ":"

def normalize_name(name: str) -> str:
    """Names match case-insensitively, and '-' and '_' are the same."""
    return name.strip().lower().replace("_", "-")


#: The terms of a perceptual objective, each scored by a registered loss: content and
#: style score descriptor features, tv the image.
TERMS = ("content", "style", "tv")

#: Either a callable (or class) or the import path of one, ``"package.module:attribute"``.
ObjectRef = str | Callable[..., Any]


def load_object(ref: ObjectRef) -> Any:
    """Import ``"package.module:attribute"`` (dotted attributes allowed); return callables as is."""
    if not isinstance(ref, str):
        return ref
    module_name, _, attribute = ref.partition(":")
    if not attribute:
        raise StyxError(f"bad import path {ref!r}", "expected 'package.module:attribute'")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


def checked_options(spec: FactorySpec, options: dict[str, Any], *, label: str = ""
                    ) -> dict[str, Any]:
    """``options`` for ``spec``'s factory, checked before anything is built.

    Options set to None count as not given; an unknown option is a StyxError naming the
    valid ones. With the spec's ``config`` (an options class), each value is checked and
    converted by it (``"0.5"`` from the command line becomes 0.5); ``label`` is how the
    options are given, for errors (``"--loss-option style."``).
    """
    given = {key: value for key, value in options.items() if value is not None}
    known = spec.option_help()
    unknown = sorted(set(given) - set(known))
    if unknown:
        valid = ", ".join(f"{key} ({text})" for key, text in known.items())
        close = did_you_mean(unknown[0], known)
        raise StyxError(f"{spec.kind} {spec.name!r} has no option "
                        + ", ".join(repr(u) for u in unknown),
                        (f"{close}; " if close else "") +
                        (f"valid options: {valid}" if valid else "it takes no options"))
    config_class = spec.options_config()
    if config_class is None:
        return given
    try:
        made = config_class.from_options(given)
    except StyxError as error:
        hint = error.hint and _relabel(error.hint, config_class, label, spec, suffix=False)
        raise StyxError(_relabel(error.message, config_class, label, spec), hint) from None
    return {key: getattr(made, key) for key in given}


def _relabel(message: str, config_class: type, label: str, spec: FactorySpec, *,
             suffix: bool = True) -> str:
    """An options class's error (``bad --power 0``) as the user gave the option
    (``bad --loss-option tv.power 0``), or naming the spec when no label is given."""
    infos = sorted(options_of(config_class), key=lambda i: -len(i.flag))
    for info in infos:
        if info.flag in message:
            if label:
                return message.replace(info.flag, f"{label}{info.field}")
            named = message.replace(info.flag, info.field)
            return named + f" for {spec.kind} {spec.name!r}" if suffix else named
    return message


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

    def validate(self) -> None:
        """Raise ``TypeError``/``ValueError`` when the spec is malformed (a plugin bug).

        Cheap: it checks types, names and the shape of import paths, and imports nothing.
        """
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"a {type(self).__name__} needs a non-empty name, got {self.name!r}")
        if any(c.isspace() for c in self.name):
            raise ValueError(f"{self.kind} name {self.name!r} contains whitespace")
        for name in (self.name, *(self.aliases if isinstance(self.aliases, tuple) else ())):
            if isinstance(name, str) and QUALIFIER in name:
                raise ValueError(f"{self.kind} name {name!r} contains {QUALIFIER!r}, which "
                                 "qualified names (PLUGIN:NAME) use")
        if not isinstance(self.summary, str):
            raise TypeError(f"{self.kind} {self.name!r}: summary must be a string")
        _check_names(self.aliases, f"{self.kind} {self.name!r}: aliases")


@dataclass(frozen=True)
class FactorySpec(Spec):
    """A spec whose thing is built by a factory with keyword options (descriptors, losses).

    ``options`` maps each option to a one-line help; the factory then gets the values as
    given (text, from the command line). ``config`` instead names an options class (a
    :class:`styx.core.config.Config`, in a module that imports no torch): its fields are
    the options, with their help, defaults and checks, and the factory gets the values
    checked and converted, before any network is built. Give one or the other.
    """

    factory: ObjectRef = ""
    #: Keyword options of the factory, name -> one-line help (e.g. {"pooling": "max|avg"}).
    options: dict[str, str] = field(default_factory=dict, compare=False)
    #: The options class, ``"package.module:Options"`` (instead of ``options``).
    config: ObjectRef | None = None

    def load(self) -> Callable[..., Any]:
        return load_object(self.factory)

    def options_config(self) -> type | None:
        """The options class, imported (None without one)."""
        return None if self.config is None else load_object(self.config)

    def option_help(self) -> dict[str, str]:
        """Each option's one-line help, from ``options`` or the options class."""
        config_class = self.options_config()
        if config_class is None:
            return dict(self.options)
        return {info.field: info.option.help for info in options_of(config_class)}

    def validate(self) -> None:
        super().validate()
        what = f"{self.kind} {self.name!r}"
        _check_ref(self.factory, f"{what}: factory", required=True)
        _check_ref(self.config, f"{what}: config", required=False)
        if not isinstance(self.options, dict):
            raise TypeError(f"{what}: options must be a dict, got {self.options!r}")
        if self.options and self.config is not None:
            raise ValueError(f"{what}: give options= or config=, not both")


@dataclass(frozen=True)
class DescriptorSpec(FactorySpec):
    """A descriptor network: an image in, named feature maps out.

    ``factory(weights: str = "imagenet", **options) -> styx.perceptual.descriptor.Descriptor``.
    ``layers`` lists every tap in forward order; ``layer_aliases`` maps other accepted
    names (such as the seed report's Keras names) onto them (:func:`build_descriptor`
    gives them to the built descriptor). ``default``: this is the descriptor a method uses
    when neither it nor the user names one (a built-in's claim wins over a plugin's).
    """

    layers: tuple[str, ...] = ()
    layer_aliases: dict[str, str] = field(default_factory=dict, compare=False)
    default_content_layers: tuple[str, ...] = ()
    default_style_layers: tuple[str, ...] = ()
    default: bool = False

    kind = "descriptor"  # type: ignore[assignment]

    def validate(self) -> None:
        super().validate()
        what = f"descriptor {self.name!r}"
        _check_names(self.layers, f"{what}: layers")
        _check_names(self.default_content_layers, f"{what}: default_content_layers")
        _check_names(self.default_style_layers, f"{what}: default_style_layers")
        if not isinstance(self.layer_aliases, dict):
            raise TypeError(f"{what}: layer_aliases must be a dict, got {self.layer_aliases!r}")
        if not isinstance(self.default, bool):
            raise TypeError(f"{what}: default must be True or False")
        if self.layers:
            known = set(self.layers)
            for alias, layer in self.layer_aliases.items():
                if layer not in known:
                    raise ValueError(f"{what}: alias {alias!r} points at unknown layer {layer!r}")
            known |= set(self.layer_aliases)
            for layer in (*self.default_content_layers, *self.default_style_layers):
                if layer not in known:
                    raise ValueError(f"{what}: default layer {layer!r} is not in its layers")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "layers": len(self.layers), "default": self.default,
                "default_content_layers": list(self.default_content_layers),
                "default_style_layers": list(self.default_style_layers),
                "options": self.option_help()}


@dataclass(frozen=True)
class LossSpec(FactorySpec):
    """A loss. ``scores`` is what it scores: "features" (a descriptor layer's, against a
    target it prepares from a reference image) or "image" (the image itself).

    ``factory(**options)`` returns a loss object (see :mod:`styx.perceptual.losses`).
    ``default_for``: the terms of a perceptual objective (:data:`TERMS`) this loss scores
    when neither the method nor the user names a loss for them (a built-in's claim wins
    over a plugin's). ``target`` is the name ``scores`` had in styx 0.1 (still accepted,
    with a warning).
    """

    scores: str = ""
    default_for: tuple[str, ...] = ()
    target: str = field(default="", compare=False, repr=False)

    kind = "loss"  # type: ignore[assignment]

    #: The values ``scores`` may take.
    SCORES = ("features", "image")

    def __post_init__(self) -> None:
        scores = self.scores
        if self.target:
            warn_renamed("LossSpec(target=...)", "LossSpec(scores=...)", stacklevel=3)
            if scores and scores != self.target:
                raise ValueError(f"loss {self.name!r}: scores={scores!r} and "
                                 f"target={self.target!r} disagree")
            scores = self.target
        object.__setattr__(self, "scores", scores or "features")
        object.__setattr__(self, "target", "")

    def validate(self) -> None:
        super().validate()
        if self.scores not in self.SCORES:
            raise ValueError(f"loss {self.name!r}: scores must be one of {self.SCORES}, "
                             f"got {self.scores!r}")
        _check_names(self.default_for, f"loss {self.name!r}: default_for")
        for term in self.default_for:
            if term not in TERMS:
                raise ValueError(f"loss {self.name!r}: default_for names {term!r}, not one of "
                                 f"{TERMS}")
            if (term == "tv") != (self.scores == "image"):
                raise ValueError(f"loss {self.name!r} scores {self.scores} and cannot be the "
                                 f"default {term} loss")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "scores": self.scores,
                "default_for": list(self.default_for), "options": self.option_help()}


@dataclass(frozen=True)
class MethodSpec(Spec):
    """A style transfer method: a config and a function for each thing it does.

    ``config`` / ``run``: the options of ``styx run NAME`` (a config class, see
    :mod:`styx.core.config`) and ``run(request, config) -> RunResult`` (see
    :mod:`styx.core.method`), which ``styx run NAME`` and ``styx.stylize`` call.
    ``train_config`` / ``train``: the same for ``styx train NAME`` and ``styx.train``:
    ``train(config) -> TrainedModel``; or, instead of ``train``, ``task``: the training task
    class (``task(config)``, see :mod:`styx.training.loop`), which the shared feed-forward
    training runs and saves. ``generator``: the :class:`styx.generators.generator.Generator`
    class a feed-forward method trains; with it the method's models can be stored, loaded,
    run and exported without method-specific code. ``uses_styles``: ``styx run NAME``
    takes style images after the content image (``False`` for a method that needs none).
    The modules these name must not import torch at import time, so ``styx run NAME --help``
    stays fast.
    """

    config: ObjectRef | None = None
    run: ObjectRef | None = None
    train_config: ObjectRef | None = None
    train: ObjectRef | None = None
    task: ObjectRef | None = None
    generator: ObjectRef | None = None
    uses_styles: bool = True
    style_choice: ObjectRef | None = None

    kind = "method"  # type: ignore[assignment]

    @property
    def feed_forward(self) -> bool:
        """Whether the method trains a generator (which exporters can export)."""
        return self.generator is not None

    @property
    def trains(self) -> bool:
        """Whether the method trains (its own ``train``, or a ``task`` for the shared one)."""
        return self.train is not None or self.task is not None

    @property
    def commands(self) -> tuple[str, ...]:
        """The ``styx`` command groups that have this method."""
        return tuple(group for group, present in (
            ("run", self.run is not None), ("train", self.trains),
            ("export", self.feed_forward)) if present)

    def validate(self) -> None:
        super().validate()
        what = f"method {self.name!r}"
        for attribute in ("config", "run", "train_config", "train", "task", "generator",
                          "style_choice"):
            _check_ref(getattr(self, attribute), f"{what}: {attribute}", required=False)
        if (self.run is None) != (self.config is None):
            raise ValueError(f"{what}: give both run and config, or neither")
        if self.trains != (self.train_config is not None):
            raise ValueError(f"{what}: give train_config with train (or task), or neither")
        if self.train is not None and self.task is not None:
            raise ValueError(f"{what}: give train or task, not both")
        if self.trains and self.generator is None:
            raise ValueError(f"{what}: a method that trains needs its generator class")
        if self.run is None and not self.trains:
            raise ValueError(f"{what}: it has neither run nor train")
        if not isinstance(self.uses_styles, bool):
            raise TypeError(f"{what}: uses_styles must be True or False")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "feed_forward": self.feed_forward,
                "commands": list(self.commands), "uses_styles": self.uses_styles}


@dataclass(frozen=True)
class ExporterSpec(Spec):
    """An exporter: writes a trained generator as a deployable file of one format.

    ``name`` is the format, offered as ``styx export METHOD --NAME``. ``export(model,
    output, config) -> Path`` writes the file: ``model`` is the loaded model
    (:class:`styx.generators.models.Model`), ``output`` the path to write (atomically), and
    ``config`` an instance of ``config`` (the exporter's options class, see
    :mod:`styx.core.config`; None: no options). ``suffix`` is the file's usual suffix,
    ``methods`` the methods it can export (empty: every feed-forward method).
    """

    export: ObjectRef = ""
    config: ObjectRef | None = None
    suffix: str = ""
    methods: tuple[str, ...] = ()

    kind = "exporter"  # type: ignore[assignment]

    def load(self) -> Callable[..., Any]:
        return load_object(self.export)

    def validate(self) -> None:
        super().validate()
        what = f"exporter {self.name!r}"
        _check_ref(self.export, f"{what}: export", required=True)
        _check_ref(self.config, f"{what}: config", required=False)
        _check_names(self.methods, f"{what}: methods")
        if not isinstance(self.suffix, str) or (self.suffix and not self.suffix.startswith(".")):
            raise ValueError(f"{what}: suffix must be like '.onnx', got {self.suffix!r}")

    def exports(self, method: MethodSpec) -> bool:
        """Whether this exporter can export models of ``method`` (``methods`` may name it
        by its name or any alias)."""
        if not self.methods:
            return True
        names = {normalize_name(name) for name in (method.name, *method.aliases)}
        return any(normalize_name(name) in names for name in self.methods)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "suffix": self.suffix, "methods": list(self.methods)}


def _check_names(names: Any, what: str) -> None:
    if isinstance(names, str) or not isinstance(names, (tuple, list)):
        raise TypeError(f"{what} must be a tuple of strings, got {names!r}")
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise TypeError(f"{what} must be a tuple of non-empty strings, got {names!r}")


def _check_ref(ref: Any, what: str, *, required: bool) -> None:
    if ref is None or ref == "":
        if required:
            raise ValueError(f"{what} is missing")
        return
    if callable(ref):
        return
    if not isinstance(ref, str):
        raise TypeError(f"{what} must be an import path or a callable, got {ref!r}")
    module, sep, attribute = ref.partition(":")
    if not (module and sep and attribute):
        raise ValueError(f"{what} {ref!r} is not of the form 'package.module:attribute'")


class UnknownSpecField(StyxError, TypeError):
    """A spec made with a field it does not have (most often one that styx 0.1 had)."""


def _known_fields_only(cls: type) -> None:
    """``cls(...)`` with an unknown keyword: an :class:`UnknownSpecField` that points to the
    upgrade notes, not the dataclass's bare TypeError."""
    init, known = cls.__init__, [f.name for f in fields(cls)]

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        for name in (name for name in kwargs if name not in known):
            hint = did_you_mean(name, known)
            raise UnknownSpecField(f"{cls.__name__} has no field {name!r}" + (
                f" ({hint})" if hint else ""), "a plugin written for an older styx: see "
                "'Upgrading a plugin written for styx 0.1' in docs/plugins.md")
        init(self, *args, **kwargs)
    cls.__init__ = __init__

for _spec_class in (DescriptorSpec, LossSpec, MethodSpec, ExporterSpec):
    _known_fields_only(_spec_class)

#: styx 0.1's names.
__getattr__ = renamed(__name__, {"Target": ("ObjectRef", ObjectRef),
                                 "load_target": ("load_object", load_object)})
