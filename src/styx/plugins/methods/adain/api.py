"""``run`` of AdaIN: the shared feed-forward run, with the paintings' weights or regions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from styx.core.errors import StyxError
from styx.core.method import RunRequest, RunResult
from styx.generators.models import Model, run_feed_forward
from styx.plugins.methods.adain.config import AdaINRunConfig
from styx.runtime.masks import load_mask


def run(request: RunRequest, config: AdaINRunConfig) -> RunResult:
    """Stylise ``request.content`` with ``request.model`` and the ``request.styles``
    paintings (loaded by the shared run, one per ``--style-image``)."""
    names = [_name(style, index) for index, style in enumerate(request.styles)]

    def options(model: Model, content: torch.Tensor) -> dict[str, Any]:
        chosen: dict[str, Any] = {"strength": config.strength}
        if config.style_weights is not None:
            chosen["style_weights"] = list(config.style_weights)
        if config.region:
            chosen["regions"] = _region_masks(config.region, names, content.shape[-2:])
        return chosen

    return run_feed_forward(request, config, options=options)


def _name(style: Any, index: int) -> str:
    return Path(style).stem if isinstance(style, (str, Path)) else str(index)


def _region_masks(regions: list[tuple[Any, str]], names: list[str],
                  size: tuple[int, int]) -> torch.Tensor:
    """K x 1 x H x W masks, one per painting (its regions joined), from ``(mask, style)``
    pairs whose style is a painting's index or file name."""
    masks = torch.zeros(len(names), 1, int(size[0]), int(size[1]))
    for mask, style in regions:
        index = int(style) if style.isdigit() else names.index(style) \
            if style in names else None
        if index is None or not 0 <= index < len(names):
            raise StyxError(f"--region {style!r}: no such --style-image",
                            f"give an index from 0 to {len(names) - 1} or a file name "
                            f"({', '.join(names)})")
        masks[index] = torch.maximum(masks[index], load_mask(mask, size)[0])
    return masks
