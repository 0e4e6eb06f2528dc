"""How a method scores images: the loss settings, checked, and the objective built from them.

Every method that measures images through a descriptor (Gatys image optimisation, the
feed-forward methods' training) is told the same things: a descriptor and its weights,
content and style layers (or the descriptor's defaults), the weights of the content, style
and TV terms, and which registered losses to use. :class:`LossSettings` holds them,
:meth:`LossSettings.layer_weights` resolves the layers, and :func:`build_objective` turns
them into a :class:`~styx.core.objective.PerceptualObjective` on a descriptor trimmed to
the layers in use::

    settings = LossSettings.from_options(descriptor="vgg19", weights="random",
                                         style_layers="relu1_1,relu2_1", tv_weight=1e-3)
    content_layers, style_layers = settings.layer_weights()
    objective = build_objective(settings, content_layers, style_layers, seed=0)

This module imports no torch (only :func:`build_objective` does, when called), so a
command can build and check its settings before any heavy import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from styx.core.errors import StyxError
from styx.core.layers import layer_selection

if TYPE_CHECKING:
    import torch

    from styx.core.objective import PerceptualObjective

#: Weights for the default ("elements") Gram normalisation: style 1e5 against content 1 is
#: the ratio of Johnson et al.'s per-element weights (1e10 : 1e5). The TV weight suits
#: feed-forward training; image optimisation (Gatys) sets its own.
DEFAULT_CONTENT_WEIGHT = 1.0
DEFAULT_STYLE_WEIGHT = 1e5
DEFAULT_TV_WEIGHT = 1e-3


def check_loss_weight(name: str, value: Any) -> float:
    """``value`` as a float; a StyxError unless it is a finite number >= 0."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise StyxError(f"bad {name} {value!r}", "give a number") from None
    if not (number >= 0.0 and number != float("inf")):
        raise StyxError(f"bad {name} {value!r}", "weights must be finite and >= 0")
    return number


def check_loss_weights(content_weight: Any, style_weight: Any,
                       tv_weight: Any) -> tuple[float, float, float]:
    """The three term weights as floats: each finite and >= 0, not all zero (StyxError)."""
    weights = (check_loss_weight("content weight", content_weight),
               check_loss_weight("style weight", style_weight),
               check_loss_weight("TV weight", tv_weight))
    if not any(weights):
        raise StyxError("the content, style and TV weights are all zero",
                        "give at least one positive weight")
    return weights


@dataclass
class LossSettings:
    """How an image is scored (a method stores these in its model's metadata)."""

    descriptor: str = "vgg19"
    weights: str = "imagenet"
    #: ``{layer: weight}``; None: the descriptor's default layers, weight 1 each.
    content_layers: Mapping[str, float] | None = None
    style_layers: Mapping[str, float] | None = None
    content_weight: float = DEFAULT_CONTENT_WEIGHT
    style_weight: float = DEFAULT_STYLE_WEIGHT
    tv_weight: float = DEFAULT_TV_WEIGHT
    #: Registered loss names (``styx list losses``).
    content_loss: str = "content"
    style_loss: str = "gram"
    tv_loss: str = "tv"
    #: Options of the style loss, e.g. ``{"normalization": "gatys"}`` for the Gram loss.
    style_loss_options: dict[str, Any] = field(default_factory=dict)
    #: The descriptor's own options, e.g. ``{"pooling": "avg"}``.
    descriptor_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_options(
        cls, *,
        descriptor: str = "vgg19",
        weights: str = "imagenet",
        content_layers: str | Mapping[str, float] | None = None,
        style_layers: str | Mapping[str, float] | None = None,
        content_weight: float = DEFAULT_CONTENT_WEIGHT,
        style_weight: float = DEFAULT_STYLE_WEIGHT,
        tv_weight: float = DEFAULT_TV_WEIGHT,
        gram_normalization: str | None = None,
        content_loss: str = "content",
        style_loss: str = "gram",
        tv_loss: str = "tv",
        descriptor_options: Mapping[str, Any] | None = None,
    ) -> LossSettings:
        """Settings from command-line style values (see :mod:`styx.cli.options`).

        Layers may be text (``"relu1_1:0.2,relu2_1"``) or mappings; blank means the
        descriptor's defaults. ``gram_normalization`` (None: the loss's own default) becomes
        the style loss's ``normalization`` option. Bad layer text is a StyxError; the term
        weights are checked by :meth:`check`.
        """
        return cls(
            descriptor=descriptor, weights=weights,
            content_layers=layer_selection(content_layers, what="content"),
            style_layers=layer_selection(style_layers, what="style"),
            content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
            content_loss=content_loss, style_loss=style_loss, tv_loss=tv_loss,
            style_loss_options={} if gram_normalization is None
            else {"normalization": gram_normalization},
            descriptor_options=dict(descriptor_options or {}))

    def check(self) -> LossSettings:
        """Check the term weights (finite, >= 0, not all zero) before any work; returns self."""
        check_loss_weights(self.content_weight, self.style_weight, self.tv_weight)
        return self

    def layer_weights(self) -> tuple[dict[str, float], dict[str, float]]:
        """``(content_layers, style_layers)``: the ones given, or else the descriptor's
        defaults at weight 1 (an unknown descriptor is a StyxError with "did you mean")."""
        from styx.core.plugins import descriptors

        spec = descriptors().get(self.descriptor)
        content = dict(self.content_layers) if self.content_layers is not None \
            else dict.fromkeys(spec.default_content_layers, 1.0)
        style = dict(self.style_layers) if self.style_layers is not None \
            else dict.fromkeys(spec.default_style_layers, 1.0)
        return content, style

    def as_metadata(self, content_layers: Mapping[str, float],
                    style_layers: Mapping[str, float]) -> dict[str, Any]:
        """JSON-able settings with the layers actually used (for a model's metadata)."""
        return {
            "descriptor": self.descriptor,
            "weights": str(self.weights),
            "descriptor_options": dict(self.descriptor_options),
            "content_layers": dict(content_layers),
            "style_layers": dict(style_layers),
            "content_weight": self.content_weight,
            "style_weight": self.style_weight,
            "tv_weight": self.tv_weight,
            "content_loss": self.content_loss,
            "style_loss": self.style_loss,
            "style_loss_options": dict(self.style_loss_options),
            "tv_loss": self.tv_loss,
        }


def build_objective(settings: LossSettings, content_layers: Mapping[str, float],
                    style_layers: Mapping[str, float], *, seed: int = 0,
                    device: str | torch.device | None = None) -> PerceptualObjective:
    """The objective of ``settings`` over the given layers (usually from
    :meth:`LossSettings.layer_weights`, narrowed by the method if it needs fewer).

    The descriptor is built (``seed`` seeds random weights) already trimmed to the deepest
    layer used, which is far cheaper than building it whole, and put on ``device`` if given.
    Unknown layers, losses or options are StyxErrors.
    """
    from styx.core.descriptor import build_descriptor
    from styx.core.objective import PerceptualObjective
    from styx.core.plugins import descriptors

    spec = descriptors().get(settings.descriptor)
    descriptor = build_descriptor(spec.name, settings.weights, seed=seed, device=device,
                                  layers=[*content_layers, *style_layers],
                                  **dict(settings.descriptor_options))
    return PerceptualObjective(
        descriptor, content_layers=content_layers, style_layers=style_layers,
        content_weight=settings.content_weight, style_weight=settings.style_weight,
        tv_weight=settings.tv_weight, content_loss=settings.content_loss,
        style_loss=settings.style_loss, tv_loss=settings.tv_loss,
        style_loss_options=settings.style_loss_options)
