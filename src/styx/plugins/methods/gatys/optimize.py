"""Optimising an image's pixels at one scale: L-BFGS or Adam, with the best image kept.

One *step* is one call of the optimiser's ``step``. For L-BFGS that is one iteration with
exactly one evaluation of the loss and its gradient (no line search, as in neural-style):
``torch.optim.LBFGS`` is run with ``max_iter=1`` and keeps its curvature history between
steps, so N steps equal one ``max_iter=N`` call while the loop can report progress, save
images and stop on Ctrl-C after every step. For Adam a step is one evaluation and update.

The pixels are optimised directly and projected onto [0, 1] before every evaluation, so
every image the loss sees, and so every image kept or returned, is a valid image.

The image with the lowest loss is tracked on the device without reading the loss back
(``torch.where``), so a step costs no extra host-device synchronisation. Loss values are
read back every ``read_every`` steps; a NaN or infinite loss then stops the run with a
:class:`NonFiniteLoss`. A ``KeyboardInterrupt`` (Ctrl-C, or raised by ``on_step``) ends the
loop early and the best image so far is returned with ``interrupted=True``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from styx.core.errors import StyxError
from styx.core.method import RunError
from styx.perceptual.objective import LossTerms

#: The loss of an image: the objective, wrapped in autocast / memory-format handling.
LossFunction = Callable[[torch.Tensor], LossTerms]
#: Called after every step: (step within this scale, 1-based; loss values or None when not
#: read at this step; the current image, detached).
StepCallback = Callable[[int, "dict[str, float] | None", torch.Tensor], None]


class NonFiniteLoss(RunError):
    """The loss became NaN or infinite: the run stops and no image is written."""

    status = "non-finite loss"

    def __init__(self, step: int, value: float) -> None:
        super().__init__(
            f"the loss became {value} at step {step}; stopped without writing an image",
            "lower --lr or --style-weight, try --optimizer adam, or --amp off if "
            "mixed precision is on")
        self.step = step
        self.value = value


@dataclass
class ScaleOutcome:
    """What one scale's optimisation produced."""

    #: The image with the lowest loss seen (1 x 3 x H x W on the device, in [0, 1]).
    image: torch.Tensor
    #: Its total loss (inf when no evaluation finished).
    loss: float
    #: Steps completed.
    steps: int
    interrupted: bool


def make_optimizer(name: str, image: torch.Tensor, *, lr: float,
                   lbfgs_history: int = 20) -> torch.optim.Optimizer:
    if name == "lbfgs":
        # Never stop early because the gradient or the change is small (with the 'elements'
        # Gram normalisation both can be tiny long before the image is done); a direction
        # that does not descend is still skipped (g . d > 0).
        return torch.optim.LBFGS([image], lr=lr, max_iter=1, history_size=lbfgs_history,
                                 tolerance_grad=-1.0, tolerance_change=0.0)
    if name == "adam":
        return torch.optim.Adam([image], lr=lr)
    raise StyxError(f"unknown optimizer {name!r}", "choose lbfgs or adam")


class LossScaler:
    """Dynamic loss scaling for fp16 autocast, which works with L-BFGS closures too.

    fp16 gradients of small losses underflow to zero. The loss is multiplied by ``scale``
    before the backward pass and the image gradient divided by it after; a gradient with
    inf/NaN means the scale was too large: it is halved and the backward pass redone.
    After ``growth_interval`` good steps in a row the scale doubles again.
    """

    def __init__(self, scale: float = 2.0**16, growth_interval: int = 100) -> None:
        self.scale = scale
        self.growth_interval = growth_interval
        self._good = 0

    def backward(self, total: torch.Tensor, image: torch.Tensor) -> None:
        while True:
            (total * self.scale).backward(retain_graph=self.scale > 1.0)
            grad = image.grad
            if self.scale <= 1.0 or bool(torch.isfinite(grad).all()):
                break
            image.grad = None
            self.scale /= 2.0
            self._good = 0
        grad.div_(self.scale)
        self._good += 1
        if self._good >= self.growth_interval:
            self.scale *= 2.0
            self._good = 0


def optimize_scale(loss_fn: LossFunction, init: torch.Tensor, *, optimizer: str, steps: int,
                   lr: float, lbfgs_history: int = 20, read_every: int = 1,
                   on_step: StepCallback | None = None, first_step: int = 1,
                   scaler: LossScaler | None = None) -> ScaleOutcome:
    """Run ``steps`` optimiser steps from ``init``; return the best image seen.

    ``first_step`` only numbers the steps in error messages (steps of earlier scales).
    ``scaler``: dynamic loss scaling (for fp16 autocast).
    """
    image = init.detach().clone().clamp_(0.0, 1.0).requires_grad_(True)
    opt = make_optimizer(optimizer, image, lr=lr, lbfgs_history=lbfgs_history)
    best_image = image.detach().clone()
    best_loss = torch.full((), math.inf, device=image.device)
    latest: list[LossTerms] = []

    def keep_if_best(total: torch.Tensor) -> None:
        # NaN compares False, so a NaN image is never kept. The image is updated before the
        # loss, so an interrupt in between never pairs a loss with a worse image.
        better = total < best_loss
        best_image.copy_(torch.where(better, image.detach(), best_image))
        best_loss.copy_(torch.where(better, total, best_loss))

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            image.clamp_(0.0, 1.0)
        terms = loss_fn(image)
        if scaler is None:
            terms.total.backward()
        else:
            scaler.backward(terms.total, image)
        total = terms.total.detach()
        with torch.no_grad():
            keep_if_best(total)
        latest[:] = [terms.detached()]
        return total

    done = 0
    interrupted = False
    try:
        for step in range(1, steps + 1):
            opt.step(closure)
            done = step
            values = None
            if step % read_every == 0 or step == steps:
                values = latest[0].as_floats()
                _check_finite(values["total"], first_step + step - 1)
            if on_step is not None:
                on_step(step, values, image.detach())
        if steps:
            with torch.no_grad():  # the last update has not been evaluated yet
                image.clamp_(0.0, 1.0)
                final = loss_fn(image).total.detach().float()
                _check_finite(float(final), first_step + steps - 1)
                keep_if_best(final)
    except KeyboardInterrupt:
        interrupted = True
    return ScaleOutcome(image=best_image, loss=float(best_loss), steps=done,
                        interrupted=interrupted)


def _check_finite(value: float, step: int) -> None:
    if not math.isfinite(value):
        raise NonFiniteLoss(step, value)
