"""The README's exit-code table, code by code, and the promise behind the code 2 errors:
every StyxError styx raises carries a hint."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from styx.core.errors import StyxError

ROOT = Path(__file__).resolve().parents[2]


def readme_exit_codes() -> dict[int, str]:
    table = re.search(r"\| code \| meaning \|\n\|---\|---\|\n((?:\|.*\|\n)+)",
                      (ROOT / "README.md").read_text())
    assert table, "README.md lost its exit-code table"
    rows = [line.split("|")[1:3] for line in table.group(1).splitlines()]
    return {int(code): meaning.strip() for code, meaning in rows}


def test_the_readme_documents_every_exit_code_styx_uses():
    assert sorted(readme_exit_codes()) == [0, 1, 2, 130]
    # the codes the CLI sets by hand are among them
    codes = set()
    for path in (ROOT / "src" / "styx" / "cli").glob("*.py"):
        codes |= {int(n) for n in re.findall(r"(?:typer\.Exit|sys\.exit)\((\d+)\)",
                                             path.read_text())}
    assert codes and codes <= set(readme_exit_codes())
    assert StyxError.exit_code == 2


def test_exit_0_and_2(styx_cli):
    assert styx_cli("list", "losses").exit_code == 0
    result = styx_cli("models", "show", "no-such-model")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no model named 'no-such-model'")
    assert "\nhint: " in result.stderr and "Traceback" not in result.stderr
    assert styx_cli("run", "gatys", "--no-such-option").exit_code == 2  # a usage error


def test_styx_debug_shows_the_traceback_so_python_exits_1(monkeypatch):
    from styx.cli.app import main

    monkeypatch.setenv("STYX_DEBUG", "1")
    with pytest.raises(StyxError, match="no model named 'no-such-model'"):
        main(["models", "show", "no-such-model"])


def _styx_errors_without_a_hint() -> list[str]:
    missing = []
    for path in sorted((ROOT / "src" / "styx").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("StyxError", "RunError")):
                continue
            hint = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "hint"), None)
            if node.args and (hint is None
                              or isinstance(hint, ast.Constant) and not hint.value):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return missing


def test_every_error_styx_raises_comes_with_a_hint():
    """README: an error you can fix is an `error:` line and a `hint:` line."""
    assert _styx_errors_without_a_hint() == []


def _quoted_sessions(doc: str) -> list[tuple[list[str], list[str]]]:
    """The ``$ styx ...`` examples of a doc that quote an error, with the lines quoted."""
    sessions = []
    for block in re.findall(r"```\n(\$ styx .*?)```", (ROOT / "docs" / doc).read_text(),
                            flags=re.DOTALL):
        command, *lines = block.strip().splitlines()
        sessions.append((command.split()[2:], lines))
    return sessions


@pytest.mark.parametrize("doc", ["descriptors.md"])
def test_quoted_error_sessions_print_what_the_docs_show(doc, styx_cli, tmp_path,
                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    sessions = _quoted_sessions(doc)
    assert sessions
    for args, lines in sessions:
        result = styx_cli(*args)
        assert result.exit_code == 2
        assert result.stderr.splitlines() == lines
        assert not any(tmp_path.iterdir())  # nothing written
