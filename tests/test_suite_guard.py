"""Guards on the test plumbing: the README's test command, nox and CI agree, and every
hook is documented."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def nox_sessions() -> dict[str, ast.FunctionDef]:
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    sessions = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any(
                "nox.session" in ast.unparse(d) for d in node.decorator_list):
            sessions[node.name] = node
    return sessions


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```[^\n]*\n(.*?)```", readme, flags=re.DOTALL)
    assert any(block.strip() == "nox -s tests" for block in blocks), \
        "the README must give the test command 'nox -s tests' in a code block of its own"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci
    runs = [line for line in ci.splitlines() if re.search(r"\bnox -s \w+", line)
            and not line.lstrip().startswith(("#", "echo"))]
    assert len(runs) == 1 and re.search(r"\bnox -s tests\b", runs[0]), runs
    assert "|| true" not in ci


def test_ci_script_is_valid_bash():
    result = subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_nox_sessions_exist_and_tests_fails_on_any_pytest_error():
    sessions = nox_sessions()
    assert {"tests", "lint", "bench", "example_plugin"} <= set(sessions)
    source = ast.unparse(sessions["tests"])
    assert "session.run('pytest'" in source
    assert "success_codes" not in source  # exit code 5 (no tests collected) must fail


@pytest.mark.parametrize("script", sorted(p for p in (ROOT / "benchmarks").glob("*.py")
                                           if not p.name.startswith("_")),
                         ids=lambda p: p.name)
def test_benchmarks_are_scripts(script):
    """Every benchmark (``_name.py`` modules are their shared helpers, which nox skips)."""
    source = script.read_text()
    assert '__name__ == "__main__"' in source, f"{script.name} must run as a script"
    assert "json" in source, f"{script.name} must print JSON"


def test_every_hook_is_documented_with_its_signature():
    from styx.core import hookspecs

    docs = (ROOT / "docs" / "plugins.md").read_text()
    hooks = [fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
             if hasattr(fn, "styx_spec")]
    assert hooks
    for hook in hooks:
        arguments = ", ".join(inspect.signature(hook).parameters)
        assert f"{hook.__name__}({arguments}" in docs, f"docs/plugins.md lacks {hook.__name__}"


def test_every_spec_field_is_documented():
    import dataclasses

    from styx.core.plugins import HOOKS
    from styx.core.specs import Spec

    docs = (ROOT / "docs" / "plugins.md").read_text()
    for spec_class in (Spec, *(spec for _, spec in HOOKS.values())):
        assert f"`{spec_class.__name__}`" in docs
        for field in dataclasses.fields(spec_class):
            assert f"| `{field.name}` |" in docs, f"{spec_class.__name__}.{field.name}"


def _tests_named_in(doc: Path) -> list[str]:
    return sorted(set(re.findall(r"`(tests/[^`\s]+)`", doc.read_text())))


def test_every_test_docs_testing_names_exists():
    """docs/testing.md maps each documented promise to its tests: a renamed or deleted test
    must not leave the map pointing at nothing."""
    named = _tests_named_in(ROOT / "docs" / "testing.md")
    assert len(named) > 100  # the promise table is there
    defined: dict[Path, set[str]] = {}
    missing = []
    for reference in named:
        path, _, name = reference.partition("::")
        file = ROOT / path
        if not file.exists():
            missing.append(reference)
            continue
        if not name or file.is_dir():
            continue
        if file not in defined:
            tree = ast.parse(file.read_text())
            defined[file] = {node.name for node in ast.walk(tree)
                             if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        if name.split("[")[0] not in defined[file]:
            missing.append(reference)
    assert missing == []


def test_the_readme_cpu_install_pins_what_constraints_txt_pins():
    readme = (ROOT / "README.md").read_text()
    pins = dict(re.findall(r"^(torch|torchvision)==(\S+)$",
                           (ROOT / "constraints.txt").read_text(), flags=re.MULTILINE))
    assert set(pins) == {"torch", "torchvision"}
    cpu_lines = [line for line in readme.splitlines()
                 if "--index-url https://download.pytorch.org/whl/cpu" in line]
    assert len(cpu_lines) >= 2  # the install at the top and the quick start
    for line in cpu_lines:
        assert line.startswith("pip install ") and re.findall(
            r"\b(torch|torchvision)==(\S+)", line) == list(pins.items()), line
    assert "python3 -m venv .venv" in readme
    assert "styx run gatys --weights random --size 128 --steps 50 -o first.png" in readme
