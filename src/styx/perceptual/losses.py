"""The loss interface, and building losses by registered name.

Two kinds of loss, told apart by what their spec ``scores``:

* ``"features"`` losses compare a descriptor layer's feature map with a target made once
  from a reference image::

      target = loss.prepare(reference_features)   # e.g. a Gram matrix; computed once
      value = loss(features, target)              # a scalar, fp32

  Targets of several references may be blended by a weighted sum of prepared targets.
  ``features`` has a batch dimension N; ``target`` has batch 1 (shared by the batch) or N
  (one per image: a batch that mixes styles), so ``prepare`` keeps the batch dimension
  first. The value is the mean over the batch.

* ``"image"`` losses look at the image alone (total variation): ``value = loss(image)``.

Every value is computed in float32 whatever the autocast dtype.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch


class FeatureLoss(Protocol):
    def prepare(self, features: torch.Tensor) -> torch.Tensor: ...

    def __call__(self, features: torch.Tensor, target: torch.Tensor) -> torch.Tensor: ...


class ImageLoss(Protocol):
    def __call__(self, image: torch.Tensor) -> torch.Tensor: ...


def build_loss(name: str, *, scores: str | None = None, target: str | None = None,
               **options: Any) -> Any:
    """Build the registered loss ``name`` with ``options``; check it scores ``scores``
    ("features" or "image"; ``target`` is the name it had in styx 0.1)."""
    from styx.core.plugins import loss_spec
    from styx.core.specs import checked_options

    spec = loss_spec(name, scores=scores, target=target)
    return spec.load()(**checked_options(spec, options))
