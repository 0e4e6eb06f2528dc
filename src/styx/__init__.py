"""styx: a plugin-based neural style transfer toolkit.

The library (see :mod:`styx.api`)::

    import styx

    result = styx.stylize("gatys", "photo.jpg", "painting.jpg", size=256)
    model = styx.load_model("starry")      # a model trained with styx.train / styx train

Importing ``styx`` is cheap: it pulls in no torch. Heavy modules are imported by the
functions that need them.
"""

from __future__ import annotations

from styx import _moved

_moved.install()  # styx 0.1's module paths still import, with a warning

from styx.api import (
    export,
    list_descriptors,
    list_exporters,
    list_losses,
    list_methods,
    list_models,
    load_model,
    method_config,
    stylize,
    train,
)
from styx.core import __version__
from styx.core.errors import StyxError
from styx.core.hookspecs import hookimpl

__all__ = ["StyxError", "__version__", "export", "hookimpl", "list_descriptors", "list_exporters",
           "list_losses", "list_methods", "list_models", "load_model", "method_config",
           "stylize", "train"]
