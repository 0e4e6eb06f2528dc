"""``styx train METHOD``: every option from the method's training config."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import typer

from styx.cli.params import (
    config_from_cli,
    config_parameters,
    flags_of,
    make_command,
    output_flags,
    split_values,
)
from styx.core.config import Config
from styx.core.specs import MethodSpec


def train_command(spec: MethodSpec) -> Callable[..., None]:
    """``styx train NAME``: every option from the method's training config."""
    from styx.core.method import train_config_class

    config_class = train_config_class(spec)
    io = output_flags()
    parameters = io + config_parameters(config_class, taken=flags_of(io))
    return make_command(spec.summary, parameters,
                        lambda values: _train(spec, config_class, values))


def _train(spec: MethodSpec, config_class: type[Config], values: dict[str, Any]) -> None:
    from styx.perceptual.weights import notes
    from styx.training.feedforward import trainer

    io, options = split_values(values)
    quiet = io["quiet"] or io["json"]
    config = config_from_cli(config_class, options, quiet=quiet)
    with notes(not quiet):
        trained = trainer(spec)(config)
    if trained.path is None:  # a DDP rank other than 0
        return
    summary = trained.summary()
    if io["json"]:
        typer.echo(json.dumps(summary))
    elif not io["quiet"]:  # -q: no notes, as in every command
        skipped = summary["skipped_files"]
        note = f" ({skipped} unreadable file(s) skipped)" if skipped else ""
        typer.echo(f"saved model {trained.name or trained.path} to {trained.path}{note}",
                   err=True)


