"""The settings of a Gatys run, checked before any long work starts (no torch here).

:class:`GatysConfig` holds what the user asked for; :meth:`GatysConfig.resolved` checks it
and returns a :class:`ResolvedConfig` with layer selections parsed, the scales and their
step counts spelled out and the learning rate chosen. Every bad value is a one-line
:class:`~styx.core.errors.StyxError`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from styx.core.errors import StyxError
from styx.core.layers import layer_selection
from styx.core.perceptual import LossSettings, check_loss_weights

OPTIMIZERS = ("lbfgs", "adam")
#: ``--init`` values that are not a path.
INITS = ("content", "noise", "style")
#: Learning rate per optimiser when ``lr`` is not given (pixels live in [0, 1]).
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.05}
#: The long side of the output when neither ``size`` nor ``scales`` is given and the
#: content is a file (a content tensor keeps its own size).
DEFAULT_SIZE = 512
#: ``--style-layers balanced``: the descriptor's default style layers, balanced.
BALANCED = "balanced"
#: The smallest long side accepted; descriptors may need more (Inception v3: 75 px).
MIN_SIZE = 16


@dataclass
class GatysConfig:
    """Everything a Gatys run can be told. Field names match the CLI options.

    The weights were chosen on the sample images at 128 px with a random (He-normal) VGG19
    and 100 L-BFGS steps (see ``docs/gatys.md``): with the default 'elements' Gram
    normalisation a style weight of 1e5 against a content weight of 1 cuts the style loss
    to 1/100 of its start and gives a clearly stylised image that keeps the content's
    layout (1e4: lightly stylised; 1e6: the content fades); a TV weight of 1 smooths the
    grain a little without changing the style loss (10 blurs).
    """

    # The descriptor.
    descriptor: str = "vgg19"
    weights: str = "imagenet"
    descriptor_options: dict[str, Any] = field(default_factory=dict)
    # The objective. Layers: None = the descriptor's defaults; text like
    # "relu1_1:0.2,relu2_1" or a mapping layer -> weight; style_layers="balanced".
    content_layers: str | Mapping[str, float] | None = None
    style_layers: str | Mapping[str, float] | None = None
    balance_style_layers: bool = False
    content_weight: float = 1.0
    style_weight: float = 1e5
    tv_weight: float = 1.0
    gram_normalization: str = "elements"
    # The images.
    size: int | None = None
    scales: Sequence[int] | None = None
    style_scale: float = 1.0
    style_blend: Sequence[float] | None = None
    init: str = "content"
    noise_ratio: float = 0.0
    preserve_color: bool = False
    # The optimisation.
    optimizer: str = "lbfgs"
    steps: int | Sequence[int] = 300
    lr: float | None = None
    lbfgs_history: int = 20
    # How it runs.
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"
    channels_last: bool = True
    compile: bool = False
    #: Read the loss values every N steps (None: every step, or every 10th on a GPU with
    #: Adam, where reading a value waits for the GPU). Stops on NaN are checked then too.
    log_every: int | None = None

    def with_options(self, **options: Any) -> GatysConfig:
        """A copy with ``options`` changed; an unknown name is a StyxError."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(options) - known)
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
            raise StyxError(f"unknown Gatys option {unknown[0]!r}",
                            f"did you mean {close[0]!r}?" if close
                            else "see styx.plugins.methods.gatys.config.GatysConfig")
        return replace(self, **options)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready settings (for ``--log-json``)."""
        out = asdict(self)
        for key in ("scales", "style_blend", "steps"):
            if isinstance(out[key], Sequence) and not isinstance(out[key], str):
                out[key] = list(out[key])
        for key in ("content_layers", "style_layers"):
            if isinstance(out[key], Mapping):
                out[key] = dict(out[key])
        return out

    def resolved(self, *, styles: int | None = None) -> ResolvedConfig:
        """Check every value; ``styles`` (the number of style images) checks ``style_blend``."""
        return _resolve(self, styles)


@dataclass(frozen=True)
class ResolvedConfig:
    """A checked :class:`GatysConfig`: layers parsed, scales and steps spelled out."""

    config: GatysConfig
    #: None: the descriptor's default layers (weight 1 each).
    content_layers: dict[str, float] | None
    style_layers: dict[str, float] | None
    balance_style_layers: bool
    #: Long sides, coarse to fine; ``[None]`` means the content's own size (a tensor).
    scales: tuple[int | None, ...]
    steps: tuple[int, ...]
    lr: float
    optimizer: str
    init: str
    style_blend: tuple[float, ...] | None

    @property
    def total_steps(self) -> int:
        return sum(self.steps)

    def loss_settings(self) -> LossSettings:
        """The descriptor and loss settings, as :mod:`styx.core.perceptual` takes them."""
        config = self.config
        return LossSettings.from_options(
            descriptor=config.descriptor, weights=config.weights,
            content_layers=self.content_layers, style_layers=self.style_layers,
            content_weight=config.content_weight, style_weight=config.style_weight,
            tv_weight=config.tv_weight, gram_normalization=config.gram_normalization,
            descriptor_options=config.descriptor_options)


# -- checking --------------------------------------------------------------------------------
def _finite_at_least(name: str, value: Any, low: float, *, hint: str | None = None,
                     strict: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise StyxError(f"bad {name} {value!r}", "give a number") from None
    bad = not math.isfinite(number) or (number <= low if strict else number < low)
    if bad:
        relation = ">" if strict else ">="
        raise StyxError(f"bad {name} {value!r}",
                        hint or f"it must be a finite number {relation} {low:g}")
    return number


def _integer_at_least(name: str, value: Any, low: int, *, hint: str | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            as_float = float(value)
        except (TypeError, ValueError):
            raise StyxError(f"bad {name} {value!r}", "give a whole number") from None
        if not as_float.is_integer():
            raise StyxError(f"bad {name} {value!r}", "give a whole number")
        value = int(as_float)
    if value < low:
        raise StyxError(f"bad {name} {value!r}", hint or f"it must be >= {low}")
    return int(value)


def _int_list(name: str, value: Any, low: int) -> list[int]:
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not parts:
            raise StyxError(f"empty {name}", "give comma-separated whole numbers, e.g. 256,512")
        return [_integer_at_least(name, p, low) for p in parts]
    if isinstance(value, (int, float)):
        return [_integer_at_least(name, value, low)]
    values = [_integer_at_least(name, v, low) for v in value]
    if not values:
        raise StyxError(f"empty {name}", "give at least one whole number")
    return values


def _resolve(config: GatysConfig, styles: int | None) -> ResolvedConfig:
    check_loss_weights(config.content_weight, config.style_weight, config.tv_weight)
    optimizer = str(config.optimizer).strip().lower()
    if optimizer not in OPTIMIZERS:
        raise StyxError(f"unknown optimizer {config.optimizer!r}",
                        f"choose one of {', '.join(OPTIMIZERS)}")
    lr = DEFAULT_LR[optimizer] if config.lr is None else \
        _finite_at_least("learning rate", config.lr, 0, strict=True)
    _integer_at_least("L-BFGS history", config.lbfgs_history, 1)
    noise_ratio = _finite_at_least("noise ratio", config.noise_ratio, 0)
    if noise_ratio > 1:
        raise StyxError(f"bad noise ratio {config.noise_ratio!r}", "it must be in [0, 1]")
    _finite_at_least("style scale", config.style_scale, 0, strict=True)
    _integer_at_least("seed", config.seed, 0)
    if config.log_every is not None:
        _integer_at_least("log interval", config.log_every, 1)

    init = str(config.init).strip()
    if init.lower() in INITS:
        init = init.lower()
    elif not init:
        raise StyxError("empty --init", "use content, noise, style or the path of an image")

    content_layers = layer_selection(config.content_layers, what="content")
    balance = bool(config.balance_style_layers)
    style_value = config.style_layers
    if isinstance(style_value, str) and style_value.strip().lower() == BALANCED:
        style_value, balance = None, True
    style_layers = layer_selection(style_value, what="style")

    scales = _resolve_scales(config)
    steps = _int_list("steps", config.steps, 1)
    if len(steps) == 1:
        steps = steps * len(scales)
    if len(steps) != len(scales):
        raise StyxError(f"{len(steps)} step counts for {len(scales)} scales",
                        "give one --steps value, or one per scale (e.g. --steps 300,100)")

    blend = None
    if config.style_blend is not None:
        values = config.style_blend
        if isinstance(values, str):
            from styx.core.options import parse_floats

            values = parse_floats(values, name="style blend weight")
        blend = tuple(_finite_at_least("style blend weight", w, 0,
                                       hint="blend weights must be finite and >= 0")
                      for w in values)
        if not blend or sum(blend) <= 0:
            raise StyxError("the style blend weights are all zero",
                            "give at least one positive weight")
        if styles is not None and len(blend) != styles:
            raise StyxError(f"{len(blend)} style blend weights for {styles} style image(s)",
                            "give one --style-blend weight per style image")

    return ResolvedConfig(
        config=config, content_layers=content_layers, style_layers=style_layers,
        balance_style_layers=balance, scales=tuple(scales), steps=tuple(steps), lr=lr,
        optimizer=optimizer, init=init, style_blend=blend)


def _resolve_scales(config: GatysConfig) -> list[int | None]:
    size = None if config.size is None else _integer_at_least(
        "size", config.size, MIN_SIZE, hint=f"the long side must be at least {MIN_SIZE} px")
    if config.scales is None or (isinstance(config.scales, str) and not config.scales.strip()):
        return [size]
    scales = _int_list("scales", config.scales, 0)
    for scale in scales:
        if scale < MIN_SIZE:
            raise StyxError(f"bad scale {scale}", f"scales must be at least {MIN_SIZE} px")
    if any(b <= a for a, b in itertools.pairwise(scales)):
        raise StyxError(f"scales {','.join(map(str, scales))} do not grow",
                        "list the long sides coarse to fine, e.g. --scales 256,512")
    if size is not None and size != scales[-1]:
        raise StyxError(f"--size {size} differs from the last scale {scales[-1]}",
                        "leave --size out with --scales: the last scale is the output size")
    return list(scales)
