"""styx 0.1's names, kept for one minor version with a DeprecationWarning (gone in 0.3)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any


def warn_renamed(old: str, new: str, *, stacklevel: int = 2) -> None:
    """A DeprecationWarning that ``old`` (styx 0.1's name) is now ``new``, pointing
    ``stacklevel`` frames up from the caller (2: the caller's caller)."""
    warnings.warn(f"{old} is now {new}", DeprecationWarning, stacklevel=stacklevel + 1)


def renamed(module: str, names: dict[str, tuple[str, Any]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that gives each old name of ``names`` (old name -> (what
    replaces it, in words; the object to give)) with a DeprecationWarning."""
    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        instead, value = names[name]
        warn_renamed(f"{module}.{name}", instead)
        return value
    return __getattr__
