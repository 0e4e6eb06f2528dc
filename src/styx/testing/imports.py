"""Whether importing a module loads torch: checked in a fresh interpreter."""

from __future__ import annotations

import functools
import importlib.util
import json
import subprocess
import sys
from typing import Any

from styx.core.plugins import HEAVY_MODULES

_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps([m for m in json.loads(sys.argv[2]) if m in sys.modules]))
"""


@functools.cache
def heavy_imports(module: str) -> list[str]:
    """The heavy modules (torch) that importing ``module`` loads, in a fresh interpreter.
    An AssertionError if the module cannot be imported at all."""
    result = subprocess.run([sys.executable, "-c", _PROBE, module, json.dumps(HEAVY_MODULES)],
                            capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["?"])[-1]
        raise AssertionError(f"importing {module} fails: {last}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def module_of(target: Any) -> str | None:
    """The module an import path ``"package.module:attribute"`` (or a callable) names."""
    if target is None or target == "":
        return None
    if isinstance(target, str):
        return target.partition(":")[0]
    return getattr(target, "__module__", None)


def plugin_module(plugin: str) -> str | None:
    """The module of the loaded plugin called ``plugin`` (None for one that is not a
    module, e.g. an object a test registered)."""
    from styx.core.plugins import get_plugins

    for info in get_plugins().info:
        if info.name == plugin:
            return info.module if _importable(info.module) else None
    return None


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def check_light(report: Any, modules: list[str | None]) -> None:
    """One check: none of ``modules`` (the plugin's, its options classes') imports torch."""
    wanted = list(dict.fromkeys(m for m in modules if m))
    with report.check("imports no torch") as details:
        heavy = {module: found for module in wanted if (found := heavy_imports(module))}
        assert not heavy, "; ".join(f"importing {module} loads {', '.join(found)}, which "
                                    "slows every styx command: import it inside functions"
                                    for module, found in heavy.items())
        details.append(", ".join(wanted) or "no module to import")
