"""The multi-scale ("pyramid") generator of Ulyanov et al., *Texture Networks* (2016).

The input (a content image, or nothing in texture mode) is taken at ``K`` scales: full size,
1/2, 1/4, ... 1/2^(K-1). Each scale gets its own uniform noise channels and a block of
3x3 -> 3x3 -> 1x1 convolutions (each followed by normalisation and LeakyReLU). Starting at
the coarsest scale, the running result is upsampled x2 (nearest), both it and the next
scale's block output are normalised, concatenated, and passed through a block of the same
shape; the channel count grows by ``channels`` at every join (8, 16, 24, ... by default).
A final 1x1 convolution maps to RGB, squashed into [0, 1] by a sigmoid.

Differences from the reference code, all deliberate:

* Any size works. Each scale is the previous one average-pooled 2x2 with ``ceil`` sizes
  (37 -> 19 -> 10 -> 5 -> 3 -> 2), and an upsampled coarse map is cropped to the exact size
  of the finer one, so a coarse pixel always covers the same 2x2 fine pixels.
* Instance normalisation is computed by ``group_norm`` with one group per channel, which,
  unlike ``instance_norm``, accepts 1x1 maps (the coarsest scale of a small image), and
  ``reflect`` padding of a map one pixel wide falls back to ``replicate``: the shared
  layers of :mod:`styx.generators.blocks`.
* The output goes through a sigmoid, so it is a valid image in [0, 1] by construction (the
  reference left it unbounded in VGG-preprocessed units).

The ``fast`` variant (``GeneratorConfig(variant="fast")``, ``styx train texture-nets
--variant fast``) keeps all of that (the noise pyramid, a branch per scale, the joins,
instance norms, circular padding) and lightens the two finest scales, where 97% of the
paper's work is: joins of 16 channels at full and half size (instead of 48 and 40), two
convolutions (3x3 -> 1x1) in those joins and in the half-size branch, one (3x3) in the
full-size branch, and the coarse result normalised before it is upsampled (four times fewer
pixels; the same statistics where the sizes are even). 7x fewer multiply-adds; the measured
layer profile that chose it is in docs/texture-nets.md.

Noise is a forward *input*: ``forward(content, noise)`` with ``noise`` one tensor of
``K * noise_channels`` channels at full resolution; scale ``k`` takes its own slice of
channels, subsampled (nearest) to its size, which gives every scale independent uniform
noise. When ``noise`` is ``None`` it is drawn with ``torch.rand`` inside forward, which an
ONNX export avoids by passing noise explicitly (see :meth:`TextureNetwork.make_noise`).
Running a trained model (``styx run``, ``styx infer``) draws the noise by pixel position
(:mod:`styx.files.noise`), so tiles agree with one pass and PyTorch with onnxruntime.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from styx.core.errors import StyxError
from styx.core.inputs import Input, content_image
from styx.core.inputs import noise as noise_input
from styx.generators.blocks import Pad, make_norm, upsampled_to
from styx.generators.generator import Generator, draw_noise, no_image_given, random_like
from styx.generators.variants import FAST
from styx.plugins.methods.texture_nets.config import GeneratorConfig
from styx.runtime.image_tensors import TENSOR_HINT

#: The paper's block: 3x3 -> 3x3 -> 1x1 convolutions.
PAPER_KERNELS = (3, 3, 1)
#: The fast variant (docs/texture-nets.md has the measurements), by scale (0 = full size;
#: the scales not named are the paper's): the joins' widths capped, in multiples of
#: ``channels`` (16 channels at full and half size instead of 48 and 40) ...
FAST_WIDTH_CAPS = {0: 2, 1: 2}
#: ... the kernels of the branches ...
FAST_BRANCH_KERNELS = {0: (3,), 1: (3, 1)}
#: ... and of the joins.
FAST_JOIN_KERNELS = {0: (3, 1), 1: (3, 1)}


def join_width(config: GeneratorConfig, scale: int) -> int:
    """Channels of the running result after the join at ``scale`` (0 = full size):
    ``channels`` more at every finer scale, as in the paper; the fast variant caps them at
    the finest scales, where a channel costs the most."""
    width = (config.scales - scale) * config.channels
    cap = FAST_WIDTH_CAPS.get(scale) if config.variant == FAST else None
    return width if cap is None else min(width, cap * config.channels)


def block_kernels(config: GeneratorConfig, scale: int, *, join: bool) -> tuple[int, ...]:
    """The kernel sizes of the join (``join=True``) or of the branch at ``scale``."""
    if config.variant != FAST:
        return PAPER_KERNELS
    return (FAST_JOIN_KERNELS if join else FAST_BRANCH_KERNELS).get(scale, PAPER_KERNELS)


class ConvBlock(nn.Sequential):
    """Convolutions of ``kernels`` sizes (3x3 -> 3x3 -> 1x1 in the paper), each followed by
    normalisation and LeakyReLU."""

    def __init__(self, in_channels: int, out_channels: int, config: GeneratorConfig,
                 kernels: tuple[int, ...] = PAPER_KERNELS) -> None:
        layers: list[nn.Module] = []
        for index, kernel in enumerate(kernels):
            layers += [
                Pad(config.padding, kernel // 2),
                nn.Conv2d(in_channels if index == 0 else out_channels, out_channels, kernel),
                make_norm(config.norm, out_channels),
                nn.LeakyReLU(config.leaky_slope, inplace=True),
            ]
        super().__init__(*layers)


class TextureNetwork(Generator):
    """The pyramid generator; see the module docstring."""

    config_class = GeneratorConfig

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or GeneratorConfig()
        in_channels = config.content_channels + config.noise_channels
        c = config.channels
        # branches[k] works on scale k (0 = full size, K-1 = coarsest).
        self.branches = nn.ModuleList(ConvBlock(in_channels, c, config,
                                                block_kernels(config, k, join=False))
                                      for k in range(config.scales))
        # joins[j] (at scale k = K-2-j) merges the running result, upsampled from scale k+1,
        # with scale k's branch of c channels.
        fine = range(config.scales - 2, -1, -1)
        coarse_widths = [join_width(config, k + 1) for k in fine]
        self.join_norms_coarse = nn.ModuleList(make_norm(config.norm, width)
                                               for width in coarse_widths)
        self.join_norms_branch = nn.ModuleList(make_norm(config.norm, c) for _ in fine)
        self.joins = nn.ModuleList(ConvBlock(width + c, join_width(config, k), config,
                                             block_kernels(config, k, join=True))
                                   for width, k in zip(coarse_widths, fine))
        self.to_rgb = nn.Conv2d(join_width(config, 0), 3, 1)

    # -- the Generator interface ------------------------------------------------------------
    @property
    def inputs(self) -> tuple[Input, ...]:  # type: ignore[override]
        """The photo (a stylisation network) and the noise pyramid's channels, either of
        them absent when the architecture has none."""
        image = (content_image(),) if self.config.content_channels else ()
        return image + ((noise_input("noise", self.noise_depth),) if self.config.noise_channels
                        else ())

    def make_inputs(self, image: torch.Tensor | None, *, size: tuple[int, int] | None = None,
                    batch: int = 1, generator: torch.Generator | None = None,
                    origin: tuple[int, int] | None = None,
                    texture: bool = False) -> dict[str, torch.Tensor]:
        """The image (a stylisation network) and noise drawn from ``generator``, or, with
        ``origin``, by position (see :meth:`Generator.make_inputs`).

        ``texture=True`` with no image: a texture of ``size`` from a stylisation network,
        whose content is then uniform noise too (drawn after the noise inputs).
        """
        if image is not None:
            batch, height, width = image.shape[0], image.shape[-2], image.shape[-1]
        elif size is not None and (texture or not self.takes_image):
            height, width = size
        elif self.takes_image:
            raise no_image_given()
        else:
            raise StyxError("a texture generator needs an output size", "give size=(height, width)")
        device = self.to_rgb.weight.device if image is None else image.device
        inputs: dict[str, torch.Tensor] = {}
        if self.config.noise_channels:
            inputs["noise"] = draw_noise((batch, self.noise_depth, height, width), generator,
                                         origin, device)
        if self.takes_image:
            inputs["image"] = image if image is not None else random_like(
                (batch, 3, height, width), generator=generator,
                device=self.to_rgb.weight.device)
        return inputs

    # -- noise -----------------------------------------------------------------------------
    @property
    def noise_depth(self) -> int:
        """Channels of the ``noise`` input: ``noise_channels`` for each scale."""
        return self.config.noise_depth

    def make_noise(self, batch: int, height: int, width: int, *,
                   generator: torch.Generator | None = None,
                   device: torch.device | str | None = None,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Uniform [0, 1) noise for an output of ``height`` x ``width``: pass it to forward."""
        if device is None:
            device = next(self.parameters()).device
        return random_like((batch, self.noise_depth, height, width), generator=generator,
                           device=device, dtype=dtype)

    # -- forward ---------------------------------------------------------------------------
    def forward(self, image: torch.Tensor | None = None, noise: torch.Tensor | None = None,
                size: tuple[int, int] | None = None) -> torch.Tensor:
        """Stylise ``image`` (N x 3 x H x W in [0, 1]) or, for a texture generator, turn
        ``noise`` (or fresh noise of ``size`` = (H, W)) into a texture. Returns N x 3 x H x W
        in [0, 1].
        """
        cfg = self.config
        content = image
        if cfg.content_channels:
            if content is None:
                raise no_image_given()
            if content.dim() != 4 or content.shape[1] != 3:
                raise StyxError(f"expected an N x 3 x H x W content image, "
                                f"got shape {tuple(content.shape)}", TENSOR_HINT)
            batch, height, width = content.shape[0], content.shape[-2], content.shape[-1]
            reference = content
        elif noise is not None:
            batch, height, width = noise.shape[0], noise.shape[-2], noise.shape[-1]
            reference = noise
        elif size is not None:
            batch, (height, width) = 1, size
            reference = self.to_rgb.weight
        else:
            raise StyxError("a texture generator needs noise or an output size",
                            "give size=(height, width)")
        if noise is None and cfg.noise_channels:
            noise = self.make_noise(batch, height, width, device=reference.device,
                                    dtype=reference.dtype)
        if noise is not None and noise.shape[1] != self.noise_depth:
            raise StyxError(f"expected {self.noise_depth} noise channels, got {noise.shape[1]}",
                            "make_inputs builds noise of the right shape")

        inputs = self._scale_inputs(content, noise)
        x = self.branches[-1](inputs[-1])
        for j, k in enumerate(range(cfg.scales - 2, -1, -1)):
            branch = self.branches[k](inputs[k])
            coarse = self._upsampled(x, self.join_norms_coarse[j], branch.shape[-2:])
            x = self.joins[j](torch.cat([coarse, self.join_norms_branch[j](branch)], 1))
        return torch.sigmoid(self.to_rgb(x))

    def _scale_inputs(self, content: torch.Tensor | None,
                      noise: torch.Tensor | None) -> list[torch.Tensor]:
        """The input of every scale, finest first: the content average-pooled 2x2 and the
        scale's own noise channels subsampled (nearest), both halved scale by scale with
        ``ceil`` sizes; every scale gets independent noise."""
        width = self.config.noise_channels
        inputs: list[torch.Tensor] = []
        for k in range(self.config.scales):
            if k > 0:
                content = None if content is None else F.avg_pool2d(content, 2, ceil_mode=True)
                noise = None if noise is None else noise[..., ::2, ::2]
            parts = [] if content is None else [content]
            if width:
                parts.append(noise[:, k * width:(k + 1) * width])
            inputs.append(parts[0] if len(parts) == 1 else torch.cat(parts, 1))
        return inputs

    def _upsampled(self, x: torch.Tensor, norm: nn.Module, size: torch.Size) -> torch.Tensor:
        """The running result ``x`` upsampled x2 (nearest) and cropped to ``size``, and
        normalised by ``norm``: after upsampling in the paper, before it in the fast variant
        (four times fewer pixels; the same statistics where the sizes are even)."""
        if self.config.variant == FAST:
            x = norm(x)
        up = upsampled_to(x, size[0], size[1])
        return up if self.config.variant == FAST else norm(up)
