"""Small trained-looking models of both feed-forward methods, saved once per test module,
and photos to run them on."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from pattern_images import write_image

STYLES = ["starry", "scream", "hat"]


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here on one intra-op thread (the root conftest's ``one_thread``)."""


def _perturbed(network: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every parameter and running statistic moved off its initial value, so a layer that
    an export got wrong shows in the output."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in [*network.parameters(), *network.buffers()]:
            if tensor.is_floating_point():
                noise = torch.rand(tensor.shape, generator=generator)
                tensor.add_(0.1 * (noise - 0.5) * (tensor.abs().mean() + 0.1))
                if tensor.ndim == 1 and tensor.min() >= 0:  # a running variance stays > 0
                    tensor.abs_().add_(0.05)
    return network.eval()


def save_texture_nets(folder: Path, **settings) -> Path:
    from styx.files.modelstore import save_model
    from styx.plugins.methods.texture_nets.generator import GeneratorConfig, TextureNetwork

    config = GeneratorConfig(**{"scales": 3, "channels": 4, **settings})
    network = _perturbed(TextureNetwork(config), 1)
    return save_model(network, {"method": "texture-nets", "architecture": network.architecture(),
                                "style": {"name": "starry"}}, path=folder, overwrite=True)


def save_stylebank(folder: Path, **settings) -> Path:
    from styx.files.modelstore import save_model
    from styx.plugins.methods.stylebank.network import NetworkConfig, StyleBankNetwork

    config = NetworkConfig(**{"width": 8, "num_styles": len(STYLES), **settings})
    network = _perturbed(StyleBankNetwork(config), 2)
    with torch.no_grad():
        for index, bank in enumerate(network.banks):  # styles that really differ
            bank.add_(0.3 * torch.randn(bank.shape, generator=torch.Generator().manual_seed(
                index)) / bank.shape[0] ** 0.5)
    return save_model(network, {"method": "stylebank", "architecture": network.architecture(),
                                "styles": [{"name": name} for name in STYLES]},
                      path=folder, overwrite=True)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Model folders: ``texture-nets``, ``stylebank``, and ``texture-nets-batch`` (batch
    norm) and ``stylebank-zero`` (zero padding)."""
    root = tmp_path_factory.mktemp("models")
    return {"texture-nets": save_texture_nets(root / "tn"),
            "texture-nets-batch": save_texture_nets(root / "tn-batch", norm="batch"),
            "stylebank": save_stylebank(root / "sb"),
            "stylebank-zero": save_stylebank(root / "sb-zero", padding="zero")}


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """A folder of three structured photos of different sizes (one odd)."""
    folder = tmp_path_factory.mktemp("photos")
    write_image(folder / "a.png", 48, 64, seed=1)
    write_image(folder / "b.png", 48, 64, seed=2)
    write_image(folder / "c.jpg", 37, 53, seed=3)
    return folder
