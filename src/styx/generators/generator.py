"""The interface every feed-forward generator follows.

A generator is an ``nn.Module`` that knows its own architecture, as a JSON-ready dict, and
can be rebuilt from it; that is all the model store, the model loader, ``styx run``,
exporters and experiments need, so none of them has code for a particular method::

    class MyNet(Generator):
        inputs = (content_image(), style_image())     # styx.core.inputs

        def __init__(self, width: int = 32) -> None:
            super().__init__()
            self.width = width
            ...

        def architecture(self) -> dict:
            return {"width": self.width}

        @classmethod
        def from_architecture(cls, architecture: dict) -> "MyNet":
            return cls(**architecture)

        def forward(self, image, style):    # takes its inputs by the names above
            ...

Inputs are declared once, by kind (:mod:`styx.core.inputs`): the content image (N x 3 x H
x W in [0, 1]), style images given at run time, seeded per-pixel noise (texture-nets),
settings (StyleBank's style weights). The command line, the library, the studio, ONNX
export, ``styx infer`` and tiling all follow the declaration. :meth:`Generator.make_inputs`
gives every input for one call (the base class fills each kind; a generator overrides it
for options of its own), drawing random ones from a seeded ``torch.Generator`` so a seed
fixes the output; :meth:`Generator.example_inputs` gives inputs of a chosen size for export
and tests, with a random style image of another size. The output is always N x 3 x H x W
in [0, 1].
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from styx.core.errors import StyxError
from styx.core.inputs import (
    CONTENT,
    NOISE,
    SETTING,
    STYLE,
    Input,
    check_declaration,
    content_image,
    noise,
    of_kind,
    setting,
)

#: The size of the style image in :meth:`Generator.example_inputs`: unlike the content's,
#: so nothing mistakes one for the other.
EXAMPLE_STYLE_SIZE = (56, 72)


class Generator(nn.Module):
    """Base class of feed-forward generators (see the module docstring)."""

    #: What ``forward`` takes, in order: :class:`~styx.core.inputs.Input` declarations
    #: (a class attribute, or a property when the architecture decides). The default: the
    #: content image alone.
    inputs: tuple[Input, ...] = (content_image(),)

    @property
    def input_names(self) -> tuple[str, ...]:
        """The names of ``forward``'s inputs, in order."""
        return tuple(item.name for item in self.declared_inputs())

    def declared_inputs(self) -> tuple[Input, ...]:
        """:attr:`inputs`, checked; for a generator written for styx 0.1, which named its
        inputs (``input_names``) without kinds, the kinds its example inputs show."""
        owner = next(c for c in type(self).__mro__ if "input_names" in vars(c))
        if owner is not Generator:  # input_names of its own: styx 0.1's way
            return _legacy_inputs(self, tuple(self.input_names))
        return check_declaration(self.inputs, type(self).__name__)

    @property
    def takes_image(self) -> bool:
        """Whether the generator stylises a content image (else it makes images from noise)."""
        return bool(of_kind(self.declared_inputs(), CONTENT))

    @property
    def style_inputs(self) -> list[Input]:
        """The style images it takes at run time (AdaIN's painting), in order."""
        return of_kind(self.declared_inputs(), STYLE)

    #: A generator built from one config object (``cls(config)``, kept as ``self.config``)
    #: names its class here (a :class:`~styx.core.config.Config`, e.g. a subclass of
    #: ``ConvGeneratorOptions``) and gets :meth:`architecture` and :meth:`from_architecture`.
    config_class: ClassVar[type | None] = None

    def architecture(self) -> dict[str, Any]:
        """Everything that fixes the generator's shape, JSON-ready: ``from_architecture``
        of it builds the same network (freshly initialised). With :attr:`config_class`:
        the config's ``to_dict()``."""
        if self.config_class is None:
            raise NotImplementedError(f"{type(self).__name__} must define architecture() "
                                      "or config_class")
        return self.config.to_dict()

    @classmethod
    def from_architecture(cls, architecture: Mapping[str, Any]) -> Generator:
        """A new generator of the shape ``architecture`` describes. With
        :attr:`config_class`: ``cls(config_class.from_dict(architecture))`` (``from_dict``
        refuses settings this styx does not know), or its ``from_options``."""
        if cls.config_class is None:
            raise NotImplementedError(f"{cls.__name__} must define from_architecture() "
                                      "or config_class")
        make = getattr(cls.config_class, "from_dict", cls.config_class.from_options)
        return cls(make(dict(architecture)))

    def make_inputs(self, image: torch.Tensor | None, *, size: tuple[int, int] | None = None,
                    batch: int = 1, generator: torch.Generator | None = None,
                    origin: tuple[int, int] | None = None,
                    **options: Any) -> dict[str, torch.Tensor]:
        """Every input of ``forward`` for stylising ``image`` (N x 3 x H x W), or, for a
        generator that takes no image, for ``batch`` outputs of ``size`` (H, W).

        The base class fills each declared input by its kind: the content is ``image``; a
        style image and a setting are the option of their name (a setting's default when
        not given); noise is drawn from ``generator`` (seeded by the caller), or, when
        ``origin`` is given (where ``image`` lies in the whole picture: a tile's top-left
        corner; (0, 0) for a whole image), by pixel position
        (:func:`styx.files.noise.position_noise`, seeded by ``generator.initial_seed()``),
        so tiles agree with a single pass and with an exported file. Any other option is a
        StyxError; a generator with options of its own (StyleBank's style choice) overrides
        this.
        """
        declared = self.declared_inputs()
        known = {item.name for item in declared if item.kind in (STYLE, SETTING)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise StyxError(f"{type(self).__name__} takes no option "
                            + ", ".join(repr(k) for k in unknown),
                            "the generator's inputs list what it takes")
        if image is not None:
            batch, size = image.shape[0], (image.shape[-2], image.shape[-1])
        device = image.device if image is not None else _device_of(self)
        inputs: dict[str, torch.Tensor] = {}
        for item in declared:
            if item.kind == CONTENT:
                if image is None:
                    raise no_image_given()
                inputs[item.name] = image
            elif item.kind == STYLE:
                inputs[item.name] = one_style(options.get(item.name), item, device)
            elif item.kind == SETTING:
                value = options.get(item.name)
                value = torch.tensor(item.default) if value is None else torch.as_tensor(value)
                inputs[item.name] = value.to(device=device, dtype=torch.float32)
            elif item.kind == NOISE:
                if size is None:
                    raise StyxError("a texture generator needs an output size",
                                    "give size=(height, width)")
                inputs[item.name] = draw_noise((batch, item.channels, *size), generator,
                                               origin, device)
        return inputs

    def example_inputs(self, batch: int = 1, height: int = 64, width: int = 64
                       ) -> dict[str, torch.Tensor]:
        """Inputs of ``batch`` x ``height`` x ``width`` (seeded, so always the same): what
        exporters trace the graph with and tests feed. Style images are random images of
        :data:`EXAMPLE_STYLE_SIZE`."""
        generator = torch.Generator().manual_seed(0)
        device = _device_of(self)
        image = torch.rand(batch, 3, height, width, generator=generator).to(device) \
            if self.takes_image else None
        styles = {item.name: torch.rand(1, item.channels, *EXAMPLE_STYLE_SIZE,
                                        generator=generator).to(device)
                  for item in self.style_inputs}
        return self.make_inputs(image, size=(height, width), batch=batch, generator=generator,
                                **styles)


def one_style(value: Any, item: Input, device: torch.device) -> torch.Tensor:
    """The style image given for input ``item``: a 1 x C x h x w tensor (a list of one is
    taken; a list of several is for a generator that blends them itself)."""
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise StyxError(f"input {item.name!r} takes one style image, not {len(value)}",
                            "give one style image")
        value = value[0]
    if value is None:
        raise StyxError(f"this generator takes a style image (input {item.name!r}); none "
                        "was given", "give one (--style-image PAINTING)")
    if not isinstance(value, torch.Tensor) or value.dim() != 4 or \
            value.shape[1] != item.channels:
        raise StyxError(f"input {item.name!r} wants a 1 x {item.channels} x H x W image tensor",
                        "load the style image first")
    return value.to(device=device, dtype=torch.float32)


def draw_noise(shape: tuple[int, ...], generator: torch.Generator | None,
               origin: tuple[int, int] | None, device: torch.device) -> torch.Tensor:
    """Uniform noise of ``shape`` (N x C x H x W): by pixel position from ``origin`` when
    given (seeded by ``generator.initial_seed()``), else from ``generator``."""
    if origin is None:
        return random_like(shape, generator=generator, device=device)
    from styx.files.noise import position_noise

    seed = generator.initial_seed() if generator is not None else int(torch.randint(2**31, ()))
    batch, channels, height, width = shape
    return torch.from_numpy(position_noise(seed, batch, channels, height, width,
                                           top=origin[0], left=origin[1])).to(device)


def _legacy_inputs(network: Generator, names: tuple[str, ...]) -> tuple[Input, ...]:
    """The declaration of a styx 0.1 generator that named its inputs only: ``image`` is the
    content; an input of the image's size is noise; the rest are settings (their example
    values the default). Said once per class, as a DeprecationWarning."""
    cached = type(network).__dict__.get("_legacy_declaration")
    if cached is not None and cached[0] == names:
        return cached[1]
    warnings.warn(f"{type(network).__name__} names its inputs (input_names) without their "
                  "kinds: declare Generator.inputs (see 'Upgrading' in docs/plugins.md)",
                  DeprecationWarning, stacklevel=3)
    provisional = tuple(content_image() if name == "image" else noise(name) for name in names)
    type.__setattr__(type(network), "_legacy_declaration", (names, provisional))
    try:
        example = network.make_inputs(
            torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)).to(
                _device_of(network)) if "image" in names else None,
            size=(64, 64), generator=torch.Generator().manual_seed(0))
    finally:
        type.__delattr__(type(network), "_legacy_declaration")
    declared = []
    for name in names:
        value = example[name]
        if name == "image":
            declared.append(content_image())
        elif value.dim() == 4 and tuple(value.shape[-2:]) == (64, 64):
            declared.append(noise(name, channels=int(value.shape[1])))
        else:
            declared.append(setting(name, value.flatten().tolist()))
    result = tuple(declared)
    type.__setattr__(type(network), "_legacy_declaration", (names, result))
    return result


def no_image_given() -> StyxError:
    """The error of a generator that stylises a content image, called without one."""
    return StyxError("this generator stylises a content image; none was given",
                     "give a content image")


def _device_of(module: nn.Module) -> torch.device:
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


def random_like(shape: tuple[int, ...], *, generator: torch.Generator | None,
                like: torch.Tensor | None = None, device: torch.device | str | None = None,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Uniform [0, 1) noise of ``shape`` from ``generator`` (which may live on another
    device than the result), on ``like``'s device and dtype or on ``device``."""
    if like is not None:
        device, dtype = like.device, like.dtype
    device = torch.device(device) if device is not None else torch.device("cpu")
    if generator is not None and generator.device != device:
        return torch.rand(shape, generator=generator).to(device=device, dtype=dtype)
    return torch.rand(shape, generator=generator, device=device, dtype=dtype)
