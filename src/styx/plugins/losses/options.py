"""The options of the built-in losses, checked when a run's config is made (no torch here)."""

from __future__ import annotations

from dataclasses import dataclass

from styx.core.checks import choice, number
from styx.core.config import Config, option

#: How the Gram loss can be scaled (see :mod:`styx.plugins.losses.gram`), one name per
#: formula; the seed report's is Gatys' (``(2 C M)^2 = 4 C^2 M^2``), so it is another name.
NORMALIZATIONS = ("elements", "gatys", "none")
#: The one the Gram loss uses unless told otherwise (see the module table of ``gram``).
DEFAULT_NORMALIZATION = "elements"
NORMALIZATION_ALIASES = {"seed-report": "gatys", "seed_report": "gatys"}


@dataclass(kw_only=True)
class GramOptions(Config):
    """Options of the ``gram`` style loss."""

    normalization: str = option(
        DEFAULT_NORMALIZATION, check=choice(*NORMALIZATIONS, aliases=NORMALIZATION_ALIASES),
        help="How the Gram loss is scaled: elements, gatys (seed-report is the same) or "
             "none.")


@dataclass(kw_only=True)
class TotalVariationOptions(Config):
    """Options of the ``tv`` loss."""

    # Below 1 the gradient is infinite where neighbours are equal.
    power: float = option(2.0, check=number(minimum=1),
                          help="Exponent of each neighbour difference (>= 1).")
