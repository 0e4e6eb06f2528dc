"""styx 0.1's names, kept for one minor version with a DeprecationWarning (gone in 0.3)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any


def renamed(module: str, names: dict[str, tuple[str, Any]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that gives each old name of ``names`` (old name -> (what
    replaces it, in words; the object to give)) with a DeprecationWarning."""
    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        instead, value = names[name]
        warnings.warn(f"{module}.{name} is now {instead}", DeprecationWarning, stacklevel=2)
        return value
    return __getattr__
