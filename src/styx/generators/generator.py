"""The interface every feed-forward generator follows.

A generator is an ``nn.Module`` that knows its own architecture, as a JSON-ready dict, and
can be rebuilt from it; that is all the model store, the model loader, ``styx run``,
exporters and experiments need, so none of them has code for a particular method::

    class MyNet(Generator):
        input_names = ("image",)

        def __init__(self, width: int = 32) -> None:
            super().__init__()
            self.width = width
            ...

        def architecture(self) -> dict:
            return {"width": self.width}

        @classmethod
        def from_architecture(cls, architecture: dict) -> "MyNet":
            return cls(**architecture)

        def forward(self, image):           # takes its inputs by the names above
            ...

Inputs are named: ``"image"`` (N x 3 x H x W in [0, 1]) and whatever else a generator takes
(texture-nets' ``"noise"``, StyleBank's style weights). :meth:`Generator.make_inputs` gives
every input for one call, drawing random ones from a seeded ``torch.Generator`` so a seed
fixes the output; :meth:`Generator.example_inputs` gives inputs of a chosen size for export
and tests. The output is always N x 3 x H x W in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from styx.core.errors import StyxError


class Generator(nn.Module):
    """Base class of feed-forward generators (see the module docstring)."""

    #: The names of ``forward``'s inputs, in order. A generator that takes no ``"image"``
    #: makes images from its other inputs alone (a texture generator).
    input_names: tuple[str, ...] = ("image",)

    @property
    def takes_image(self) -> bool:
        """Whether the generator stylises a content image (else it makes images from noise)."""
        return "image" in self.input_names

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

        Random inputs are drawn from ``generator`` (seeded by the caller). ``origin``, when
        given, is where ``image`` lies in the whole picture (a tile's top-left corner; (0,
        0) for a whole image): per-pixel random inputs are then drawn by position
        (:func:`styx.files.noise.position_noise`, seeded by ``generator.initial_seed()``),
        so tiles agree with a single pass and with an exported file. ``options`` are a
        method's own run options (StyleBank's style choice); unknown ones are a StyxError.
        The base class takes the image alone.
        """
        if options:
            raise StyxError(f"{type(self).__name__} takes no option "
                            + ", ".join(repr(k) for k in options),
                            "the generator's input_names list what it takes")
        if image is None:
            raise no_image_given()
        return {"image": image}

    def example_inputs(self, batch: int = 1, height: int = 64, width: int = 64
                       ) -> dict[str, torch.Tensor]:
        """Inputs of ``batch`` x ``height`` x ``width`` (seeded, so always the same): what
        exporters trace the graph with and tests feed."""
        generator = torch.Generator().manual_seed(0)
        device = _device_of(self)
        image = torch.rand(batch, 3, height, width, generator=generator).to(device) \
            if self.takes_image else None
        return self.make_inputs(image, size=(height, width), batch=batch, generator=generator)


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
