"""``styx weights``: the ImageNet weights of each descriptor in torchvision's cache.

``list`` shows each descriptor's file, where it is cached and whether it is there;
``path`` prints the expected cache path; ``download`` fetches it; ``import`` checks a file
you bring (a .safetensors or .pth state dict) against the network and stores it under
torchvision's file name, for machines with no internet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from styx.core.errors import StyxError

DESCRIPTOR = typer.Argument(help="A descriptor name, e.g. vgg19.", metavar="DESCRIPTOR",
                            show_default=False)

weights_app = typer.Typer(
    help="Descriptor weights in torchvision's cache (TORCH_HOME): list, path, download, import.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _info(name: str) -> tuple[Any, Any]:
    """(spec, WeightsInfo) for descriptor ``name``; a StyxError if it has no ImageNet file."""
    from styx.core.plugins import descriptors
    from styx.perceptual.weights import weights_info

    spec = descriptors().get(name)
    info = weights_info(spec)
    if info is None:
        raise StyxError(f"descriptor {spec.name!r} declares no ImageNet weights file",
                        "give it weights with --weights PATH instead")
    return spec, info


def _rows() -> list[dict[str, Any]]:
    from styx.core.plugins import descriptors
    from styx.perceptual.weights import cached_file, weights_info

    rows = []
    for spec in descriptors():
        row: dict[str, Any] = {"descriptor": spec.name, "file": None, "path": None,
                               "cached": False}
        rows.append(row)
        try:
            info = weights_info(spec)
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not hide the others
            row["error"] = f"{type(exc).__name__}: {exc}"
            continue
        if info is not None:
            path = cached_file(info)
            row.update(file=info.file_name, path=str(path), cached=path.is_file(), url=info.url)
    return rows


@weights_app.command("list")
def list_weights(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Each descriptor's ImageNet weights file, its cache path, and whether it is cached."""
    rows = _rows()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    width = max([len(r["descriptor"]) for r in rows] + [len("descriptor")])
    typer.echo(f"{'descriptor':<{width}}  cached  path")
    for row in rows:
        cached = "yes" if row["cached"] else ("no" if row["path"] else "-")
        where = row["path"] or row.get("error", "(declares no ImageNet file)")
        typer.echo(f"{row['descriptor']:<{width}}  {cached:<6}  {where}")


@weights_app.command("path")
def path(descriptor: Annotated[str, DESCRIPTOR]) -> None:
    """Print where the descriptor's ImageNet weights are (or would be) cached."""
    from styx.perceptual.weights import cached_file

    _, info = _info(descriptor)
    typer.echo(str(cached_file(info)))


@weights_app.command("download")
def download(
    descriptor: Annotated[str, DESCRIPTOR],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Download the descriptor's ImageNet weights into the cache (if not cached yet)."""
    from styx.perceptual.weights import cached_file
    from styx.perceptual.weights import download as fetch

    spec, info = _info(descriptor)
    target = cached_file(info)
    if target.is_file():
        typer.echo(f"{spec.name}: already cached at {target}", err=True)
    else:
        target = fetch(info, spec.name, progress=not quiet)
        typer.echo(f"{spec.name}: downloaded to {target}", err=True)
    typer.echo(str(target))


@weights_app.command("import")
def import_weights(
    descriptor: Annotated[str, DESCRIPTOR],
    file: Annotated[Path, typer.Argument(
        help="A .safetensors or .pth state dict of that network.", metavar="FILE")],
    force: Annotated[bool, typer.Option(
        "--force", help="Replace a file already in the cache.")] = False,
) -> None:
    """Check FILE against the descriptor's network (every key and shape), then cache it.

    The copy is written under torchvision's file name as a plain state dict, so styx and
    torchvision both use it as the ImageNet weights.
    """
    from styx.perceptual.weights import import_into_cache

    spec, info = _info(descriptor)
    target = import_into_cache(info, file, force=force)
    typer.echo(f"{spec.name}: imported {file} as {target}", err=True)
    typer.echo(str(target))
