"""Typer parameters from configs: how every generated command is made.

A generated command (``styx run/train/export METHOD``) is a typer-style function whose
signature holds styx's own parameters (named with the :data:`IO` prefix: images, outputs,
``--json``, ``-q``) and one option per config field (named as the field). The command's body
receives every value in one dict; :func:`split_values` separates the two kinds and
:func:`config_from_cli` makes the config. Nothing here imports torch.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

import typer

from styx.core.config import Config, OptionInfo, cli_type_of, options_of

#: The prefix of styx's own parameters in a generated command's signature: config fields
#: keep their names, so the two never meet.
IO = "io_"


# -- parameters from configs ---------------------------------------------------------------
def _flags(info: OptionInfo) -> list[str]:
    return [info.flag, *info.option.flags]


def _shown_default(info: OptionInfo) -> str | None:
    if info.option.default_text is not None:
        return info.option.default_text
    value = info.default
    if value is None or isinstance(value, bool) or value == {} or value == []:
        return None
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value)


def _plain(value: Any, cli_type: Any) -> bool:
    """Whether ``value`` is a default the command line can show and pass as it is."""
    if cli_type is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return cli_type in (str, int) and type(value) is cli_type


def option_parameter(info: OptionInfo, *, given_only: bool = False) -> inspect.Parameter:
    """The typer parameter of one config option (a TypeError for a type the command line
    cannot parse). ``given_only``: the command receives None unless the option is given
    (its default is only shown), so a command can tell which options were used."""
    cli_type = cli_type_of(info)
    meta = info.option
    common: dict[str, Any] = {"help": meta.help, "rich_help_panel": meta.panel}
    if meta.metavar:
        common["metavar"] = meta.metavar
    if cli_type is bool:
        if info.required:
            raise TypeError(f"option {info.field!r}: a flag needs a default")
        negatable = [f"{info.flag}/--no-{info.flag[2:]}", *meta.flags]
        if info.default is None or given_only:
            # Three states (on, off, not said): --x/--no-x, None when neither is given.
            default = typer.Option(None, *negatable, show_default=False, **common)
            annotation: Any = bool | None
        else:
            flags = negatable if info.default else _flags(info)
            default = typer.Option(bool(info.default), *flags, **common)
            annotation = bool
    elif info.required and not given_only:
        default = typer.Option(..., *_flags(info), show_default=False, **common)
        annotation = cli_type
    elif _plain(info.default, cli_type) and meta.default_text is None and not given_only:
        default = typer.Option(info.default, *_flags(info), **common)
        annotation = cli_type
    else:
        # Shown in the help, but not passed: a value left out keeps the config's default
        # (a required one left out is reported when the config is made).
        shown = "required" if info.required else _shown_default(info)
        if shown is not None:
            common["help"] = f"{meta.help} [default: {shown}]" if not info.required else \
                f"{meta.help} [required with it]"
        default = typer.Option(None, *_flags(info), show_default=False, **common)
        annotation = cli_type | None
    return inspect.Parameter(info.field, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)


#: The order of the help panels: a method's own options first, where it runs last.
PANEL_ORDER = (None, "Generator", "Loss", "Model", "Training", "Runtime")


def _panel_rank(info: OptionInfo) -> int:
    panel = info.option.panel
    return PANEL_ORDER.index(panel) if panel in PANEL_ORDER else len(PANEL_ORDER) - 1


def config_parameters(config_class: type[Config], taken: Iterable[str] = (), *,
                      given_only: bool = False) -> list[inspect.Parameter]:
    """Typer parameters for every command-line option of ``config_class``; a flag that
    one of ``taken`` (styx's own) already uses is a TypeError (a bug in the config).
    ``given_only``: see :func:`option_parameter`."""
    used = set(taken)
    parameters = []
    for info in sorted(options_of(config_class), key=_panel_rank):
        if not info.option.cli:
            continue
        for flag in _flags(info):
            if flag in used:
                raise TypeError(f"{config_class.__name__}.{info.field}: flag {flag} is taken "
                                "by another option of the command")
            used.add(flag)
        parameters.append(option_parameter(info, given_only=given_only))
    return parameters


def config_from_cli(config_class: type[Config], values: dict[str, Any],
                    **fixed: Any) -> Config:
    """The config of the options given on the command line (those left out, ``None``,
    keep their defaults), with ``fixed`` values on top."""
    fields = {info.field for info in options_of(config_class)}
    given = {k: v for k, v in values.items() if k in fields and v is not None}
    given.update({k: v for k, v in fixed.items() if k in fields})
    return config_class.from_options(given)


def io_parameter(name: str, default: Any, annotation: Any) -> inspect.Parameter:
    return inspect.Parameter(IO + name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)


def flags_of(parameters: list[inspect.Parameter]) -> set[str]:
    flags: set[str] = set()
    for parameter in parameters:
        for decl in getattr(parameter.default, "param_decls", ()) or ():
            flags.update(part for part in decl.split("/") if part.startswith("-"))
    return flags


def make_command(doc: str, parameters: list[inspect.Parameter],
                 body: Callable[[dict[str, Any]], None]) -> Callable[..., None]:
    """A typer-style function with ``parameters`` that passes what it is called with to
    ``body`` as one dict."""
    def command(**values: Any) -> None:
        body(values)

    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__doc__ = doc
    return command


def split_values(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    io = {k[len(IO):]: v for k, v in values.items() if k.startswith(IO)}
    return io, {k: v for k, v in values.items() if not k.startswith(IO)}


def output_flags() -> list[inspect.Parameter]:
    """``-q/--quiet`` and ``--json``: every generated command has them."""
    return [io_parameter("quiet", typer.Option(
                False, "--quiet", "-q", help="No progress bar and no notes (errors are still "
                                             "printed)."), bool),
            io_parameter("json", typer.Option(
                False, "--json", help="Print the result as JSON on stdout."), bool)]


#: ``--strict``'s help, in every command that reads many images (README "Bad files").
STRICT_HELP = ("Stop at the first bad input image (exit 2) instead of skipping it; headers "
               "are checked before anything is written, training reads every image first.")


def strict_flag() -> inspect.Parameter:
    """``--strict``: a bad input image is the command's error, not skipped
    (:mod:`styx.files.badfiles`)."""
    return io_parameter("strict", typer.Option(False, "--strict", help=STRICT_HELP), bool)


def dry_run_flag() -> inspect.Parameter:
    """``--dry-run``: every check, the memory estimate included, and no work."""
    return io_parameter("dry_run", typer.Option(
        False, "--dry-run", help="Check everything (options, inputs, sizes, memory), print "
                                 "the memory estimate and stop before any work; nothing is "
                                 "written."), bool)


def report_dry_run(needs: list, as_json: bool) -> None:
    """What ``--dry-run`` found: each estimate, one line (or ``{"memory": [...]}``)."""
    if as_json:
        typer.echo(json.dumps({"dry_run": True, "memory": [need.to_dict() for need in needs]}))
        return
    for need in needs:
        typer.echo(f"fits: {need.describe()}")


def optional_option(name: str, *flags: str, help: str, annotation: Any) -> inspect.Parameter:
    """One of styx's own options that may be left out (None)."""
    return io_parameter(name, typer.Option(None, *flags, show_default=False, help=help),
                        annotation | None)


def note(text: str) -> None:
    """A note for the user, on stderr (commands print results on stdout)."""
    print(text, file=sys.stderr)
