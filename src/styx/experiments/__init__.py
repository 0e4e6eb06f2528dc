"""The seed report's studies as repeatable commands: ``styx experiment NAME``.

A study runs one method many times, changing one thing per column (a style layer, a TV
weight, a descriptor, a crop of the style, the method itself, or any option given with
``--vary``), with one row per content and style pair, and writes into its folder::

    grid.png        the pictures, rows and columns labelled
    plots/*.png     the study's numbers plotted (matplotlib)
    results.json    every cell's numbers and config, the styx version, the weights used
    report.html     all of it on one page that opens in any browser, with no server
    cells/          one picture and one JSON file per finished cell (reused when run again)

From Python::

    from styx.experiments import run_study

    document = run_study("tv-weight", size=128, steps=50, weights="random", output="tv")
    document["cells"][0]["metrics"]["judge_tv"]

Importing this package imports no torch; running a study does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from styx.core.errors import StyxError
from styx.experiments.options import StudyOptions
from styx.experiments.studies import STUDIES, study_info

__all__ = ["STUDIES", "StudyOptions", "StudyOutcome", "run_study", "study_info"]


class StudyOutcome(dict):
    """The results document (as written to ``results.json``); ``interrupted`` tells a study
    stopped by Ctrl-C, ``folder`` where its files are."""

    folder: Path
    interrupted: bool


def run_study(name: str = "sweep", *, options: StudyOptions | None = None,
              progress: bool = False, notes: Callable[[str], None] | None = None,
              **values: Any) -> StudyOutcome:
    """Run the study ``name`` (see :data:`STUDIES`) with ``options`` or keyword ``values``
    (the fields of :class:`StudyOptions`: ``size=128, vary={"style_weight": [1e3, 1e4]}``).

    Every cell's config is made, and so checked, before any runs: a bad option, layer,
    descriptor or method is a StyxError with nothing run. Finished cells in the folder are
    reused (``fresh=True``: run again). ``notes`` receives a line or two on what happens.
    """
    from styx.experiments.render import write_outputs
    from styx.experiments.runner import Judge, check_folder, load_done
    from styx.experiments.runner import run_study as run_cells

    options = StudyOptions.from_options(values, base=options)
    info = study_info(name)
    folder = (Path(options.output) if options.output is not None
              else Path("experiments") / info.name).expanduser()
    # Its options are checked as it is made: an unknown judge fails before any work too.
    judge = Judge(options.judge_descriptor(), options.weights, options.seed)
    study = info.build(options, folder)
    folder = check_folder(folder)
    if notes is not None:
        before = 0 if options.fresh else sum(load_done(folder, c) is not None
                                             for c in study.cells)
        notes(f"study {study.name}: {len(study.cells)} cells "
              f"({len(study.columns)} columns x {len(study.rows)} rows"
              + (f", {before} done before" if before else "") + f") in {folder}")
    run = run_cells(study, folder, judge=judge, fresh=options.fresh, progress=progress)
    document = StudyOutcome(write_outputs(run, options.to_dict(), options.thumbnail))
    document.folder, document.interrupted = folder, run.interrupted
    return document


def read_study_file(path: str | os.PathLike[str]) -> tuple[str, dict[str, Any]]:
    """``(study name, options)`` from a TOML file: ``study = "tv-weight"`` (default: sweep)
    and the options of :class:`StudyOptions` by field or flag name (``[vary]``, ``[set]``,
    ``[train-set]`` tables); relative paths are taken from the file's folder."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    file = Path(path).expanduser()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise StyxError(f"cannot read {file}: {error.strerror or error}",
                        "give the path of a study's .toml file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise StyxError(f"{file} is not valid TOML: {error}",
                        "see docs/experiments.md for a study file") from None
    name = str(data.pop("study", "sweep"))
    by_flag = {info.flag.removeprefix("--").replace("-", "_"): info.field
               for info in StudyOptions.options()}
    options = {by_flag.get(key.replace("-", "_"), key.replace("-", "_")): value
               for key, value in data.items()}
    base = file.parent
    for key in ("content", "style"):
        if key in options:
            items = options[key] if isinstance(options[key], list) else [options[key]]
            options[key] = [base / Path(item).expanduser() for item in items]
    for key in ("output", "content_dir"):
        if isinstance(options.get(key), str):
            options[key] = base / Path(options[key]).expanduser()
    options.setdefault("output", base / file.stem)
    return name, options
