"""Tiny feed-forward models and photos for the tests of texture-nets, StyleBank, ONNX and
the model store (imported as ``from trained_models import ...``: pytest puts this folder, the
one of the root ``conftest.py``, on ``sys.path``).

The models are not trained: every weight is moved off its initial value, so a model
changes a photo's colours and structure the way a trained one does, and a promise that
breaks (a dropped alpha channel, a colour transfer that keeps the wrong channels, a layer an
export got wrong) shows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

STYLES = ["starry", "scream", "hat"]


def _perturbed(network: torch.nn.Module, seed: int, strength: float) -> torch.nn.Module:
    """Every parameter and running statistic moved off its initial value by up to
    ``strength / 2`` of its mean size."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in [*network.parameters(), *network.buffers()]:
            if tensor.is_floating_point():
                noise = torch.rand(tensor.shape, generator=generator)
                tensor.add_(strength * (noise - 0.5) * (tensor.abs().mean() + 0.1))
                if tensor.ndim == 1 and tensor.min() >= 0:  # running variances stay > 0
                    tensor.abs_().add_(0.05)
    return network.eval()


def save_texture_nets(folder: Path, *, strength: float = 0.3, **settings) -> Path:
    """A 3-scale, 4-channel texture network (``settings`` on top) stored in ``folder``."""
    from styx.files.modelstore import save_model
    from styx.plugins.methods.texture_nets.generator import GeneratorConfig, TextureNetwork

    network = _perturbed(TextureNetwork(GeneratorConfig(**{"scales": 3, "channels": 4,
                                                           **settings})), 1, strength)
    return save_model(network, {"method": "texture-nets",
                                "architecture": network.architecture(),
                                "texture": network.config.content_channels == 0,
                                "style": {"name": "starry.png", "size": [24, 40]}},
                      path=folder, overwrite=True)


def save_stylebank(folder: Path, *, strength: float = 0.3, bank_strength: float = 0.5,
                   **settings) -> Path:
    """A width-8 StyleBank network of the three :data:`STYLES` stored in ``folder``; its
    banks differ clearly from each other and from the identity (``bank_strength``)."""
    from styx.files.modelstore import save_model
    from styx.plugins.methods.stylebank.network import NetworkConfig, StyleBankNetwork

    network = _perturbed(StyleBankNetwork(NetworkConfig(**{"width": 8,
                                                           "num_styles": len(STYLES),
                                                           **settings})), 2, strength)
    with torch.no_grad():
        for index, bank in enumerate(network.banks):
            bank.add_(bank_strength * torch.randn(bank.shape, generator=torch.Generator().manual_seed(
                index)) / bank.shape[0] ** 0.5)
    styles = [{"name": name, "sha256": f"{index:x}" * 64, "size": [24, 40]}
              for index, name in enumerate(STYLES)]
    return save_model(network, {"method": "stylebank", "architecture": network.architecture(),
                                "styles": styles}, path=folder, overwrite=True)


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A colourful photo-like uint8 H x W x 3 image: smooth colour gradients and blobs,
    so that its chroma (what --preserve-color keeps) is far from grey."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for c in range(3):
        fx, fy, phase = rng.uniform(0.05, 0.3, 2).tolist() + [rng.uniform(0, 6)]
        channels.append(0.5 + 0.45 * np.sin(fx * x + fy * y + phase + 2 * c))
    image = np.stack(channels, -1)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def write_photo(path: Path, height: int, width: int, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(photo(height, width, seed)).save(path)
    return path


def write_rgba(path: Path, height: int, width: int, seed: int = 0) -> np.ndarray:
    """An RGBA PNG whose alpha is a gradient with a fully transparent and a fully opaque
    corner (every value matters); returns its alpha channel (H x W uint8)."""
    alpha = np.linspace(0, 255, height * width).reshape(height, width)
    alpha = np.round(alpha).astype(np.uint8)
    alpha[: height // 4, : width // 4] = 0
    alpha[-(height // 4):, -(width // 4):] = 255
    rgba = np.dstack([photo(height, width, seed), alpha])
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba, "RGBA").save(path)
    return alpha


def read_float(path: Path) -> np.ndarray:
    """An image file's RGB as H x W x 3 float64 in [0, 1]."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(np.float64) / 255.0


def read_alpha(path: Path) -> np.ndarray | None:
    """An image file's alpha channel (H x W uint8), or None if it has none."""
    with Image.open(path) as image:
        if image.mode not in ("RGBA", "LA"):
            return None
        return np.asarray(image.getchannel("A"))


def yiq(rgb: np.ndarray) -> np.ndarray:
    """H x W x 3 RGB as YIQ (the NTSC matrix styx's colour preservation uses)."""
    matrix = np.array([[0.299, 0.587, 0.114],
                       [0.595716, -0.274453, -0.321263],
                       [0.211456, -0.522591, 0.311135]])
    return rgb @ matrix.T


def run_model(styx_cli, method: str, model, *args: str):
    """``styx run METHOD --model MODEL --device cpu ARGS...``, which must succeed."""
    result = styx_cli("run", method, "--model", str(model), "--device", "cpu", *args)
    assert result.exit_code == 0, result.stderr
    return result


def save_adain(folder: Path, *, seed: int = 3, variant: str = "paper") -> Path:
    """An AdaIN network (VGG19 encoder with seeded random weights up to relu4_1, relu3_1
    for ``variant="fast"``) stored in ``folder``; its decoder is moved off its initial
    values and centred on grey, so its pictures follow the photo and the painting the way a
    trained model's do."""
    from styx.files.modelstore import save_model
    from styx.perceptual.weights import notes
    from styx.plugins.methods.adain.network import AdaINArchitecture, AdaINNetwork

    with notes(False), torch.random.fork_rng():
        torch.manual_seed(seed)  # the decoder's initial weights: the same in every process
        network = AdaINNetwork(AdaINArchitecture(variant=variant), weights="random",
                               seed=seed)
    _perturbed(network.decoder, seed, 0.3)
    with torch.no_grad():
        last = network.decoder[-1]
        last.weight.mul_(4.0)
        last.bias.fill_(0.5)
    return save_model(network, {"method": "adain", "architecture": network.architecture()},
                      path=folder, overwrite=True)


def saved_before_variants(folder: Path) -> Path:
    """The model in ``folder`` as a styx without architecture variants saved it: no
    ``variant`` in its metadata's architecture."""
    metadata_file = folder / "model.json"
    metadata = json.loads(metadata_file.read_text())
    del metadata["architecture"]["variant"]
    metadata_file.write_text(json.dumps(metadata))
    return folder
