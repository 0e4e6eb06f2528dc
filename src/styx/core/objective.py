"""The perceptual objective every method optimises: content + style + total variation.

    total = content_weight * sum_l c_l * content_l
          + style_weight   * sum_l s_l * style_l
          + tv_weight      * tv

with ``c_l`` / ``s_l`` the per-layer weights. Per-layer values are reported unweighted in
:class:`LossTerms`, so experiments can show each layer's magnitude. Style targets are
computed once by :meth:`PerceptualObjective.set_style`; content targets either once
(:meth:`set_content`, image optimisation) or per batch (:meth:`content_targets`, training).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from styx.core.descriptor import Descriptor
from styx.core.errors import StyxError
from styx.core.losses import build_loss
from styx.core.perceptual import check_loss_weight


@dataclass
class LossTerms:
    """One evaluation of the objective: the total and every unweighted part."""

    total: torch.Tensor
    content: dict[str, torch.Tensor] = field(default_factory=dict)
    style: dict[str, torch.Tensor] = field(default_factory=dict)
    tv: torch.Tensor | None = None

    def as_floats(self) -> dict[str, float]:
        """``{"total": ., "content": ., "style": ., "tv": ., "content/<layer>": ., ...}``.

        The parts are unweighted; ``content`` and ``style`` are the sums over layers. All
        values are read back from the device in one transfer.
        """
        parts = [self.total, *self.content.values(), *self.style.values()]
        if self.tv is not None:
            parts.append(self.tv)
        numbers = torch.stack([p.detach().float().reshape(()) for p in parts]).tolist()
        total, numbers = numbers[0], numbers[1:]
        content = numbers[:len(self.content)]
        style = numbers[len(self.content):len(self.content) + len(self.style)]
        out = {"total": total, "content": float(sum(content)), "style": float(sum(style)),
               "tv": numbers[-1] if self.tv is not None else 0.0}
        out.update({f"content/{layer}": v for layer, v in zip(self.content, content)})
        out.update({f"style/{layer}": v for layer, v in zip(self.style, style)})
        return out

    def detached(self) -> LossTerms:
        """The same terms cut from the autograd graph."""
        return LossTerms(total=self.total.detach(),
                         content={k: v.detach() for k, v in self.content.items()},
                         style={k: v.detach() for k, v in self.style.items()},
                         tv=None if self.tv is None else self.tv.detach())


class PerceptualObjective(nn.Module):
    """Content, style and TV losses measured through one descriptor.

    The descriptor is trimmed to the deepest layer used. Losses are looked up by registered
    name, so a plugin's loss works here as the built-ins do.
    """

    def __init__(
        self,
        descriptor: Descriptor,
        *,
        content_layers: Mapping[str, float],
        style_layers: Mapping[str, float],
        content_weight: float = 1.0,
        style_weight: float = 1.0,
        tv_weight: float = 0.0,
        content_loss: str = "content",
        style_loss: str = "gram",
        tv_loss: str = "tv",
        style_loss_options: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__()
        content_weight = check_loss_weight("content weight", content_weight)
        style_weight = check_loss_weight("style weight", style_weight)
        tv_weight = check_loss_weight("TV weight", tv_weight)
        self.descriptor = descriptor
        descriptor.resolve_layers([*content_layers, *style_layers])  # unknown name: StyxError
        for what, chosen in (("content", content_layers), ("style", style_layers)):
            _check_distinct_taps(descriptor, what, chosen)
        self.content_layers = {name: float(weight) for name, weight in content_layers.items()}
        self.style_layers = {name: float(weight) for name, weight in style_layers.items()}
        if not self.content_layers and not self.style_layers:
            raise StyxError("no content or style layer selected",
                            "give --content-layers and/or --style-layers")
        self.content_weight = float(content_weight)
        self.style_weight = float(style_weight)
        self.tv_weight = float(tv_weight)
        self.content_loss = build_loss(content_loss, target="features")
        self.style_loss = build_loss(style_loss, target="features", **dict(style_loss_options or {}))
        self.tv_loss = build_loss(tv_loss, target="image")
        self.layers = list(dict.fromkeys([*self.content_layers, *self.style_layers]))
        descriptor.trim(self.layers)
        self.style_targets: dict[str, torch.Tensor] = {}
        self.fixed_content_targets: dict[str, torch.Tensor] = {}

    # -- targets ---------------------------------------------------------------------------
    @torch.no_grad()
    def set_style(self, images: Sequence[torch.Tensor],
                  blend: Sequence[float] | None = None) -> None:
        """Compute the style targets once: a ``blend``-weighted sum over the style images."""
        if not images:
            raise StyxError("no style image given")
        if blend is None:
            blend = [1.0 / len(images)] * len(images)
        if len(blend) != len(images):
            raise StyxError(f"{len(blend)} blend weights for {len(images)} style images",
                            "give one weight per style image")
        total = float(sum(blend))
        if total <= 0 or any(w < 0 for w in blend):
            raise StyxError("blend weights must be >= 0 and not all zero")
        targets: dict[str, torch.Tensor] = {}
        for image, weight in zip(images, blend):
            features = self.descriptor(image, list(self.style_layers))
            for layer in self.style_layers:
                prepared = self.style_loss.prepare(features[layer]) * (weight / total)
                targets[layer] = prepared if layer not in targets else targets[layer] + prepared
        self.style_targets = targets

    @torch.no_grad()
    def content_targets(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        """Content targets of a batch (training computes them per batch)."""
        if not self.content_layers:
            return {}
        features = self.descriptor(content, list(self.content_layers))
        return {layer: self.content_loss.prepare(features[layer]) for layer in self.content_layers}

    def set_content(self, content: torch.Tensor) -> None:
        """Fix the content targets once (image optimisation)."""
        self.fixed_content_targets = self.content_targets(content)

    # -- evaluation ------------------------------------------------------------------------
    def forward(self, image: torch.Tensor,
                content_targets: Mapping[str, torch.Tensor] | None = None) -> LossTerms:
        """Evaluate the objective at ``image`` (N x 3 x H x W in [0, 1]).

        ``content_targets`` (from :meth:`content_targets`) override the fixed ones of
        :meth:`set_content`. A term whose weight is 0 is neither computed nor reported.
        """
        targets = self.fixed_content_targets if content_targets is None else content_targets
        use_content = bool(self.content_layers) and self.content_weight > 0
        use_style = bool(self.style_layers) and self.style_weight > 0
        if use_content and not targets:
            raise StyxError("content targets are not set",
                            "call set_content() first or pass content_targets")
        if use_style and not self.style_targets:
            raise StyxError("style targets are not set", "call set_style() first")
        layers = [layer for layer in self.layers
                  if (use_content and layer in self.content_layers)
                  or (use_style and layer in self.style_layers)]
        features = self.descriptor(image, layers) if layers else {}
        total = image.new_zeros((), dtype=torch.float32)
        terms = LossTerms(total=total)
        if use_content:
            for layer, weight in self.content_layers.items():
                value = self.content_loss(features[layer], targets[layer])
                terms.content[layer] = value
                total = total + self.content_weight * weight * value
        if use_style:
            for layer, weight in self.style_layers.items():
                value = self.style_loss(features[layer], self._style_target(layer, image))
                terms.style[layer] = value
                total = total + self.style_weight * weight * value
        if self.tv_weight > 0:
            terms.tv = self.tv_loss(image)
            total = total + self.tv_weight * terms.tv
        terms.total = total
        return terms

    def _style_target(self, layer: str, image: torch.Tensor) -> torch.Tensor:
        """The style target of ``layer`` on ``image``'s device (moved once, then kept)."""
        target = self.style_targets[layer]
        if target.device != image.device:
            target = self.style_targets[layer] = target.to(image.device)
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
        values = {layer: float(self.style_loss(features[layer], self._style_target(layer, image)))
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


def _check_distinct_taps(descriptor: Descriptor, what: str, layers: Mapping[str, float]) -> None:
    """Two names of one tap (``relu1_1`` and its alias ``block1_conv1``) would count it twice."""
    seen: dict[str, str] = {}
    for name in layers:
        tap = descriptor.resolve_layer(name)
        if tap in seen:
            raise StyxError(f"{what} layers {seen[tap]!r} and {name!r} are the same layer "
                            f"of descriptor {descriptor.name!r}", "give each layer once")
        seen[tap] = name
