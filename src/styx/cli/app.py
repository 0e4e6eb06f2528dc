"""The root ``styx`` command, the method groups and the error handling.

``styx run METHOD`` and ``styx train METHOD`` are filled from the method plugins' specs. A
method's command is a typer-style function named by import path in its spec; only the
command about to run is imported (``styx run --help`` imports each method's CLI module,
which by contract imports no torch).
"""

from __future__ import annotations

import sys

import typer

from styx import __version__
from styx.core.errors import StyxError

GROUPS = {"run": "run_command", "train": "train_command"}


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

    from styx.cli import info, models, weights

    info.register(app)
    weights.register(app)
    models.register(app)
    for group, attribute in GROUPS.items():
        sub = typer.Typer(help=f"{group.capitalize()} a method (see 'styx {group} METHOD --help').",
                          no_args_is_help=True, rich_markup_mode=None)
        _mount_methods(sub, group, attribute, argv)
        app.add_typer(sub, name=group)
    return app


def _mount_methods(sub: typer.Typer, group: str, attribute: str, argv: list[str]) -> None:
    """Mount the method commands of ``group`` that ``argv`` may run or list.

    Nothing is imported unless argv starts with ``group``: ``styx --help`` and the other
    commands load no method. ``styx GROUP METHOD`` imports that one method's command only;
    ``styx GROUP --help`` imports every method's command, skipping (with a warning) any whose
    module fails to import.
    """
    if not argv or argv[0] != group:
        return
    from styx.core.plugins import get_plugins
    from styx.core.specs import load_target

    plugins = get_plugins()
    wanted = _method_named(argv, group)
    if wanted is not None:
        spec = plugins.get("methods", wanted)  # unknown name: StyxError with "did you mean"
        if not getattr(spec, attribute):
            raise StyxError(f"method {spec.name!r} has no '{group}' command",
                            f"'styx {group} --help' lists the methods that have one")
        functions = [(spec, load_target(getattr(spec, attribute)))]
    else:
        functions = []
        for spec in plugins.methods:
            if not getattr(spec, attribute):
                continue
            try:
                functions.append((spec, load_target(getattr(spec, attribute))))
            except Exception as exc:  # noqa: BLE001 - one broken method must not hide the rest
                print(f"warning: cannot load 'styx {group} {spec.name}' from plugin "
                      f"{spec.plugin!r}: {type(exc).__name__}: {exc}", file=sys.stderr)
    for spec, function in functions:
        # The name as typed too: the registry matches "Texture-Nets" to "texture_nets",
        # the command group only knows the names it was given.
        names = dict.fromkeys([spec.name, *spec.aliases, *([wanted] if wanted else [])])
        for name in names:
            sub.command(name=name, help=spec.summary, short_help=spec.summary,
                        hidden=name != spec.name)(function)


def _method_named(argv: list[str], group: str) -> str | None:
    """The METHOD of ``styx GROUP METHOD ...`` when argv has that shape (not an option)."""
    if len(argv) >= 2 and argv[0] == group and not argv[1].startswith("-"):
        return argv[1]
    return None


def report_error(error: StyxError) -> None:
    from rich.console import Console

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(f"[bold red]error:[/] {error.message}", markup=True)
    if error.hint:
        console.print(f"[dim]hint: {error.hint}[/]", markup=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``styx``: a StyxError is one red line on stderr and exit code 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from styx.core.plugins import debug_enabled

    debug = debug_enabled()
    try:
        app = build_app(argv)
        app(args=argv, prog_name="styx")
    except StyxError as error:
        if debug:
            raise
        report_error(error)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as error:
        if debug:
            raise
        report_error(StyxError(f"unexpected {type(error).__name__}: {error}",
                               "a bug in styx or a plugin; STYX_DEBUG=1 shows the traceback"))
        sys.exit(1)
