"""``styx plugins`` and ``styx list``: what is installed, read from the plugins' light specs.

Neither command imports torch: everything shown comes from the specs the hooks registered.
Tables go to stdout (rich); ``--json`` prints the same facts as JSON instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import typer

from styx.core.errors import StyxError

#: What ``styx list`` accepts, besides the registries' kinds.
LAYERS = "layers"


# -- styx plugins ----------------------------------------------------------------------------
def plugins_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    check: str | None = typer.Option(
        None, "--check", metavar="NAME",
        help="Run the conformance checks (styx.testing) on everything plugin NAME "
             "registers, or on the descriptor, loss or method NAME; exit 1 if one fails."),
) -> None:
    """Show the loaded plugins, what each registers, and the ones that failed or are disabled.

    A plugin that fails to import or raises in a hook is listed with a one-line error;
    STYX_DEBUG=1 shows the traceback. STYX_DISABLE_PLUGINS=a,b skips plugins by name. A
    name another plugin (a built-in first) holds is refused and listed with the qualified
    name PLUGIN:NAME that still reaches it.
    """
    from styx.core.plugins import debug_enabled, get_plugins

    if check is not None:
        _check_plugin(check, as_json)
        return
    plugins = get_plugins()
    debug = debug_enabled()
    if as_json:
        _print_json({
            "plugins": [info.as_dict() for info in plugins.info],
            "failures": [f.as_dict(with_traceback=debug) for f in plugins.failures],
            "disabled": list(plugins.disabled),
            "refused": [refusal.as_dict() for refusal in plugins.refused],
        })
        return

    console = _console()
    table = make_table("styx plugins", ("Plugin", "Version", "Distribution", "Registers"))
    for info in plugins.info:
        lines = [_escape(f"{kind}: {', '.join(names)}")
                 for kind, names in info.registered.items()]
        lines += [f"[yellow]warning: {_escape(w)}[/]" for w in info.warnings]
        table.add_row(_escape(info.name), _escape(info.version), _escape(info.distribution),
                      "\n".join(lines) or "[dim](nothing)[/]")
    console.print(table)
    if plugins.failures:
        failed = make_table("failed plugins", ("Plugin", "Distribution", "Stage", "Error"),
                            title_style="bold red")
        for failure in plugins.failures:
            failed.add_row(_escape(failure.name), _escape(failure.distribution),
                           failure.stage, _escape(failure.error))
        console.print(failed)
        if debug:
            for failure in plugins.failures:
                console.rule(f"{failure.name} ({failure.stage})")
                console.print(failure.traceback, markup=False, highlight=False, end="")
        else:
            console.print("[dim]STYX_DEBUG=1 shows the tracebacks[/]")
    if plugins.disabled:
        console.print(f"disabled by STYX_DISABLE_PLUGINS: {', '.join(plugins.disabled)}")
    refused = plugins.refused
    if refused:
        taken = make_table("refused names (another plugin holds them)",
                           ("Kind", "Name", "Plugin", "Held by", "Use instead"),
                           title_style="bold yellow")
        for refusal in refused:
            holder = refusal.holder + (" (built-in)" if refusal.holder_builtin else "")
            taken.add_row(refusal.kind, _escape(refusal.name), _escape(refusal.plugin),
                          _escape(holder), _escape(refusal.qualified))
        console.print(taken)
    console.print(f"{len(plugins.info)} loaded, {len(plugins.failures)} failure(s), "
                  f"{len(plugins.disabled)} disabled, {len(refused)} name(s) refused")


def _check_plugin(name: str, as_json: bool) -> None:
    """``styx plugins --check NAME``: a table of checks per spec; exit 1 on a failure."""
    from styx.testing import check_plugin

    reports = check_plugin(name)
    if as_json:
        _print_json([report.as_dict() for report in reports])
    else:
        console = _console()
        for report in reports:
            table = make_table(f"{report.kind} {report.name}", ("Check", "Result", "Detail"))
            for result in report.results:
                table.add_row(_escape(result.check),
                              "[green]pass[/]" if result.passed else "[bold red]FAIL[/]",
                              _escape(result.detail))
            console.print(table)
        failed = sum(len(report.failures) for report in reports)
        total = sum(len(report.results) for report in reports)
        console.print(f"{total - failed} of {total} checks passed" +
                      (f", [bold red]{failed} failed[/]" if failed else ""))
    if not all(report.ok for report in reports):
        raise typer.Exit(1)


# -- styx list ----------------------------------------------------------------------------
def list_command(
    kind: str = typer.Argument(
        ..., help="descriptors, losses, methods, exporters, or layers (with a DESCRIPTOR)."),
    name: str | None = typer.Argument(
        None, help="For 'layers': the descriptor. Otherwise: show only this one."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List what the plugins registered: descriptors, losses, methods, exporters.

    'styx list layers DESCRIPTOR' prints a descriptor's layer names, marking the default
    content and style layers and showing the other names each layer answers to.
    """
    from styx.core.plugins import get_plugins

    plugins = get_plugins()
    kind = plugins.kind_of(kind, extra={LAYERS: LAYERS, "layer": LAYERS})
    if kind == LAYERS:
        if not name:
            names = plugins.descriptors.names()
            raise StyxError("'styx list layers' needs a descriptor name",
                            "e.g. 'styx list layers " + (names[0] if names else "vgg19") + "'"
                            + (f"; descriptors: {', '.join(names)}" if names else ""))
        _list_layers(plugins.get("descriptors", name), as_json)
        return
    registry = plugins.registry(kind)
    specs = [plugins.get(kind, name)] if name else list(registry)
    if as_json:
        _print_json([spec.describe() for spec in specs])
        return
    columns = COLUMNS[kind]
    table = make_table(f"{kind} ({len(specs)})", [header for header, _ in columns])
    for spec in specs:
        table.add_row(*(_escape(getter(spec)) for _, getter in columns))
    console = _console()
    console.print(table)
    if not specs and plugins.failures:
        console.print("[yellow]some plugins failed to load: see 'styx plugins'[/]")


def _list_layers(spec: Any, as_json: bool) -> None:
    aliases: dict[str, list[str]] = {}
    for alias, layer in spec.layer_aliases.items():
        aliases.setdefault(layer, []).append(alias)
    # Defaults may be given by alias (e.g. a Keras name): mark the layer they stand for.
    content = {spec.layer_aliases.get(n, n) for n in spec.default_content_layers}
    style = {spec.layer_aliases.get(n, n) for n in spec.default_style_layers}
    rows = [{"name": layer, "aliases": aliases.get(layer, []),
             "default_content": layer in content, "default_style": layer in style}
            for layer in spec.layers]
    if as_json:
        _print_json({"descriptor": spec.name, "layers": rows,
                     "default_content_layers": list(spec.default_content_layers),
                     "default_style_layers": list(spec.default_style_layers)})
        return
    console = _console()
    table = make_table(f"layers of {spec.name} ({len(rows)})",
                       ("#", "Layer", "Default", "Also called"))
    for index, row in enumerate(rows):
        marks = [m for m, on in (("content", row["default_content"]),
                                 ("style", row["default_style"])) if on]
        table.add_row(str(index), row["name"], ", ".join(marks), ", ".join(row["aliases"]))
    console.print(table)
    if not rows:
        console.print(f"descriptor {spec.name!r} declares no layer names")


# -- helpers -------------------------------------------------------------------------------
def _joined(values: Any) -> str:
    return ", ".join(values)


def _columns(*own: tuple[str, Callable[[Any], str]]) -> list[tuple[str, Callable[[Any], str]]]:
    """A kind's table columns (header, cell text of a spec): name, aliases, ``own``,
    summary and plugin."""
    return [("Name", lambda s: s.name), ("Aliases", lambda s: _joined(s.aliases)), *own,
            ("Summary", lambda s: s.summary), ("Plugin", lambda s: s.plugin)]


COLUMNS = {
    "descriptors": _columns(
        ("Layers", lambda s: str(len(s.layers))),
        ("Content", lambda s: _joined(s.default_content_layers)),
        ("Style", lambda s: _joined(s.default_style_layers)),
        ("Default", lambda s: "yes" if s.default else "")),
    "losses": _columns(
        ("Scores", lambda s: s.scores), ("Default for", lambda s: _joined(s.default_for)),
        ("Options", lambda s: _joined(s.option_help()))),
    "methods": _columns(
        ("Commands", lambda s: _joined(s.commands)),
        ("Feed-forward", lambda s: "yes" if s.feed_forward else "no")),
    "exporters": _columns(
        ("Suffix", lambda s: s.suffix),
        ("Methods", lambda s: _joined(s.methods) or "every feed-forward method")),
}


def make_table(title: str, headers: Iterable[str], **style: Any) -> Any:
    """A rich table titled on the left, with a folding column per header."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", **style)
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def _console() -> Any:
    import os

    from rich.console import Console

    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = 120  # piped or captured: wider than rich's 80 columns
    return console


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))
