"""The layering of docs/architecture.md holds: the contract imports no torch and stays
small, import-linter keeps every contract (layers, no cycle, ...), and styx 0.1's module
paths still work, with a warning, while nothing in styx itself uses them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from styx._moved import MOVED

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "src" / "styx" / "core"

_IMPORT_EVERY_CORE_MODULE = """
import importlib, json, pkgutil, sys
import styx.core as core
names = [m.name for m in pkgutil.walk_packages(core.__path__, "styx.core.")]
for name in names:
    importlib.import_module(name)
heavy = [m for m in ("torch", "torchvision", "onnx", "onnxruntime") if m in sys.modules]
print(json.dumps({"modules": names, "heavy": heavy}))
"""


def test_every_core_module_imports_without_torch():
    result = subprocess.run([sys.executable, "-c", _IMPORT_EVERY_CORE_MODULE],
                            capture_output=True, text=True, check=True)
    report = json.loads(result.stdout.splitlines()[-1])
    files = sorted(f"styx.core.{p.stem}" for p in CORE.glob("*.py") if p.stem != "__init__")
    assert sorted(report["modules"]) == files  # every module was imported
    assert report["heavy"] == []


def test_lint_imports_keeps_every_contract():
    """The contracts of pyproject.toml, imports inside functions included: the layers, no
    torch in the contract or in styx infer's runner, independent built-in plugins, no
    import cycle anywhere."""
    script = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(script), "--no-cache"], cwd=ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contracts = [contract["name"] for contract in config["contracts"]]
    assert len(contracts) >= 5
    for name in contracts:
        assert f"{name} KEPT" in result.stdout, name


def test_the_contract_stays_small():
    lines = sum(len(path.read_text().splitlines()) for path in CORE.glob("*.py"))
    # 2,500 when the core was cut (issue 25); the input declarations (issue 26) joined it.
    assert lines <= 2600, f"styx.core has {lines} lines"


_IMPORT_OLD_PATHS = """
import importlib, json, sys, warnings
from styx._moved import MOVED
out = {}
for old, new in MOVED.items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    fresh = importlib.import_module(new[0])
    public = [n for n in getattr(fresh, "__all__", dir(fresh)) if not n.startswith("_")]
    out[old] = {"warnings": [str(w.message) for w in caught
                             if issubclass(w.category, DeprecationWarning)],
                "same": all(getattr(module, n) is getattr(fresh, n) for n in public),
                "named": len(public)}
print(json.dumps(out))
"""


def test_styx_0_1_module_paths_still_import_and_warn():
    result = subprocess.run([sys.executable, "-c", _IMPORT_OLD_PATHS], capture_output=True,
                            text=True, check=True)
    report = json.loads(result.stdout.splitlines()[-1])
    assert set(report) == set(MOVED)
    for old, new in MOVED.items():
        entry = report[old]
        message = f"{old} is now {' and '.join(new)} (the old path goes in styx 0.3)"
        assert entry["warnings"] == [message], old
        assert entry["same"] and entry["named"] > 0, old


def test_an_old_path_gives_the_new_module_itself():
    import warnings

    import styx.training.loop as new

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import styx.core.training as old
    assert old is new and new.__spec__.name == "styx.training.loop"


def test_nothing_in_styx_uses_the_old_paths():
    pattern = re.compile("|".join(re.escape(old) + r"\b" for old in MOVED))
    # the table of old paths, this file and the test that the example plugin (written for
    # styx 0.1, under tests/fixtures) runs on them
    allowed = {ROOT / "src" / "styx" / "_moved.py", Path(__file__),
               ROOT / "tests" / "test_example_plugin.py"}
    found = []
    for folder in ("src", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            if path in allowed or "fixtures" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []
