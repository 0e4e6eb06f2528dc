"""styx 0.1's module paths, kept working for one minor version (they go in 0.3).

styx 0.2 split ``styx.core`` by concern (docs/architecture.md). Importing an old path, such
as ``styx.core.descriptor`` or ``styx.core.feedforward``, warns with a DeprecationWarning
naming the new module(s) and gives their names: a plugin written for 0.1 runs unchanged.
The table is data; nothing here is imported until an old path is asked for. ``styx`` puts
the finder on ``sys.meta_path`` when it is imported, which every ``styx.*`` import does
first.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
import warnings
from typing import Any

#: Old module -> the module(s) holding its names now (several where it was split).
MOVED: dict[str, tuple[str, ...]] = {
    "styx.core.atomic": ("styx.files.atomic",),
    "styx.core.formats": ("styx.files.formats",),
    "styx.core.imagefile": ("styx.files.image_arrays",),
    "styx.core.modelstore": ("styx.files.modelstore",),
    "styx.core.noise": ("styx.files.noise",),
    "styx.inference.tiling": ("styx.files.tiling",),
    "styx.core.device": ("styx.runtime.device",),
    "styx.core.image": ("styx.runtime.image_tensors", "styx.files.image_arrays",
                        "styx.files.formats"),
    "styx.core.progress": ("styx.runtime.progress",),
    "styx.core.signals": ("styx.runtime.signals",),
    "styx.core.runlog": ("styx.runtime.runlog",),
    "styx.core.descriptor": ("styx.perceptual.descriptor",),
    "styx.core.weights": ("styx.perceptual.weights",),
    "styx.core.losses": ("styx.perceptual.losses",),
    "styx.core.objective": ("styx.perceptual.objective",),
    "styx.core.perceptual": ("styx.perceptual.objective",),
    "styx.core.generator": ("styx.generators.generator",),
    "styx.core.blocks": ("styx.generators.blocks",),
    "styx.core.feedforward": ("styx.generators.models", "styx.training.feedforward"),
    "styx.core.training": ("styx.training.loop",),
    "styx.core.data": ("styx.training.data",),
    "styx.core.checkpoint": ("styx.training.checkpoint",),
    "styx.core.distributed": ("styx.training.distributed",),
    "styx.core.styles": ("styx.plugins.methods.stylebank.styles",),
}


class _Merged(types.ModuleType):
    """An old module that was split: its names are looked up in the new ones, in order."""

    def __init__(self, name: str, sources: tuple[str, ...]) -> None:
        super().__init__(name, f"styx 0.1's {name}: now {', '.join(sources)}")
        self.__sources = sources

    def __getattr__(self, attribute: str) -> Any:
        for source in self.__sources:
            module = importlib.import_module(source)
            if hasattr(module, attribute):
                return getattr(module, attribute)
        raise AttributeError(f"module {self.__name__!r} has no attribute {attribute!r} (it "
                             f"is now {', '.join(self.__sources)})")

    def __dir__(self) -> list[str]:
        return sorted({name for source in self.__sources
                       for name in dir(importlib.import_module(source))})


class MovedModules:
    """The finder and loader (``importlib.abc.MetaPathFinder`` and ``Loader``, duck-typed:
    importing ``importlib.abc`` would slow ``import styx``) of the old paths of
    :data:`MOVED`, and only those."""

    def __init__(self) -> None:
        self._own_specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(self, fullname: str, path: Any = None, target: Any = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        sources = MOVED[spec.name]
        # stacklevel 2: the line importing the old path (warnings skips the import
        # system's own frames between here and there).
        warnings.warn(f"{spec.name} is now {' and '.join(sources)} (the old path goes in "
                      "styx 0.3)", DeprecationWarning, stacklevel=2)
        if len(sources) > 1:
            return _Merged(spec.name, sources)
        module = importlib.import_module(sources[0])
        self._own_specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the module is the new one (or looks its names up there). The
        import system gave a moved module the old path's spec: it gets its own back."""
        old = getattr(module.__spec__, "name", "")
        if old in self._own_specs:
            module.__spec__ = self._own_specs.pop(old)


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, MovedModules) for finder in sys.meta_path):
        sys.meta_path.insert(0, MovedModules())
