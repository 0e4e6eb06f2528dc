"""Structured test images (stripes, blobs and noise) that the method tests train on.

Imported by the tests as ``from pattern_images import write_image`` (pytest puts this
folder, the one of the root ``conftest.py``, on ``sys.path``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def pattern(height: int, width: int, seed: int) -> np.ndarray:
    """A structured RGB image (stripes + blobs + noise), uint8 H x W x 3."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for c in range(3):
        fx, fy, phase = rng.uniform(0.1, 0.6), rng.uniform(0.1, 0.6), rng.uniform(0, 6)
        channels.append(0.5 + 0.4 * np.sin(fx * x + fy * y + phase + c))
    image = np.stack(channels, -1) + rng.normal(0, 0.05, (height, width, 3))
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def write_image(path: Path, height: int, width: int, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pattern(height, width, seed)).save(path)
    return path


def read_rgb(path: Path) -> np.ndarray:
    """An image file as H x W x 3 float64 RGB in [0, 1]."""
    return np.asarray(Image.open(path).convert("RGB")).astype(np.float64) / 255.0
