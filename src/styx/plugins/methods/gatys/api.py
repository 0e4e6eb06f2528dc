"""The run of the Gatys method: :func:`run`, called by ``styx run gatys`` and
``styx.stylize("gatys", ...)``::

    import styx

    result = styx.stylize("gatys", "photo.jpg", ["painting.jpg"], size=384, steps=300)
    result.image          # 1 x 3 x H x W float32 in [0, 1], on the CPU
    result.history        # per-step loss values

Inputs are paths, PIL images or tensors (1 x 3 x H x W or 3 x H x W in [0, 1]); with none,
the sample images shipped with styx are used. Options are the fields of
:class:`~styx.plugins.methods.gatys.config.GatysConfig`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from styx.core.errors import StyxError
from styx.core.method import RunRequest, RunResult, StepInfo
from styx.plugins.methods.gatys.config import DEFAULT_SIZE, INITS, GatysConfig
from styx.plugins.methods.gatys.optimize import LossScaler, NonFiniteLoss, optimize_scale


@dataclass(kw_only=True)
class GatysResult(RunResult):
    """What :func:`run` returns: a :class:`~styx.core.method.RunResult` with the layers
    and scales used."""

    #: The layer weights used (style layers after balancing; a term of weight 0: none).
    content_layers: dict[str, float] = field(default_factory=dict)
    style_layers: dict[str, float] = field(default_factory=dict)
    #: The long sides optimised, coarse to fine.
    scales: list[int] = field(default_factory=list)

    def details(self) -> dict[str, Any]:
        return {"scales": self.scales, "content_layers": self.content_layers,
                "style_layers": self.style_layers}


def run(request: RunRequest, config: GatysConfig) -> GatysResult:
    """Stylise the request's content with its styles by optimising the image's pixels.

    ``request.callback`` is called after every step with a
    :class:`~styx.core.method.StepInfo`. Ctrl-C (or a KeyboardInterrupt raised by the
    callback) returns the best image so far with ``interrupted=True``. A NaN/inf loss
    raises :class:`~.optimize.NonFiniteLoss` (a StyxError).
    """
    return GatysRun(config, request).execute()


class GatysRun:
    """One run of :func:`stylize`: inputs loaded, objective built, scales optimised."""

    def __init__(self, config: GatysConfig, request: RunRequest) -> None:
        self.config = config
        self.request = request
        self.history: list[dict[str, float]] = []

    # -- setup -------------------------------------------------------------------------------
    def load_images(self) -> None:
        from styx.runtime.image_tensors import image_input

        config, request = self.config, self.request
        final = config.scale_sizes[-1]
        if final is None and not isinstance(request.content, torch.Tensor):
            final = DEFAULT_SIZE
        loaded = request.content_image(long_side=final)
        self.content, self.content_alpha = loaded.rgb, loaded.alpha
        self.final_size = max(self.content.shape[-2:])
        self.scales = [s if s is not None else self.final_size for s in config.scale_sizes]
        style_long = max(1, round(config.style_scale * self.final_size))
        self.styles = request.style_images(long_side=style_long)
        self.init_image = None if config.init in INITS else \
            image_input(config.init, what="init").rgb

    def build_objective(self) -> None:
        from styx.perceptual.objective import build_objective
        from styx.runtime.device import precision_of

        config = self.config
        # An unknown device or precision fails here, before any work; fp16 needs loss scaling.
        self.precision = precision = precision_of(config)
        self.device = precision.device
        if self.request.progress:  # the run's first line: where and in what it computes
            for line in precision.announce("gatys"):
                print(line, file=sys.stderr)
        self.scaler = LossScaler() if precision.dtype == torch.float16 else None
        self.objective = build_objective(config, seed=config.seed, device=self.device)
        descriptor = self.objective.descriptor
        if config.channels_last:
            descriptor.to(memory_format=torch.channels_last)
        if config.compile:
            descriptor.compile()

        def loss_fn(image: torch.Tensor):
            if config.channels_last:
                image = image.contiguous(memory_format=torch.channels_last)
            with precision.autocast():
                return self.objective(image)

        self.loss_fn = loss_fn

    def first_init(self, content: torch.Tensor) -> torch.Tensor:
        """The first scale's starting image: content/noise/style/file, mixed with noise."""
        from styx.runtime.image_tensors import resize_to

        generator = torch.Generator().manual_seed(int(self.config.seed))
        noise = torch.rand(content.shape, generator=generator)
        init = self.config.init
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
            if self.objective.content_layers:
                self.objective.set_content(content.to(self.device))
            if self.objective.style_layers:
                self.objective.set_style([s.to(self.device) for s in styles],
                                         self.config.style_blend)
        except RuntimeError as error:
            if "size" not in str(error).lower():
                raise
            sizes = ", ".join(f"{t.shape[-1]}x{t.shape[-2]}" for t in [content, *styles])
            raise StyxError(f"images ({sizes}) are too small for descriptor "
                            f"{self.config.descriptor!r} at the layers asked",
                            "use a larger --size (or --scales), or shallower layers") from None

    # -- running -----------------------------------------------------------------------------
    def execute(self) -> GatysResult:
        from styx.runtime.image_tensors import match_color, resize_long_side, resize_to
        from styx.runtime.progress import Progress

        started = time.perf_counter()
        self.load_images()
        self.build_objective()
        config = self.config
        read_every = config.log_every or (
            10 if self.device.type != "cpu" and config.optimizer == "adam" else 1)
        done_before = 0
        image: torch.Tensor | None = None
        loss = float("inf")
        interrupted = False
        scales_run: list[int] = []

        def colours(picture: torch.Tensor) -> torch.Tensor:
            picture = picture.detach().float().cpu().clamp(0.0, 1.0)
            return match_color(self.content, picture) if config.preserve_color else picture

        with Progress(config.total_steps, "gatys", quiet=not self.request.progress) as bar:
            for long_side, steps in zip(self.scales, config.scale_steps):
                content = self.content if long_side == self.final_size \
                    else resize_long_side(self.content, long_side)
                style_long = max(1, round(config.style_scale * long_side))
                styles = [resize_long_side(s, style_long) for s in self.styles]
                self.set_targets(content, styles)
                if image is None:
                    init = self.first_init(content).to(self.device)
                    if config.balances_style_layers and self.objective.style_layers:
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
                    self.request.report(StepInfo(number, config.total_steps, values, seconds,
                                                 lambda: colours(current), scale=_scale))

                try:
                    outcome = optimize_scale(
                        self.loss_fn, init, optimizer=config.optimizer, steps=steps,
                        lr=config.learning_rate, lbfgs_history=config.lbfgs_history,
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
            precision=self.precision.name,
            scales=scales_run, config=config, alpha=self.content_alpha)
