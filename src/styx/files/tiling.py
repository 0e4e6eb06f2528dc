"""Stylising an image in overlapping tiles, so memory follows the tile, not the image.

``tiled(apply, image, tile=1024, overlap=64)`` cuts ``image`` (N x C x H x W, NumPy) into
tiles of at most ``tile`` pixels a side that overlap by ``overlap``, runs ``apply(tile,
(top, left))`` on each and blends the results with feathered weights: inside the overlap a
tile's weight falls linearly to almost zero at its edge, so neighbouring tiles fade into
one another and no seam shows. Tile corners lie on a grid of :data:`ALIGN` pixels, so the
generators' downsampling sees the same pixel grid as in one pass (the last tile of a row or
column runs to the image's edge, up to ``tile + ALIGN - 1`` pixels).

The same function serves ``styx infer`` (onnxruntime) and ``styx run`` (PyTorch, through
NumPy views of its tensors). No torch here.

Generators with instance normalisation would normalise each tile by its own statistics,
and neighbouring tiles would disagree in colour and contrast. Instead a tiled run first
takes every layer's statistics from a thumbnail of the whole image (its long side the
tile's) and normalises every tile by them ("thumbnail instance normalisation", Chen et al.,
*Towards Ultra-Resolution Neural Style Transfer via Thumbnail Instance Normalization*,
AAAI 2022): the tiles agree, and the result is close to a single pass over the whole
image (docs/onnx.md gives the numbers).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from styx.core.checks import ALIGN, MIN_TILE, check_tiling

__all__ = ["ALIGN", "DEFAULT_OVERLAP", "MIN_TILE", "check_tiling", "thumbnail", "tile_spans",
           "tiled"]

#: The overlap of tiles when ``--tile`` is given without ``--overlap``.
DEFAULT_OVERLAP = 64


def tile_spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """The tiles along one side of ``length`` pixels, as (start, end): as few ``tile``-long
    tiles as overlap by at least ``overlap``, spread evenly, their starts rounded down to
    :data:`ALIGN`; the last runs to the end (``tile`` to ``tile + ALIGN - 1`` long)."""
    if length <= tile:
        return [(0, length)]
    count = -(-(length - tile) // (tile - overlap - ALIGN)) + 1  # ALIGN: room to round down
    starts = [(index * (length - tile) // (count - 1)) // ALIGN * ALIGN
              for index in range(count)]
    return [(start, start + tile) for start in starts[:-1]] + [(starts[-1], length)]


def thumbnail(images: np.ndarray, tile: int) -> np.ndarray:
    """``images`` (N x C x H x W) shrunk to a long side of ``tile``: what a tiled run takes
    its normalisation statistics from (see the module docstring)."""
    from styx.files.image_arrays import resize_array

    return np.stack([resize_array(image.transpose(1, 2, 0), tile).transpose(2, 0, 1)
                     for image in images])


def _ramp(length: int, before: int, after: int) -> np.ndarray:
    """Weights along one side of a tile: rising over ``before`` pixels, falling over
    ``after`` pixels, 1 in between (never 0, so every pixel has some weight)."""
    weights = np.ones(length, dtype=np.float32)
    if before:
        weights[:before] = (np.arange(before, dtype=np.float32) + 0.5) / before
    if after:
        weights[length - after:] = np.minimum(
            weights[length - after:], ((np.arange(after, dtype=np.float32) + 0.5) / after)[::-1])
    return weights


def tiled(apply: Callable[[np.ndarray, tuple[int, int]], np.ndarray], image: np.ndarray, *,
          tile: int, overlap: int) -> np.ndarray:
    """``apply`` over tiles of ``image`` (N x C x H x W), blended (see the module
    docstring); an image no larger than ``tile`` is one call."""
    check_tiling(tile, overlap)
    height, width = image.shape[-2:]
    if height <= tile and width <= tile:
        return apply(image, (0, 0))
    rows, columns = tile_spans(height, tile, overlap), tile_spans(width, tile, overlap)
    total: np.ndarray | None = None
    weight = np.zeros((height, width), dtype=np.float32)
    for row, (top, bottom) in enumerate(rows):
        for column, (left, right) in enumerate(columns):
            out = apply(image[..., top:bottom, left:right], (top, left))
            if total is None:
                total = np.zeros((*out.shape[:-2], height, width), dtype=np.float32)
            # Feathered over what this tile shares with each neighbour, on those sides only.
            mask = np.outer(_ramp(bottom - top, *_shared(rows, row)),
                            _ramp(right - left, *_shared(columns, column)))
            total[..., top:bottom, left:right] += out * mask
            weight[top:bottom, left:right] += mask
    assert total is not None
    total /= weight
    return total


def _shared(spans: list[tuple[int, int]], index: int) -> tuple[int, int]:
    """How many pixels tile ``index`` shares with the tile before it and the one after."""
    start, end = spans[index]
    before = spans[index - 1][1] - start if index > 0 else 0
    after = end - spans[index + 1][0] if index + 1 < len(spans) else 0
    return max(0, before), max(0, after)
