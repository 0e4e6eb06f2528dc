"""Parsing layer selections such as ``relu1_1:0.2,relu2_1:0.2,relu3_1`` (no torch here)."""

from __future__ import annotations

from collections.abc import Mapping

from styx.core.checks import check_number
from styx.core.errors import StyxError


def parse_layer_weights(text: str | None, *, default_weight: float = 1.0,
                        what: str = "layer", example: str = "relu1_1:0.2,relu2_1"
                        ) -> dict[str, float]:
    """``"relu1_1:0.2,relu2_1"`` -> ``{"relu1_1": 0.2, "relu2_1": 1.0}`` (order kept).

    Empty text or ``None`` gives an empty dict. A weight that is not a finite number >= 0,
    or a name given twice, is a :class:`StyxError`. ``what`` and ``example`` name the
    things weighted in those errors (the same syntax weighs StyleBank's styles).
    """
    weights: dict[str, float] = {}
    if not text:
        return weights
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, raw = item.rpartition(":") if ":" in item else (item, "", "")
        name = name.strip()
        if not name:
            raise StyxError(f"empty {what} name in {text!r}", f"write e.g. {example}")
        weight = default_weight
        if sep:
            weight = check_number(raw.strip(), f"weight of {what} {name!r}:", minimum=0,
                                  hint="weights are finite numbers >= 0, e.g. "
                                       f"{example.split(',')[0]}")
        if name in weights:
            raise StyxError(f"{what} {name!r} given twice in {text!r}",
                            "name each layer once, with the weight it should have")
        weights[name] = weight
    return weights


def layer_selection(value: str | Mapping[str, float] | None, *,
                    what: str = "layer") -> dict[str, float] | None:
    """A layer selection as a user or caller gives it, checked: ``{layer: weight}`` or None.

    ``value`` is text (``"relu1_1:0.2,relu2_1"``, see :func:`parse_layer_weights`), a
    mapping layer -> weight, or None. None, blank text and an empty mapping all give None,
    which methods read as "the descriptor's default layers". A weight that is not a finite
    number >= 0 is a :class:`StyxError`; ``what`` names the selection in it (``"style"``).
    """
    if value is None:
        return None
    if isinstance(value, str):
        layers = parse_layer_weights(value)
    elif isinstance(value, (list, tuple)):  # names alone: weight 1 each
        layers = parse_layer_weights(",".join(str(name) for name in value))
    elif not isinstance(value, Mapping):
        raise StyxError(f"bad {what} layers {value!r}",
                        "give text such as relu1_1:0.2,relu2_1, names, or {layer: weight}")
    else:
        layers = {str(layer): float(check_number(weight, f"weight of {what} layer {layer!r}:",
                                                 minimum=0))
                  for layer, weight in dict(value).items()}
    return layers or None
