"""The one "did you mean ...?" of styx: close names for a misspelt one."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable


def close_matches(word: str, choices: Iterable[str], *, n: int = 3, cutoff: float = 0.6,
                  key: Callable[[str], str] | None = None) -> list[str]:
    """Up to ``n`` of ``choices`` close to ``word``, best first. With ``key`` (a
    normalisation such as :func:`styx.core.registry.normalize_name`), names are compared
    through it and returned as given."""
    choices = list(dict.fromkeys(choices))
    if key is None:
        return difflib.get_close_matches(word, choices, n=n, cutoff=cutoff)
    by_key: dict[str, str] = {}
    for choice in choices:
        by_key.setdefault(key(choice), choice)
    found = difflib.get_close_matches(key(word), list(by_key), n=n, cutoff=cutoff)
    return list(dict.fromkeys(by_key[k] for k in found))


def did_you_mean(word: str, choices: Iterable[str], *, n: int = 3, cutoff: float = 0.6,
                 key: Callable[[str], str] | None = None) -> str | None:
    """``"did you mean 'a' or 'b'?"`` for the choices close to ``word``, else None."""
    return suggestion(close_matches(word, choices, n=n, cutoff=cutoff, key=key))


def suggestion(names: Iterable[str]) -> str | None:
    """``"did you mean 'a' or 'b'?"`` for ``names``; None when there are none."""
    names = list(names)
    return ("did you mean " + " or ".join(repr(n) for n in names) + "?") if names else None
