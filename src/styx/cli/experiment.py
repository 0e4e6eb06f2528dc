"""``styx experiment NAME``, ``styx experiment run FILE`` and ``styx experiment list``.

Each study's command is made from :class:`~styx.experiments.options.StudyOptions` (its
options, help and checks) exactly as ``styx run METHOD`` is made from a method's config.
Nothing here imports torch; a study imports it once its options have passed their checks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from styx.cli.params import (
    config_from_cli,
    config_parameters,
    make_command,
    note,
    output_flags,
    split_values,
)
from styx.cli.run import INTERRUPTED_EXIT_CODE


def register(app: typer.Typer) -> None:
    """Add ``styx experiment ...`` (a fresh group for each app built)."""
    from styx.experiments.studies import STUDIES

    experiment_app = typer.Typer(
        help="Run the seed report's studies: a labelled grid, plots, results.json and "
             "report.html per study (see 'styx experiment list').",
        no_args_is_help=True, rich_markup_mode=None)
    for info in STUDIES.values():
        experiment_app.command(name=info.name, help=_help(info), short_help=info.summary)(
            study_command(info.name))
    experiment_app.command(name="run")(run_file_command)
    experiment_app.command(name="list")(list_command)
    app.add_typer(experiment_app, name="experiment")


def _help(info: Any) -> str:
    return (f"{info.summary}\n\n--values: {info.values_help}.\n\nFinished cells are reused "
            "when the study is run again (Ctrl-C, then the same command, goes on where it "
            "stopped); --fresh runs them all again.")


def study_command(name: str) -> Callable[..., None]:
    from styx.experiments.options import StudyOptions

    parameters = output_flags() + config_parameters(StudyOptions, taken={"--quiet", "-q",
                                                                         "--json"})

    def body(values: dict[str, Any]) -> None:
        io, options = split_values(values)
        execute(name, config_from_cli(StudyOptions, options), quiet=io["quiet"],
                as_json=io["json"])
    return make_command(name, parameters, body)


def run_file_command(
    file: Path = typer.Argument(..., metavar="STUDY.toml",  # noqa: B008
                                help="A study file: study = NAME and the options."),
    output: Path | None = typer.Option(None, "--output", "-o",  # noqa: B008
                                       help="The study's folder [default: beside the file, "
                                            "named after it]."),
    fresh: bool = typer.Option(False, "--fresh", help="Run every cell again."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no notes."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Run the study a TOML file describes (its keys are the options of 'styx experiment
    NAME', by name; see docs/experiments.md)."""
    from styx.experiments import read_study_file
    from styx.experiments.options import StudyOptions

    name, values = read_study_file(file)
    if output is not None:
        values["output"] = output
    if fresh:
        values["fresh"] = True
    execute(name, StudyOptions.from_options(values), quiet=quiet, as_json=as_json)


def list_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """The studies, and what --values means for each."""
    from styx.experiments.studies import STUDIES

    rows = [{"name": i.name, "summary": i.summary, "values": i.values_help}
            for i in STUDIES.values()]
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    from rich.console import Console
    from rich.markup import escape

    from styx.cli.info import make_table

    table = make_table("styx experiment", ("study", "what it shows", "--values"))
    for row in rows:
        table.add_row(*(escape(row[k]) for k in ("name", "summary", "values")))
    Console(soft_wrap=False).print(table)


def execute(name: str, options: Any, *, quiet: bool, as_json: bool) -> None:
    """Run a study; report where its files are, or that Ctrl-C stopped it (exit 130)."""
    from styx.experiments import run_study

    talk = not quiet and not as_json
    document = run_study(name, options=options, progress=talk, notes=note if talk else None)
    folder = document.folder
    summary = {"study": document["study"], "folder": str(folder),
               "status": document["status"], "cells_done": document["cells_done"],
               "cells_total": document["cells_total"],
               "report": str(folder / "report.html"), "results": str(folder / "results.json")}
    if as_json:
        print(json.dumps(summary, indent=1))
    elif talk:
        note(f"wrote {folder / 'report.html'} (grid.png, plots/, results.json beside it)")
    if document.interrupted:
        if not quiet:
            note(f"interrupted: {document['cells_done']} of {document['cells_total']} cells "
                 "done and kept; run the same command again to go on")
        raise typer.Exit(INTERRUPTED_EXIT_CODE)
