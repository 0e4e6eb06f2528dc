"""``--region MASK:STYLE``: a style for the white (or opaque) part of a mask image.

:func:`parse_regions` is the option check every method with regions shares (StyleBank's
styles by name or index, AdaIN's by the index or file name of a ``--style-image``); the
masks are loaded by :func:`styx.runtime.masks.load_mask`. No torch here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from styx.core.errors import StyxError


def parse_regions(value: Any, label: str) -> list[tuple[Any, str]]:
    """``["sky.png:starry", (mask, 1)]`` -> ``[(Path("sky.png"), "starry"), (mask, "1")]``.

    A mask is a path (text before the last ``:``), or from the library a PIL image or a
    tensor; the style is a name or an index."""
    if value is None:
        return []
    items = [value] if isinstance(value, (str, tuple)) else list(value)
    regions = []
    for item in items:
        if isinstance(item, (tuple, list)) and len(item) == 2:
            mask, style = item
        elif isinstance(item, str) and ":" in item:
            mask, _, style = item.rpartition(":")
            mask = Path(mask.strip()).expanduser()
        else:
            raise StyxError(f"bad {label} {item!r}", "write MASK:STYLE, e.g. sky.png:starry")
        style = str(style).strip()
        if not style or (isinstance(mask, (str, Path)) and not str(mask).strip()):
            raise StyxError(f"bad {label} {item!r}", "write MASK:STYLE, e.g. sky.png:starry")
        if isinstance(mask, (str, Path)) and not Path(mask).expanduser().is_file():
            what = "is a folder" if Path(mask).expanduser().is_dir() else "not found"
            raise StyxError(f"bad {label} {item!r}: mask {mask} {what}",
                            "give the path of a mask image")
        regions.append((Path(mask).expanduser() if isinstance(mask, str) else mask, style))
    return regions
