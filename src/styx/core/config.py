"""Typed configs: a method declares each of its options once, as a dataclass field.

A config is a keyword-only dataclass deriving from :class:`Config`. Each field is made by
:func:`option`, which gives it its one default, its help text, its help panel, its
command-line name and its check::

    from dataclasses import dataclass
    from styx.core.checks import number
    from styx.core.config import Config, option

    @dataclass(kw_only=True)
    class InvertConfig(Config):
        steps: int = option(50, help="Optimisation steps.", check=number(minimum=1, integer=True))
        lr: float = option(0.05, help="Adam learning rate.", check=number(above=0))

From that declaration styx builds the ``styx run``/``styx train`` command (``--steps``,
``--lr``, each with its help and default), the library's keyword options
(``styx.stylize("my-method", ..., steps=80)``), and the sweeps of the experiments. Every
config checks itself when it is made (``__post_init__``): each field's ``check`` turns
what a user gave (``"300,100"``, ``"LBFGS"``) into the canonical value or raises a
one-line :class:`~styx.core.errors.StyxError` naming the option as typed on the command
line (``bad --steps 0 (it must be a whole number >= 1)``); then :meth:`Config.check` runs
the rules that involve several fields. A config that exists is valid.

Shared bundles of options (descriptor, losses, training, ...) are configs too
(:mod:`styx.core.bundles`); a method's config derives from the bundles it uses. A field of
a bundle keeps the bundle's help and check when a method re-declares it with a plain
default (``tv_weight: float = 1.0``): that is how a method picks its own default, once.

This module imports no torch.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from styx.core.checks import Check, check_number
from styx.core.errors import StyxError
from styx.core.suggest import did_you_mean

#: The key of a field's :class:`Option` in ``dataclasses.Field.metadata``.
OPTION_KEY = "styx.option"

if TYPE_CHECKING:
    from typing_extensions import Self


@dataclass(frozen=True)
class Option:
    """How one config field meets its users (see :func:`option` for the meaning of each)."""

    help: str
    flags: tuple[str, ...] = ()
    name: str | None = None
    panel: str | None = None
    metavar: str | None = None
    check: Check | None = None
    cli_type: Any = None
    default_text: str | None = None
    cli: bool = True
    input_file: bool = False


def option(default: Any = MISSING, *, help: str, flags: tuple[str, ...] = (),
           name: str | None = None, panel: str | None = None, metavar: str | None = None,
           check: Check | None = None, cli_type: Any = None, default_text: str | None = None,
           cli: bool = True, input_file: bool = False,
           default_factory: Any = MISSING) -> Any:
    """A config field, with everything styx needs to offer it.

    ``default`` (or ``default_factory`` for a dict or list): the option's one default;
    leave both out for an option that must be given (a required ``--style``), or, in a
    bundle, for one whose default each method must choose. ``help``: one or two sentences
    for ``--help``. ``flags``: short flags besides the long one (``("-d",)``). ``name``:
    the long flag without its dashes when it is not the field name with ``_`` -> ``-``.
    ``panel``: the help section (``"Loss"``, ``"Training"``). ``check(value, label)``:
    returns the canonical value or raises a StyxError (see :mod:`styx.core.checks`).
    ``cli_type``: what the command line parses, when the field's own type is not one of
    ``str``, ``int``, ``float``, ``bool``, ``Path`` or ``list[str]`` (layers given as
    ``"relu1_1:0.2,relu2_1"``: ``cli_type=str``). ``default_text``: shown as the default
    in ``--help`` instead of the value. ``cli=False``: a library-only option.
    ``input_file``: the value may name an input image, which outputs must not overwrite.
    """
    meta = Option(help=help, flags=tuple(flags), name=name, panel=panel, metavar=metavar,
                  check=check, cli_type=cli_type, default_text=default_text, cli=cli,
                  input_file=input_file)
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={OPTION_KEY: meta})


@dataclass(frozen=True)
class OptionInfo:
    """One option of a config class, as resolved over its bases."""

    field: str
    option: Option
    #: The default (``MISSING`` for an option that must be given).
    default: Any
    #: The field's type, resolved (``float``, ``str | None``, ...).
    annotation: Any

    @property
    def flag(self) -> str:
        """The long command-line flag, ``--style-weight``."""
        return "--" + (self.option.name or self.field.replace("_", "-"))

    @property
    def required(self) -> bool:
        return self.default is MISSING


class Config:
    """Base of method configs and option bundles; see the module docstring."""

    def __post_init__(self) -> None:
        for info in options_of(type(self)):
            check = info.option.check or _type_check(info.annotation)
            value = getattr(self, info.field)
            setattr(self, info.field, value if check is None else check(value, info.flag))
        self.check()

    def check(self) -> None:
        """Rules that involve several fields; raise a StyxError. Extend it with
        ``super().check()`` first."""

    def check_inputs(self, *, contents: int, styles: int) -> None:
        """Called by ``styx run`` with the numbers of content and style images given,
        before any work: refuse inputs these settings cannot use."""

    @classmethod
    def options(cls) -> tuple[OptionInfo, ...]:
        """Every option of this config, in field order."""
        return options_of(cls)

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None = None, *,
                     base: Config | None = None) -> Self:
        """A config from keyword options (on top of ``base``'s values, if given).

        An unknown name is a StyxError with "did you mean"; so is a required option left
        out; every value is checked.
        """
        given = dict(options or {})
        known = {info.field: info for info in options_of(cls)}
        unknown = [name for name in given if name not in known]
        if unknown:
            raise StyxError(f"unknown option {unknown[0]!r} for {_label_of(cls)}",
                            did_you_mean(unknown[0], known) or
                            "the options are: " + ", ".join(known))
        values: dict[str, Any] = {}
        if base is not None:
            values = {info.field: getattr(base, info.field) for info in options_of(type(base))
                      if info.field in known}
        values.update(given)
        for info in known.values():
            if info.required and info.field not in values:
                raise StyxError(f"missing {info.flag}", f"give {info.flag}: {info.option.help}")
        return cls(**values)

    def with_options(self, **options: Any) -> Self:
        """A copy with ``options`` changed (checked again); unknown names are StyxErrors."""
        return type(self).from_options(options, base=self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values of every option (paths as text, tuples as lists)."""
        return {info.field: to_jsonable(getattr(self, info.field))
                for info in options_of(type(self))}


def _label_of(cls: type) -> str:
    return getattr(cls, "label", None) or cls.__name__


def to_jsonable(value: Any) -> Any:
    """``value`` with paths as text, tuples as lists and mappings as dicts."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


@functools.cache
def options_of(cls: type) -> tuple[OptionInfo, ...]:
    """The options of config class ``cls``, each with the metadata of the nearest class
    that declared it with :func:`option` and the default of the class nearest ``cls``.

    A field that no class declared with :func:`option` is a TypeError (a plugin bug), as is
    one whose type cannot be resolved.
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls) and issubclass(cls, Config)):
        raise TypeError(f"{cls!r} is not a config: a @dataclass(kw_only=True) deriving from "
                        "styx.core.config.Config")
    try:
        hints = typing.get_type_hints(cls)
    except Exception as error:  # noqa: BLE001 - names only a TYPE_CHECKING import defines
        raise TypeError(f"{cls.__name__}: cannot resolve the field types ({error})") from None
    infos = []
    for field in dataclasses.fields(cls):
        meta = _option_meta(cls, field.name)
        if meta is None:
            raise TypeError(f"{cls.__name__}.{field.name} is not declared with "
                            "styx.core.config.option() in any class")
        default = field.default
        if field.default_factory is not MISSING:
            default = field.default_factory()
        infos.append(OptionInfo(field.name, meta, default, hints.get(field.name, Any)))
    return tuple(infos)


def _option_meta(cls: type, name: str) -> Option | None:
    for klass in cls.__mro__:
        fields = getattr(klass, "__dataclass_fields__", {})
        if name in fields and OPTION_KEY in fields[name].metadata:
            return fields[name].metadata[OPTION_KEY]
    return None


def _split_optional(annotation: Any) -> tuple[Any, bool]:
    """``(the type, whether None is allowed)`` of ``X`` or ``X | None``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0], len(rest) < len(typing.get_args(annotation))
    return annotation, False


_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def _type_check(annotation: Any) -> Any:
    """The check a field without one gets from its type: bools, whole and real numbers,
    text and paths are checked (and text such as ``"false"`` or ``"3"`` read); None only
    where the type allows it. Other types are left as given."""
    kind, may_be_none = _split_optional(annotation)
    if kind not in CLI_TYPES:
        return None

    def check(value: Any, label: str) -> Any:
        if value is None:
            if may_be_none:
                return None
            raise StyxError(f"missing {label}", f"give a value to {label}")
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise StyxError(f"bad {label} {value!r}", "give true or false")
        if kind in (int, float):
            return check_number(value, label, integer=kind is int)
        if not isinstance(value, (str, os.PathLike)):
            raise StyxError(f"bad {label} {value!r}",
                            "give a path" if kind is Path else "give text")
        if kind is Path:
            if not str(value).strip():
                raise StyxError(f"empty {label}", "give a path")
            return Path(value)
        return str(value)
    return check


#: Types the command line parses directly.
CLI_TYPES = (str, int, float, bool, Path)


def cli_type_of(info: OptionInfo) -> Any:
    """The type the command line parses for ``info``: its ``cli_type``, else its field type
    with ``None`` taken out. A TypeError if that is not a type the command line knows."""
    if info.option.cli_type is not None:
        return info.option.cli_type
    annotation, _ = _split_optional(info.annotation)
    if annotation in CLI_TYPES:
        return annotation
    if typing.get_origin(annotation) is list and \
            typing.get_args(annotation) in ((str,), (Path,)):
        return annotation
    raise TypeError(f"option {info.field!r} has type {info.annotation!r}, which the command "
                    "line cannot parse: give option(cli_type=str) and a check that reads text")


def describe_options(cls: type[Config]) -> list[dict[str, Any]]:
    """JSON-ready descriptions of the command-line options of ``cls``: what a form (the
    studio) or a listing needs to offer them without importing the config's method."""
    out = []
    for info in options_of(cls):
        if not info.option.cli:
            continue
        out.append({"name": info.field, "flag": info.flag, "help": info.option.help,
                    "panel": info.option.panel, "required": info.required,
                    "default": None if info.required else to_jsonable(info.default),
                    "default_text": info.option.default_text, "kind": option_kind(info),
                    "metavar": info.option.metavar, "input_file": info.option.input_file})
    return out


#: What :func:`option_kind` calls each command-line type.
_KINDS = {bool: "flag", int: "integer", float: "number", str: "text", Path: "path"}


def option_kind(info: OptionInfo) -> str:
    """How a form offers ``info``: ``flag``, ``integer``, ``number``, ``text``, ``path``,
    ``list`` (of text, one value per line) or ``paths`` (a list of paths)."""
    kind = cli_type_of(info)
    if typing.get_origin(kind) is list:
        return "paths" if typing.get_args(kind) == (Path,) else "list"
    return _KINDS.get(kind, "text")
