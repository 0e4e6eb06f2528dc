"""The root ``styx`` command, the method groups and the error handling.

``styx run METHOD``, ``styx train METHOD`` and ``styx export METHOD`` are generated from the
method plugins' specs and configs (:mod:`styx.cli.run`, :mod:`styx.cli.train`, :mod:`styx.cli.export`, made with :mod:`styx.cli.params`). Only the command about to run
is made: ``styx run gatys ...`` imports the gatys config module alone, ``styx run --help``
every method's config module (which, by contract, import no torch), and ``styx --help`` no
plugin at all.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import typer

from styx.core import __version__
from styx.core.errors import StyxError

#: The method groups: group -> what the group does with a method.
GROUPS = {"run": "Run a method (see 'styx run METHOD --help').",
          "train": "Train a feed-forward method (see 'styx train METHOD --help').",
          "export": "Export a trained model with an exporter plugin "
                    "(see 'styx export METHOD --help')."}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"styx {__version__}")
        raise typer.Exit()


def build_app(argv: list[str]) -> typer.Typer:
    """The typer app, with the method commands ``argv`` may need mounted."""
    app = typer.Typer(
        name="styx",
        help="Neural style transfer: Gatys, Texture Networks, StyleBank, any descriptor.",
        add_completion=False,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )

    @app.callback()
    def root(
        version: bool | None = typer.Option(
            None, "--version", callback=_version, is_eager=True,
            help="Print the version and exit."),
    ) -> None:
        """Neural style transfer: Gatys, Texture Networks, StyleBank, any descriptor."""

    alone = argv[0] if argv and argv[0] in COMMANDS else None
    for name in [alone] if alone else COMMANDS:
        _mount_command(app, name)
    if alone:  # typer converts every mounted command to run one: the others would cost
        return app  # a tenth of a second in 'styx infer'
    for group, text in GROUPS.items():
        sub = typer.Typer(help=text, no_args_is_help=True, rich_markup_mode=None)
        _mount_methods(sub, group, argv)
        app.add_typer(sub, name=group)
    return app


#: The commands besides the method groups, in the order of the help: the module of
#: ``styx.cli`` and its object, a command, a typer group, or a function that registers.
COMMANDS = {"plugins": ("info", "plugins_command", "command"),
            "list": ("info", "list_command", "command"),
            "weights": ("weights", "weights_app", "group"),
            "models": ("models", "models_app", "group"),
            "infer": ("infer", "infer", "command"),
            "experiment": ("experiment", "register", "register"),
            "serve": ("serve", "serve", "command")}


def _mount_command(app: typer.Typer, name: str) -> None:
    """Mount the command ``name`` of :data:`COMMANDS` (its module imported now)."""
    from importlib import import_module

    module, attribute, kind = COMMANDS[name]
    found = getattr(import_module(f"styx.cli.{module}"), attribute)
    if kind == "group":
        app.add_typer(found, name=name)
    elif kind == "register":
        found(app)
    else:
        app.command(name=name)(found)


def _command_for(spec, group: str) -> Callable[..., None]:
    if group == "run":
        from styx.cli.run import run_command

        return run_command(spec)
    if group == "train":
        from styx.cli.train import train_command

        return train_command(spec)
    from styx.cli.export import export_command
    from styx.core.plugins import exporters

    return export_command(spec, list(exporters()))


def _mount_methods(sub: typer.Typer, group: str, argv: list[str]) -> None:
    """Mount the method commands of ``group`` that ``argv`` may run or list.

    Nothing is imported unless argv starts with ``group``: ``styx --help`` and the other
    commands load no method. ``styx GROUP METHOD`` makes that one method's command only;
    ``styx GROUP --help`` makes every method's, skipping (with a warning) any whose config
    fails to load.
    """
    if not argv or argv[0] != group:
        return
    from styx.core.plugins import get_plugins

    plugins = get_plugins()
    # The METHOD of ``styx GROUP METHOD ...`` (when argv[1] is not an option).
    wanted = argv[1] if len(argv) >= 2 and not argv[1].startswith("-") else None
    if wanted is not None:
        spec = plugins.get("methods", wanted)  # unknown name: StyxError with "did you mean"
        if group not in spec.commands:
            able = [s.name for s in plugins.methods if group in s.commands]
            why = "trains no generator, so it has nothing to export" if group == "export" \
                else f"has no '{group}' command"
            raise StyxError(f"method {spec.name!r} {why}",
                            f"methods that have 'styx {group}': {', '.join(able) or 'none'}")
        try:
            commands = [(spec, _command_for(spec, group))]
        except (ImportError, AttributeError, TypeError) as error:  # a bug: exit 1
            raise RuntimeError(f"cannot make 'styx {group} {spec.name}' of plugin "
                               f"{spec.plugin!r}: {type(error).__name__}: {error}") from error
    else:
        commands = []
        for spec in plugins.methods:
            if group not in spec.commands:
                continue
            try:
                commands.append((spec, _command_for(spec, group)))
            except Exception as exc:  # noqa: BLE001 - one broken method must not hide the rest
                print(f"warning: cannot make 'styx {group} {spec.name}' of plugin "
                      f"{spec.plugin!r}: {type(exc).__name__}: {exc}", file=sys.stderr)
    for spec, function in commands:
        # The name as typed too: the registry matches "Texture-Nets" to "texture_nets",
        # the command group only knows the names it was given.
        names = dict.fromkeys([spec.name, *spec.aliases, *([wanted] if wanted else [])])
        for name in names:
            sub.command(name=name, help=function.__doc__, short_help=spec.summary,
                        hidden=name != spec.name)(function)


def report_error(error: StyxError) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    # The texts are escaped: a hint like pip install "styx-nst[temporal]" keeps its brackets.
    console.print(f"[bold red]error:[/] {escape(error.message)}", markup=True)
    if error.hint:
        console.print(f"[dim]hint: {escape(error.hint)}[/]", markup=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``styx``: a StyxError is one red line on stderr and exit code 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # click's exception classes as the installed typer raises them (typer 0.2x ships a
    # copy of click of its own; older ones use click itself).
    usage: Any = sys.modules[typer.BadParameter.__module__]
    bare_group = getattr(usage, "NoArgsIsHelpError", ())  # click >= 8.2
    aborts = (typer.Abort, getattr(usage, "Abort", typer.Abort))
    try:
        app = build_app(argv)
        # standalone_mode=False: usage errors come to us (below) to be worded as styx's
        # errors, and a typer.Exit's code is returned instead of exited with.
        code = app(args=argv, prog_name="styx", standalone_mode=False)
    except bare_group as shown:  # a bare command group: its help, exit 2
        shown.show()
        sys.exit(shown.exit_code)
    except usage.UsageError as error:
        report_error(usage_error(error, usage))
        sys.exit(2)
    except aborts as abort:  # EOF at a prompt (click: Ctrl-C too)
        if isinstance(abort.__cause__, KeyboardInterrupt):
            print("interrupted", file=sys.stderr)
            sys.exit(130)
        report_error(StyxError("no answer: the input ended", "give --yes to skip the question"))
        sys.exit(1)
    except usage.ClickException as error:
        report_error(StyxError(_sentence(error.format_message()), "see --help"))
        sys.exit(error.exit_code)
    except StyxError as error:
        if _debug():
            raise
        report_error(error)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as error:
        if _debug():
            raise
        report_error(StyxError(f"unexpected {type(error).__name__}: {error}",
                               "a bug in styx or a plugin; STYX_DEBUG=1 shows the traceback"))
        sys.exit(1)
    if isinstance(code, int) and code:
        sys.exit(code)


def _debug() -> bool:
    """Whether ``STYX_DEBUG`` asks for tracebacks; asked on an error only, so a run that
    needs no plugin registry ('styx infer') never imports it."""
    from styx.core.plugins import debug_enabled

    return debug_enabled()


def usage_error(error: Exception, usage: Any) -> StyxError:
    """A command-line usage error (a missing, unknown or badly typed option or argument) as
    styx's ``error:`` and ``hint:`` lines."""
    ctx = getattr(error, "ctx", None)
    hint = f"'{ctx.command_path if ctx is not None else 'styx'} --help' lists the options"
    if isinstance(error, usage.NoSuchOption):
        from styx.core.suggest import did_you_mean

        return StyxError(f"no such option: {error.option_name}",
                         removed_option_hint(error.option_name) or
                         did_you_mean(error.option_name, error.possibilities or ()) or hint)
    return StyxError(_sentence(error.format_message()), hint)


def removed_option_hint(flag: str) -> str | None:
    """What to use instead of a flag an earlier styx had (docs/plugins.md, "Removed"), and
    what it accepts; None for any other flag."""
    if flag.split("=", 1)[0] == "--gram-normalization":
        from styx.plugins.losses.options import NORMALIZATIONS

        return ("styx 0.2 replaced --gram-normalization N with --loss-option "
                f"style.normalization=N (N: {', '.join(NORMALIZATIONS)})")
    return None


def _sentence(text: str) -> str:
    """click's "Missing option '-o'." as styx words its errors: lower case, no full stop."""
    text = " ".join(text.split())
    return (text[:1].lower() + text[1:]).removesuffix(".")
