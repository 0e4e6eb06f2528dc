"""A trained generator as an ONNX graph: dynamic sizes, metadata, float16, and the checks.

The graph is traced through the core generator interface alone, so every feed-forward
method exports the same way:

* its inputs are the generator's declared inputs (:mod:`styx.core.inputs`: ``image`` N x
  3 x H x W float32 in [0, 1], texture-nets' ``noise``, StyleBank's ``style_weights``,
  AdaIN's ``style`` image), its output ``output`` (N x 3 x H x W float32 in [0, 1]); the
  metadata records each input's kind, which is what ``styx infer`` fills it by;
* a content or noise input's axes are dynamic where the generator's example inputs of two
  sizes and batches differ (batch, height, width); a style image has a height and width
  of its own (``style_height``, ``style_width``); settings (StyleBank's K style weights)
  stay fixed;
* random inputs (texture-nets' noise) are inputs of the graph, never random nodes inside
  it, so a file given the same inputs always gives the same pixels; ``styx infer`` draws
  them from its ``--seed``;
* the smallest image the graph takes is found by probing the network's padding layers
  (reflect padding needs a map wider than the pad) and recorded in the metadata;
* a generator with instance norms gets two inputs and an output more, for tiling by a
  thumbnail's statistics (see :class:`GraphModule` and :mod:`styx.files.tiling`).

Circular padding and instance normalisation are written by styx's own layers
(:mod:`styx.generators.blocks`), which the exporter translates exactly; ``--check`` proves
it on every file. Padding becomes slices and concatenations. Every instance norm is traced
with its statistics kept and given (for tiling), in the passes over the map onnxruntime
runs fastest (:class:`~styx.generators.blocks.InstanceNorm`): the ReduceMeans of the map
and of its square, and one BatchNormalization of the map seen as 1 x NC x H x W with the
per-image scale and shift, where the centred formulation took six full-size operations
(texture-nets at 1024x768: its 43 norms about 40% faster in onnxruntime).

The graph is kept small, as opening an onnxruntime session costs about 0.15-0.3 ms a node:
styx's layers export without shape arithmetic (an instance norm in 25 nodes, a reflect or
zero padding in one) and every Constant node becomes an initializer
(:func:`constants_to_initializers`; texture-nets "fast": 4134 nodes before, 1195 after).
"""

from __future__ import annotations

import bisect
import copy
import io
import json
import warnings
from datetime import datetime, timezone
from typing import Any

import numpy as np
import onnx
import onnx.numpy_helper
import torch
from torch import nn

from styx.core import __version__
from styx.core.errors import StyxError
from styx.core.inputs import SETTING, STATISTICS, STYLE
from styx.exports.onnx.config import FAST_ON, OnnxOptions
from styx.generators.blocks import Pad, given_statistics, instance_norms, kept_statistics
from styx.generators.generator import Generator
from styx.generators.models import Model
from styx.inference.onnxfile import (
    BLEND_INPUT,
    FILLS,
    METADATA_KEY,
    OUTPUT_NAME,
    STATISTICS_INPUT,
    STATISTICS_OUTPUT,
)

#: The size the graph is traced at (any size works; this one has no thin maps).
TRACE_SIZE = 64


class GraphModule(nn.Module):
    """``generator`` with positional inputs in ``names`` order, as the tracer wants it;
    ``half``: computes in float16 between float32 inputs and outputs.

    A generator with instance norms takes two more inputs and gives one more output, for
    tiling: ``norm_statistics`` (N x S x 2, every layer's mean and variance in a row) and
    ``norm_blend`` (1 value): how much of the given statistics each layer uses instead of
    its own (0 for a whole image, 1 for a tile normalised by its thumbnail's); and
    ``kept_statistics``, the statistics the layers computed (a thumbnail's, for its tiles).
    """

    def __init__(self, generator: Generator, names: list[str], *, half: bool = False) -> None:
        super().__init__()
        self.generator = generator.half() if half else generator
        self.names = names
        self.half = half
        self.norm_channels = [layer.num_channels for layer in instance_norms(generator)]

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        if not self.norm_channels:
            return self._run(inputs)
        *inputs, given, blend = inputs
        pieces = list(torch.split(given, self.norm_channels, dim=1))
        with kept_statistics(self.generator) as layers, \
                given_statistics(self.generator, pieces, blend):
            out = self._run(inputs)
        kept = torch.cat([layer.kept for layer in layers], dim=1)
        # (.float() of a float32 tensor traces as a Cast node)
        return out, kept if kept.dtype == torch.float32 else kept.float()

    def _run(self, inputs: Any) -> torch.Tensor:
        named = dict(zip(self.names, inputs))
        if self.half:
            named = {name: value.half() for name, value in named.items()}
        out = self.generator(**named)
        return out.float() if self.half else out


def float_copy(generator: Generator) -> Generator:
    """A float32 CPU copy in eval mode (the model's own generator is left as it was)."""
    return copy.deepcopy(generator).float().cpu().eval()


def trace(generator: Generator, names: list[str], axes: dict[str, dict[int, str]],
          config: OnnxOptions) -> onnx.ModelProto:
    """The ONNX graph of ``generator`` (inputs ``names``, dynamic ``axes``)."""
    graph = GraphModule(float_copy(generator), names, half=config.fp16).eval()
    example = generator.example_inputs(1, TRACE_SIZE, TRACE_SIZE)
    arguments = tuple(example[name] for name in names)
    per_pixel = [item.name for item in generator.declared_inputs() if item.per_pixel]
    output_axes = {OUTPUT_NAME: axes.get(per_pixel[0] if per_pixel else "",
                                         {0: "batch", 2: "height", 3: "width"})}
    input_names, output_names = list(names), [OUTPUT_NAME]
    if graph.norm_channels:
        arguments += (torch.zeros(1, sum(graph.norm_channels), 2), torch.zeros(1))
        input_names += [STATISTICS_INPUT, BLEND_INPUT]
        output_names.append(STATISTICS_OUTPUT)
        axes = {**axes, STATISTICS_INPUT: {0: "batch"}}
        output_axes[STATISTICS_OUTPUT] = {0: "batch"}
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The tracer warns about every Python int taken from a shape; the sizes it records
        # are the dynamic ones, as the check at three sizes proves.
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(graph, arguments, buffer, dynamo=False,
                              opset_version=config.opset, input_names=input_names,
                              output_names=output_names, dynamic_axes={**axes, **output_axes},
                              do_constant_folding=True)
        except Exception as error:  # noqa: BLE001 - any exporter failure is one line
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise StyxError(f"cannot export {type(generator).__name__} to ONNX opset "
                            f"{config.opset}: {type(error).__name__}: {first}",
                            f"try another --opset ({config.opset + 1}?)") from None
    proto = onnx.load_from_string(buffer.getvalue())
    ignored = [name for name in names if name not in {i.name for i in proto.graph.input}]
    if ignored:  # the tracer drops inputs that no operation reads
        raise StyxError(f"{type(generator).__name__} ignores its input(s) "
                        f"{', '.join(map(repr, ignored))}: its output does not depend on them",
                        "a generator must use every input it declares (a plugin bug)")
    _drop_initializer_aliases(proto)
    constants_to_initializers(proto)
    if not config.quantize:  # int8 quantisation needs them (InstanceNorm._exported)
        _drop_float_casts(proto)
    return proto


def _drop_float_casts(proto: onnx.ModelProto) -> None:
    """Remove the Casts to float32 of tensors that are float32 already (their readers read
    the input instead)."""
    graph = proto.graph
    inferred = onnx.shape_inference.infer_shapes(proto).graph
    types = {value.name: value.type.tensor_type.elem_type
             for value in [*inferred.value_info, *inferred.input, *inferred.output]}
    types.update({init.name: init.data_type for init in graph.initializer})
    outputs = {output.name for output in graph.output}
    alias = {node.output[0]: node.input[0] for node in graph.node
             if node.op_type == "Cast" and node.output[0] not in outputs
             and types.get(node.input[0]) == onnx.TensorProto.FLOAT
             and any(a.name == "to" and a.i == onnx.TensorProto.FLOAT for a in node.attribute)}
    kept = [node for node in graph.node if node.output[0] not in alias or node.op_type != "Cast"]
    for node in kept:
        for index, name in enumerate(node.input):
            while name in alias:
                name = alias[name]
            node.input[index] = name
    del graph.node[:]
    graph.node.extend(kept)


def constants_to_initializers(proto: onnx.ModelProto) -> None:
    """Make every Constant node of the main graph an initializer, one for each distinct
    value (the exporter leaves the small ones as nodes: a Slice's bounds, a Reshape's
    shape, a scalar), and drop the initializers no node reads: opening a session costs
    about as much per node as a small graph's whole run. The other nodes keep their names
    (int8 quantisation finds its convolutions by them)."""
    graph = proto.graph
    outputs = {output.name for output in graph.output}
    kept, renamed, first = [], {}, {}
    for node in graph.node:
        value = _constant_value(node)
        if value is None or node.output[0] in outputs:
            kept.append(node)
            continue
        key = value.SerializeToString(deterministic=True)
        if key in first:
            renamed[node.output[0]] = first[key]
            continue
        first[key] = value.name = node.output[0]
        graph.initializer.append(value)
    for node in kept:
        for index, name in enumerate(node.input):
            if name in renamed:
                node.input[index] = renamed[name]
    del graph.node[:]
    graph.node.extend(kept)
    read = outputs | {name for node in _all_nodes(graph) for name in node.input}
    used = [init for init in graph.initializer if init.name in read]
    if len(used) < len(graph.initializer):
        del graph.initializer[:]
        graph.initializer.extend(used)


def _constant_value(node: onnx.NodeProto) -> onnx.TensorProto | None:
    """The tensor (unnamed) a Constant ``node`` holds; None: another node, or a Constant
    of strings or a sparse tensor."""
    if node.op_type != "Constant" or node.domain not in ("", "ai.onnx") or \
            len(node.attribute) != 1:
        return None
    attribute = node.attribute[0]
    if attribute.name == "value":
        value = onnx.TensorProto()
        value.CopyFrom(attribute.t)
        value.name = ""
        return value
    dtypes = {"value_float": np.float32, "value_floats": np.float32,
              "value_int": np.int64, "value_ints": np.int64}
    if attribute.name not in dtypes:
        return None
    array = np.array(onnx.helper.get_attribute_value(attribute), dtype=dtypes[attribute.name])
    return onnx.numpy_helper.from_array(array)


def _all_nodes(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """The nodes of ``graph`` and of its subgraphs (an If's branches, a Loop's body)."""
    nodes = []
    for node in graph.node:
        nodes.append(node)
        for attribute in node.attribute:
            subgraphs = [attribute.g] if attribute.HasField("g") else []
            for sub in [*subgraphs, *attribute.graphs]:
                nodes.extend(_all_nodes(sub))
    return nodes


def _drop_initializer_aliases(proto: onnx.ModelProto) -> None:
    """Remove the Identity nodes the exporter adds for weights of equal values (it keeps
    one copy and aliases the others): onnxruntime's graph optimiser loses such an alias
    inside instance norms written out as reductions, and the file would not load."""
    weights = {init.name for init in proto.graph.initializer}
    outputs = {output.name for output in proto.graph.output}
    alias = {node.output[0]: node.input[0] for node in proto.graph.node
             if node.op_type == "Identity" and node.input[0] in weights
             and node.output[0] not in outputs}
    kept = [node for node in proto.graph.node if node.output[0] not in alias]
    for node in kept:
        for index, name in enumerate(node.input):
            if name in alias:
                node.input[index] = alias[name]
    del proto.graph.node[:]
    proto.graph.node.extend(kept)


def dynamic_axes(generator: Generator) -> dict[str, dict[int, str]]:
    """The dynamic axes of each input: a style image's height and width (its own); for
    content and noise, those that differ between example inputs of 1 x 64 x 64 and
    2 x 72 x 80 (batch, height, width)."""
    small = generator.example_inputs(1, TRACE_SIZE, TRACE_SIZE)
    large = generator.example_inputs(2, TRACE_SIZE + 8, TRACE_SIZE + 16)
    labels = {(1, 2): "batch", (TRACE_SIZE, TRACE_SIZE + 8): "height",
              (TRACE_SIZE, TRACE_SIZE + 16): "width"}
    axes: dict[str, dict[int, str]] = {}
    for item in generator.declared_inputs():
        name = item.name
        if item.kind == STYLE:
            axes[name] = {2: f"{name}_height", 3: f"{name}_width"}
            continue
        if not item.per_pixel:
            continue
        value, other = small[name], large[name]
        changed = {axis: labels.get((a, b), f"{name}_{axis}")
                   for axis, (a, b) in enumerate(zip(value.shape, other.shape)) if a != b}
        if changed:
            axes[name] = changed
    return axes


def smallest_size(generator: Generator, *, largest: int = TRACE_SIZE) -> int:
    """The smallest side (in pixels) of an image the traced graph computes correctly: below
    it some reflect or circular padding meets a map too thin for it, which styx's layers
    handle by falling back and a traced graph cannot."""
    def too_thin(size: int) -> bool:
        thin: list[bool] = []

        def probe(module: Pad, args: tuple[torch.Tensor, ...]) -> None:
            side = min(args[0].shape[-2:])
            limit = {"reflect": module.amount, "circular": module.amount - 1}.get(module.mode)
            thin.append(limit is not None and side <= limit)

        try:
            run_watched(generator, size, Pad, before=probe)
        except RuntimeError:  # padding of its own (AdaIN's photo) too wide for this size
            return True
        return any(thin)

    if too_thin(largest):
        raise StyxError(f"{type(generator).__name__} pads more than a {largest} px image "
                        "allows", "a generator's padding must fit a 64 px image")
    # The first size from 1 that fits (too_thin holds below it, not from it on).
    return 1 + bisect.bisect_left(range(1, largest), True, key=lambda size: not too_thin(size))


def run_watched(generator: Generator, size: int, kind: type[nn.Module], *,
                before: Any = None, after: Any = None) -> None:
    """Run ``generator`` once on its example inputs of ``size`` x ``size`` with
    ``before(module, inputs)`` and ``after(module, inputs, output)`` hooked on every module
    of class ``kind`` (the hooks are removed afterwards)."""
    hooks = []
    for module in generator.modules():
        if isinstance(module, kind):
            if before is not None:
                hooks.append(module.register_forward_pre_hook(before))
            if after is not None:
                hooks.append(module.register_forward_hook(after))
    try:
        with torch.no_grad():
            generator(**generator.example_inputs(1, size, size))
    finally:
        for hook in hooks:
            hook.remove()


def file_metadata(model: Model, config: OnnxOptions, names: list[str],
                  axes: dict[str, dict[int, str]], smallest: int) -> dict[str, Any]:
    """What the file carries about itself (read back by :mod:`styx.inference.onnxfile`)."""
    example = model.generator.example_inputs(1, TRACE_SIZE, TRACE_SIZE)
    declared = {item.name: item for item in model.generator.declared_inputs()}
    inputs = {}
    for name in names:
        value, item = example[name], declared[name]
        shape = [axes.get(name, {}).get(axis, int(size)) for axis, size in enumerate(value.shape)]
        entry: dict[str, Any] = {"kind": item.kind, "shape": shape, "fill": FILLS[item.kind]}
        if item.kind == SETTING:
            entry["default"] = value.flatten().tolist()
            if item.per_style:
                entry["per_style"] = True
        if item.help:
            entry["help"] = item.help
        inputs[name] = entry
    channels = sum(layer.num_channels for layer in instance_norms(model.generator))
    if channels:
        inputs[STATISTICS_INPUT] = {"kind": STATISTICS, "shape": ["batch", channels, 2],
                                    "fill": "zeros"}
        inputs[BLEND_INPUT] = {"kind": STATISTICS, "shape": [1], "fill": "default",
                               "default": [0.0]}
    source = model.metadata
    return {
        "format": 1,
        "styx_version": __version__,
        "method": model.method,
        "model": model.name,
        "styles": model.styles,
        "precision": config.precision,
        "fast_on": FAST_ON[config.precision],
        "opset": config.opset,
        "inputs": inputs,
        "smallest_size": smallest,
        "architecture": source.get("architecture"),
        "training": source.get("training"),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def attach(proto: onnx.ModelProto, metadata: dict[str, Any]) -> None:
    proto.producer_name = "styx"
    proto.producer_version = __version__
    proto.doc_string = (f"styx {metadata['method']} generator {metadata['model']!r} "
                        f"({metadata['precision']}); run it with 'styx infer'")
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata)
