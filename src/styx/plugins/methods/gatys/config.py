"""The options of a Gatys run, declared once (no torch here).

:class:`GatysConfig` is what ``styx run gatys`` offers and what ``styx.stylize("gatys", ...)``
takes: the descriptor and loss bundles shared by every method, the colour and runtime
bundles, and the options of image optimisation itself. A config checks itself when made,
so a bad value is a one-line :class:`~styx.core.errors.StyxError` before any work.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from styx.core.bundles import LOSS, RUNTIME, ColorOptions, LossOptions, RuntimeOptions
from styx.core.checks import choice, number, numbers
from styx.core.config import option
from styx.core.errors import StyxError
from styx.core.layers import layer_selection

OPTIMIZERS = ("lbfgs", "adam")
#: ``--init`` values that are not a path.
INITS = ("content", "noise", "style")
#: Learning rate per optimiser when ``lr`` is not given (pixels live in [0, 1]).
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.05}
#: L-BFGS memory when ``lbfgs_history`` is not given (None: not given, so an adam run can
#: refuse one that was).
DEFAULT_LBFGS_HISTORY = 20
#: The long side of the output when neither ``size`` nor ``scales`` is given and the
#: content is a file (a content tensor keeps its own size).
DEFAULT_SIZE = 512
#: ``--style-layers balanced``: the descriptor's default style layers, balanced.
BALANCED = "balanced"
#: The panel of the optimiser's options (in `--help` and in the studio's form).
OPTIMISER = "Optimiser"
#: The smallest long side accepted; descriptors may need more (Inception v3: 75 px).
MIN_SIZE = 16


def _style_layers(value: Any, label: str) -> Any:
    if isinstance(value, str) and value.strip().lower() == BALANCED:
        return BALANCED
    return layer_selection(value, what="style")


def _init(value: Any, label: str) -> str:
    text = str(value).strip()
    if not text:
        raise StyxError(f"empty {label}", "use content, noise, style or the path of an image")
    if text.lower() in INITS:
        return text.lower()
    from styx.core.suggest import did_you_mean

    looks_like_a_word = not Path(text).suffix and "/" not in text and "\\" not in text
    close = did_you_mean(text.lower(), INITS) if looks_like_a_word else None
    if close and not Path(text).expanduser().exists():
        raise StyxError(f"bad {label} {text!r}", f"{close} (or give the path of an image)")
    return text


@dataclass(kw_only=True)
class GatysConfig(LossOptions, ColorOptions, RuntimeOptions):
    """Everything a Gatys run can be told.

    The weights were chosen on the sample images at 128 px with a random (He-normal) VGG19
    and 100 L-BFGS steps (see ``docs/gatys.md``): with the default 'elements' Gram
    normalisation a style weight of 1e5 against a content weight of 1 cuts the style loss
    to 1/100 of its start and gives a clearly stylised image that keeps the content's
    layout (1e4: lightly stylised; 1e6: the content fades); a TV weight of 1 smooths the
    grain a little without changing the style loss (10 blurs).
    """

    label = "gatys"

    # The objective: this method's weights, and 'balanced' style layers.
    content_weight: float = 1.0
    style_weight: float = 1e5
    tv_weight: float = 1.0
    style_layers: dict[str, float] | str | None = option(
        None, panel=LOSS, cli_type=str, check=_style_layers, default_text="the descriptor's",
        help="Style layers with optional weights, e.g. relu1_1:0.2,relu2_1:0.2,relu3_1, or "
             "'balanced' (the descriptor's, balanced).")
    balance_style_layers: bool = option(
        False, panel=LOSS,
        help="Rescale the style layer weights so every layer's loss starts equal.")
    # The images.
    size: int | None = option(
        None, check=number(minimum=MIN_SIZE, integer=True, optional=True,
                           hint=f"the long side must be at least {MIN_SIZE} px"),
        default_text=f"{DEFAULT_SIZE}, or the last of --scales",
        help="Long side of the output in pixels.")
    scales: tuple[int, ...] | None = option(
        None, cli_type=str,
        check=numbers(minimum=MIN_SIZE, integer=True, optional=True,
                      hint=f"scales are whole numbers of at least {MIN_SIZE} px"),
        help="Coarse-to-fine long sides, e.g. 256,512: each scale starts from the last one's "
             "result.")
    style_scale: float = option(1.0, check=number(above=0),
                                help="Style image long side, relative to the output's.")
    style_blend: tuple[float, ...] | None = option(
        None, cli_type=str,
        check=numbers(minimum=0, optional=True, hint="blend weights must be finite and >= 0"),
        default_text="equal", help="One weight per style image, e.g. 0.7,0.3.")
    init: str = option("content", check=_init, input_file=True,
                       help="Starting image: content, noise, style or an image file.")
    noise_ratio: float = option(0.0, check=number(minimum=0, maximum=1),
                                help="Mix noise into the start: start*(1-R) + noise*R, "
                                     "R in [0, 1].")
    # The optimisation.
    optimizer: str = option("lbfgs", panel=OPTIMISER, check=choice(*OPTIMIZERS),
                            help="The optimiser: lbfgs or adam.")
    steps: tuple[int, ...] = option(
        300, cli_type=str, check=numbers(minimum=1, integer=True),
        help="Optimiser steps per scale (L-BFGS: iterations of one loss evaluation each): "
             "one number for every scale, or one per scale, e.g. 300,100.")
    lr: float | None = option(
        None, panel=OPTIMISER, check=number(above=0, optional=True),
        default_text=f"{DEFAULT_LR['lbfgs']:g} for lbfgs, {DEFAULT_LR['adam']:g} for adam",
        help="Learning rate.")
    lbfgs_history: int | None = option(
        None, panel=OPTIMISER, check=number(minimum=1, integer=True, optional=True),
        default_text=str(DEFAULT_LBFGS_HISTORY),
        help="L-BFGS memory (pairs of update vectors kept; for --optimizer lbfgs).")
    # How it runs.
    channels_last: bool = option(
        True, panel=RUNTIME,
        help="Run the descriptor in channels-last memory format (faster on CPUs and tensor "
             "cores).")
    compile: bool = option(False, panel=RUNTIME,
                           help="torch.compile the descriptor (the first step is slow).")
    log_every: int | None = option(
        None, panel=RUNTIME, check=number(minimum=1, integer=True, optional=True),
        default_text="every step; every 10th with adam on a GPU",
        help="Read the losses every N steps (a NaN stops the run at the next read).")

    def check(self) -> None:
        super().check()
        if self.scales is not None:
            if any(b <= a for a, b in itertools.pairwise(self.scales)):
                raise StyxError(f"scales {','.join(map(str, self.scales))} do not grow",
                                "list the long sides coarse to fine, e.g. --scales 256,512")
            if self.size is not None and self.size != self.scales[-1]:
                raise StyxError(f"--size {self.size} differs from the last scale "
                                f"{self.scales[-1]}",
                                "leave --size out with --scales: the last scale is the "
                                "output size")
        if len(self.steps) not in (1, len(self.scale_sizes)):
            raise StyxError(f"{len(self.steps)} step counts for {len(self.scale_sizes)} scales",
                            "give one --steps value, or one per scale (e.g. --steps 300,100)")
        if self.lbfgs_history is not None and self.optimizer != "lbfgs":
            raise StyxError("--lbfgs-history is for --optimizer lbfgs",
                            f"leave out --lbfgs-history with --optimizer {self.optimizer} "
                            "(or give --optimizer lbfgs)")
        if self.style_blend is not None and sum(self.style_blend) <= 0:
            raise StyxError("the style blend weights are all zero",
                            "give at least one positive weight")

    def check_inputs(self, *, contents: int, styles: int) -> None:
        styles = styles or 1  # none given: the sample painting
        if self.style_blend is not None and len(self.style_blend) != styles:
            raise StyxError(f"{len(self.style_blend)} style blend weights for {styles} style "
                            "image(s)", "give one --style-blend weight per style image")

    # -- what the values mean ----------------------------------------------------------------
    def layer_selections(self) -> tuple[dict[str, float] | None, dict[str, float] | None]:
        # 'balanced' selects the descriptor's default style layers.
        style = None if self.style_layers == BALANCED else self.style_layers
        return self.content_layers, style

    @property
    def balances_style_layers(self) -> bool:
        """Whether the style layer weights are balanced (--balance-style-layers, or
        --style-layers balanced)."""
        return self.balance_style_layers or self.style_layers == BALANCED

    @property
    def scale_sizes(self) -> tuple[int | None, ...]:
        """Long sides, coarse to fine; ``(None,)`` means the content's own size (a tensor
        content, no --size) or :data:`DEFAULT_SIZE` (a file)."""
        return tuple(self.scales) if self.scales is not None else (self.size,)

    @property
    def scale_steps(self) -> tuple[int, ...]:
        """The step count of each scale."""
        return self.steps * len(self.scale_sizes) if len(self.steps) == 1 else self.steps

    @property
    def total_steps(self) -> int:
        return sum(self.scale_steps)

    @property
    def learning_rate(self) -> float:
        return DEFAULT_LR[self.optimizer] if self.lr is None else self.lr

    @property
    def history_size(self) -> int:
        """The L-BFGS memory: ``lbfgs_history``, else :data:`DEFAULT_LBFGS_HISTORY`."""
        return DEFAULT_LBFGS_HISTORY if self.lbfgs_history is None else self.lbfgs_history
