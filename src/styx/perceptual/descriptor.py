"""The descriptor interface: a frozen CNN that maps an image to named feature maps.

A :class:`Descriptor` is an ordered list of named *stages*; the output of each stage is a
*tap*. Extra tap names can point at a stage (ResNet's ``layer1`` is the output of its last
block ``layer1.2``), and aliases give other names for taps (VGG's Keras names).

Inputs are float RGB in [0, 1], NCHW; the descriptor normalises them itself. A forward pass
stops at the deepest requested tap, and :meth:`Descriptor.trim` drops the stages past it.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from styx.core.errors import StyxError
from styx.runtime.image_tensors import TENSOR_HINT

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: The largest side :meth:`Descriptor.smallest_side` tries.
MAX_SIDE = 4096


class Descriptor(nn.Module):
    """A frozen, eval-mode feature extractor addressed by layer name."""

    def __init__(
        self,
        name: str,
        stages: Sequence[tuple[str, nn.Module]],
        *,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        extra_taps: Mapping[str, str] | None = None,
        layer_aliases: Mapping[str, str] | None = None,
        default_content_layers: Sequence[str] = (),
        default_style_layers: Sequence[str] = (),
        min_size: int = 1,
    ) -> None:
        super().__init__()
        self.name = name
        self.stage_names = [stage_name for stage_name, _ in stages]
        # ModuleDict keys may not contain '.', so stages are stored by index.
        self.stages = nn.ModuleList([module for _, module in stages])
        self.extra_taps = dict(extra_taps or {})
        self.layer_aliases = dict(layer_aliases or {})
        self.default_content_layers = tuple(default_content_layers)
        self.default_style_layers = tuple(default_style_layers)
        #: A side that reaches every tap, as the factory declares it (a size to try the
        #: network at); what each layer needs is :meth:`smallest_side`, found by shape passes.
        self.min_size = int(min_size)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self._index = {stage_name: i for i, stage_name in enumerate(self.stage_names)}
        for tap, stage in self.extra_taps.items():
            self._index[tap] = self._index[stage]
        self._smallest: dict[int, int] = {}  # stage index -> smallest_side
        self.freeze()

    # -- names -----------------------------------------------------------------------------
    @property
    def layers(self) -> list[str]:
        """Every tap name, in forward order (extra taps right after the stage they name)."""
        by_stage: dict[str, list[str]] = {}
        for tap, stage in self.extra_taps.items():
            by_stage.setdefault(stage, []).append(tap)
        return [name for stage in self.stage_names for name in (stage, *by_stage.get(stage, []))]

    def resolve_layer(self, name: str) -> str:
        """The canonical tap name for ``name`` or an alias of it; a StyxError otherwise."""
        name = name.strip()
        if name in self._index:
            return name
        if name in self.layer_aliases:
            return self.layer_aliases[name]
        known = list(self._index) + list(self.layer_aliases)
        from styx.core.suggest import did_you_mean

        hint = did_you_mean(name, known) or \
            f"'styx list layers {self.name}' prints the {len(self.layers)} layer names"
        raise StyxError(f"descriptor {self.name!r} has no layer {name!r}", hint)

    def resolve_layers(self, names: Iterable[str]) -> list[str]:
        return [self.resolve_layer(n) for n in names]

    def depth(self, name: str) -> int:
        """The index of the stage that produces tap ``name``."""
        return self._index[self.resolve_layer(name)]

    def smallest_side(self, layers: Iterable[str]) -> int:
        """The smallest side of a square image whose forward pass reaches the deepest of
        ``layers``, found by shape passes (:func:`styx.runtime.meta.shape_pass`: no data, no
        arithmetic) and kept per stage. Convolutions and pools act on each axis alone, so an
        H x W image reaches it iff ``min(H, W)`` is at least this. 1 when no side up to
        :data:`MAX_SIDE` reaches it in a shape pass (a network the pass cannot run): then
        the run's own error tells."""
        index = max((self.depth(name) for name in layers), default=-1)
        if index < 0:
            return 1
        if index not in self._smallest:
            self._smallest[index] = _search_side(self, index)
        return self._smallest[index]

    # -- running ---------------------------------------------------------------------------
    def freeze(self) -> Descriptor:
        self.requires_grad_(False)
        return super().train(False)

    def train(self, mode: bool = True) -> Descriptor:
        """Descriptors stay in eval mode (fixed batch-norm statistics, no dropout)."""
        return super().train(False)

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        return (image - self.mean.to(image.dtype)) / self.std.to(image.dtype)

    def forward(self, image: torch.Tensor, layers: Iterable[str] | None = None
                ) -> dict[str, torch.Tensor]:
        """Feature maps for ``layers`` (default: every tap still present), keyed as asked."""
        if image.dim() != 4 or image.shape[1] != 3:
            raise StyxError(f"descriptor {self.name!r} expects an N x 3 x H x W image, "
                            f"got shape {tuple(image.shape)}", TENSOR_HINT)
        requested = list(layers) if layers is not None else self.present_layers()
        wanted: dict[int, list[str]] = {}
        for asked in requested:
            index = self.depth(asked)
            if index >= len(self.stages):
                raise StyxError(f"layer {asked!r} was trimmed from descriptor {self.name!r}",
                                "build the descriptor again to use deeper layers")
            wanted.setdefault(index, []).append(asked)
        if not wanted:
            return {}
        deepest = max(wanted)
        features: dict[str, torch.Tensor] = {}
        versions: dict[str, int] = {}
        x = self.normalize(image)
        for index in range(deepest + 1):
            try:
                x = self.stages[index](x)
            except RuntimeError as error:
                needed = _needed_side(self, index)
                if needed is None or min(image.shape[-2:]) >= needed:
                    raise
                raise StyxError(
                    f"a {image.shape[-1]}x{image.shape[-2]} px image is too small for "
                    f"descriptor {self.name!r} at layer {self.stage_names[index]!r} (it needs "
                    f"at least {needed} px a side)", "use larger images, or shallower layers"
                ) from error
            for asked in wanted.get(index, ()):
                features[asked] = x
                versions[asked] = _version(x)
        for asked, tensor in features.items():
            if _version(tensor) != versions[asked]:
                raise StyxError(
                    f"layer {asked!r} of descriptor {self.name!r} was changed in place by a "
                    "later stage", "a descriptor bug: build the stage after a tap without "
                    "in-place operations, e.g. nn.ReLU(inplace=False)")
        return features

    def present_layers(self) -> list[str]:
        """The taps still present after :meth:`trim`, in forward order."""
        return [t for t in self.layers if self._index[t] < len(self.stages)]

    def trim(self, layers: Iterable[str]) -> Descriptor:
        """Drop every stage after the deepest of ``layers``; returns self."""
        deepest = max((self.depth(n) for n in layers), default=-1)
        del self.stages[deepest + 1:]
        return self


def _needed_side(descriptor: Descriptor, index: int) -> int | None:
    """The smallest side that reaches stage ``index`` (None: the search itself failed)."""
    try:
        return descriptor.smallest_side([descriptor.stage_names[index]])
    except Exception:  # noqa: BLE001 - a search that fails leaves the original error
        return None


def _search_side(descriptor: Descriptor, index: int) -> int:
    """:meth:`Descriptor.smallest_side` of stage ``index``: sides 1, 2, 4, ... until one
    reaches it, then a binary search below that (a side too small fails early, so cheaply).
    The passes run a meta copy of the stages (parameters of the same shapes, no memory) in
    which batch norms, which keep the shape, are skipped: faking them costs most of a pass."""
    import logging

    from styx.runtime.meta import META, on_meta, shape_pass

    stages = on_meta(nn.Sequential(*list(descriptor.stages)[: index + 1]))
    for module in list(stages.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(module, name, nn.Identity())
    dtype = next((p.dtype for p in stages.parameters() if p.is_floating_point()),
                 torch.float32)

    def reaches(side: int) -> bool:
        try:
            x = stages(torch.empty(1, 3, side, side, device=META, dtype=dtype))
        except Exception:  # noqa: BLE001 - shape errors come as several kinds: too small
            return False
        return x.numel() > 0

    fake_log = logging.getLogger("torch._subclasses.fake_tensor")
    level = fake_log.level
    fake_log.setLevel(logging.CRITICAL)  # it logs every failed shape check as an error
    try:
        with torch.no_grad(), shape_pass():
            low, high = 0, 1  # low: the largest side known to fail
            while not reaches(high):
                if high >= MAX_SIDE:
                    return 1  # unknown: nothing reaches it in a shape pass
                low, high = high, min(2 * high, MAX_SIDE)
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (low, middle) if reaches(middle) else (middle, high)
            return high
    finally:
        fake_log.setLevel(level)


def _version(tensor: torch.Tensor) -> int:
    """The tensor's version counter, bumped by every in-place change (inference tensors,
    which keep none: -1)."""
    try:
        return tensor._version
    except RuntimeError:
        return -1


def he_normal_init_(module: nn.Module, generator: torch.Generator) -> None:
    """Initialise convolutions He-normal (fan-in, ReLU gain) and zero biases.

    Keeps activations of order one at every depth of a random descriptor, unlike PyTorch's
    default initialisation, under which a random VGG19's deep features all but vanish.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            with torch.no_grad():
                m.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
                if m.bias is not None:
                    m.bias.zero_()


def build_descriptor(name: str, weights: str | os.PathLike[str] = "imagenet", *, seed: int = 0,
                     device: str | torch.device | None = None,
                     layers: Iterable[str] | None = None, **options: Any) -> Descriptor:
    """Build the registered descriptor ``name``: the one way methods get a descriptor.

    ``weights``: ``"imagenet"`` (torchvision's cache), ``"random"`` (seeded by ``seed``) or
    the path of a .safetensors/.pth state dict (see :mod:`styx.perceptual.weights`).
    The spec's ``layer_aliases`` are added to the descriptor's. ``layers``: when given
    (and not empty), the descriptor is trimmed after the deepest of them; unknown names
    are a StyxError with "did you mean". ``options``: the descriptor's own options
    (``styx list descriptors`` shows them, e.g. VGG's ``pooling``), checked by
    :func:`~styx.core.specs.checked_options`.
    """
    from styx.core.plugins import descriptors
    from styx.core.specs import checked_options

    spec = descriptors().get(name)
    options = checked_options(spec, options)
    factory = spec.load()
    wanted = list(layers) if layers is not None else []
    if _accepts(factory, "seed"):
        options["seed"] = seed
    trims_itself = bool(wanted) and _accepts(factory, "layers")
    if trims_itself:
        options["layers"] = wanted  # trimmed before its weights are even allocated
    descriptor = factory(weights=weights, **options)
    if not isinstance(descriptor, Descriptor):
        raise TypeError(f"descriptor factory {spec.factory!r} returned "
                        f"{type(descriptor).__name__}, not a Descriptor")
    # The spec's aliases work whether or not the factory repeated them.
    descriptor.layer_aliases = {**spec.layer_aliases, **descriptor.layer_aliases}
    listed = {*spec.layers, *spec.layer_aliases}
    for layer in wanted:  # listed by the spec (so the options passed), yet not built
        if layer in listed and layer not in descriptor._index and \
                layer not in descriptor.layer_aliases:
            raise StyxError(f"descriptor {spec.name!r} lists layer {layer!r}, but its network "
                            "has no such layer", f"a bug in plugin {spec.plugin!r}: "
                            f"'styx plugins --check {spec.name}' shows what differs")
    if wanted and not trims_itself:
        descriptor.trim(wanted)
    if device is not None:
        descriptor.to(device)
    return descriptor


def _accepts(function: Any, parameter: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return parameter in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
