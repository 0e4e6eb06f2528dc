"""The architecture variants every feed-forward method offers (no torch here).

A method's generator comes in two shapes, chosen when it is trained (``styx train METHOD
--variant fast``) and stored in the model's architecture, so a trained model runs,
resumes, exports and tiles as the variant it was trained as:

* ``paper``: the published network, the default;
* ``fast``: a lighter network designed from the measured cost of each layer (each method's
  page in docs/ gives its profile), for feed-forward inference on CPUs.

A model saved before variants existed has no ``variant`` in its architecture and loads as
``paper``. A method declares the option in its own generator options::

    from styx.generators.variants import variant_option

    @dataclass(kw_only=True)
    class GeneratorOptions(ConvGeneratorOptions):
        variant: str = variant_option("half the channels at full resolution")
"""

from __future__ import annotations

from typing import Any

from styx.core.bundles import GENERATOR
from styx.core.checks import choice
from styx.core.config import option

PAPER, FAST = "paper", "fast"
#: Every variant, the default first.
VARIANTS = (PAPER, FAST)


def variant_option(fast: str) -> Any:
    """The ``--variant`` option of a method whose ``fast`` variant is described by
    ``fast`` (a few words for ``--help``)."""
    return option(PAPER, panel=GENERATOR, check=choice(*VARIANTS),
                  help=f"Architecture: paper (the published network) or fast ({fast}).")
