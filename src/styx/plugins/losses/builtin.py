"""The built-in losses: content (feature MSE), gram (Gram-matrix style loss), mean-std
(per-channel statistics, AdaIN's style loss), tv."""

from __future__ import annotations

from styx.core.hookspecs import hookimpl
from styx.core.specs import LossSpec


@hookimpl
def register_losses(register):
    register(LossSpec(
        name="content",
        summary="Content loss: mean squared difference of feature maps.",
        factory="styx.plugins.losses.content:ContentLoss",
        aliases=("mse",),
        default_for=("content",),
    ))
    register(LossSpec(
        name="gram",
        summary="Style loss: squared difference of Gram matrices (normalisation selectable).",
        factory="styx.plugins.losses.gram:GramLoss",
        aliases=("style",),
        default_for=("style",),
        config="styx.plugins.losses.options:GramOptions",
    ))
    register(LossSpec(
        name="mean-std",
        summary="Style loss: squared difference of each channel's mean and standard deviation.",
        factory="styx.plugins.losses.moments:MeanStdLoss",
        aliases=("moments",),
    ))
    register(LossSpec(
        name="tv",
        summary="Total variation: squared differences of neighbouring pixels.",
        factory="styx.plugins.losses.tv:TotalVariationLoss",
        scores="image",
        aliases=("total-variation",),
        default_for=("tv",),
        config="styx.plugins.losses.options:TotalVariationOptions",
    ))
