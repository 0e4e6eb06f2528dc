"""Checking values a user gave: numbers, choices, lists of numbers (no torch here).

Every "is this a finite number >= 0" in styx goes through :func:`check_number`, so every
bad number reads the same way: ``bad --style-weight -1 (it must be a finite number >= 0)``.
The factories (:func:`number`, :func:`choice`, ...) make the ``check`` functions that
config fields carry (see :mod:`styx.core.config`): ``check(value, label) -> value``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from styx.core.deprecation import renamed
from styx.core.errors import StyxError
from styx.core.suggest import did_you_mean

#: ``check(value, label) -> normalised value``; raises StyxError naming ``label``.
Check = Callable[[Any, str], Any]


def check_number(value: Any, label: str, *, minimum: float | None = None,
                 maximum: float | None = None, above: float | None = None,
                 integer: bool = False, hint: str | None = None) -> Any:
    """``value`` as a finite float (or int with ``integer``) within the bounds, else a
    StyxError ``bad LABEL VALUE``. ``above`` is a strict lower bound, ``minimum`` and
    ``maximum`` inclusive ones. Text such as ``"1e-3"`` is accepted."""
    if isinstance(value, bool):
        raise StyxError(f"bad {label} {value!r}", hint or "give a number")
    if integer and (isinstance(value, int) or
                    (isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value))):
        number: float | int = int(value)  # exactly, however large (a seed of 2**60)
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise StyxError(f"bad {label} {value!r}", hint or
                            ("give a whole number" if integer else "give a number")) from None
        if integer:
            if not (math.isfinite(number) and number.is_integer()):
                raise StyxError(f"bad {label} {value!r}", hint or "give a whole number")
            number = int(number)
    bounds = []
    if above is not None:
        bounds.append(f"> {above:g}")
    if minimum is not None:
        bounds.append(f">= {minimum:g}")
    if maximum is not None:
        bounds.append(f"<= {maximum:g}")
    ok = (isinstance(number, int) or math.isfinite(number)) and \
        (above is None or number > above) and \
        (minimum is None or number >= minimum) and (maximum is None or number <= maximum)
    if not ok:
        kind = "whole number" if integer else "finite number"
        rule = f"it must be a {kind}" + (f" {' and '.join(bounds)}" if bounds else "")
        raise StyxError(f"bad {label} {value!r}", hint or rule)
    return number


def number(*, minimum: float | None = None, maximum: float | None = None,
           above: float | None = None, integer: bool = False, optional: bool = False,
           hint: str | None = None) -> Check:
    """A check for one number; ``optional`` lets None through (meaning "not set")."""
    def check(value: Any, label: str) -> Any:
        if value is None and optional:
            return None
        return check_number(value, label, minimum=minimum, maximum=maximum, above=above,
                            integer=integer, hint=hint)
    return check


def numbers(*, minimum: float | None = None, above: float | None = None,
            integer: bool = False, optional: bool = False, hint: str | None = None) -> Check:
    """A check for one or more numbers: ``"256,512"``, ``[256, 512]`` or ``256`` -> a tuple."""
    def check(value: Any, label: str) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            if optional:
                return None
            raise StyxError(f"empty {label}", "give comma-separated numbers, e.g. 256,512")
        items = split_list(value)
        if not items:
            raise StyxError(f"empty {label}", "give at least one number")
        return tuple(check_number(item, label, minimum=minimum, above=above,
                                  integer=integer, hint=hint) for item in items)
    return check


def split_list(value: Any) -> list[Any]:
    """``"a, b"`` -> ``["a", "b"]``; a number -> ``[number]``; a sequence -> a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, Iterable):
        return list(value)
    return [value]


def choice(*choices: str, aliases: dict[str, str] | None = None) -> Check:
    """A check for one of ``choices`` (case-insensitive; ``aliases`` map other spellings)."""
    aliases = {key.lower(): target for key, target in (aliases or {}).items()}

    def check(value: Any, label: str) -> str:
        key = str(value).strip().lower()
        key = aliases.get(key, key)
        if key in choices:
            return key
        raise StyxError(f"bad {label} {value!r}",
                        did_you_mean(key, choices) or f"choose one of {', '.join(choices)}")
    return check


def text(*, allow_empty: bool = False) -> Check:
    """A check for a piece of text, stripped; empty text is refused unless allowed."""
    def check(value: Any, label: str) -> str:
        result = str(value).strip()
        if not result and not allow_empty:
            raise StyxError(f"empty {label}", f"give a value to {label}")
        return result
    return check


def key_values(value: Any, label: str) -> dict[str, Any]:
    """``["pooling=avg", "max-pool=1"]`` or a mapping -> ``{"pooling": "avg", "max_pool": "1"}``.

    Dashes in keys become underscores; an item without ``=`` or with an empty key is a
    StyxError.
    """
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(key).strip().replace("-", "_"): item for key, item in value.items()}
    if not isinstance(value, (str, Iterable)):
        raise StyxError(f"bad {label} {value!r}", "write KEY=VALUE, e.g. pooling=avg")
    items = [value] if isinstance(value, str) else list(value)
    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = str(item).partition("=")
        if not sep or not key.strip():
            raise StyxError(f"bad {label} {item!r}", "write KEY=VALUE, e.g. pooling=avg")
        options[key.strip().replace("-", "_")] = raw.strip()
    return options


def existing_path(kind: str, *, optional: bool = False) -> Check:
    """A check for the path of an existing ``"file"`` or ``"folder"`` (``~`` expanded);
    ``optional`` lets None through."""
    from pathlib import Path

    def check(value: Any, label: str) -> Any:
        if value is None and optional:
            return None
        if value is None:
            raise StyxError(f"missing {label}", f"give the path of a {kind}")
        if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
            raise StyxError(f"bad {label} {value!r}", f"give the path of a {kind}")
        path = Path(value).expanduser()
        found = path.is_dir() if kind == "folder" else path.is_file()
        if not found:
            what = "a file, not a folder" if path.is_file() else \
                "a folder, not a file" if path.is_dir() else "not found"
            raise StyxError(f"bad {label} {value}: {what}", f"give the path of a {kind}")
        return path
    return check


def each(inner: Check) -> Check:
    """``inner`` applied to every item of a list (None: an empty list; one value: a list
    of one), for repeatable options such as ``--style A.jpg --style B.jpg``."""
    def check(value: Any, label: str) -> list[Any]:
        if value is None:
            return []
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        return [inner(item, label) for item in items]
    return check


def optional(inner: Check) -> Check:
    """``inner``, with None (not set) let through."""
    def check(value: Any, label: str) -> Any:
        return None if value is None else inner(value, label)
    return check


def not_all_zero(values: Sequence[float], labels: Sequence[str]) -> None:
    """StyxError when every one of ``values`` is zero (e.g. the three loss weights)."""
    if not any(values):
        raise StyxError(f"the {', '.join(labels[:-1])} and {labels[-1]} are all zero",
                        "give at least one positive weight")


_SIZE = re.compile(r"^\s*(\d+)\s*(?:[xX×*,]\s*(\d+))?\s*$")


def parse_size(text: str | int, label: str = "size") -> tuple[int, int]:
    """``"512x384"`` -> ``(384, 512)`` as (height, width); ``"512"`` -> ``(512, 512)``.

    The text is written width x height, as image sizes usually are; the result is
    ``(h, w)``, the order of tensor shapes.
    """
    match = _SIZE.match(str(text))
    if not match:
        raise StyxError(f"bad {label} {text!r}",
                        "give WIDTHxHEIGHT (e.g. 512x384) or one number")
    width = int(match.group(1))
    height = int(match.group(2)) if match.group(2) is not None else width
    if width <= 0 or height <= 0:
        raise StyxError(f"bad {label} {text!r}", "width and height must be positive")
    return height, width


def image_size(value: Any, label: str) -> tuple[int, int]:
    """A check for an image size: ``"512x384"``, ``512`` or ``(height, width)`` -> (h, w)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise StyxError(f"bad {label} {value!r}", "give (height, width)")
        height, width = (check_number(v, label, minimum=1, integer=True) for v in value)
        return height, width
    return parse_size(value, label)


#: Tile corners are multiples of this many pixels (the generators downsample by up to 32);
#: see :mod:`styx.files.tiling`.
ALIGN = 32
#: The smallest ``--tile`` accepted (it takes the default overlap of 64).
MIN_TILE = 160


def check_tiling(tile: int | None, overlap: int | None) -> None:
    """StyxError unless ``tile`` and ``overlap`` (None: not given) make sense together."""
    if tile is None and overlap is not None:
        raise StyxError("--overlap is for tiled runs", "give --tile N too, or leave out --overlap")
    if tile is not None and tile < MIN_TILE:
        raise StyxError(f"--tile {tile} is too small", f"give --tile {MIN_TILE} or more "
                        "(1024 suits most machines)")
    if tile is not None and overlap is not None and (overlap < 0 or overlap * 2 > tile - ALIGN):
        raise StyxError(f"--overlap {overlap} does not fit --tile {tile}",
                        f"give an overlap between 0 and {(tile - ALIGN) // 2} (at most half "
                        f"the tile less {ALIGN // 2} px; 64 is plenty)")


#: A model's name in the store: a letter or digit, then up to 99 of ``[A-Za-z0-9._+-]``.
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")


def check_model_name(name: str) -> str:
    """``name`` if it is a valid model name (letters, digits, ``.``, ``_``, ``-``, ``+``)."""
    if not isinstance(name, str) or not MODEL_NAME.match(name) or ".." in name:
        raise StyxError(f"bad model name {name!r}",
                        "use letters, digits, '.', '_', '-', '+' (up to 100 characters, starting "
                        "with a letter or digit, no '..'), or give a folder path instead")
    return name


def _all_of(*checks: Check) -> Check:
    def check(value: Any, label: str) -> Any:
        for one in checks:
            value = one(value, label)
        return value
    return check


#: styx 0.1's ``all_of``, unused by styx itself.
__getattr__ = renamed(__name__, {
    "all_of": ("deprecated: write one check that calls the others", _all_of)})
