"""The temporal-consistency mode (``--temporal W``): each stylised frame blended with the
previous result, warped onto it by optical flow, where the flow is reliable.

A feed-forward generator stylises each frame alone, so small changes between frames (noise
in the camera, a slow pan moving the pixels under the style's strokes) change the strokes:
the result flickers. :class:`TemporalBlend` follows each pixel back to the previous frame
with OpenCV's DIS optical flow (computed on the source frames, in grey), checks the flow
both ways (a pixel whose forward and backward flow do not cancel is occluded, or the flow
is wrong there), and where it holds, mixes ``weight`` of the previous result, warped, into
the new one. Where it does not hold (a new object, an edge of the picture), the frame's own
stylisation stays. A still scene has zero flow everywhere: the result is the same as
without it. OpenCV (``opencv-python-headless``) is an optional extra:
``pip install "styx-nst[temporal]"``.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from styx.core.errors import StyxError

#: Flow vectors whose forward-backward round trip misses by more than this fraction of
#: their length (plus :data:`SLACK` pixels) are not followed.
TOLERANCE, SLACK = 0.05, 0.5


def opencv() -> Any:
    """OpenCV, or the StyxError that says how to get it."""
    try:
        import cv2
    except ImportError:
        raise StyxError("--temporal needs OpenCV's optical flow",
                        'pip install "styx-nst[temporal]" (opencv-python-headless)') from None
    return cv2


class TemporalBlend:
    """The blend of each result with the previous one (see the module docstring): call
    :meth:`__call__` with each source frame and its stylised frame, in order (H x W x 3
    uint8 both); :meth:`reset` forgets the previous frame (a cut, or a new segment)."""

    def __init__(self, weight: float) -> None:
        if not 0.0 < weight < 1.0:
            raise StyxError(f"bad --temporal {weight}",
                            "give a weight between 0 and 1, e.g. 0.6 (more: steadier)")
        cv2 = opencv()
        self.weight = float(weight)
        self._cv2 = cv2
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self._previous: tuple[np.ndarray, np.ndarray] | None = None
        self._grid: np.ndarray | None = None

    def reset(self) -> None:
        self._previous = None

    def __call__(self, source: np.ndarray, stylised: np.ndarray) -> np.ndarray:
        cv2 = self._cv2
        grey = cv2.cvtColor(source, cv2.COLOR_RGB2GRAY)
        previous, self._previous = self._previous, None
        if previous is None or previous[0].shape != grey.shape or \
                previous[1].shape != stylised.shape:
            self._previous = (grey, stylised)
            return stylised
        previous_grey, previous_result = previous
        if np.array_equal(previous_grey, grey):  # a still frame: nothing moved
            blended = self._mix(stylised, previous_result, None)
        else:
            backward = self._flow.calc(grey, previous_grey, None)  # now -> before
            forward = self._flow.calc(previous_grey, grey, None)   # before -> now
            reliable = self._reliable(backward, forward)
            warped = self._warp(previous_result, backward)
            blended = self._mix(stylised, warped, reliable)
        self._previous = (grey, blended)
        return blended

    def _positions(self, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        height, width = flow.shape[:2]
        if self._grid is None or self._grid.shape[1:] != (height, width):
            rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
            self._grid = np.stack([columns, rows])
        return self._grid[0] + flow[..., 0], self._grid[1] + flow[..., 1]

    def _warp(self, image: np.ndarray, flow: np.ndarray) -> np.ndarray:
        x, y = self._positions(flow)
        return self._cv2.remap(image, x, y, self._cv2.INTER_LINEAR,
                               borderMode=self._cv2.BORDER_REPLICATE)

    def _reliable(self, backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
        """Where following ``backward`` then ``forward`` comes back (within the tolerance)
        and stays inside the picture: H x W float32 in {0, 1}, softened at its edges."""
        x, y = self._positions(backward)
        height, width = backward.shape[:2]
        inside = (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
        returned = self._cv2.remap(forward, x, y, self._cv2.INTER_LINEAR,
                                   borderMode=self._cv2.BORDER_REPLICATE)
        miss = np.sum((backward + returned) ** 2, axis=2)
        size = np.sum(backward ** 2, axis=2) + np.sum(returned ** 2, axis=2)
        mask = (inside & (miss <= TOLERANCE * size + SLACK)).astype(np.float32)
        return self._cv2.blur(mask, (3, 3))

    def _mix(self, stylised: np.ndarray, before: np.ndarray,
             reliable: np.ndarray | None) -> np.ndarray:
        weight = np.float32(self.weight) if reliable is None else \
            (np.float32(self.weight) * reliable)[..., None]
        mixed = stylised.astype(np.float32) + weight * (before.astype(np.float32) -
                                                       stylised.astype(np.float32))
        return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def flicker(frames: list[np.ndarray]) -> float:
    """The flicker of a result: the mean absolute difference between consecutive frames,
    in 0-255 steps (0 for identical frames)."""
    if len(frames) < 2:
        return 0.0
    total = sum(float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))
                for a, b in itertools.pairwise(frames))
    return total / (len(frames) - 1)
