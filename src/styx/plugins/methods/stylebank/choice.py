"""Which styles a StyleBank model applies: names and indices to the network's style weights.

:func:`style_weights` turns a run config's choice (``--style``, ``--style-mix``,
``--region``, ``--strength``) into the ``style_weights`` input of
:class:`~styx.plugins.methods.stylebank.network.StyleBankNetwork`:

* one style: a one-hot vector;
* a mix: the weights, normalised to sum to 1;
* regions: one mask per style, stretched to the photo's size (K x H x W); where masks
  overlap to more than 1 they are scaled to sum to 1 (the styles blend), where they cover
  less the rest of the photo goes through unstylised (the auto-encoder's reconstruction);

then times ``strength`` (the rest, again, unstylised).
"""

from __future__ import annotations

from typing import Any

import torch

from styx.generators.models import Model
from styx.plugins.methods.stylebank.config import StyleBankRunConfig
from styx.plugins.methods.stylebank.styles import style_index, style_vector
from styx.runtime.masks import load_mask


def _named(model: Model) -> dict[str, str]:
    """How errors name ``model`` and where its styles are listed."""
    return {"owner": f"model {model.name!r}", "source": model.name}


def generator_options(config: StyleBankRunConfig, model: Model, content: torch.Tensor
                      ) -> dict[str, Any]:
    """The network's run options for ``content`` (N x 3 x H x W): ``style_weights``, or
    ``reconstruct`` for the auto-encoder branch."""
    if config.reconstruct:
        return {"reconstruct": True}
    return {"style_weights": style_weights(model, config, content.shape[-2:])}


def style_weights(model: Model, config: StyleBankRunConfig, size: tuple[int, int]
                  ) -> torch.Tensor:
    """The style weights of ``config``'s choice for a photo of ``size`` (H, W): K values,
    or 1 x K x H x W for regions (see the module docstring)."""
    if config.region:
        return region_weights(model, config.region, size) * config.strength
    return torch.tensor(style_vector(model.styles, style=config.style, mix=config.style_mix,
                                     strength=config.strength, **_named(model),
                                     choices="--style NAME|INDEX, --style-mix or --region"))


def region_weights(model: Model, regions: list[tuple[Any, str]], size: tuple[int, int]
                   ) -> torch.Tensor:
    """1 x K x H x W weights from ``(mask, style)`` pairs (see the module docstring)."""
    height, width = int(size[0]), int(size[1])
    weights = torch.zeros(1, len(model.styles), height, width)
    for mask, style in regions:
        index = style_index(model.styles, style, **_named(model))
        # One style's masks are joined (their maximum): where they overlap they count once.
        weights[:, index:index + 1] = torch.maximum(weights[:, index:index + 1],
                                                    load_mask(mask, (height, width)))
    total = weights.sum(1, keepdim=True)
    return torch.where(total > 1, weights / total.clamp(min=1e-12), weights)
