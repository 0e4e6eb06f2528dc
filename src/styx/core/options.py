"""Parsing small command-line values (comma-separated floats, image sizes, KEY=VALUE
options) with StyxErrors."""

from __future__ import annotations

import math
import re

from styx.core.errors import StyxError


def parse_floats(text: str, *, name: str = "value") -> list[float]:
    """``"0.5,0.5"`` -> ``[0.5, 0.5]``; finite numbers only, blanks around commas allowed."""
    if text is None or not str(text).strip():
        raise StyxError(f"empty {name} list", "give comma-separated numbers, e.g. 0.5,0.5")
    values: list[float] = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            value = float(part)
        except ValueError:
            raise StyxError(f"bad {name} {part!r} in {text!r}",
                            "give comma-separated numbers, e.g. 0.5,0.5") from None
        if not math.isfinite(value):
            raise StyxError(f"bad {name} {part!r} in {text!r}", "numbers must be finite")
        values.append(value)
    return values


_SIZE = re.compile(r"^\s*(\d+)\s*(?:[xX×*,]\s*(\d+))?\s*$")


def parse_size(text: str | int) -> tuple[int, int]:
    """``"512x384"`` -> ``(384, 512)`` as (height, width); ``"512"`` -> ``(512, 512)``.

    The text is written width x height, as image sizes usually are; the result is
    ``(h, w)``, the order of tensor shapes.
    """
    match = _SIZE.match(str(text))
    if not match:
        raise StyxError(f"bad size {text!r}", "give WIDTHxHEIGHT (e.g. 512x384) or one number")
    width = int(match.group(1))
    height = int(match.group(2)) if match.group(2) is not None else width
    if width <= 0 or height <= 0:
        raise StyxError(f"bad size {text!r}", "width and height must be positive")
    return height, width


def parse_descriptor_options(items: list[str] | None) -> dict[str, str]:
    """Repeated ``--descriptor-option KEY=VALUE`` values -> ``{key: value}``.

    Dashes in keys become underscores (``max-pool=1`` -> ``max_pool``); an item without
    ``=`` or with an empty key is a :class:`StyxError`.
    """
    options: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise StyxError(f"bad --descriptor-option {item!r}", "write KEY=VALUE, e.g. pooling=avg")
        options[key.strip().replace("-", "_")] = value.strip()
    return options
