"""The perceptual objective every method optimises: content + style + total variation.

    total = content_weight * sum_l c_l * content_l
          + style_weight   * sum_l s_l * style_l
          + tv_weight      * tv

with ``c_l`` / ``s_l`` the per-layer weights. The objective is given *built* losses (loss
objects, see :mod:`styx.perceptual.losses`); :func:`build_objective` builds them, and the
descriptor, from a method's loss options (``LossOptions``), and :func:`layer_weights` says
which layers those options mean (the descriptor's defaults where none are given). A term whose weight is 0 is dropped when the objective is made:
its layers are not computed, the descriptor stops at the deepest layer still in use, and
:attr:`PerceptualObjective.terms` says which terms remain.

Per-layer values are reported unweighted in :class:`LossTerms`, so experiments can show each
layer's magnitude. Content targets are fixed once (:meth:`PerceptualObjective.set_content`,
image optimisation) or computed per batch (:meth:`~PerceptualObjective.content_targets`,
training). Style targets are computed once, for one style (:meth:`~PerceptualObjective.set_style`,
a blend of images) or for several (:meth:`~PerceptualObjective.set_styles`, one target per
style): then ``objective(images, style_ids=ids)`` scores each image of a batch against its
own style, so a batch may mix styles.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from styx.core.checks import check_number
from styx.core.errors import StyxError
from styx.core.plugins import descriptors
from styx.core.specs import TERMS
from styx.perceptual.descriptor import Descriptor, build_descriptor
from styx.perceptual.losses import build_loss
from styx.runtime.image_tensors import TENSOR_HINT

if TYPE_CHECKING:
    from styx.core.bundles import LossOptions



@dataclass
class LossTerms:
    """One evaluation of the objective: the total and every unweighted part."""

    total: torch.Tensor
    content: dict[str, torch.Tensor] = field(default_factory=dict)
    style: dict[str, torch.Tensor] = field(default_factory=dict)
    tv: torch.Tensor | None = None
    #: Other named values a method reports beside the three terms (StyleBank's
    #: ``reconstruction``), unweighted, under their own names.
    extra: dict[str, torch.Tensor] = field(default_factory=dict)
    #: What logs show as the total when it is not ``total`` (a step that optimises another
    #: objective, as StyleBank's auto-encoder steps do, reports the main one's last value).
    reported_total: torch.Tensor | None = None

    def as_floats(self) -> dict[str, float]:
        """``{"total": ., "content": ., "style": ., "tv": ., "content/<layer>": ., ...}``,
        and every :attr:`extra` value under its name.

        The parts are unweighted; ``content`` and ``style`` are the sums over layers. All
        values are read back from the device in one transfer.
        """
        total = self.total if self.reported_total is None else self.reported_total
        parts = [total, *self.content.values(), *self.style.values(), *self.extra.values()]
        if self.tv is not None:
            parts.append(self.tv)
        numbers = torch.stack([p.detach().float().reshape(()) for p in parts]).tolist()
        total, numbers = numbers[0], numbers[1:]
        ends = list(itertools.accumulate((len(self.content), len(self.style),
                                          len(self.extra))))
        content, style = numbers[:ends[0]], numbers[ends[0]:ends[1]]
        out = {"total": total, "content": float(sum(content)), "style": float(sum(style)),
               "tv": numbers[-1] if self.tv is not None else 0.0}
        out.update({f"content/{layer}": v for layer, v in zip(self.content, content)})
        out.update({f"style/{layer}": v for layer, v in zip(self.style, style)})
        out.update(zip(self.extra, numbers[ends[1]:ends[2]]))
        return out

    def detached(self, device: torch.device | str | None = None) -> LossTerms:
        """The same terms cut from the autograd graph (and moved to ``device``, if given:
        ``detached("cpu")`` for a checkpoint)."""
        def cut(value: torch.Tensor) -> torch.Tensor:
            return value.detach() if device is None else value.detach().to(device)

        return LossTerms(total=cut(self.total),
                         content={k: cut(v) for k, v in self.content.items()},
                         style={k: cut(v) for k, v in self.style.items()},
                         tv=None if self.tv is None else cut(self.tv),
                         extra={k: cut(v) for k, v in self.extra.items()},
                         reported_total=None if self.reported_total is None
                         else cut(self.reported_total))


class PerceptualObjective(nn.Module):
    """Content, style and TV losses measured through one descriptor (see the module
    docstring).

    ``content_loss`` / ``style_loss`` are feature losses (``prepare`` + ``__call__``),
    ``tv_loss`` an image loss; each may be None when its term's weight is 0. Layer names
    are checked against the descriptor, those of dropped terms too, so a typo is an error
    whatever the weights.
    """

    def __init__(
        self,
        descriptor: Descriptor,
        *,
        content_layers: Mapping[str, float],
        style_layers: Mapping[str, float],
        content_weight: float,
        style_weight: float,
        tv_weight: float,
        content_loss: Any = None,
        style_loss: Any = None,
        tv_loss: Any = None,
    ) -> None:
        super().__init__()
        weights = {"content": check_number(content_weight, "content weight", minimum=0),
                   "style": check_number(style_weight, "style weight", minimum=0),
                   "tv": check_number(tv_weight, "TV weight", minimum=0)}
        self.descriptor = descriptor
        descriptor.resolve_layers([*content_layers, *style_layers])  # unknown name: StyxError
        for what, chosen in (("content", content_layers), ("style", style_layers)):
            _check_distinct_taps(descriptor, what, chosen)
        if not content_layers and not style_layers:
            raise StyxError("no content or style layer selected",
                            "give --content-layers and/or --style-layers")
        self.content_weight = float(weights["content"])
        self.style_weight = float(weights["style"])
        self.tv_weight = float(weights["tv"])
        # A term of weight 0 is dropped: neither computed nor reported.
        self.content_layers = {name: float(w) for name, w in content_layers.items()} \
            if self.content_weight > 0 else {}
        self.style_layers = {name: float(w) for name, w in style_layers.items()} \
            if self.style_weight > 0 else {}
        self.content_loss = _needed(content_loss, "content", bool(self.content_layers))
        self.style_loss = _needed(style_loss, "style", bool(self.style_layers))
        self.tv_loss = _needed(tv_loss, "tv", self.tv_weight > 0)
        #: The terms in use, in :data:`TERMS` order.
        self.terms: tuple[str, ...] = tuple(
            term for term, used in zip(TERMS, (self.content_layers, self.style_layers,
                                               self.tv_weight > 0)) if used)
        if not self.terms:
            raise StyxError("every term of the objective is switched off",
                            "give a positive --content-weight, --style-weight or --tv-weight "
                            "with layers to match")
        self.layers = list(dict.fromkeys([*self.content_layers, *self.style_layers]))
        descriptor.trim(self.layers)
        #: ``{layer: K x ...}``: the prepared targets of K styles (one after set_style).
        self.style_targets: dict[str, torch.Tensor] = {}
        self.fixed_content_targets: dict[str, torch.Tensor] = {}

    @property
    def num_styles(self) -> int:
        """How many style targets are set (0 before :meth:`set_style`/:meth:`set_styles`)."""
        first = next(iter(self.style_targets.values()), None)
        return 0 if first is None else int(first.shape[0])

    # -- targets ---------------------------------------------------------------------------
    @torch.no_grad()
    def set_style(self, images: Sequence[torch.Tensor],
                  blend: Sequence[float] | None = None) -> None:
        """One style target: the ``blend``-weighted sum (equal weights by default) of the
        targets of ``images``."""
        if not images:
            raise StyxError("no style image given", "give at least one style image")
        if blend is None:
            blend = [1.0 / len(images)] * len(images)
        if len(blend) != len(images):
            raise StyxError(f"{len(blend)} blend weights for {len(images)} style images",
                            "give one weight per style image")
        total = float(sum(blend))
        if total <= 0 or any(w < 0 for w in blend):
            raise StyxError("blend weights must be >= 0 and not all zero",
                            "e.g. --style-blend 0.7,0.3 for two style images")
        targets: dict[str, torch.Tensor] = {}
        for image, weight in zip(images, blend):
            for layer, prepared in self._prepare_style(image).items():
                prepared = prepared * (weight / total)
                targets[layer] = prepared if layer not in targets else targets[layer] + prepared
        self.style_targets = targets

    @torch.no_grad()
    def set_styles(self, images: Sequence[torch.Tensor]) -> None:
        """One style target per image, in order: ``forward(..., style_ids=...)`` picks them."""
        if not images:
            raise StyxError("no style image given", "give at least one style image")
        prepared = [self._prepare_style(image) for image in images]
        self.style_targets = {layer: torch.cat([p[layer] for p in prepared])
                              for layer in self.style_layers}

    def _prepare_style(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if image.dim() != 4 or image.shape[0] != 1:
            raise StyxError(f"a style image is 1 x 3 x H x W, got shape {tuple(image.shape)}",
                            TENSOR_HINT)
        features = self.descriptor(image, list(self.style_layers))
        return {layer: self.style_loss.prepare(features[layer]) for layer in self.style_layers}

    @torch.no_grad()
    def content_targets(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        """Content targets of a batch (training computes them per batch)."""
        if not self.content_layers:
            return {}
        features = self.descriptor(content, list(self.content_layers))
        return {layer: self.content_loss.prepare(features[layer]) for layer in self.content_layers}

    def forget_targets(self) -> None:
        """Drop the content and style targets (each is set again before it is used)."""
        self.style_targets, self.fixed_content_targets = {}, {}

    def set_content(self, content: torch.Tensor) -> None:
        """Fix the content targets once (image optimisation)."""
        self.fixed_content_targets = self.content_targets(content)

    # -- evaluation ------------------------------------------------------------------------
    def forward(self, image: torch.Tensor,
                content_targets: Mapping[str, torch.Tensor] | None = None,
                style_ids: torch.Tensor | None = None) -> LossTerms:
        """Evaluate the objective at ``image`` (N x 3 x H x W in [0, 1]).

        ``content_targets`` (from :meth:`content_targets`) override the fixed ones of
        :meth:`set_content`. ``style_ids`` (N integers) score image ``i`` against style
        ``style_ids[i]`` of :meth:`set_styles`; without it every image is scored against
        the one style target.
        """
        targets = self.fixed_content_targets if content_targets is None else content_targets
        if self.content_layers and not targets:
            raise StyxError("content targets are not set",
                            "call set_content() first or pass content_targets")
        if self.style_layers and not self.style_targets:
            raise StyxError("style targets are not set", "call set_style() first")
        features = self.descriptor(image, self.layers) if self.layers else {}
        total = image.new_zeros((), dtype=torch.float32)
        terms = LossTerms(total=total)
        for layer, weight in self.content_layers.items():
            value = self.content_loss(features[layer], targets[layer])
            terms.content[layer] = value
            total = total + self.content_weight * weight * value
        for layer, weight in self.style_layers.items():
            value = self.style_loss(features[layer], self._style_target(layer, image, style_ids))
            terms.style[layer] = value
            total = total + self.style_weight * weight * value
        if self.tv_weight > 0:
            terms.tv = self.tv_loss(image)
            total = total + self.tv_weight * terms.tv
        terms.total = total
        return terms

    def _style_target(self, layer: str, image: torch.Tensor,
                      style_ids: torch.Tensor | None) -> torch.Tensor:
        """The style target(s) of ``layer`` on ``image``'s device (moved once, then kept)."""
        target = self.style_targets[layer]
        if target.device != image.device:
            target = self.style_targets[layer] = target.to(image.device)
        if style_ids is not None:
            return target[style_ids.to(target.device)]
        if target.shape[0] != 1:
            raise StyxError(f"{target.shape[0]} style targets are set but no style_ids given",
                            "pass style_ids (one per image), or set one style with set_style")
        return target

    @torch.no_grad()
    def balance_style_layers(self, image: torch.Tensor) -> dict[str, float]:
        """Rescale the style layer weights so every layer's weighted loss at ``image`` is equal.

        The seed report found a 100x spread between the layers' losses; after balancing, each
        layer contributes ``mean`` of the weighted losses, keeping the total style loss as it
        was. Returns the new weights.
        """
        if not self.style_targets:
            raise StyxError("style targets are not set", "call set_style() first")
        features = self.descriptor(image, list(self.style_layers))
        values = {layer: float(self.style_loss(features[layer],
                                               self._style_target(layer, image, None)))
                  for layer in self.style_layers}
        weighted = {layer: self.style_layers[layer] * values[layer] for layer in values}
        active = [v for v in weighted.values() if v > 0]
        if not active:
            return dict(self.style_layers)
        level = sum(active) / len(active)
        for layer, value in values.items():
            if value > 0 and self.style_layers[layer] > 0:
                self.style_layers[layer] = level / value
        return dict(self.style_layers)


def _needed(loss: Any, term: str, used: bool) -> Any:
    if used and loss is None:
        raise TypeError(f"the {term} term is in use but no {term}_loss was given")
    return loss if used else None


def _check_distinct_taps(descriptor: Descriptor, what: str, layers: Mapping[str, float]) -> None:
    """Two names of one tap (``relu1_1`` and its alias ``block1_conv1``) would count it twice."""
    seen: dict[str, str] = {}
    for name in layers:
        tap = descriptor.resolve_layer(name)
        if tap in seen:
            raise StyxError(f"{what} layers {seen[tap]!r} and {name!r} are the same layer "
                            f"of descriptor {descriptor.name!r}", "give each layer once")
        seen[tap] = name


# -- from a method's loss options ------------------------------------------------------
def layer_weights(options: LossOptions) -> tuple[dict[str, float], dict[str, float]]:
    """``(content_layers, style_layers)``: the ones given, or else the descriptor's
    defaults at weight 1 (an unknown descriptor is a StyxError with "did you mean")."""
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
