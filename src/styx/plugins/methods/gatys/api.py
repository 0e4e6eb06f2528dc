"""The library call of the Gatys method: :func:`stylize`.

    from styx.plugins.methods.gatys.api import stylize

    result = stylize("photo.jpg", ["painting.jpg"], size=384, steps=300)
    result.image          # 1 x 3 x H x W float32 in [0, 1], on the CPU
    result.history        # per-step loss values

Inputs are paths or tensors (1 x 3 x H x W or 3 x H x W in [0, 1]); with none, the sample
images shipped with styx are used. Options are the fields of
:class:`~styx.plugins.methods.gatys.config.GatysConfig`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import torch

from styx.core.errors import StyxError
from styx.plugins.methods.gatys.config import DEFAULT_SIZE, GatysConfig, ResolvedConfig
from styx.plugins.methods.gatys.optimize import LossScaler, NonFiniteLoss, optimize_scale

#: An image given to :func:`stylize`: a path, or a tensor in [0, 1].
ImageInput = Union[str, "os.PathLike[str]", torch.Tensor]


@dataclass
class StepInfo:
    """What a ``callback`` sees after every step."""

    #: The step number over all scales (1-based) and the number of steps planned.
    step: int
    total_steps: int
    #: The long side of the scale being optimised.
    scale: int
    #: Loss values at this step (see :meth:`~styx.core.objective.LossTerms.as_floats`); None where not read.
    losses: dict[str, float] | None
    #: Seconds since the run started.
    seconds: float
    _image: Callable[[], torch.Tensor] = field(repr=False, default=None)  # type: ignore

    def image(self) -> torch.Tensor:
        """The current image (CPU, 1 x 3 x H x W, colours preserved if asked)."""
        return self._image()


@dataclass
class GatysResult:
    """What :func:`stylize` returns."""

    #: The best image found (lowest loss at the last scale reached): CPU, 1 x 3 x H x W,
    #: float32 in [0, 1], at the output size (also after an interrupt at a coarse scale).
    image: torch.Tensor
    #: Its total loss.
    loss: float
    #: Optimiser steps done, all scales together.
    steps: int
    #: True when Ctrl-C (a KeyboardInterrupt) stopped the run early.
    interrupted: bool
    #: One dict per step where the loss was read: step, scale, total, content, style, tv,
    #: content/<layer>, style/<layer>, seconds.
    history: list[dict[str, float]]
    #: The layer weights used (style layers after balancing).
    content_layers: dict[str, float]
    style_layers: dict[str, float]
    seconds: float
    device: str
    #: The long sides optimised, coarse to fine.
    scales: list[int]
    config: GatysConfig
    #: The content image's alpha channel (1 x 1 x H x W), when it had one; writers that
    #: support transparency re-attach it (``save_image(image, path, alpha=alpha)``).
    alpha: torch.Tensor | None = None


def stylize(content: ImageInput | None = None,
            styles: ImageInput | Sequence[ImageInput] | None = None, *,
            config: GatysConfig | None = None,
            callback: Callable[[StepInfo], None] | None = None,
            progress: bool = False, **options: Any) -> GatysResult:
    """Stylise ``content`` with ``styles`` by optimising the image's pixels (Gatys et al.).

    ``options`` override fields of ``config`` (e.g. ``size=256, steps=200,
    style_weight=1e4, weights="random"``). ``callback`` is called after every step with a
    :class:`StepInfo`; raising ``KeyboardInterrupt`` from it stops the run like Ctrl-C.
    Ctrl-C returns the best image so far with ``interrupted=True``. A NaN/inf loss raises
    :class:`~.optimize.NonFiniteLoss` (a StyxError). ``progress=True`` shows a progress bar.
    """
    config = (config or GatysConfig()).with_options(**options)
    style_inputs = _style_list(styles)
    resolved = config.resolved(styles=len(style_inputs) or 1)
    return GatysRun(resolved, content, style_inputs, callback=callback,
                    progress=progress).execute()


def _style_list(styles: ImageInput | Sequence[ImageInput] | None) -> list[ImageInput]:
    if styles is None:
        return []
    if isinstance(styles, (str, os.PathLike, torch.Tensor)):
        return [styles]
    return list(styles)


# -- inputs ----------------------------------------------------------------------------------
def load_input(image: ImageInput, *, long_side: int | None, what: str) -> torch.Tensor:
    """A path or tensor as 1 x 3 x H x W float32 in [0, 1] (resized to ``long_side``)."""
    from styx.core.image import read_image, resize_long_side

    if isinstance(image, torch.Tensor):
        tensor = image.detach()
        if tensor.dim() == 3:
            tensor = tensor.unsqueeze(0)
        if tensor.dim() != 4 or tensor.shape[0] != 1 or tensor.shape[1] != 3:
            raise StyxError(f"the {what} tensor has shape {tuple(image.shape)}",
                            "give one RGB image, 3 x H x W or 1 x 3 x H x W")
        tensor = tensor.float().cpu()
        if not torch.isfinite(tensor).all() or tensor.min() < 0 or tensor.max() > 1:
            raise StyxError(f"the {what} tensor has values outside [0, 1]",
                            "images are float RGB in [0, 1]")
        return resize_long_side(tensor, long_side) if long_side else tensor
    return read_image(image, long_side=long_side).rgb


class GatysRun:
    """One run of :func:`stylize`: inputs loaded, objective built, scales optimised."""

    def __init__(self, resolved: ResolvedConfig, content: ImageInput | None,
                 styles: list[ImageInput], *, callback: Callable[[StepInfo], None] | None,
                 progress: bool) -> None:
        self.resolved = resolved
        self.config = resolved.config
        self.content_input = content
        self.style_inputs = styles
        self.callback = callback
        self.progress = progress
        self.history: list[dict[str, float]] = []

    # -- setup -------------------------------------------------------------------------------
    def load_images(self) -> None:
        from styx.core.image import sample_image

        final = self.resolved.scales[-1]
        content = self.content_input if self.content_input is not None \
            else sample_image("content")
        if final is None and not isinstance(content, torch.Tensor):
            final = DEFAULT_SIZE
        self.content_alpha = None
        if isinstance(content, torch.Tensor):
            self.content = load_input(content, long_side=final, what="content")
        else:
            from styx.core.image import read_image

            loaded = read_image(content, long_side=final)
            self.content, self.content_alpha = loaded.rgb, loaded.alpha
        self.final_size = max(self.content.shape[-2:])
        self.scales = [s if s is not None else self.final_size for s in self.resolved.scales]
        style_long = max(1, round(self.config.style_scale * self.final_size))
        inputs = self.style_inputs or [sample_image("style")]
        self.styles = [load_input(s, long_side=style_long, what="style") for s in inputs]
        self.init_image = None
        if self.resolved.init not in ("content", "noise", "style"):
            self.init_image = load_input(Path(self.resolved.init), long_side=None, what="init")

    def build_objective(self) -> None:
        from styx.core.device import autocast, autocast_dtype, resolve_device
        from styx.core.perceptual import build_objective
        from styx.core.plugins import descriptors

        config = self.config
        self.device = resolve_device(config.device)
        # An unknown precision fails here, before any work; fp16 needs loss scaling.
        fp16 = autocast_dtype(self.device, config.amp) == torch.float16
        self.scaler = LossScaler() if fp16 else None
        settings = self.resolved.loss_settings()
        content_layers, style_layers = settings.layer_weights()
        if not style_layers and config.style_weight > 0:
            raise StyxError(f"descriptor {descriptors().get(config.descriptor).name!r} has no "
                            "default style layers", "give --style-layers")
        asked = [*content_layers, *style_layers]
        # A term whose weight is 0 needs no layer: the descriptor can stop earlier.
        if config.content_weight == 0 and (style_layers and config.style_weight > 0):
            content_layers = {}
        if config.style_weight == 0 and (content_layers and config.content_weight > 0):
            style_layers = {}
        self.objective = build_objective(settings, content_layers, style_layers,
                                         seed=config.seed, device=self.device)
        descriptor = self.objective.descriptor
        descriptor.resolve_layers(asked)  # unused layers must still be real names
        if config.channels_last:
            descriptor.to(memory_format=torch.channels_last)
        if config.compile:
            descriptor.compile()
        channels_last, amp, device = config.channels_last, config.amp, self.device

        def loss_fn(image: torch.Tensor):
            if channels_last:
                image = image.contiguous(memory_format=torch.channels_last)
            with autocast(device, amp):
                return self.objective(image)

        self.loss_fn = loss_fn

    def first_init(self, content: torch.Tensor) -> torch.Tensor:
        """The first scale's starting image: content/noise/style/file, mixed with noise."""
        from styx.core.image import resize_to

        generator = torch.Generator().manual_seed(int(self.config.seed))
        noise = torch.rand(content.shape, generator=generator)
        init = self.resolved.init
        if init == "noise":
            return noise
        if init == "content":
            base = content
        elif init == "style":
            base = resize_to(self.styles[0], content.shape[-2:])
        else:
            base = resize_to(self.init_image, content.shape[-2:])
        ratio = float(self.config.noise_ratio)
        return base * (1.0 - ratio) + noise * ratio if ratio > 0 else base

    def set_targets(self, content: torch.Tensor, styles: list[torch.Tensor]) -> None:
        """Content and style targets for one scale, computed once."""
        try:
            if self.objective.content_layers and self.config.content_weight > 0:
                self.objective.set_content(content.to(self.device))
            if self.objective.style_layers and self.config.style_weight > 0:
                self.objective.set_style([s.to(self.device) for s in styles],
                                         self.resolved.style_blend)
        except RuntimeError as error:
            if "size" not in str(error).lower():
                raise
            sizes = ", ".join(f"{t.shape[-1]}x{t.shape[-2]}" for t in [content, *styles])
            raise StyxError(f"images ({sizes}) are too small for descriptor "
                            f"{self.config.descriptor!r} at the layers asked",
                            "use a larger --size (or --scales), or shallower layers") from None

    # -- running -----------------------------------------------------------------------------
    def execute(self) -> GatysResult:
        from styx.core.image import match_color, resize_long_side, resize_to
        from styx.core.progress import Progress

        started = time.perf_counter()
        self.load_images()
        self.build_objective()
        resolved, config = self.resolved, self.config
        read_every = config.log_every or (
            10 if self.device.type != "cpu" and resolved.optimizer == "adam" else 1)
        total_steps = resolved.total_steps
        done_before = 0
        image: torch.Tensor | None = None
        loss = float("inf")
        interrupted = False
        scales_run: list[int] = []

        def colours(picture: torch.Tensor) -> torch.Tensor:
            picture = picture.detach().float().cpu().clamp(0.0, 1.0)
            return match_color(self.content, picture) if config.preserve_color else picture

        with Progress(total_steps, "gatys", quiet=not self.progress) as bar:
            for index, (long_side, steps) in enumerate(zip(self.scales, resolved.steps)):
                content = self.content if long_side == self.final_size \
                    else resize_long_side(self.content, long_side)
                style_long = max(1, round(config.style_scale * long_side))
                styles = [resize_long_side(s, style_long) for s in self.styles]
                self.set_targets(content, styles)
                if image is None:
                    init = self.first_init(content).to(self.device)
                    if resolved.balance_style_layers and self.objective.style_layers \
                            and config.style_weight > 0:
                        self.objective.balance_style_layers(init)
                else:
                    init = resize_to(image, content.shape[-2:])
                scales_run.append(long_side)

                def on_step(step: int, values: dict[str, float] | None,
                            current: torch.Tensor, *, _scale: int = long_side,
                            _before: int = done_before) -> None:
                    number = _before + step
                    seconds = time.perf_counter() - started
                    if values is not None:
                        self.history.append({"step": number, "scale": _scale, **values,
                                             "seconds": seconds})
                        bar.update(loss=values["total"])
                    else:
                        bar.update()
                    if self.callback is not None:
                        self.callback(StepInfo(number, total_steps, _scale, values, seconds,
                                               lambda: colours(current)))

                try:
                    outcome = optimize_scale(
                        self.loss_fn, init, optimizer=resolved.optimizer, steps=steps,
                        lr=resolved.lr, lbfgs_history=config.lbfgs_history,
                        read_every=read_every, on_step=on_step, first_step=done_before + 1,
                        scaler=self.scaler)
                except NonFiniteLoss as error:
                    error.history = self.history
                    raise
                image, loss = outcome.image, outcome.loss
                done_before += outcome.steps
                if outcome.interrupted:
                    interrupted = True
                    break

        final = image.detach().float().cpu()
        if tuple(final.shape[-2:]) != tuple(self.content.shape[-2:]):
            final = resize_to(final, self.content.shape[-2:])
        return GatysResult(
            image=colours(final), loss=loss, steps=done_before, interrupted=interrupted,
            history=self.history, content_layers=dict(self.objective.content_layers),
            style_layers=dict(self.objective.style_layers),
            seconds=time.perf_counter() - started, device=str(self.device),
            scales=scales_run, config=config, alpha=self.content_alpha)
