"""The method contract: what a method's functions are given and what they return.

A method is a config and functions (see :class:`styx.core.specs.MethodSpec`)::

    def run(request: RunRequest, config: MyConfig) -> RunResult: ...
    def train(config: MyTrainConfig) -> TrainedModel: ...     # feed-forward methods

``styx run METHOD`` and :func:`styx.stylize` build the config from the options given
(checked once, when it is made), put the images in a :class:`RunRequest` and call ``run``;
the command writes :attr:`RunResult.image` and reports the rest. Nothing in a method
touches the command line. This module also finds a method's parts by name
(:func:`method_spec`, :func:`run_config_class`, ...). It imports no torch.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from styx.core.config import Config
from styx.core.errors import StyxError
from styx.core.specs import MethodSpec, load_target

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from styx.runtime.image_tensors import LoadedImage

#: An image given to a method: a path, a PIL image, or a tensor in [0, 1].
ImageInput = Union[str, "os.PathLike[str]", "torch.Tensor", "Image.Image"]


@dataclass
class StepInfo:
    """What a ``callback`` sees after every step of an iterative method."""

    #: The step number (1-based) and the number of steps planned.
    step: int
    total_steps: int
    #: Loss values at this step (see ``LossTerms.as_floats``); None where not read.
    losses: dict[str, float] | None
    #: Seconds since the run started.
    seconds: float
    _image: Callable[[], torch.Tensor] = field(repr=False, default=None)  # type: ignore
    #: The long side being worked on (coarse-to-fine methods), when there is one.
    scale: int | None = None

    def image(self) -> torch.Tensor:
        """The current image (CPU, 1 x 3 x H x W)."""
        return self._image()


@dataclass
class RunRequest:
    """What ``run`` is asked to do: the images, and for a feed-forward method the model.

    ``content``: one image (or, for feed-forward methods, a batch tensor); None means the
    method's own choice (the sample photo, or nothing for a texture). ``styles``: style
    images (empty: the sample painting where the method needs one). ``model``: a loaded
    :class:`styx.generators.models.Model`. ``progress``: show a progress bar on stderr.
    ``callback(StepInfo)``: called after every step; raising KeyboardInterrupt from it
    stops the run as Ctrl-C does.
    """

    content: ImageInput | None = None
    styles: Sequence[ImageInput] = ()
    model: Any = None
    progress: bool = False
    callback: Callable[[StepInfo], None] | None = None

    def content_image(self, *, long_side: int | None = None, batch: bool = False
                      ) -> LoadedImage:
        """The content as a :class:`~styx.runtime.image_tensors.LoadedImage` (its alpha kept aside),
        resized to ``long_side``; the sample photo when none was given."""
        from styx.runtime.image_tensors import image_input, sample_image

        content = self.content if self.content is not None else sample_image("content")
        return image_input(content, long_side=long_side, what="content", batch=batch)

    def style_images(self, *, long_side: int | None = None) -> list[torch.Tensor]:
        """The style images as 1 x 3 x H x W tensors resized to ``long_side``; the sample
        painting when none was given."""
        from styx.runtime.image_tensors import image_input, sample_image

        styles = list(self.styles) or [sample_image("style")]
        return [image_input(s, long_side=long_side, what="style").rgb for s in styles]

    def report(self, info: StepInfo) -> None:
        """Pass ``info`` to the callback, if there is one."""
        if self.callback is not None:
            self.callback(info)


@dataclass(kw_only=True)
class RunResult:
    """What ``run`` returns. Methods may return a subclass with more fields."""

    #: The result: CPU, N x 3 x H x W (N = 1 but for a batch given to a feed-forward
    #: method), float32 in [0, 1].
    image: torch.Tensor
    #: The content's alpha channel (1 x 1 x H x W), re-attached by writers that keep it.
    alpha: torch.Tensor | None = None
    #: True when Ctrl-C stopped the run early (the image is the best one so far).
    interrupted: bool = False
    seconds: float = 0.0
    device: str = "cpu"
    #: What the run computed in: ``fp32``, ``bf16`` or ``fp16`` (``--amp`` resolved).
    precision: str = "fp32"
    #: Optimisation steps done, and the final loss, for iterative methods.
    steps: int | None = None
    loss: float | None = None
    #: One dict per step where the loss was read (``--log-json`` writes them).
    history: list[dict[str, Any]] = field(default_factory=list)
    #: The config the run used.
    config: Config | None = None

    def details(self) -> dict[str, Any]:
        """Method-specific facts, JSON-ready, for ``--json`` and ``--log-json``."""
        return {}

    def summary(self) -> dict[str, Any]:
        """The JSON-ready summary ``--json`` prints (with the output path added)."""
        return {"width": int(self.image.shape[-1]), "height": int(self.image.shape[-2]),
                "steps": self.steps, "loss": self.loss, "seconds": round(self.seconds, 3),
                "interrupted": self.interrupted, "device": self.device,
                "precision": self.precision, **self.details()}

    def describe(self) -> str:
        """A few words on the run for the closing note: ``300 steps, loss 0.1, 4.2 s on cpu
        in bf16``."""
        parts = []
        if self.steps is not None:
            parts.append(f"{self.steps} step{'' if self.steps == 1 else 's'}")
        if self.loss is not None:
            parts.append(f"loss {self.loss:.4g}")
        parts.append(f"{self.seconds:.1f} s on {self.device} in {self.precision}")
        return ", ".join(parts)

    def to_pil(self) -> Image.Image:
        """The (first) image as a PIL image, with its alpha when it has one."""
        from styx.runtime.image_tensors import tensor_to_pil

        return tensor_to_pil(self.image[:1], self.alpha)


class RunError(StyxError):
    """A run that failed part of the way: ``history`` holds the steps it did and ``status``
    how it ended (``--log-json`` records both)."""

    status = "failed"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.history: list[dict[str, Any]] = []


# -- finding a method's parts --------------------------------------------------------------
def method_spec(name: str) -> MethodSpec:
    """The registered method ``name`` (aliases, case and ``-``/``_`` ignored)."""
    from styx.core.plugins import methods

    return methods().get(name)


def _part(spec: MethodSpec, attribute: str, what: str) -> Any:
    target = getattr(spec, attribute)
    if target is None:
        raise StyxError(f"method {spec.name!r} {what}",
                        "see 'styx list methods' for what each method does")
    return load_target(target)


def run_config_class(spec: MethodSpec) -> type[Config]:
    return _part(spec, "config", "cannot run")


def run_function(spec: MethodSpec) -> Callable[..., RunResult]:
    """The method's ``run``, wrapped so that a result of the wrong type is named as the
    plugin bug it is, not found later as an AttributeError."""
    function = _part(spec, "run", "cannot run")

    @functools.wraps(function)
    def run(request: RunRequest, config: Config) -> RunResult:
        result = function(request, config)
        if not isinstance(result, RunResult):
            raise TypeError(f"method {spec.name!r}: run() returned {type(result).__name__}, "
                            "not a styx.core.method.RunResult")
        return result
    return run


def train_config_class(spec: MethodSpec) -> type[Config]:
    return _part(spec, "train_config", "cannot train")


def train_function(spec: MethodSpec) -> Callable[..., Any]:
    return _part(spec, "train", "cannot train")


def generator_class(spec: MethodSpec) -> type:
    return _part(spec, "generator", "trains no generator")


#: Keywords of :func:`run_method` itself: a method's config may not name fields so.
RUN_KEYWORDS = ("method", "content", "styles", "model", "config", "progress", "callback")


def run_method(method: str, content: ImageInput | None = None,
               styles: ImageInput | Sequence[ImageInput] | None = None, *, model: Any = None,
               config: Config | None = None, progress: bool = False,
               callback: Callable[[StepInfo], None] | None = None,
               **options: Any) -> RunResult:
    """Run ``method``: the body of ``styx.stylize`` (see there), which a loaded model's
    ``__call__`` uses too."""
    spec = method_spec(method)
    config_class = run_config_class(spec)
    reserved = sorted({info.field for info in config_class.options()} & set(RUN_KEYWORDS))
    if reserved:
        raise TypeError(f"{config_class.__name__} has fields named like the keywords of "
                        f"styx.stylize: {', '.join(reserved)}")
    settings = make_config(config_class, config, options)
    style_list = [] if styles is None else \
        list(styles) if isinstance(styles, (list, tuple)) else [styles]
    if spec.feed_forward:
        from styx.generators.models import load_model

        if model is None:
            raise StyxError(f"method {spec.name!r} runs a trained model; none was given",
                            "pass model=NAME (see styx.list_models())")
        if style_list:
            raise StyxError(f"method {spec.name!r} takes no style images: its model holds "
                            "the style", "leave the styles out")
        model = load_model(model, method=spec.name)
    elif model is not None:
        raise StyxError(f"method {spec.name!r} runs no trained model",
                        "leave model= out (feed-forward methods take one)")
    elif style_list and not spec.uses_styles:
        raise StyxError(f"method {spec.name!r} takes no style images", "leave the styles out")
    settings.check_inputs(contents=0 if content is None else 1, styles=len(style_list))
    request = RunRequest(content=content, styles=style_list, model=model, progress=progress,
                         callback=callback)
    return run_function(spec)(request, settings)


def make_config(config_class: type[Config], config: Config | None, options: dict[str, Any],
                ) -> Config:
    """``config`` (or the class's defaults) with ``options`` applied, checked again (a
    config changed by assignment since it was made is checked too); a config of another
    class is a StyxError."""
    if config is not None and not isinstance(config, config_class):
        raise StyxError(f"config is a {type(config).__name__}, not a {config_class.__name__}",
                        f"give a {config_class.__name__} or keyword options")
    return config_class.from_options(options, base=config)
