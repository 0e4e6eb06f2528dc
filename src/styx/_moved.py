"""styx 0.1's module paths, kept for one minor version (gone in 0.3).

styx 0.2 split ``styx.core`` by concern (docs/architecture.md). Importing an old path, such
as ``styx.core.descriptor``, gives the new module with a DeprecationWarning naming it; an
old module that was split (``styx.core.feedforward``) looks its names up in the new ones.
So a plugin written for 0.1 runs unchanged. ``import styx`` installs the finder, and every
``styx.*`` import runs that first.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
import warnings
from typing import Any

#: Old module -> the module(s) holding its names now.
MOVED: dict[str, tuple[str, ...]] = {
    **{f"styx.core.{old}": (f"styx.files.{new}",) for old, new in (
        ("atomic", "atomic"), ("formats", "formats"), ("imagefile", "image_arrays"),
        ("modelstore", "modelstore"), ("noise", "noise"))},
    "styx.inference.tiling": ("styx.files.tiling",),
    **{f"styx.core.{old}": (f"styx.runtime.{new}",) for old, new in (
        ("device", "device"), ("progress", "progress"), ("signals", "signals"),
        ("runlog", "runlog"))},
    "styx.core.image": ("styx.runtime.image_tensors", "styx.files.image_arrays",
                        "styx.files.formats"),
    **{f"styx.core.{old}": (f"styx.perceptual.{new}",) for old, new in (
        ("descriptor", "descriptor"), ("weights", "weights"), ("losses", "losses"),
        ("objective", "objective"), ("perceptual", "objective"))},
    "styx.core.generator": ("styx.generators.generator",),
    "styx.core.blocks": ("styx.generators.blocks",),
    "styx.core.feedforward": ("styx.generators.models", "styx.training.feedforward"),
    **{f"styx.core.{old}": (f"styx.training.{new}",) for old, new in (
        ("training", "loop"), ("data", "data"), ("checkpoint", "checkpoint"),
        ("distributed", "distributed"))},
    "styx.core.styles": ("styx.plugins.methods.stylebank.styles",),
}


class _Merged(types.ModuleType):
    """An old module that was split: its names are looked up in the new ones, in order."""

    def __init__(self, name: str, sources: tuple[str, ...]) -> None:
        super().__init__(name, f"styx 0.1's {name}: now {', '.join(sources)}")
        self.__sources = [importlib.import_module(source) for source in sources]

    def __getattr__(self, attribute: str) -> Any:
        for module in self.__sources:
            if hasattr(module, attribute):
                return getattr(module, attribute)
        raise AttributeError(f"module {self.__name__!r} has no attribute {attribute!r}")

    def __dir__(self) -> list[str]:
        return sorted({name for module in self.__sources for name in dir(module)})


class MovedModules:
    """The meta-path finder and loader of the old paths of :data:`MOVED` (duck-typed:
    importing ``importlib.abc`` would slow ``import styx``)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None
                  ) -> importlib.machinery.ModuleSpec | None:
        return importlib.machinery.ModuleSpec(fullname, self) if fullname in MOVED else None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        sources = MOVED[spec.name]
        # stacklevel 2 is the importing line: warnings skips the import system's frames.
        warnings.warn(f"{spec.name} is now {' and '.join(sources)} (the old path goes in "
                      "styx 0.3)", DeprecationWarning, stacklevel=2)
        if len(sources) > 1:
            return _Merged(spec.name, sources)
        module = importlib.import_module(sources[0])
        module.__dict__.setdefault("__moved_spec__", module.__spec__)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing runs; a moved module gets its own spec back (the import system gave it
        the old path's)."""
        if not isinstance(module, _Merged):
            module.__spec__ = module.__dict__.pop("__moved_spec__")


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, MovedModules) for finder in sys.meta_path):
        sys.meta_path.insert(0, MovedModules())
