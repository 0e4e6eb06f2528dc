"""From a method's loss options to the objective that scores its images.

Every method that measures images through a descriptor (Gatys image optimisation, the
feed-forward methods' training) declares :class:`~styx.core.bundles.LossOptions` in its
config; :func:`build_objective` turns those options into a
:class:`~styx.core.objective.PerceptualObjective`: the descriptor built and trimmed to the
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
    from styx.core.objective import PerceptualObjective


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
    from styx.core.descriptor import build_descriptor
    from styx.core.losses import build_loss
    from styx.core.objective import PerceptualObjective
    from styx.core.plugins import descriptors

    spec = descriptors().get(options.descriptor)
    content_layers, style_layers = layer_weights(options)
    content_weight = options.content_weight if content else 0.0
    if not content:
        content_layers = {}
    for what, weight, layers in (("content", content_weight, content_layers),
                                 ("style", options.style_weight, style_layers)):
        if weight > 0 and not layers:
            raise StyxError(f"descriptor {spec.name!r} has no default {what} layers",
                            f"give --{what}-layers (see 'styx list layers {spec.name}')")
    in_use = {"content": content_weight > 0, "style": options.style_weight > 0,
              "tv": options.tv_weight > 0}
    names = {"content": (options.content_loss, "features", {}),
             "style": (options.style_loss, "features", options.style_loss_options),
             "tv": (options.tv_loss, "image", {})}
    # The names, of unused terms too, were looked up when the options were checked.
    built = {term: build_loss(name, target=target, **loss_options)
             for term, (name, target, loss_options) in names.items() if in_use[term]}
    used_layers = [*(content_layers if in_use["content"] else {}),
                   *(style_layers if in_use["style"] else {})]
    descriptor = build_descriptor(spec.name, options.weights, seed=seed, device=device,
                                  layers=used_layers or None,
                                  **dict(options.descriptor_options))
    return PerceptualObjective(
        descriptor, content_layers=content_layers, style_layers=style_layers,
        content_weight=content_weight, style_weight=options.style_weight,
        tv_weight=options.tv_weight, content_loss=built.get("content"),
        style_loss=built.get("style"), tv_loss=built.get("tv"))
