"""Small trained-looking models of both feed-forward methods, saved once per test module,
and photos to run them on."""

from __future__ import annotations

from pathlib import Path

import pytest
from pattern_images import write_image
from trained_models import save_stylebank, save_texture_nets


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here on one intra-op thread (the root conftest's ``one_thread``)."""


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Model folders: ``texture-nets``, ``stylebank``, and ``texture-nets-batch`` (batch
    norm) and ``stylebank-zero`` (zero padding)."""
    root = tmp_path_factory.mktemp("models")
    light = {"strength": 0.1}  # weights moved less than the promise tests' models
    banks = {**light, "bank_strength": 0.3}
    return {"texture-nets": save_texture_nets(root / "tn", **light),
            "texture-nets-batch": save_texture_nets(root / "tn-batch", norm="batch", **light),
            "stylebank": save_stylebank(root / "sb", **banks),
            "stylebank-zero": save_stylebank(root / "sb-zero", padding="zero", **banks)}


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """A folder of three structured photos of different sizes (one odd)."""
    folder = tmp_path_factory.mktemp("photos")
    write_image(folder / "a.png", 48, 64, seed=1)
    write_image(folder / "b.png", 48, 64, seed=2)
    write_image(folder / "c.jpg", 37, 53, seed=3)
    return folder
