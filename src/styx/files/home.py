"""Where styx keeps its files: ``$STYX_HOME`` (models, the studio's caches, ...). No torch
here: ``styx infer`` uses it."""

from __future__ import annotations

import os
from pathlib import Path


def styx_home() -> Path:
    """``$STYX_HOME``, else the user data folder for "styx" (platformdirs)."""
    env = os.environ.get("STYX_HOME", "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("styx", appauthor=False))
