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

from styx.core.errors import StyxError
from styx.generators.models import Model
from styx.plugins.methods.stylebank.config import StyleBankRunConfig
from styx.plugins.methods.stylebank.styles import style_index, style_vector
from styx.runtime.image_tensors import image_input, resize_to, rgb_to_yiq


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


def load_mask(mask: Any, size: tuple[int, int]) -> torch.Tensor:
    """A mask as 1 x 1 x H x W in [0, 1], stretched to ``size``: its alpha channel when it
    has one (a cut-out), else its luminance (white = the region). ``mask``: an image file,
    a PIL image, or a tensor in [0, 1] (H x W, 1 x H x W or 1 x 1 x H x W)."""
    if isinstance(mask, torch.Tensor):
        values = mask.detach().float().cpu()
        while values.dim() < 4:
            values = values.unsqueeze(0)
        if values.dim() != 4 or values.shape[:2] != (1, 1):
            raise StyxError(f"a mask tensor is H x W (or 1 x H x W, 1 x 1 x H x W), got shape "
                            f"{tuple(mask.shape)}", "one value in [0, 1] per pixel")
        if not torch.isfinite(values).all() or values.min() < 0 or values.max() > 1:
            raise StyxError("a mask tensor has values outside [0, 1]",
                            "masks are 0 (not the region) to 1 (the region)")
    else:
        try:
            loaded = image_input(mask, what="mask")
        except StyxError as error:
            raise StyxError(f"bad --region mask: {error.message}", error.hint) from None
        values = loaded.alpha if loaded.alpha is not None else rgb_to_yiq(loaded.rgb)[:, :1]
    return resize_to(values, size).clamp(0.0, 1.0)
