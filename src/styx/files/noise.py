"""Noise that depends on where a pixel is, not on the order it is drawn in (no torch here).

``position_noise(seed, batch, channels, height, width, top=0, left=0)`` gives uniform
[0, 1) values, each a hash of (seed, channel, row, column) of its pixel in the whole
picture. A tile of a large image (``top``/``left``: its corner) so gets exactly the
noise the whole image would have there, in PyTorch (``styx run``) and in onnxruntime
(``styx infer``) alike: the same seed gives the same picture, tiled or not, with either
runtime. The hash is Chris Wellons' *lowbias32* on 32-bit words, vectorised in NumPy:
about 15 ns a value on one core.
"""

from __future__ import annotations

import numpy as np


def _mix(values: np.ndarray) -> np.ndarray:
    """lowbias32: a 32-bit integer hash with very low bias, in place on uint32 ``values``."""
    shifted = np.empty_like(values)
    for shift, factor in ((16, 0x7FEB352D), (15, 0x846CA68B), (16, None)):
        np.right_shift(values, np.uint32(shift), out=shifted)
        np.bitwise_xor(values, shifted, out=values)
        if factor is not None:
            np.multiply(values, np.uint32(factor), out=values)
    return values


def position_noise(seed: int, batch: int, channels: int, height: int, width: int, *,
                   top: int = 0, left: int = 0) -> np.ndarray:
    """Uniform [0, 1) noise of batch x channels x height x width for the pixels whose
    corner is at (``top``, ``left``) of the whole picture (see the module docstring).
    Every image of the batch gets the noise it would get alone: a photo's picture does not
    depend on the photos it runs with."""
    rows = np.arange(top, top + height, dtype=np.uint32)
    columns = np.arange(left, left + width, dtype=np.uint32) * np.uint32(0x27D4EB2F)
    # A word per (seed, channel) plane, hashed with each row; then the column.
    planes = (np.arange(channels, dtype=np.uint64)
              + np.uint64(int(seed) % 2**32) * np.uint64(0x10001)) & np.uint64(0xFFFFFFFF)
    plane_keys = _mix(planes.astype(np.uint32) ^ np.uint32(0x9E3779B9))
    row_keys = _mix(plane_keys[:, None] ^ _mix(rows ^ np.uint32(0xC2B2AE35))[None, :])
    values = _mix(np.add(row_keys[:, :, None], columns[None, None, :]))
    np.right_shift(values, np.uint32(8), out=values)
    noise = values.astype(np.float32)
    noise *= np.float32(1.0 / 2**24)
    return np.repeat(noise[None], batch, axis=0) if batch != 1 else noise[None]
