"""The method contract: what a method's functions are given and what they return.

A method is a config and functions (see :class:`styx.core.specs.MethodSpec`)::

    def run(request: RunRequest, config: MyConfig) -> RunResult: ...
    def train(config: MyTrainConfig) -> TrainedModel: ...     # feed-forward methods

``styx run METHOD`` and :func:`styx.stylize` build the config from the options given
(checked once, when it is made), put the images in a :class:`RunRequest` and call ``run``;
the command writes :attr:`RunResult.image` and reports the rest. Nothing in a method
touches the command line. This module also finds a method's parts by name
(:func:`method_spec`, :func:`run_config_class`, ...) and runs one (:func:`run`).

It imports no torch: a request reads its images, and a result makes its picture, through
the :class:`ImageIO` its maker gives it (styx's one image loader,
:data:`styx.runtime.image_tensors.TENSOR_IMAGES`, for every request styx makes).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Union

from styx.core.config import Config
from styx.core.deprecation import warn_renamed
from styx.core.errors import StyxError
from styx.core.plugins import methods
from styx.core.specs import MethodSpec, load_object

if TYPE_CHECKING:  # for annotations only: nothing here imports torch
    import torch
    from PIL import Image

#: An image given to a method: a path, a PIL image, or a tensor in [0, 1].
ImageInput = Union[str, "os.PathLike[str]", "torch.Tensor", "Image.Image"]


class ImageIO(Protocol):
    """How a request's images are read and a result's image becomes a picture."""

    def read(self, image: ImageInput | None, *, long_side: int | None, what: str,
             batch: bool = False) -> Any:
        """``image`` as a loaded image (``.rgb`` 1 x 3 x H x W in [0, 1], ``.alpha``
        kept aside), resized to ``long_side``; None: the bundled sample of kind ``what``
        (``"content"`` or ``"style"``). ``batch``: N x 3 x H x W tensors are accepted."""

    def to_pil(self, image: Any, alpha: Any = None) -> Image.Image:
        """One image (1 x 3 x H x W in [0, 1]) and its alpha as an 8-bit PIL image."""


@dataclass
class StepInfo:
    """What a ``callback`` sees after a step: every step of an iterative method
    (``styx.stylize(callback=)``), every log step of a training run (``styx.train(callback=)``).
    """

    #: The step number (1-based) and the number of steps planned.
    step: int
    total_steps: int
    #: Loss values at this step (see ``LossTerms.as_floats``; in training also ``lr``,
    #: ``images_per_second``); None where not read.
    losses: dict[str, float] | None
    #: Seconds since the run started (in training, resumed sessions included).
    seconds: float
    _image: Callable[..., Any] = field(repr=False, default=None)  # type: ignore[assignment]
    #: The long side being worked on (coarse-to-fine methods), when there is one.
    scale: int | None = None
    #: The model being trained (training steps only).
    model: Any = field(repr=False, default=None)

    def image(self, *args: Any, **kwargs: Any) -> Any:
        """The picture of this step, CPU, 1 x 3 x H x W in [0, 1]: an iterative method's
        image so far; in training, the model's output now for ``image(photo)`` (1 x 3 x H x
        W in [0, 1]; a texture generator: ``size=(H, W)``), random inputs from ``seed=`` (0),
        paintings as ``style=`` (default: the style stream's first)."""
        return self._image(*args, **kwargs)

    def sample(self, *args: Any, **kwargs: Any) -> Any:
        """Deprecated name of :meth:`image` (for training steps; styx 0.1)."""
        warn_renamed("StepInfo.sample()", "StepInfo.image()")
        return self.image(*args, **kwargs)


@dataclass
class RunRequest:
    """What ``run`` is asked to do: the images, and for a feed-forward method the model.

    ``content``: one image (or, for feed-forward methods, a batch tensor); None means the
    method's own choice (the sample photo, or nothing for a texture). ``styles``: style
    images (empty: the sample painting where the method needs one). ``model``: a loaded
    :class:`styx.generators.models.Model`. ``progress``: show a progress bar on stderr.
    ``callback(StepInfo)``: called after every step; raising KeyboardInterrupt from it
    stops the run as Ctrl-C does. ``images``: how the images are read (set by whoever
    makes the request: ``styx.stylize``, ``styx run``, a loaded model).
    """

    content: ImageInput | None = None
    styles: Sequence[ImageInput] = ()
    model: Any = None
    progress: bool = False
    callback: Callable[[StepInfo], None] | None = None
    images: ImageIO | None = field(default=None, repr=False)

    def content_image(self, *, long_side: int | None = None, batch: bool = False) -> Any:
        """The content, loaded (``.rgb``: 1 x 3 x H x W in [0, 1]; its alpha kept aside as
        ``.alpha``), resized to ``long_side``; the sample photo when none was given."""
        return self._io().read(self.content, long_side=long_side, what="content",
                               batch=batch)

    def style_images(self, *, long_side: int | None = None) -> list[Any]:
        """The style images as 1 x 3 x H x W tensors resized to ``long_side``; the sample
        painting when none was given."""
        return [self._io().read(style, long_side=long_side, what="style").rgb
                for style in (list(self.styles) or [None])]

    def report(self, info: StepInfo) -> None:
        """Pass ``info`` to the callback, if there is one."""
        if self.callback is not None:
            self.callback(info)

    def _io(self) -> ImageIO:
        if self.images is None:
            raise TypeError("this RunRequest has no images= to read them with: make it with "
                            "styx.runtime.image_tensors.run_request(...)")
        return self.images


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
    #: How :meth:`to_pil` makes the picture: the request's (set by :func:`run_function`).
    images: ImageIO | None = field(default=None, repr=False, compare=False)

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
        if self.images is None:
            raise TypeError("this RunResult has no images= to make its picture with: "
                            "results of styx.stylize and styx run have one")
        return self.images.to_pil(self.image[:1], self.alpha)


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
    return methods().get(name)


def _part(spec: MethodSpec, attribute: str, what: str) -> Any:
    target = getattr(spec, attribute)
    if target is None:
        raise StyxError(f"method {spec.name!r} {what}",
                        "see 'styx list methods' for what each method does")
    return load_object(target)


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
        if result.images is None:
            result.images = request.images
        return result
    return run


def train_config_class(spec: MethodSpec) -> type[Config]:
    return _part(spec, "train_config", "cannot train")


def generator_class(spec: MethodSpec) -> type:
    return _part(spec, "generator", "trains no generator")


#: Keywords of ``styx.stylize`` itself: a method's config may not name fields so.
RUN_KEYWORDS = ("method", "content", "styles", "model", "config", "progress", "callback")


def run(spec: MethodSpec, request: RunRequest, config: Config | None = None,
        options: dict[str, Any] | None = None) -> RunResult:
    """Run method ``spec`` on ``request``: its run config made from ``config`` (or the
    defaults) and ``options``, checked, then checked against the inputs given
    (``check_inputs``), then the method's ``run``. The body of ``styx.stylize`` and of a
    loaded model's ``__call__``."""
    config_class = run_config_class(spec)
    reserved = sorted({info.field for info in config_class.options()} & set(RUN_KEYWORDS))
    if reserved:
        raise TypeError(f"{config_class.__name__} has fields named like the keywords of "
                        f"styx.stylize: {', '.join(reserved)}")
    settings = make_config(config_class, config, dict(options or {}))
    settings.check_inputs(contents=0 if request.content is None else 1,
                          styles=len(request.styles))
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
