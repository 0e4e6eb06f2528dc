"""Development sessions. ``nox -s tests`` is THE test command (CI runs exactly that).

Sessions: ``tests`` (pytest), ``lint`` (ruff), ``bench`` (every ``benchmarks/*.py`` but the
``_*.py`` helpers; each prints JSON), ``example_plugin`` (installs the example third-party
plugin and runs it).
Plain ``nox`` runs ``tests`` and ``lint``.

Installs use pip (not uv) with ``-c constraints.txt``: the pinned torch/torchvision pair.
Virtualenvs are reused between runs (``nox.options.reuse_venv``); the first run installs
torch into a fresh one, which takes minutes. ``nox -s tests -- -x -k plugins`` passes the
arguments after ``--`` to pytest.
"""

from __future__ import annotations

import json
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))
EXAMPLE_PLUGIN = ROOT / "tests" / "fixtures" / "styx-example-plugin"
RUFF = "ruff==0.17.6"  # the version the code base is checked with; newer ones add rules

nox.options.reuse_venv = "yes"
nox.options.default_venv_backend = "virtualenv"  # pip inside; uv would not find torch here
nox.options.sessions = ["tests", "lint"]
nox.options.error_on_external_run = True


def install_styx(session: nox.Session, extras: str = "") -> None:
    session.install(*CONSTRAINTS, "-e", f"{ROOT}{extras}")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the whole test suite (slow tests included). Exit code 5 (no tests) fails."""
    install_styx(session, "[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the sources, tests, benchmarks and this file."""
    session.install(RUFF)
    paths = [p for p in ("src", "tests", "benchmarks", "noxfile.py") if (ROOT / p).exists()]
    session.run("ruff", "check", *paths, *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmarks/*.py; each prints one JSON document, collected in .nox/bench.json.
    Names that start with ``_`` are the scripts' shared modules, not benchmarks."""
    install_styx(session)
    scripts = sorted(p for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_"))
    if not scripts:
        session.error("no benchmarks/*.py found")
    results = {}
    for script in scripts:
        output = session.run("python", str(script), *session.posargs, silent=True)
        try:
            results[script.stem] = json.loads(output)
        except (TypeError, json.JSONDecodeError):
            session.error(f"{script.name} did not print JSON:\n{output}")
        print(json.dumps({script.stem: results[script.stem]}, indent=2))
    out = ROOT / ".nox" / "bench.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    session.log(f"wrote {out}")


@nox.session
def example_plugin(session: nox.Session) -> None:
    """Install the example third-party plugin next to styx and run it through the CLI."""
    install_styx(session)
    session.install("--no-deps", "-e", str(EXAMPLE_PLUGIN))
    report = json.loads(session.run("styx", "plugins", "--json", silent=True))
    example = [p for p in report["plugins"] if p["name"] == "example"]
    if not example or not example[0]["registered"].get("methods"):
        session.error(f"the example plugin did not load: {json.dumps(report, indent=2)}")
    session.run("styx", "plugins")
    session.run("styx", "list", "descriptors")
    session.run("styx", "list", "layers", "example-tinynet")
    out = Path(session.create_tmp()) / "example-invert.png"
    session.run("styx", "run", "example-invert",
                str(ROOT / "src" / "styx" / "data" / "tubingen.jpg"), "-o", str(out),
                "--size", "64", "--steps", "40")
    if not out.is_file():
        session.error(f"styx run example-invert wrote no {out}")
    session.run("python", "-m", "pip", "uninstall", "-y", "styx-example-plugin")
