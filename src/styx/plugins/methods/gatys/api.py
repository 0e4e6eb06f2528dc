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

from styx.core.method import RunRequest, RunResult, StepInfo
from styx.plugins.methods.gatys.config import DEFAULT_SIZE, INITS, GatysConfig
from styx.plugins.methods.gatys.optimize import LossScaler, NonFiniteLoss, optimize_scale
from styx.runtime.memory import MemoryNeed


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
        self.styles = request.style_images(long_side=self.style_long_side(self.final_size))
        self.init_image = None if config.init in INITS else \
            image_input(config.init, what="init").rgb

    def build_objective(self) -> None:
        from styx.perceptual.objective import build_objective
        from styx.runtime.device import precision_of

        config = self.config
        # Sizes from the inputs' headers (a bad file fails here), checked against the layers
        # before the descriptor is built; memory is checked once it is.
        self.sizes = self.planned_sizes()
        self.check_sizes(*self.sizes)
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

        def loss_fn(image: torch.Tensor):
            if config.channels_last:
                image = image.contiguous(memory_format=torch.channels_last)
            with precision.autocast():
                return self.objective(image)

        self.loss_fn = loss_fn
        self.memory_need().check()  # before any image is loaded at size, or compiled for
        if config.compile:
            descriptor.compile()

    def planned_sizes(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(height, width) of the image at each scale, and of the style images at the
        last, found from the inputs' headers before anything is loaded."""
        from styx.runtime.image_tensors import input_size, long_side_size

        config, request = self.config, self.request
        height, width = input_size(request.content, what="content")
        final = config.scale_sizes[-1]
        if final is None:
            final = max(height, width) if isinstance(request.content, torch.Tensor) \
                else DEFAULT_SIZE
        scales = [long_side_size(height, width, size or final) for size in config.scale_sizes]
        styles = [input_size(style, what="style", long_side=self.style_long_side(final))
                  for style in (list(request.styles) or [None])]
        if config.init not in INITS:
            input_size(config.init, what="init")  # a bad --init file: its error now
        return scales, styles

    def style_long_side(self, long_side: int) -> int:
        """The style images' long side at a scale of long side ``long_side``."""
        return max(1, round(self.config.style_scale * long_side))

    def styles_at(self, long_side: int, styles: list[tuple[int, int]]
                  ) -> list[tuple[int, int]]:
        """(height, width) of the style images at a scale of long side ``long_side``, each
        resized from ``styles`` (theirs at the last scale), as :meth:`execute` resizes them."""
        from styx.runtime.image_tensors import long_side_size

        style_long = self.style_long_side(long_side)
        return [long_side_size(height, width, style_long) for height, width in styles]

    def memory_need(self) -> MemoryNeed:
        """The run's peak memory: the descriptor's weights, the images kept, and at the
        scale that needs most a shape pass of its targets and of one evaluation of the loss
        and its gradient, plus the optimiser's state (L-BFGS: two vectors per step of
        history)."""
        from styx.runtime import meta
        from styx.runtime.device import free_bytes
        from styx.runtime.memory import MemoryNeed

        config = self.config
        scales, final_styles = self.sizes
        pixels = [height * width for height, width in scales]
        vectors = 2 * config.history_size + 5 if config.optimizer == "lbfgs" else 4
        worst, worst_pixels = 0, 0
        for (height, width), count in zip(scales, pixels):
            with meta.shape_pass() as counter:
                styles = [torch.empty(1, 3, *size)
                          for size in self.styles_at(max(height, width), final_styles)]
                self.set_targets(torch.empty(1, 3, height, width), styles)
                del styles
                image = torch.empty(1, 3, height, width, device=self.device,
                                    requires_grad=True)
                self.loss_fn(image).total.backward()
                del image
            work = counter.peak + vectors * 3 * count * 4
            if work > worst:
                worst, worst_pixels = work, count
        self.objective.forget_targets()
        weights = meta.module_bytes(self.objective)
        images = 4 * 3 * (3 * pixels[-1] + sum(h * w for h, w in final_styles))
        height, width = scales[-1]
        fixes = ["use a smaller --size"]
        if len(scales) > 1:
            fixes.append("fewer or smaller --scales")
        if config.optimizer == "lbfgs" and 2 * config.history_size * 12 * worst_pixels > \
                worst / 4:
            fixes.append("a shorter --lbfgs-history")
        return MemoryNeed(f"gatys at {width}x{height} px", str(self.device),
                          {"weights": weights, "work": worst, "images": images},
                          free_bytes(self.device), tuple(fixes), held=weights)

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
        """Content and style targets for one scale, computed once (images too small for the
        descriptor were refused before: :meth:`check_sizes`)."""
        if self.objective.content_layers:
            self.objective.set_content(content.to(self.device))
        if self.objective.style_layers:
            self.objective.set_style([s.to(self.device) for s in styles],
                                     self.config.style_blend)

    def check_sizes(self, scales: list[tuple[int, int]], styles: list[tuple[int, int]]
                    ) -> None:
        """Refuse, before any work, an image too small for the descriptor at the layers in
        use (:func:`~styx.perceptual.sizes.check_image_size`, a shape pass that loads no
        weights): the image at each scale (``scales``: height and width, coarse to fine)
        against every layer, and the style images as each scale resizes them from
        ``styles`` (their height and width at the last scale) against the style layers.
        The hint gives the --size (or --scales, --style-scale) that would do."""
        from styx.perceptual.objective import used_layers
        from styx.perceptual.sizes import check_image_size, long_side_for, shallower, smallest_side
        from styx.runtime.image_tensors import long_side_size

        config = self.config
        content_layers, style_layers = used_layers(config)
        every = [*content_layers, *style_layers]
        options = dict(config.descriptor_options)
        style_needs = smallest_side(config.descriptor, style_layers, options=options)
        every_needs = smallest_side(config.descriptor, every, options=options)

        def size_for(height: int, width: int, needed: int) -> int:
            """The long side at which an image shaped as ``height`` x ``width``, and the
            styles at its --style-scale, are large enough."""
            side = long_side_for(height, width, needed)
            while any(min(style) < style_needs for style in self.styles_at(side, styles)):
                side += 1
            return side

        def layers_fix(layer: str) -> str:
            return shallower(config.descriptor, layer, style_layers)

        def style_scale(style_long: int, long_side: int) -> str:
            """The --style-scale (two decimals) that gives a style ``style_long`` px long."""
            hundredths = -(-100 * style_long // long_side)
            while round(hundredths / 100 * long_side) < style_long:
                hundredths += 1
            return f"{hundredths / 100:g}"

        final = scales[-1]
        several = len(scales) > 1
        for height, width in scales:
            long_side = max(height, width)
            if (height, width) != final:  # each scale is resized from the last one
                height, width = long_side_size(*final, long_side)
            flag = f" (--scales {','.join(map(str, config.scales))})" if several else \
                f" (--size {config.size})" if config.size is not None else ""
            check_image_size(
                config.descriptor, every, height, width, options=options,
                what=f"content image{flag}",
                fix=lambda needed, layer, h=height, w=width: (
                    f"make every --scales value at least {size_for(h, w, needed)}"
                    if several else f"use --size {size_for(h, w, needed)} or more")
                + f", or {layers_fix(layer)}")
            for number, (style_height, style_width) in enumerate(
                    self.styles_at(long_side, styles), 1):
                label = "style image" + (f" {number}" if len(styles) > 1 else "")
                if config.style_scale != 1:
                    label += f" (--style-scale {config.style_scale:g})"
                check_image_size(
                    config.descriptor, style_layers, style_height, style_width,
                    options=options, what=label,
                    fix=lambda needed, layer, h=style_height, w=style_width, side=long_side:
                    f"use --style-scale {style_scale(long_side_for(h, w, needed), side)} or "
                    f"more, --size {size_for(*final, every_needs)} or more, or "
                    f"{layers_fix(layer)}")

    # -- running -----------------------------------------------------------------------------
    def execute(self) -> GatysResult:
        from styx.runtime.image_tensors import match_color, resize_long_side, resize_to
        from styx.runtime.progress import Progress

        started = time.perf_counter()
        self.build_objective()  # checks the sizes and the memory before images load
        self.load_images()
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
                styles = [resize_long_side(s, self.style_long_side(long_side))
                          for s in self.styles]
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
                        lr=config.learning_rate, lbfgs_history=config.history_size,
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
