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

_moved.install()  # styx 0.1's module paths (styx.core.descriptor, ...), with a warning

from styx.api import (  # noqa: E402
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
from styx.core import __version__  # noqa: E402
from styx.core.errors import StyxError  # noqa: E402
from styx.core.hookspecs import hookimpl  # noqa: E402

__all__ = ["StyxError", "__version__", "export", "hookimpl", "list_descriptors", "list_exporters",
           "list_losses", "list_methods", "list_models", "load_model", "method_config",
           "stylize", "train"]
