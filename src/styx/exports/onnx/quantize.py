"""int8 files: static quantisation with onnxruntime's own tools, calibrated on photos.

The heaviest convolutions, the fewest that do :data:`HEAVY_SHARE` of the generator's
multiply-adds (counted on the generator, whatever its architecture), are quantised in QDQ
form: weights int8 per output channel (7-bit range, ``reduce_range``: AVX2 CPUs without
VNNI add pairs of products in 16 bits, which 8-bit weights can overflow), activations
uint8 per tensor with a zero point, ranges calibrated (min-max) on the ``--calibrate``
photos. That
is U8S8, the pair onnxruntime's x86 int8 kernels (QLinearConv on VNNI) are fast for;
signed activations (S8S8) are not fused on x86 at all (a float convolution runs between
Quantize/Dequantize steps). Everything else stays float32: the cheap convolutions of the
coarse scales, the first and last convolutions (the photo in, the picture out),
normalisation, and convolutions whose weights are computed in the graph (StyleBank's
summed banks). Two rewrites follow (see :func:`quantize_before_moves` and
:func:`keep_float_layout`): padding, concatenation and nearest upsampling move uint8, and
onnxruntime's channels-last layout stays beside the int8 convolutions.

Measured on 2026-12-06 on a 2-core AMD EPYC (AVX-512 VNNI, AVX-VNNI, AVX-512 BF16),
onnxruntime 1.31.1, random weights, one 1024x768 photo, one thread (CPU seconds, the
machine being shared), PSNR against the fp32 file on three photos; "default session":
onnxruntime's own options; "styx infer": the session :mod:`styx.inference.onnxfile` opens,
without :data:`~styx.inference.onnxfile.INT8_CPU_OPTIMIZERS_OFF` (instance norms already
in their single-read form, :class:`~styx.generators.blocks.InstanceNorm`):

==================  ====  =============  =================  ============
method, variant     fp32  int8, default  int8, styx         PSNR
==================  ====  =============  =================  ============
texture-nets paper  0.87  0.71 (1.23x)   0.57 (1.54x)       40.8-40.9 dB
texture-nets fast   0.26  0.20 (1.29x)   0.17 (1.45-1.54x)  42.4-42.5 dB
StyleBank paper     1.14  0.92 (1.24x)   0.88 (1.30x)       40.8-41.9 dB
StyleBank fast      0.17  0.16 (1.09x)   0.14 (1.21x)       36.7-39.4 dB
==================  ====  =============  =================  ============

By onnxruntime's per-node profile (one thread) an int8 convolution is about 2x faster than
its float one (texture-nets' two full-size 3x3 joins: 140 ms float each, 66-73 int8; the
float ones run in onnxruntime's AVX-512 NCHWc kernels). StyleBank stays
short of 1.5x because of what stays float: its last 9x9 convolution to RGB alone is about
410 ms of a 1040 ms int8 run (32 channels to 3: onnxruntime's NCHWc kernel computes 16
output channels a block). Quantising it too gave 40.4-41.4 dB but 0.94 s instead of 0.87:
a 3-channel int8 convolution is no faster. Quantising every convolution but the first and last gave 29-30 dB
(texture-nets); a share of 0.95, 38 dB and no more speed.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from styx.core.errors import StyxError
from styx.exports.onnx.config import OnnxOptions

#: The share of a generator's convolution work that int8 takes on (the heaviest layers).
HEAVY_SHARE = 0.9

#: Operations that only move values, by the indices of their data inputs (None: every
#: input): quantising their float inputs instead of their output gives the same numbers, in
#: a quarter of the bytes. Pad and Resize qualify in the modes that copy (see _moves_only).
DATA_MOVES: dict[str, tuple[int, ...] | None] = {"Slice": (0,), "Concat": None, "Pad": (0,),
                                                 "Resize": (0,)}


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
        keep += [node.name for node in convs if module_of(node.name) not in heavy]
    return list(dict.fromkeys(keep))


def module_of(node_name: str) -> str:
    """The generator's module the node ``node_name`` was traced from, as ``named_modules()`` names it. The
    tracer names a node by its scopes, each either a child's name or a path that repeats its
    parent's: ``/generator/joins.4/joins.4.1/Conv`` -> ``joins.4.1``,
    ``/generator/encoder/stages.3/Conv`` -> ``encoder.stages.3``."""
    path, last = "", ""
    for part in node_name.split("/")[2:-1]:  # after "" and "generator", before the op
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
                              per_channel=True, reduce_range=True,
                              activation_type=q.QuantType.QUInt8,
                              weight_type=q.QuantType.QInt8, op_types_to_quantize=["Conv"],
                              nodes_to_exclude=float_nodes(named, heavy),
                              calibrate_method=q.CalibrationMethod.MinMax)
        quantized = onnx.load(str(target))
    quantize_before_moves(quantized)
    keep_float_layout(quantized)
    return quantized


def quantize_before_moves(model: onnx.ModelProto) -> None:
    """Move each QuantizeLinear above the operations that only move values into it (the
    slices and concatenations of circular padding, reflect padding, nearest upsampling,
    the join of two maps), so they move uint8 instead of float32: the same numbers."""
    for quantize in [node for node in model.graph.node if node.op_type == "QuantizeLinear"]:
        producers = {name: node for node in model.graph.node for name in node.output}
        consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for node in model.graph.node:
            for name in node.input:
                consumers[name].append(node)
        moves = _moves_into(quantize, producers, consumers)
        if moves:
            _quantize_inputs_of(model.graph, quantize, moves, producers)


def _moves_only(node: onnx.NodeProto) -> bool:
    """Whether ``node`` copies values without computing new ones."""
    if node.op_type not in DATA_MOVES:
        return False
    mode = _attributes(node).get("mode", b"")
    if node.op_type == "Pad":  # a constant pad would need its value quantised too
        return mode in (b"reflect", b"edge")
    return node.op_type != "Resize" or mode in (b"", b"nearest")


def _data_inputs(node: onnx.NodeProto) -> list[str]:
    indices = DATA_MOVES[node.op_type]
    return [name for index, name in enumerate(node.input)
            if name and (indices is None or index in indices)]


def _moves_into(quantize: onnx.NodeProto, producers: dict[str, onnx.NodeProto],
                consumers: dict[str, list[onnx.NodeProto]]) -> list[onnx.NodeProto]:
    """The value-moving nodes that feed ``quantize`` and nothing else (their float output
    is needed nowhere but through it); empty when its input is computed."""
    found: dict[str, onnx.NodeProto] = {}
    pending = [quantize.input[0]]
    while pending:
        node = producers.get(pending.pop())
        if node is not None and node.name not in found and _moves_only(node):
            found[node.name] = node
            pending += _data_inputs(node)
    while True:  # drop the nodes whose output something else reads, and what only they fed
        inside = set(found) | {quantize.name}
        reached = _reached_from(quantize, found, producers)
        kept = {name: node for name, node in found.items() if name in reached and all(
            reader.name in inside for reader in consumers[node.output[0]])}
        if kept.keys() == found.keys():
            return list(kept.values())
        found = kept


def _reached_from(quantize: onnx.NodeProto, nodes: dict[str, onnx.NodeProto],
                  producers: dict[str, onnx.NodeProto]) -> set[str]:
    """The names of ``nodes`` that feed ``quantize`` through ``nodes`` alone."""
    reached: set[str] = set()
    pending = [quantize.input[0]]
    while pending:
        node = producers.get(pending.pop())
        if node is not None and node.name in nodes and node.name not in reached:
            reached.add(node.name)
            pending += _data_inputs(node)
    return reached


def _quantize_inputs_of(graph: onnx.GraphProto, quantize: onnx.NodeProto,
                        moves: list[onnx.NodeProto],
                        producers: dict[str, onnx.NodeProto]) -> None:
    """Quantise the float tensors that enter ``moves`` (once each, with ``quantize``'s scale
    and zero point), let ``moves`` carry uint8, and drop ``quantize``."""
    inside = {node.name for node in moves}
    renamed = {node.output[0]: f"{node.output[0]}_uint8" for node in moves}
    renamed[quantize.input[0]] = quantize.output[0]
    quantized: dict[str, str] = {}
    order = list(graph.node)
    for node in sorted(moves, key=order.index):  # a tensor's first reader first
        for index, name in enumerate(node.input):
            if name not in _data_inputs(node):
                continue
            source = producers.get(name)
            if source is None or source.name not in inside:
                if name not in quantized:
                    quantized[name] = f"{name}_uint8"
                    step = onnx.helper.make_node(
                        "QuantizeLinear", [name, *quantize.input[1:]], [quantized[name]],
                        name=f"{quantize.name}/{name}", **_attributes(quantize))
                    order.insert(order.index(node), step)
                node.input[index] = quantized[name]
            else:
                node.input[index] = renamed[name]
        node.output[0] = renamed[node.output[0]]
    order.remove(quantize)
    del graph.node[:]
    graph.node.extend(order)


def _attributes(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def keep_float_layout(model: onnx.ModelProto) -> None:
    """Put a Reshape to the same shape (no copy) after every QuantizeLinear.

    onnxruntime runs its int8 convolutions channels-last and moves their Transposes down the
    graph as far as they go, into the float instance norms, whose reductions are then about
    20x slower (464 of the 1673 ms of a texture-nets run at 1024x768); a Reshape stops them
    on the uint8 tensor next to the convolution. (A Reshape after a DequantizeLinear does
    not stay: onnxruntime moves the DequantizeLinear past it.)"""
    graph = model.graph
    ranks = _ranks(model)
    order = []
    for node in graph.node:
        order.append(node)
        rank = ranks.get(node.output[0])
        if rank and node.op_type == "QuantizeLinear":
            order.append(_same_shape(graph, node, rank))
    del graph.node[:]
    graph.node.extend(order)


def _same_shape(graph: onnx.GraphProto, node: onnx.NodeProto, rank: int) -> onnx.NodeProto:
    """A Reshape of ``node``'s output to its own shape, which takes over the output's name."""
    same = f"styx_same_shape_{rank}"
    if same not in {init.name for init in graph.initializer}:
        graph.initializer.append(onnx.numpy_helper.from_array(np.zeros(rank, np.int64), same))
    kept = node.output[0]
    node.output[0] = f"{kept}_before_reshape"
    return onnx.helper.make_node("Reshape", [node.output[0], same], [kept],
                                 name=f"{node.name}/keep_layout")


def _ranks(model: onnx.ModelProto) -> dict[str, int]:
    """Every tensor's rank that shape inference finds."""
    inferred = onnx.shape_inference.infer_shapes(model)
    values = [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]
    return {value.name: len(value.type.tensor_type.shape.dim) for value in values
            if value.type.tensor_type.HasField("shape")}


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
