"""int8 files: static quantisation with onnxruntime's own tools, calibrated on photos.

The convolutions' weights are quantised per output channel and their inputs per tensor,
as signed int8 in QDQ form (QuantizeLinear/DequantizeLinear pairs that onnxruntime fuses
into int8 kernels), with ranges calibrated (min-max) on the ``--calibrate`` photos. What
quantises badly stays in float32: the normalisation layers (their statistics need the full
range), the first convolution (it sees the photo itself), the last (its output is the
picture) and convolutions whose weights are computed in the graph (StyleBank's summed
filter banks).

Measured on the texture-nets generator, on three photos at 512 px (docs/onnx.md): signed
activations give 31-33 dB against float32 where unsigned ones (onnxruntime's default) give
19-23 dB, since the generators' activations (LeakyReLU, normalised maps) are signed; keeping
the first convolution in float adds about 1 dB.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from styx.core.errors import StyxError
from styx.exports.onnx.config import OnnxOptions


def calibration_feeds(metadata: dict[str, Any], config: OnnxOptions
                      ) -> Iterator[dict[str, np.ndarray]]:
    """One input dict per calibration photo, each resized to ``--calibrate-size``."""
    from styx.core.imagefile import find_images
    from styx.inference.batch import load_photo
    from styx.inference.onnxfile import fill_inputs

    photos = find_images(config.calibrate)[:config.calibrate_count]
    if not photos:
        raise StyxError(f"no images found in --calibrate {config.calibrate}",
                        "give a folder of photos like the ones the model will stylise")
    for index, photo in enumerate(photos):
        rgb, _ = load_photo(photo, config.calibrate_size)
        yield fill_inputs(metadata, rgb, seed=index)


def float_nodes(model: onnx.ModelProto) -> list[str]:
    """The nodes kept in float (see the module docstring)."""
    weights = {init.name for init in model.graph.initializer}
    convs = [node for node in model.graph.node if node.op_type == "Conv"]
    keep = [node.name for node in model.graph.node
            if node.op_type in ("InstanceNormalization", "BatchNormalization",
                                "GroupNormalization", "LayerNormalization")]
    keep += [node.name for node in convs if len(node.input) > 1 and node.input[1] not in weights]
    if convs:
        keep += [convs[0].name, convs[-1].name]
    return keep


def quantize_int8(model: onnx.ModelProto, metadata: dict[str, Any], config: OnnxOptions
                  ) -> onnx.ModelProto:
    """``model`` quantised to int8 (see the module docstring)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    feeds = list(calibration_feeds(metadata, config))

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._feeds, None)

    named = _named_nodes(model)
    with tempfile.TemporaryDirectory(prefix="styx-int8-") as folder:
        source, target = Path(folder) / "float.onnx", Path(folder) / "int8.onnx"
        onnx.save(named, str(source))
        with _quiet_logging():  # its advice to pre-process is for classifiers, not styx's
            quantize_static(str(source), str(target), Reader(), quant_format=QuantFormat.QDQ,
                            per_channel=True, activation_type=QuantType.QInt8,
                            weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"],
                            nodes_to_exclude=float_nodes(named),
                            calibrate_method=CalibrationMethod.MinMax)
        return onnx.load(str(target))


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _named_nodes(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose every node has a unique name (the quantiser excludes nodes by name)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    seen: set[str] = set()
    for index, node in enumerate(copy.graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.op_type}_{index}"
        seen.add(node.name)
    return copy
