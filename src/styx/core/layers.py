"""Parsing layer selections such as ``relu1_1:0.2,relu2_1:0.2,relu3_1`` (no torch here)."""

from __future__ import annotations

from styx.core.errors import StyxError


def parse_layer_weights(text: str | None, *, default_weight: float = 1.0) -> dict[str, float]:
    """``"relu1_1:0.2,relu2_1"`` -> ``{"relu1_1": 0.2, "relu2_1": 1.0}`` (order kept).

    Empty text or ``None`` gives an empty dict. A weight that is not a finite number >= 0,
    or a name given twice, is a :class:`StyxError`.
    """
    weights: dict[str, float] = {}
    if not text:
        return weights
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, raw = item.partition(":")
        name = name.strip()
        if not name:
            raise StyxError(f"empty layer name in {text!r}", "write e.g. relu1_1:0.2,relu2_1")
        weight = default_weight
        if sep:
            try:
                weight = float(raw)
            except ValueError:
                raise StyxError(f"bad weight {raw!r} for layer {name!r}",
                                "weights are numbers, e.g. relu1_1:0.2") from None
            if not (weight >= 0.0 and weight != float("inf")):
                raise StyxError(f"bad weight {raw!r} for layer {name!r}",
                                "weights must be finite and >= 0")
        if name in weights:
            raise StyxError(f"layer {name!r} given twice in {text!r}")
        weights[name] = weight
    return weights


def format_layer_weights(weights: dict[str, float]) -> str:
    return ",".join(f"{name}:{weight:g}" for name, weight in weights.items())
