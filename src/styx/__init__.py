"""styx: a plugin-based neural style transfer toolkit.

Importing ``styx`` is cheap: it pulls in no torch. Heavy modules are imported by the
functions that need them.
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

#: The marker plugins use on their hook implementations: ``@styx.hookimpl``.
hookimpl = pluggy.HookimplMarker("styx")

from styx.core.errors import StyxError

__all__ = ["StyxError", "__version__", "hookimpl"]
