"""Noise by pixel position: what makes tiles and exported files agree with one pass."""

from __future__ import annotations

import numpy as np

from styx.files.noise import position_noise


def test_a_tile_gets_the_whole_images_noise_there():
    whole = position_noise(7, 2, 5, 90, 130)
    tile = position_noise(7, 2, 5, 40, 50, top=33, left=64)
    assert np.array_equal(tile, whole[..., 33:73, 64:114])


def test_each_image_of_a_batch_gets_the_noise_it_would_get_alone():
    batch = position_noise(5, 3, 2, 20, 30)
    alone = position_noise(5, 1, 2, 20, 30)
    assert all(np.array_equal(image, alone[0]) for image in batch)


def test_it_is_uniform_and_independent_across_pixels_channels_and_seeds():
    noise = position_noise(0, 1, 3, 256, 256)
    assert noise.dtype == np.float32 and noise.shape == (1, 3, 256, 256)
    assert noise.min() >= 0 and noise.max() < 1
    assert abs(noise.mean() - 0.5) < 0.005 and abs(noise.std() - 12 ** -0.5) < 0.005
    histogram, _ = np.histogram(noise, bins=10, range=(0, 1))
    assert histogram.min() > 0.97 * histogram.mean()
    flat = noise[0, 0]
    for a, b in [(flat[:, :-1], flat[:, 1:]), (flat[:-1], flat[1:]),
                 (noise[0, 0], noise[0, 1]), (noise[0, 0], noise[0, 2]),
                 (noise[0, 0], position_noise(1, 1, 1, 256, 256)[0, 0])]:
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.02


def test_the_same_seed_gives_the_same_noise():
    assert np.array_equal(position_noise(3, 1, 2, 8, 9), position_noise(3, 1, 2, 8, 9))
    assert not np.array_equal(position_noise(3, 1, 2, 8, 9), position_noise(4, 1, 2, 8, 9))
