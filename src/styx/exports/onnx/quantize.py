"""int8 files: static quantisation with onnxruntime's own tools, calibrated on photos.

The heaviest convolutions, the fewest that do :data:`HEAVY_SHARE` of the generator's
multiply-adds (texture-nets' 3x3 join convolutions at full and half resolution,
StyleBank's two decoder convolutions), are quantised: weights per output channel, inputs
per tensor, as signed int8 in QDQ form (QuantizeLinear/DequantizeLinear pairs that
onnxruntime fuses into int8 kernels), with ranges calibrated (min-max) on the
``--calibrate`` photos. Everything else stays float32:
the cheap convolutions of the coarse scales (quantising them gains no speed and costs
quality), the first and last convolutions (the photo in, the picture out), normalisation,
and convolutions whose weights are computed in the graph (StyleBank's summed banks).

Measured on three photos at 512 px (docs/onnx.md): quantising every convolution gave
29-30 dB against float32 on the default texture-nets generator (19-23 dB with unsigned
activations, onnxruntime's default: the generators' activations are signed); the heavy
ones alone give 43-51 dB on both methods.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from styx.core.errors import StyxError
from styx.exports.onnx.config import OnnxOptions

#: The share of a generator's convolution work that int8 takes on (the heaviest layers).
HEAVY_SHARE = 0.8


def calibration_feeds(metadata: dict[str, Any], config: OnnxOptions
                      ) -> list[dict[str, np.ndarray]]:
    """One input dict per calibration photo, each resized to ``--calibrate-size``."""
    from styx.inference.batch import readable_photos
    from styx.inference.onnxfile import fill_inputs, stand_in_styles

    photos = readable_photos(config.calibrate, limit=config.calibrate_count,
                             long_side=config.calibrate_size)
    if not photos:
        raise StyxError(f"no readable images in --calibrate {config.calibrate}",
                        "give a folder of photos like the ones the model will stylise")
    return [fill_inputs(metadata, rgb, seed=index, **stand_in_styles(metadata, photos, index))
            for index, rgb in enumerate(photos)]


def float_nodes(model: onnx.ModelProto, heavy: set[str] | None = None) -> list[str]:
    """The nodes kept in float (see the module docstring); ``heavy``: the generator's
    convolutions worth quantising (by module name), None: every one."""
    weights = {init.name for init in model.graph.initializer}
    convs = [node for node in model.graph.node if node.op_type == "Conv"]
    keep = [node.name for node in model.graph.node
            if node.op_type in ("InstanceNormalization", "BatchNormalization",
                                "GroupNormalization", "LayerNormalization")]
    keep += [node.name for node in convs if len(node.input) > 1 and node.input[1] not in weights]
    if convs:
        keep += [convs[0].name, convs[-1].name]
    if heavy is not None:
        keep += [node.name for node in convs if _module_of(node) not in heavy]
    return list(dict.fromkeys(keep))


def _module_of(node: onnx.NodeProto) -> str:
    """The generator's module a node was traced from, as ``named_modules()`` names it. The
    tracer names a node by its scopes, each either a child's name or a path that repeats its
    parent's: ``/generator/joins.4/joins.4.1/Conv`` -> ``joins.4.1``,
    ``/generator/encoder/stages.3/Conv`` -> ``encoder.stages.3``."""
    path, last = "", ""
    for part in node.name.split("/")[2:-1]:  # after "" and "generator", before the op
        if last and part.startswith(last + "."):
            path = path[:len(path) - len(last)] + part
        else:
            path = f"{path}.{part}" if path else part
        last = part
    return path


def heavy_convolutions(generator: Any, size: int, share: float | None = None) -> set[str]:
    """The fewest convolution modules of ``generator`` that do ``share`` of its
    multiply-adds on a ``size`` px square image, by name: quantising the cheap rest (the
    coarse scales of a pyramid) gains no speed and costs quality."""
    from torch import nn

    from styx.exports.onnx.graph import run_watched

    names = {module: name for name, module in generator.named_modules()}
    work: dict[str, int] = {}

    def count(module: nn.Conv2d, _inputs: Any, output: Any) -> None:
        kernel = module.kernel_size[0] * module.kernel_size[1]
        name = names[module]
        work[name] = work.get(name, 0) + output.numel() * kernel * \
            module.in_channels // module.groups

    run_watched(generator, size, nn.Conv2d, after=count)
    wanted = (HEAVY_SHARE if share is None else share) * sum(work.values())
    ranked = sorted(work.items(), key=lambda item: -item[1])
    done_before = itertools.accumulate((macs for _, macs in ranked), initial=0)
    return {name for (name, _), done in zip(ranked, done_before) if done < wanted}


def quantize_int8(model: onnx.ModelProto, metadata: dict[str, Any], config: OnnxOptions,
                  generator: Any = None) -> onnx.ModelProto:
    """``model`` quantised to int8 (see the module docstring); ``generator``: the network
    it was traced from, whose heavy convolutions alone are quantised (None: all)."""
    from onnxruntime import quantization as q

    feeds = iter(calibration_feeds(metadata, config))

    class Reader(q.CalibrationDataReader):
        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(feeds, None)

    named = _named_nodes(model)
    heavy = None if generator is None else heavy_convolutions(generator, config.calibrate_size)
    with tempfile.TemporaryDirectory(prefix="styx-int8-") as folder:
        source, target = Path(folder) / "float.onnx", Path(folder) / "int8.onnx"
        onnx.save(named, str(source))
        with _quiet_logging():  # its advice to pre-process is for classifiers, not styx's
            q.quantize_static(str(source), str(target), Reader(), quant_format=q.QuantFormat.QDQ,
                              per_channel=True, activation_type=q.QuantType.QInt8,
                              weight_type=q.QuantType.QInt8, op_types_to_quantize=["Conv"],
                              nodes_to_exclude=float_nodes(named, heavy),
                              calibrate_method=q.CalibrationMethod.MinMax)
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
