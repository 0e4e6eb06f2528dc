"""The StyleBank network of Chen et al., *StyleBank: An Explicit Representation for Neural
Image Style Transfer* (CVPR 2017).

::

    image ─► encoder ─► F ─► [filter bank K_i of style i] ─► decoder ─► stylised image
                         └──────────── (auto-encoder branch) ──┘

* **Encoder**: three convolutions, 9x9 stride 1, 3x3 stride 2, 3x3 stride 2 (``width``,
  2x and 4x channels), each followed by normalisation and ReLU: F has 4 x ``width``
  channels at a quarter of the image's size (rounded up).
* **StyleBank layer**: one filter bank per style, a 3x3 convolution from F's channels to
  F's channels with no bias. A bank is linear, so fusing styles is exact: a weighted sum of
  banks applied to F is the weighted sum of their outputs (the paper's linear fusion).
* **Decoder**: two x2 nearest-neighbour upsamplings, each followed by a 3x3 convolution,
  normalisation and ReLU, then a 9x9 convolution to RGB and a sigmoid. Upsample + convolve
  rather than transposed convolutions: those overlap unevenly and print a checkerboard
  on the output (Odena et al., 2016). Each upsampled map is cropped to the size of the
  encoder's map at that depth, so any image size comes back exactly.

The ``fast`` variant (``--variant fast``, docs/stylebank.md "The fast variant") keeps this
structure, the strides and the inputs, with 3x3 kernels everywhere and narrower layers:
``width / 4`` channels at full size, ``width / 2`` at half size, F of ``2 x width`` channels
(8, 16 and 64 for ``width`` 32): about 10x fewer operations.

``forward(image, style_weights)`` takes the styles to apply as weights over the banks:

* ``(K,)``: one mix for the whole batch (one style is a one-hot vector): the banks are
  summed into one kernel, one convolution;
* ``(N, K)``: a mix per image (a training batch that mixes styles): one grouped
  convolution with each image's own summed kernel, no loop over images;
* ``(N or 1, K, H, W)``: a mix per pixel (region fusion): the masks are average-pooled to
  F's size and bank ``k`` is applied to ``mask_k x F`` (the paper's region fusion), the
  banks in use concatenated into one convolution.

Wherever the weights sum to less than 1, the rest of F goes to the decoder unchanged (the
auto-encoder branch): weights that sum to 0 reconstruct the photo, and a partial sum is a
softer style. ``style_weights=None`` is the auto-encoder branch alone (no bank is touched).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from styx.core.errors import StyxError
from styx.core.inputs import Input, content_image, setting
from styx.generators.blocks import Pad, conv, halved_sizes, make_norm, upsampled_to
from styx.generators.generator import Generator, no_image_given
from styx.plugins.methods.stylebank.config import NetworkConfig
from styx.runtime.image_tensors import TENSOR_HINT

__all__ = ["NetworkConfig", "StyleBankNetwork"]

#: Kernel size of every filter bank.
BANK_KERNEL = 3


#: Kernel size of the decoder's convolutions.
DECODER_KERNEL = 3


def _stages(in_channels: int, layers: Iterable[tuple[int, int, int]], config: NetworkConfig
            ) -> list[nn.Sequential]:
    """A convolution, normalisation and ReLU for each (kernel, channels, stride) of
    ``layers``, the first taking ``in_channels``."""
    stages = []
    for kernel, channels, stride in layers:
        stages.append(nn.Sequential(conv(in_channels, channels, kernel, padding=config.padding,
                                         stride=stride),
                                    make_norm(config.norm, channels), nn.ReLU(inplace=True)))
        in_channels = channels
    return stages


def new_bank(channels: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A fresh filter bank: the identity (the bank that changes nothing, so a new style
    starts from the reconstruction) plus small random filters."""
    bank = torch.empty(channels, channels, BANK_KERNEL, BANK_KERNEL)
    bound = 0.1 / math.sqrt(channels * BANK_KERNEL * BANK_KERNEL)
    bank.uniform_(-bound, bound, generator=generator)
    centre = BANK_KERNEL // 2
    bank[:, :, centre, centre] += torch.eye(channels)
    return bank


class StyleBankNetwork(Generator):
    """Encoder, one filter bank per style, decoder; see the module docstring."""

    config_class = NetworkConfig

    def __init__(self, config: NetworkConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or NetworkConfig()
        c = config.feature_channels
        self.encoder = nn.Sequential(*_stages(3, config.encoder_layers, config))
        self.banks = nn.ParameterList(nn.Parameter(new_bank(c))
                                      for _ in range(config.num_styles))
        self.bank_pad = Pad(config.padding, BANK_KERNEL // 2)
        self.decoder = nn.ModuleList(_stages(c, [(DECODER_KERNEL, channels, 1) for channels
                                                 in config.decoder_channels], config))
        self.to_rgb = conv(config.decoder_channels[-1], 3, config.rgb_kernel,
                           padding=config.padding)
        #: Frozen parts (incremental training): kept in eval mode by train().
        self._frozen: list[nn.Module] = []

    # -- the Generator interface ------------------------------------------------------------
    @property
    def inputs(self) -> tuple[Input, ...]:  # type: ignore[override]
        """The photo and the weights of the K styles (style 0 alone by default)."""
        return (content_image(), setting("style_weights", [1.0] + [0.0] * (self.num_styles - 1),
                                         help="How much of each style (K values).", per_style=True))

    @property
    def num_styles(self) -> int:
        return len(self.banks)

    def make_inputs(self, image: torch.Tensor | None, *, size: tuple[int, int] | None = None,
                    batch: int = 1, generator: torch.Generator | None = None,
                    origin: tuple[int, int] | None = None,
                    style_weights: torch.Tensor | None = None,
                    reconstruct: bool = False) -> dict[str, torch.Tensor]:
        """The image and the style weights: ``style_weights`` as given (see the module
        docstring), by default style 0 alone; ``reconstruct=True``: the image alone (the
        auto-encoder branch). Nothing is random, so ``origin`` changes nothing."""
        if image is None:
            if size is None:
                raise no_image_given()
            image = torch.rand(batch, 3, *size, generator=generator).to(self._device())
        if reconstruct:
            return {"image": image}
        if style_weights is None:
            style_weights = self.one_hot(torch.zeros((), dtype=torch.long))
        return {"image": image,
                "style_weights": style_weights.to(device=image.device, dtype=torch.float32)}

    def one_hot(self, style_ids: torch.Tensor) -> torch.Tensor:
        """Weights choosing style ``style_ids`` (a number, or one per image) alone."""
        return F.one_hot(style_ids.long(), self.num_styles).float()

    # -- freezing --------------------------------------------------------------------------
    def freeze_all_but(self, banks: range | list[int]) -> None:
        """Train the banks ``banks`` only: everything else stops taking gradients, and its
        normalisation layers stay in eval mode (batch norm statistics do not move)."""
        keep = set(banks)
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        for index in keep:
            self.banks[index].requires_grad_(True)
        self._frozen = [self.encoder, self.decoder, self.to_rgb]
        self.train(self.training)

    def train(self, mode: bool = True) -> StyleBankNetwork:
        super().train(mode)
        for module in self._frozen:
            module.eval()
        return self

    def core_parameters(self) -> list[nn.Parameter]:
        """The encoder's and decoder's parameters (everything but the banks)."""
        banks = {id(p) for p in self.banks}
        return [p for p in self.parameters() if id(p) not in banks]

    # -- forward ---------------------------------------------------------------------------
    def encode(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4 or image.shape[1] != 3:
            raise StyxError(f"expected an N x 3 x H x W image, got shape {tuple(image.shape)}",
                            TENSOR_HINT)
        return self.encoder(image)

    def decode(self, features: torch.Tensor, sizes: list[tuple[int, int]]) -> torch.Tensor:
        """The image of ``features``; ``sizes`` are the encoder's (:func:`~styx.generators.blocks.halved_sizes`, three)."""
        x = features
        for stage, (height, width) in zip(self.decoder, (sizes[1], sizes[0])):
            x = upsampled_to(x, height, width)
            x = stage(x)
        return torch.sigmoid(self.to_rgb(x))

    def forward(self, image: torch.Tensor, style_weights: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Stylise ``image`` (N x 3 x H x W in [0, 1]) with ``style_weights`` (see the
        module docstring; None: the auto-encoder branch). Returns N x 3 x H x W in [0, 1]."""
        if image is None:
            raise no_image_given()
        features = self.encode(image)
        if style_weights is not None:
            features = self.apply_banks(features, style_weights)
        return self.decode(features, halved_sizes(image.shape[-2], image.shape[-1], 3))

    def apply_banks(self, features: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``features`` through the banks mixed by ``weights``, plus the unweighted rest."""
        k = self.num_styles
        styles_axis = {1: 0, 2: 1, 4: 1}.get(weights.dim())
        if styles_axis is None or weights.shape[styles_axis] != k:
            raise StyxError(f"style weights of shape {tuple(weights.shape)} for a model of "
                            f"{k} style(s)", f"give K, N x K or N x K x H x W weights, K = {k}")
        weights = weights.to(features.dtype)
        if weights.dim() == 2 and weights.shape[0] == 1:
            weights = weights[0]
        banks = torch.stack(list(self.banks)).to(features.dtype)
        padded = self.bank_pad(features)
        if weights.dim() == 1:  # one mix for the batch: one summed kernel
            kernel = torch.einsum("k,koihw->oihw", weights, banks)
            return F.conv2d(padded, kernel) + (1 - weights.sum()) * features
        if weights.dim() == 2:  # a mix per image: one grouped convolution
            n, c, h, w = features.shape
            if weights.shape[0] != n:
                raise StyxError(f"{weights.shape[0]} rows of style weights for {n} images",
                                "give one row per image, or one row for all")
            kernels = torch.einsum("nk,koihw->noihw", weights, banks).reshape(n * c, c,
                                                                               *banks.shape[-2:])
            mixed = F.conv2d(padded.reshape(1, n * c, *padded.shape[-2:]), kernels, groups=n)
            rest = (1 - weights.sum(1)).view(n, 1, 1, 1)
            return mixed.reshape(n, c, h, w) + rest * features
        # A mix per pixel: bank k on (mask_k x F), the banks in use as one convolution.
        masks = F.adaptive_avg_pool2d(weights, features.shape[-2:])
        used = torch.nonzero(masks.flatten(2).amax(dim=(0, 2)) > 0).flatten().tolist()
        rest = 1 - masks.sum(1, keepdim=True)
        if not used:
            return rest * features
        masked = torch.cat([self.bank_pad(masks[:, i:i + 1] * features) for i in used], 1)
        kernel = torch.cat([banks[i] for i in used], 1)
        return F.conv2d(masked, kernel) + rest * features

    def _device(self) -> torch.device:
        return self.to_rgb[1].weight.device
