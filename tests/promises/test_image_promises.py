"""docs/images.md promises no other test held: a broken EXIF block is ignored rather than
fatal; the sample images are the documented 512 x 384 photo and 512 x 320 painting."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from styx.files.image_arrays import sample_image
from styx.runtime.image_tensors import read_image


def test_a_broken_exif_block_is_ignored(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    path = tmp_path / "broken-exif.jpg"
    Image.fromarray(pixels).save(path, quality=95, exif=b"Exif\x00\x00II*\x00\xff\xff\xff")
    with Image.open(path) as image:  # the block is really there, and really broken
        assert image.info.get("exif", b"").startswith(b"Exif")
    loaded = read_image(path)
    assert loaded.size == (12, 20) and loaded.alpha is None
    assert abs(float(loaded.rgb.mean()) - pixels.mean() / 255) < 0.02


@pytest.mark.parametrize("kind, size", [("content", (384, 512)), ("style", (320, 512))])
def test_the_sample_images_have_the_documented_sizes(kind, size):
    assert read_image(sample_image(kind)).size == size  # (height, width)
