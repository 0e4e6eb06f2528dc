"""From a method's loss options to the objective that scores its images.

Every method that measures images through a descriptor (Gatys image optimisation, the
feed-forward methods' training) declares :class:`~styx.core.bundles.LossOptions` in its
config; :func:`build_objective` turns those options into a
:class:`~styx.perceptual.objective.PerceptualObjective`: the descriptor built and trimmed to the
layers in use, the registered losses built with their options, zero-weight terms left
out::

    objective = build_objective(config, seed=config.seed, device=device)
    objective.terms            # ("content", "style", "tv"), or fewer

:func:`layer_weights` says which layers the options mean (the descriptor's defaults where
none are given). Nothing here imports torch until :func:`build_objective` is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from styx.core.errors import StyxError

if TYPE_CHECKING:
    import torch

    from styx.core.bundles import LossOptions
    from styx.perceptual.objective import PerceptualObjective


def layer_weights(options: LossOptions) -> tuple[dict[str, float], dict[str, float]]:
    """``(content_layers, style_layers)``: the ones given, or else the descriptor's
    defaults at weight 1 (an unknown descriptor is a StyxError with "did you mean")."""
    from styx.core.plugins import descriptors

    spec = descriptors().get(options.descriptor)
    content_layers, style_layers = options.layer_selections()
    content = dict(content_layers) if content_layers is not None \
        else dict.fromkeys(spec.default_content_layers, 1.0)
    style = dict(style_layers) if style_layers is not None \
        else dict.fromkeys(spec.default_style_layers, 1.0)
    return content, style


def used_layers(options: LossOptions, *, content: bool = True
                ) -> tuple[dict[str, float], dict[str, float]]:
    """``(content_layers, style_layers)`` that :func:`build_objective` will score, known
    before anything is built: a term of weight 0 (or the content with ``content=False``)
    uses none. A term with a positive weight and no layers (a descriptor without default
    style layers) is a StyxError."""
    from styx.core.plugins import descriptors

    spec = descriptors().get(options.descriptor)
    content_layers, style_layers = layer_weights(options)
    chosen = {"content": content_layers if content and options.content_weight > 0 else {},
              "style": style_layers if options.style_weight > 0 else {}}
    for what, weight in (("content", options.content_weight if content else 0.0),
                         ("style", options.style_weight)):
        if weight > 0 and not chosen[what]:
            raise StyxError(f"descriptor {spec.name!r} has no default {what} layers",
                            f"give --{what}-layers (see 'styx list layers {spec.name}')")
    return chosen["content"], chosen["style"]


def build_objective(options: LossOptions, *, seed: int = 0,
                    device: str | torch.device | None = None,
                    content: bool = True) -> PerceptualObjective:
    """The objective of ``options`` (a config with the LossOptions bundle).

    ``content=False`` leaves the content term out whatever its weight (texture synthesis
    has no content). The descriptor is built (``seed`` seeds random weights) already
    trimmed to the deepest layer in use, and put on ``device`` if given. A term whose
    weight is positive but which has no layers (a descriptor without default style
    layers), an unknown layer, loss or option: StyxErrors.
    """
    from styx.perceptual.descriptor import build_descriptor
    from styx.perceptual.losses import build_loss
    from styx.perceptual.objective import PerceptualObjective
    from styx.core.plugins import descriptors

    spec = descriptors().get(options.descriptor)
    content_layers, style_layers = used_layers(options, content=content)
    content_weight = options.content_weight if content else 0.0
    in_use = {"content": bool(content_layers), "style": bool(style_layers),
              "tv": options.tv_weight > 0}
    # The names and options, of unused terms too, were checked with the options.
    built = {term: build_loss(options.term_loss(term).name,
                              **options.term_loss_options(term))
             for term in in_use if in_use[term]}
    descriptor = build_descriptor(spec.name, options.weights, seed=seed, device=device,
                                  layers=[*content_layers, *style_layers] or None,
                                  **dict(options.descriptor_options))
    return PerceptualObjective(
        descriptor, content_layers=content_layers, style_layers=style_layers,
        content_weight=content_weight, style_weight=options.style_weight,
        tv_weight=options.tv_weight, content_loss=built.get("content"),
        style_loss=built.get("style"), tv_loss=built.get("tv"))
