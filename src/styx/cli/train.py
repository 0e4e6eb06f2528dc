"""``styx train METHOD``: every option from the method's training config."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from styx.cli.params import (
    config_from_cli,
    config_parameters,
    dry_run_flag,
    flags_of,
    make_command,
    output_flags,
    report_dry_run,
    split_values,
    strict_flag,
)
from styx.core.config import Config
from styx.core.specs import MethodSpec


def train_command(spec: MethodSpec) -> Callable[..., None]:
    """``styx train NAME``: every option from the method's training config."""
    from styx.core.method import train_config_class

    config_class = train_config_class(spec)
    io = [*output_flags(), strict_flag(), dry_run_flag()]
    parameters = io + config_parameters(config_class, taken=flags_of(io))
    return make_command(spec.summary, parameters,
                        lambda values: _train(spec, config_class, values))


def _train(spec: MethodSpec, config_class: type[Config], values: dict[str, Any]) -> None:
    from styx.perceptual.weights import notes
    from styx.training.feedforward import trainer

    io, options = split_values(values)
    quiet = io["quiet"] or io["json"]
    config = config_from_cli(config_class, options, quiet=quiet)
    if io["strict"]:
        _refuse_bad_files(config)
    from styx.runtime.memory import DryRunStop, watching

    try:
        with notes(not quiet), watching(stop=io["dry_run"]) as needs:
            trained = trainer(spec)(config)
    except DryRunStop:
        report_dry_run(needs, io["json"])
        return
    if trained.path is None:  # a DDP rank other than 0
        return
    from styx.files.badfiles import failed_json

    summary = trained.summary()
    skipped = trained.result.skipped_reasons
    summary["failed"] = failed_json(sorted(skipped.items()))
    if needs:
        summary["memory"] = needs[-1].to_dict()
    if io["json"]:
        typer.echo(json.dumps(summary))
    elif not io["quiet"]:  # -q: no notes, as in every command
        note = f" ({len(skipped)} skipped (bad files))" if skipped else ""
        typer.echo(f"saved model {trained.name or trained.path} to {trained.path}{note}",
                   err=True)
    if skipped:  # README "Bad files": the model is saved, the exit code says what was not read
        raise typer.Exit(1)


#: The training options that name folders of images read as data.
IMAGE_FOLDERS = ("content_dir", "style_dir")


def _refuse_bad_files(config: Config) -> None:
    """``--strict``: every image of the config's folders decoded before training starts;
    the first bad one is the error (exit 2, naming it)."""
    from styx.files.badfiles import BadFiles
    from styx.files.image_arrays import find_images

    for field in IMAGE_FOLDERS:
        folder = getattr(config, field, None)
        if folder is not None and Path(folder).expanduser().is_dir():
            BadFiles(strict=True).check(find_images(folder), decode=True)
