"""Choosing among the styles a StyleBank model holds, by name or index (no torch here).

Shared by ``styx run stylebank`` and ``styx infer`` (which imports no torch; it finds
:func:`style_vector` through the method's spec, ``MethodSpec.style_choice``), so a style
is named the same way for a stored model and for an exported file::

    style_index(["starry", "scream"], "Scream", owner="model 'two'")      # -> 1
    style_vector(["starry", "scream"], mix={"starry": 3, "scream": 1})    # -> [0.75, 0.25]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from styx.core.errors import StyxError
from styx.core.layers import parse_layer_weights
from styx.core.suggest import did_you_mean


def style_index(names: list[str], style: str | int, *, owner: str, source: str) -> int:
    """The index of ``style`` among ``names``: a name (exact, else ignoring case) or an
    index (0-based, as 'styx models show SOURCE' lists them); anything else is a StyxError
    that names ``owner`` (``"model 'two'"``)."""
    text = str(style).strip()
    if text in names:
        return names.index(text)
    folded = [name.casefold() for name in names]
    if text.casefold() in folded:
        return folded.index(text.casefold())
    if text.lstrip("-").isdigit():
        index = int(text)
        if 0 <= index < len(names):
            return index
        raise StyxError(f"{owner} has no style {index} (it has {len(names)}: "
                        f"0 to {len(names) - 1})", style_listing(names, source))
    raise StyxError(f"{owner} has no style {text!r}",
                    did_you_mean(text, names) or style_listing(names, source))


def style_listing(names: list[str], source: str) -> str:
    """A hint that lists the first styles (of what 'styx models show SOURCE' shows)."""
    shown = ", ".join(f"{i} {name}" for i, name in enumerate(names[:8]))
    more = f" and {len(names) - 8} more" if len(names) > 8 else ""
    return f"its styles: {shown}{more} ('styx models show {source}')"


def style_vector(names: list[str], *, style: str | int | None = None,
                 mix: str | Mapping[str, float] | None = None, strength: float = 1.0,
                 owner: str, source: str,
                 choices: str = "--style NAME|INDEX or --style-mix") -> list[float]:
    """One weight per style for one style or a mix (relative weights, normalised to sum to
    1; text as ``--style-mix`` takes it, ``"starry:0.7,scream:0.3"``, or a mapping), times
    ``strength``; with neither, the only style of a one-style model (``choices`` names the
    options that choose, for the error of a model of several). The method's
    ``style_choice`` (see ``MethodSpec``), through which ``styx infer`` chooses too."""
    weights = [0.0] * len(names)
    if isinstance(mix, str):
        mix = parse_style_mix(mix, "--style-mix")
    if mix is not None:
        for name, weight in mix.items():
            weights[style_index(names, name, owner=owner, source=source)] += float(weight)
        total = sum(weights)
        weights = [w / total for w in weights]
    elif style is not None:
        weights[style_index(names, style, owner=owner, source=source)] = 1.0
    elif len(names) == 1:
        weights = [1.0]
    else:
        raise StyxError(f"{owner} holds {len(names)} styles: choose one",
                        f"give {choices}; {style_listing(names, source)}")
    return [w * float(strength) for w in weights]


def parse_style_mix(value: Any, label: str) -> dict[str, float] | None:
    """``"starry:0.7,scream:0.3"`` (or a mapping, or pairs) -> ``{"starry": 0.7, ...}``."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)) and all(isinstance(i, (list, tuple)) and len(i) == 2
                                                for i in value):
        value = dict(value)  # [("starry", 0.7), ("scream", 0.3)]
    if isinstance(value, Mapping):
        value = ",".join(f"{k}:{v}" for k, v in value.items())
    mix = parse_layer_weights(str(value), what="style", example="starry:0.7,scream:0.3")
    if not mix:
        raise StyxError(f"empty {label}", "give weighted styles, e.g. starry:0.7,scream:0.3")
    if sum(mix.values()) <= 0:
        raise StyxError(f"bad {label} {value!r}: the weights are all zero",
                        "give at least one positive weight")
    return mix

