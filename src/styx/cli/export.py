"""``styx export METHOD --FORMAT``: a command group that exporter plugins fill.

Every installed exporter is one flag; its options (from its config) are options of the
command, passed to it only when given. The work itself is :func:`styx.exports.export`.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from styx.cli.params import (
    IO,
    config_from_cli,
    config_parameters,
    flags_of,
    io_parameter,
    make_command,
    note,
    optional_option,
    output_flags,
    split_values,
)
from styx.core.config import Config, options_of
from styx.core.errors import StyxError
from styx.core.specs import ExporterSpec, MethodSpec


def export_command(spec: MethodSpec, exporters: list[ExporterSpec]) -> Callable[..., None]:
    """``styx export NAME --FORMAT``: one flag per installed exporter, each exporter's
    options, and the model to export (by default the method's only or newest one)."""
    from styx.core.specs import load_object

    io = [
        optional_option("model", "--model", "-m", annotation=str,
                        help="A model name or folder [default: the method's only, or most "
                             "recent, stored model]."),
        optional_option("output", "--output", "-o", annotation=Path,
                        help="The file to write [default: MODEL.SUFFIX here]."),
        io_parameter("overwrite", typer.Option(
            False, "--overwrite", help="Replace an existing file at --output."), bool),
        *output_flags(),
    ]
    formats: dict[str, tuple[ExporterSpec, type[Config] | None]] = {}
    flags = [io_parameter(f"format_{index}", typer.Option(
        False, f"--{exporter.name}", help=f"Write {exporter.summary}"), bool)
        for index, exporter in enumerate(exporters)]
    shared: dict[str, inspect.Parameter] = {}  # option name -> its parameter
    owners: dict[str, list[ExporterSpec]] = {}  # option name -> the exporters that take it
    for exporter, flag in zip(exporters, flags):
        try:
            config_class = None if exporter.config is None else load_object(exporter.config)
            # Each exporter's options reach only its own run: passed only if given. Two
            # exporters may share an option (the same name and flags), not a flag.
            own = [] if config_class is None else config_parameters(
                config_class, taken=flags_of([*io, *flags]), given_only=True)
            for parameter in own:
                known = shared.get(parameter.name)
                if known is not None and (known.default.param_decls,
                                          known.annotation) != (parameter.default.param_decls,
                                                                parameter.annotation):
                    raise TypeError(f"its option {parameter.name!r} differs from exporter "
                                    f"{owners[parameter.name][0].name!r}'s")
                if known is None and flags_of([parameter]) & flags_of([*shared.values()]):
                    raise TypeError(f"its option {parameter.name!r} takes a flag of another "
                                    "exporter's option")
        except (ImportError, AttributeError, TypeError) as error:  # one plugin's problem
            note(f"warning: exporter {exporter.name!r} of plugin {exporter.plugin!r} is left "
                 f"out of 'styx export {spec.name}': {type(error).__name__}: {error}")
            continue
        formats[flag.name[len(IO):]] = (exporter, config_class)
        for parameter in own:
            shared.setdefault(parameter.name, parameter)
            owners.setdefault(parameter.name, []).append(exporter)
    chosen_flags = [flag for flag in flags if flag.name[len(IO):] in formats]
    parameters = [*io, *chosen_flags, *shared.values()]
    return make_command(
        f"Export a trained {spec.name} model (formats: "
        + (", ".join(f"--{e.name}" for e, _ in formats.values()) or "none installed")
        + ").",
        parameters, lambda values: _export(spec, formats, owners, values))


def _export(spec: MethodSpec, formats: dict[str, tuple[ExporterSpec, type[Config] | None]],
            owners: dict[str, list[ExporterSpec]], values: dict[str, Any]) -> None:
    from styx.core.specs import load_object
    from styx.exports import export_file, newest_model

    io, options = split_values(values)
    if not formats:
        raise StyxError(f"no exporter is installed, so nothing can export {spec.name} models",
                        "'styx list exporters' lists them; exporters are plugins")
    chosen = [formats[key] for key in formats if io[key]]
    if not chosen:
        raise StyxError("no format chosen", "give one of " + ", ".join(
            f"--{exporter.name}" for exporter, _ in formats.values()))
    if len(chosen) > 1:
        raise StyxError("give one format at a time: "
                        + ", ".join(f"--{e.name}" for e, _ in chosen),
                        "run styx export once per format")
    exporter, config_class = chosen[0]
    own = {name: value for name, value in options.items() if exporter in owners[name]}
    for name, value in options.items():
        if name not in own and value is not None:
            other = owners[name][0]
            flag = next(i.flag for i in options_of(load_object(other.config)) if i.field == name)
            raise StyxError(f"{flag} is an option of --{other.name}",
                            f"leave it out with --{exporter.name}")
    model = io["model"]
    if not model:
        model, count = newest_model(spec)
        if not io["quiet"] and not io["json"]:
            which = f"the only stored {spec.name} model" if count == 1 else \
                f"the newest of {count} stored {spec.name} models"
            note(f"using model {model!r} ({which})")
    from styx.generators.models import load_model
    from styx.perceptual.weights import notes

    with notes(not io["quiet"] and not io["json"]):  # a generator's own descriptor's notes
        loaded = load_model(model, method=spec.name)
        config = config_from_cli(config_class, own) if config_class is not None else None
        written, details = export_file(loaded, exporter.name, io["output"], config=config,
                                       overwrite=io["overwrite"])
    if io["json"]:
        typer.echo(json.dumps({"output": str(written), "model": str(loaded.path),
                               "format": exporter.name, **details}))
    elif not io["quiet"]:
        note(f"wrote {written} ({exporter.name}, model {loaded.name})")
        for key, value in details.items():
            note(f"  {key}: {_shown(value)}")


def _shown(value: Any) -> str:
    """A detail an exporter reported, on one line."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {_shown(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_shown(v) for v in value)
    return str(value)
