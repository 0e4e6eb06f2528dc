"""Layers that convolutional generators share: padding and normalisation.

Every feed-forward method offers the same padding and normalisation choices
(:class:`~styx.core.bundles.ConvGeneratorOptions`) and builds them from here, so a fix or
an export workaround lands once for all of them::

    from styx.generators.blocks import Pad, make_norm

    layers = [Pad("reflect", 1), nn.Conv2d(32, 64, 3), make_norm("instance", 64), nn.ReLU()]
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from styx.core.bundles import NORMS, PADDINGS

__all__ = ["NORMS", "PADDINGS", "InstanceNorm", "Pad", "conv", "given_statistics",
           "instance_norms", "kept_statistics", "make_norm", "upsampled_to"]


class Pad(nn.Module):
    """Pads ``amount`` pixels on every side in one of :data:`PADDINGS`.

    On a map no wider than ``amount``, ``reflect`` falls back to ``replicate`` (there is
    nothing to reflect; what reflecting a single pixel would mean) and ``circular`` wraps
    around as many times as it takes (torch's wraps once at most).
    """

    def __init__(self, mode: str, amount: int) -> None:
        super().__init__()
        if mode not in PADDINGS:
            raise ValueError(f"padding {mode!r} is not one of {', '.join(PADDINGS)}")
        self.mode = mode
        self.amount = amount

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.amount
        if p == 0:
            return x
        mode = self.mode
        thin = mode != "zero" and min(x.shape[-2], x.shape[-1]) <= p
        if mode == "reflect" and thin:
            mode = "replicate"  # nothing to reflect in a map this thin
        if mode == "circular" and thin:
            return _wrap(x, p)  # torch wraps around once at most
        if torch.onnx.is_in_onnx_export() and mode in _ONNX_PADS:
            return _Padded.apply(x, mode, p)
        return _padded(x, mode, p)

    def extra_repr(self) -> str:
        return f"{self.mode}, {self.amount}"


def _padded(x: torch.Tensor, mode: str, amount: int) -> torch.Tensor:
    p = amount
    return F.pad(x, (p, p, p, p)) if mode == "zero" else F.pad(x, (p, p, p, p), mode=mode)


#: ONNX Pad's modes for :class:`Pad`'s (circular padding exports as slices and
#: concatenations, six nodes, as torch writes it).
_ONNX_PADS = {"zero": "constant", "reflect": "reflect", "replicate": "edge"}


class _Padded(torch.autograd.Function):
    """Padding in ``mode`` (one of :data:`_ONNX_PADS`), which an export writes as one Pad
    node of constant pads, where ``F.pad``'s export computes the pads in eight nodes."""

    @staticmethod
    def forward(ctx: object, x: torch.Tensor, mode: str, amount: int) -> torch.Tensor:
        return _padded(x, mode, amount)

    @staticmethod
    def symbolic(g: torch.Graph, x: torch.Value, mode: str, amount: int) -> torch.Value:
        pads = torch.tensor([0, 0, amount, amount] * 2, dtype=torch.int64)
        return g.op("Pad", x, g.op("Constant", value_t=pads), mode_s=_ONNX_PADS[mode])


def _wrap(x: torch.Tensor, amount: int) -> torch.Tensor:
    """Circular padding by ``amount`` on every side, wrapping as often as it takes."""
    for dim in (-2, -1):
        size = x.shape[dim]
        index = torch.arange(-amount, size + amount, device=x.device) % size
        x = x.index_select(dim, index)
    return x


class InstanceNorm(nn.GroupNorm):
    """Instance normalisation with a learnt scale and shift; works on 1x1 maps too.

    ``group_norm`` with one group per channel is instance normalisation in one fused kernel,
    but it refuses a group of a single value (a batch of one 1x1 map, the coarsest scale of
    a small image). Such a map normalises to zero, which leaves the learnt shift.

    The statistics can also be kept and given (:func:`kept_statistics`,
    :func:`given_statistics`): a large image stylised in tiles is normalised by the
    statistics of its thumbnail, the same for every tile, so the tiles agree ("thumbnail
    instance normalisation", Chen et al., AAAI 2022).

    With statistics kept or given, PyTorch computes them from the centred map
    (:func:`centred_moments`); an ONNX export writes them in the fewest passes over the map
    that onnxruntime runs fast (:func:`row_moments`, :func:`scaled_in_one_pass`): a mean and
    a mean of squares, then the scale and shift as one BatchNormalization node, instead of
    six full-size operations, and in about 25 nodes, none computing a shape (opening an
    onnxruntime session costs per node: written with ``x.reshape(n, c, ...)`` of sizes read
    at run time, a norm took 75, texture-nets' 38 norms most of a 4000-node graph).
    ``styx export --check`` bounds the difference.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, channels, eps=1e-5, affine=True)
        #: N x C x 2 (mean, variance) to normalise by instead of the map's own, and how
        #: much of them (1: all; a tensor in traced graphs); None: the map's own.
        self.given: torch.Tensor | None = None
        self.blend: torch.Tensor | float = 1.0
        #: Whether to keep the statistics used, in ``kept`` (N x C x 2).
        self.keep = False
        self.kept: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.given is None and not self.keep:
            if x.shape[0] * x.shape[2] * x.shape[3] == 1:
                return x * 0.0 + self.bias.view(1, -1, 1, 1)
            return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
        # In float32 whatever the input: float16 statistics of a large map lose too much.
        if torch.onnx.is_in_onnx_export():
            return _as(self._exported(_as(x, torch.float32)), x.dtype)
        values = x.float()
        mean, variance = centred_moments(values)
        if self.keep:
            self.kept = torch.stack([mean, variance], dim=-1)
        if self.given is not None:
            mean, variance = self._blended(mean, variance, self.given.float())
        scale = self.weight.float() * torch.rsqrt(variance + self.eps)
        shift = self.bias.float() - mean * scale
        return (values * scale[..., None, None] + shift[..., None, None]).to(x.dtype)

    def _exported(self, values: torch.Tensor) -> torch.Tensor:
        """The forward pass as an ONNX export writes it (statistics kept or given): about
        25 nodes, none of them computing a shape. The map is seen as one 1 x NC x H x W
        batch, its moments taken by :func:`row_moments` (N x C x 1 each), kept as
        N x C x 2 and blended with the given ones in that form, and the per-image scale and
        shift (N x C x 1: the learnt weight and bias broadcast over the batch) applied by
        :func:`scaled_in_one_pass`. Every reshape is :func:`reshaped`'s, whose shape is a
        constant (the channel count is the layer's)."""
        channels = self.num_channels
        # A Cast, float32 to float32, however useless: an int8 file dequantises the output
        # of a quantised convolution once only if the dequantisation feeds a Cast read
        # twice (onnxruntime would otherwise move it past the reshape, once for each of
        # the reshape's four readers); graph.py drops it from float files.
        values = values.float()  # traced as a Cast even of float32
        maps = reshaped(values, (1, -1, 0, 0))
        mean, variance = row_moments(values, maps)
        statistics = torch.cat([mean, variance], dim=2)
        if self.keep:
            self.kept = statistics
        if self.given is not None:
            blend = self.blend
            if isinstance(blend, torch.Tensor):
                blend = _as(blend, torch.float32)
            given = _as(self.given, torch.float32)
            statistics = statistics + blend * (given - statistics)
        mean, variance = torch.split(statistics, [1, 1], dim=2)
        scale = self.weight.float()[:, None] / torch.sqrt(variance + self.eps)
        shift = self.bias.float()[:, None] - mean * scale
        out = scaled_in_one_pass(maps, reshaped(scale, (-1,)), reshaped(shift, (-1,)))
        return reshaped(out, (-1, channels, 0, 0))

    def _blended(self, mean: torch.Tensor, variance: torch.Tensor, given: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """The map's own statistics moved towards ``given`` (N x C x 2) by ``blend``."""
        blend = self.blend.float() if isinstance(self.blend, torch.Tensor) else self.blend
        return (mean + blend * (given[..., 0] - mean),
                variance + blend * (given[..., 1] - variance))


def centred_moments(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and variance (N x C) of each map of ``values`` (N x C x H x W), the variance
    from the centred values: exact, in two passes and a full-size intermediate."""
    mean = values.mean(dim=(2, 3))
    return mean, (values - mean[..., None, None]).square().mean(dim=(2, 3))


def row_moments(values: torch.Tensor, maps: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and variance (N x C x 1) of each map of ``values`` (N x C x H x W) as
    onnxruntime computes them fastest: the mean of the values and the mean of their squares
    (the one full-size intermediate), each averaged down the columns first, then along the
    row of column means; the variance is their difference, at least 0.

    The difference loses precision as (mean / deviation)^2 grows; summing in two short
    stages keeps float32 about 50x more accurate than one ReduceMean over the map (the
    variance within 2e-5 at a ratio of 10, 4e-4 at 30; onnxruntime 1.31, 768 x 1024 maps).
    ReduceSumSquare would spare the intermediate, but onnxruntime's CPU kernel for it is 4x
    slower than ReduceMean's and less accurate.

    The maps are squared as one 1 x NC x H x W map, ``maps`` (:func:`reshaped`, which
    copies nothing; made here if not given): a Mul of the convolution's output itself would
    run in onnxruntime's blocked NCHWc layout and need a reorder pass more before its
    reduction. The mean is taken of ``values`` itself, so the map has two readers: in an
    int8 file onnxruntime then dequantises a quantised convolution's output once, where it
    would move the dequantisation past a reshape that is the map's only reader and
    dequantise once for each of the reshape's four readers."""
    channels = values.shape[1]
    if maps is None:
        maps = reshaped(values, (1, -1, 0, 0))
    mean = values.mean(dim=-2).mean(dim=-1, keepdim=True)
    square = reshaped((maps * maps).mean(dim=-2).mean(dim=-1, keepdim=True), (-1, channels, 1))
    return mean, torch.relu(square - mean * mean)


def scaled_in_one_pass(maps: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor
                       ) -> torch.Tensor:
    """``maps * scale + shift`` for ``maps`` 1 x K x H x W, ``scale`` and ``shift`` K values:
    batch normalisation in eval mode, which exports as one BatchNormalization node, one pass
    over the map where a Mul and an Add take two. Its mean and variance are zeros and its
    epsilon 1, so it divides by sqrt(0 + 1) = 1 exactly, and both are one node (``scale * 0``;
    zeros_like of a tensor whose size is only known at run time costs shape nodes)."""
    zeros = scale * 0.0
    return F.batch_norm(maps, zeros, zeros, scale, shift, training=False, eps=1.0)


def _as(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``x`` in ``dtype``: ``x.to(dtype)``, which a trace records as a Cast node even where
    ``x`` is in ``dtype`` already."""
    return x if x.dtype == dtype else x.to(dtype)


class _Reshape(torch.autograd.Function):
    """:func:`reshaped` (an export writes it through :meth:`symbolic`)."""

    @staticmethod
    def forward(ctx: object, x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        return x.reshape([x.shape[i] if size == 0 else size for i, size in enumerate(shape)])

    @staticmethod
    def symbolic(g: torch.Graph, x: torch.Value, shape: tuple[int, ...]) -> torch.Value:
        return g.op("Reshape", x, g.op("Constant", value_t=torch.tensor(shape, dtype=torch.int64)))


def reshaped(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """``x`` reshaped to ``shape`` by ONNX's rules: 0 keeps that dimension of ``x``, -1 takes
    what is left. An export writes it as one Reshape node of a constant shape, where
    ``x.reshape(...)`` of sizes read from ``x.shape`` records the sizes' computation (Shape,
    Gather, Unsqueeze, Concat: a dozen nodes a reshape)."""
    return _Reshape.apply(x, tuple(int(size) for size in shape))


def instance_norms(module: nn.Module) -> list[InstanceNorm]:
    """The instance normalisation layers of ``module``, in a fixed order."""
    return [layer for layer in module.modules() if isinstance(layer, InstanceNorm)]


@contextlib.contextmanager
def kept_statistics(module: nn.Module) -> Iterator[list[InstanceNorm]]:
    """Within the block, ``module``'s instance norms keep the statistics they use (in each
    layer's ``kept``); yields the layers."""
    layers = instance_norms(module)
    for layer in layers:
        layer.keep, layer.kept = True, None
    try:
        yield layers
    finally:
        for layer in layers:
            layer.keep = False


@contextlib.contextmanager
def given_statistics(module: nn.Module, statistics: list[torch.Tensor],
                     blend: torch.Tensor | float = 1.0) -> Iterator[None]:
    """Within the block, ``module``'s instance norms normalise by ``statistics`` (one
    N x C x 2 tensor per layer, as :func:`kept_statistics` kept them), mixed with their own
    by ``blend`` (1: the given ones alone)."""
    layers = instance_norms(module)
    if len(statistics) != len(layers):
        raise ValueError(f"{len(statistics)} statistics for {len(layers)} instance norms")
    for layer, given in zip(layers, statistics):
        layer.given, layer.blend = given, blend
    try:
        yield
    finally:
        for layer in layers:
            layer.given, layer.blend = None, 1.0


def make_norm(kind: str, channels: int) -> nn.Module:
    """The normalisation layer ``kind`` (one of :data:`NORMS`) for ``channels`` channels."""
    if kind not in NORMS:
        raise ValueError(f"normalisation {kind!r} is not one of {', '.join(NORMS)}")
    return InstanceNorm(channels) if kind == "instance" else nn.BatchNorm2d(channels)


def conv(in_channels: int, out_channels: int, kernel: int, *, padding: str,
         stride: int = 1) -> nn.Sequential:
    """A ``kernel`` x ``kernel`` convolution that keeps the size (divided by ``stride``,
    rounded up) by padding ``kernel // 2`` pixels in mode ``padding`` first."""
    return nn.Sequential(Pad(padding, kernel // 2),
                         nn.Conv2d(in_channels, out_channels, kernel, stride=stride))


def upsampled_to(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``x`` upsampled x2 (nearest) and cropped to ``height`` x ``width``: the size of the
    finer map it meets, which :func:`halved_sizes` halved rounding up (an odd side is one
    less than twice the coarser's). The crop is a slice in PyTorch (a view, free); traced
    for export it is a Pad by minus the excess, one operation where a slice is two Slice
    nodes, each a copy of the map in onnxruntime (StyleBank at 1024x768: ~75 ms)."""
    up = F.interpolate(x, scale_factor=2.0, mode="nearest")
    if not torch.jit.is_tracing():
        return up[..., :height, :width]
    return F.pad(up, (0, width - up.shape[-1], 0, height - up.shape[-2]))


def halved_sizes(height: int, width: int, count: int) -> list[tuple[int, int]]:
    """``count`` sizes, ``(height, width)`` first, each the previous halved and rounded up:
    the maps of a generator that downsamples by 2 (stride 2, or 2x2 pooling with ceil)."""
    sizes = [(height, width)]
    for _ in range(count - 1):
        h, w = sizes[-1]
        sizes.append(((h + 1) // 2, (w + 1) // 2))
    return sizes
