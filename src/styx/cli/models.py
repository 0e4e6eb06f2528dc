"""``styx models list|show|rm``: the trained models in the model store ($STYX_HOME/models)."""

from __future__ import annotations

import json

import typer

models_app = typer.Typer(
    help="Trained models in the model store ($STYX_HOME/models).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _style_of(metadata: dict) -> str:
    from styx.files.modelstore import styles_of

    names = [str(s.get("name") or s.get("path") or "") for s in styles_of(metadata)]
    if len(names) > 3:
        return f"{', '.join(names[:2])} +{len(names) - 2} more"
    return ", ".join(names)


def _short_time(created: object) -> str:
    """``2026-01-31T12:34:56+00:00`` -> ``2026-01-31 12:34`` (the table's width is precious)."""
    text = str(created or "")
    return text[:16].replace("T", " ") if len(text) >= 16 else text


def _stdout():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


@models_app.command("list")
def list_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """List the stored models."""
    from styx.files.modelstore import list_models, models_home

    infos = list_models()
    if as_json:
        typer.echo(json.dumps({"models_home": str(models_home()),
                               "models": [i.to_json() for i in infos]}, indent=2))
        return
    if not infos:
        typer.echo(f"no models in {models_home()} (train one with 'styx train METHOD')")
        return
    rows = [_row(info) for info in infos]
    console = _stdout()
    headers = ("name", "method", "style", "iters", "size", "created")
    # Every cell whole: a table when it fits the terminal, else one model per line (a
    # style name folded mid-word, as a narrow table would, reads badly).
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    if sum(widths) + 3 * len(widths) + 1 <= console.width:
        from rich.table import Table

        table = Table(title=f"models in {models_home()}", title_justify="left")
        for header in headers:
            table.add_column(header, no_wrap=True)
        for info, row in zip(infos, rows):
            table.add_row(*(_escape(cell) for cell in row),
                          style="red" if info.error else None)
        console.print(table)
        return
    console.print(f"models in {models_home()}")
    for row in rows:
        name, *rest = row
        console.print(f"[bold]{_escape(name)}[/]  " +
                      "  ".join(_escape(f"{h}={v}") for h, v in zip(headers[1:], rest) if v))


def _row(info) -> list[str]:
    meta = info.metadata
    if info.error:
        return [info.name, "damaged", info.error, "", _human_size(info.size_bytes), ""]
    training = meta.get("training") if isinstance(meta.get("training"), dict) else {}
    iterations = training.get("iterations_done", training.get("iterations", ""))
    return [info.name, str(meta.get("method", "?")), _style_of(meta), str(iterations),
            _human_size(info.size_bytes), _short_time(meta.get("created"))]


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(str(text))


@models_app.command("show")
def show_command(
    name: str = typer.Argument(..., help="A model name from 'styx models list', or a folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Show one model's metadata (a stored model, a model folder, or an exported .onnx)."""
    from pathlib import Path

    from styx.files.modelstore import model_info, styles_of

    if name.lower().endswith(".onnx"):
        _show_onnx(Path(name), as_json)
        return
    info = model_info(name)
    if as_json:
        typer.echo(json.dumps(info.to_json(), indent=2))
        return
    console = _stdout()
    console.print(f"[bold]{_escape(info.name)}[/]  {_escape(str(info.path))}  "
                  f"({_human_size(info.size_bytes)})")
    if info.error:
        console.print(f"[red]damaged:[/] {_escape(info.error)}", markup=True)
    styles = styles_of(info.metadata)
    if len(styles) > 1 or isinstance(info.metadata.get("styles"), list):
        console.print(f"styles ({len(styles)}):")
        for index, style in enumerate(styles):
            size = style.get("size")
            shape = f"  {size[1]}x{size[0]}" if isinstance(size, list) and len(size) == 2 else ""
            console.print(f"  {index:>3}  {_escape(str(style.get('name', '')))}  "
                          f"sha256 {str(style.get('sha256', '?'))[:16]}{shape}"
                          + ("  (added)" if style.get("added") else ""))
    if info.metadata:
        console.print_json(json.dumps(info.metadata))


def _show_onnx(path, as_json: bool) -> None:
    """``styx models show FILE.onnx``: what the exporter recorded in the file."""
    from styx.inference.onnxfile import read_metadata

    metadata = read_metadata(path)
    size = path.stat().st_size
    if as_json:
        typer.echo(json.dumps({"path": str(path), "size_bytes": size, "metadata": metadata},
                              indent=2))
        return
    console = _stdout()
    console.print(f"[bold]{_escape(path.name)}[/]  {_escape(str(path.resolve()))}  "
                  f"({_human_size(size)})")
    inputs = ", ".join(f"{name} ({entry.get('kind', '?')}) "
                       f"{'x'.join(str(d) for d in entry.get('shape', []))}"
                       for name, entry in metadata.get("inputs", {}).items())
    console.print(_escape(f"{metadata.get('method')} generator, {metadata.get('precision')}, "
                          f"opset {metadata.get('opset')}, written by styx "
                          f"{metadata.get('styx_version')} from model {metadata.get('model')!r}"))
    if metadata.get("fast_on"):  # files from styx before it was recorded lack it
        console.print(_escape(f"fast on: {metadata['fast_on']}"))
    console.print(_escape(f"inputs: {inputs}; images from {metadata.get('smallest_size')} px a "
                          "side"))
    styles = metadata.get("styles") or []
    console.print(_escape(f"styles ({len(styles)}): " +
                          ", ".join(f"{i} {name}" for i, name in enumerate(styles))))
    console.print_json(json.dumps(metadata))


@models_app.command("rm")
def rm_command(
    names: list[str] = typer.Argument(..., help="Model name(s) to delete."),  # noqa: B008
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete stored models."""
    from styx.core.checks import check_model_name
    from styx.core.errors import StyxError
    from styx.files.modelstore import remove_model, stored_model_folder

    names = list(dict.fromkeys(names))  # a name given twice is deleted once
    for name in names:
        try:
            check_model_name(name)
        except StyxError as error:
            raise StyxError(error.message, "'styx models rm' deletes stored models by the "
                            "name 'styx models list' shows, never a folder path") from None
    folders = [stored_model_folder(name) for name in names]
    if not yes:
        listed = ", ".join(str(f) for f in folders)
        if not typer.confirm(f"delete {listed}?", default=False, err=True):
            typer.echo("nothing deleted", err=True)
            raise typer.Exit(1)
    for name in names:
        typer.echo(f"removed {remove_model(name)}", err=True)
