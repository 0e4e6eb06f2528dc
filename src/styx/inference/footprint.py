"""What a ``styx infer`` run will take in memory, known before any photo is decoded.

:func:`memory_need` gives a :class:`~styx.runtime.memory.MemoryNeed` for a group of photos
of one size (:class:`styx.inference.batch.Group`), in three parts:

* ``weights``: the graph's initializers;
* ``network``: onnxruntime's CPU memory for the run. A shape pass over the graph
  onnxruntime runs (its optimised graph, which the session saves when opened with
  ``keep_graph``; else the file's) gives every tensor's size at the concrete input shapes:
  ONNX's own per-node shape inference (:func:`onnx.shape_inference.infer_node_outputs`),
  small shape tensors folded with NumPy so that Pad/Slice/Resize get their sizes, and
  onnxruntime's NCHWc layout nodes worked out here. Each tensor lives from its producer to
  its last consumer, in the graph's order (views, e.g. Reshape, share their input's
  buffer; graph outputs live on, as the NumPy arrays onnxruntime hands back share its
  buffers). Those allocations go through a model of onnxruntime's CPU arena (:class:`Arena`,
  a best-fit allocator over regions that double in size, which never returns memory): the
  estimate is the memory the arena touches, which is what the process holds. A tiled run
  replays the thumbnail and every tile through the same arena.
* ``images``: the run's own arrays, phase by phase: decoding the largest photo of the
  group at its file size (Pillow's pixels, float32 copies, the resize), the float32
  photos, the batch and its noise inputs while the network runs, and writing each output
  (uint8 and float32 copies); a tiled run adds the full-size blend and weight arrays. The
  bytes per pixel below are counted from :mod:`styx.files.image_arrays`, :mod:`.batch`,
  :mod:`.onnxfile`, :mod:`styx.files.noise` and :mod:`styx.files.tiling`.

The peak is the largest of the phases, each with everything alive during it.
``benchmarks/memory_infer.py`` compares the estimate with measured peaks (docs/onnx.md).
``onnx`` is imported only inside the estimate (it takes half a second to import), and
the estimate is remembered (:func:`remembered_footprint`): a size seen before, or a new
size that a bound from the largest size seen clears, imports no ``onnx``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from styx.core.inputs import CONTENT, NOISE
from styx.inference.onnxfile import ARENA_FIRST_REGION
from styx.runtime.memory import MemoryNeed, available_bytes

if TYPE_CHECKING:
    from styx.inference.batch import Group, InferSettings
    from styx.inference.onnxfile import OnnxGenerator

#: Bytes per pixel of the arrays a photo passes through, counted from the code (float32:
#: 4 bytes a value, 3 values a pixel). Decoding at the file's size: Pillow's upright copy
#: (4), its RGB conversion (4) and the uint8 array of it (3), the float32 array and its
#: scaled copy (24); with an alpha channel, its RGBA copies and their slices (16 more).
DECODE = 35
DECODE_ALPHA = 16
#: Resizing (``--long-side``): one channel plane twice (8) beside the decoded float32 (12),
#: at the file's size; the stacked, clipped and cast results at the run's size (36).
RESIZE_SOURCE, RESIZE_TARGET = 20, 36
#: A decoded photo held for its run: 1 x 3 x H x W float32, and its transposed source
#: while that copy is made (24 at most); alpha 4 more.
PHOTO, PHOTO_ALPHA = 12, 4
#: Writing one output: the clipped and scaled float32 copies (24), the uint8 array (3),
#: Pillow's image (4), the finite check (3); alpha adds its uint8 copies (4).
WRITE, WRITE_ALPHA = 34, 4
#: A noise input's values (float32) and the uint32 words it is hashed from (8 a value).
NOISE_WORK = 8
#: onnxruntime's arena: the first region (styx's, :data:`~styx.inference.onnxfile.
#: ARENA_FIRST_REGION`), the growth cap of doubling regions, the split limit and the
#: rounding (onnxruntime's BFCArena defaults).
FIRST_REGION, DOUBLING_CAP, MAX_DEAD, ROUND = ARENA_FIRST_REGION, 2**30, 128 * 2**20, 256
#: Ops whose output is a view of their first input (no allocation in onnxruntime).
VIEWS = frozenset({"Reshape", "Squeeze", "Unsqueeze", "Identity", "Flatten"})
#: The NCHWc block onnxruntime uses when the graph does not show it.
DEFAULT_BLOCK = 8
_NCHWC = "com.microsoft.nchwc"


# -- the graph -------------------------------------------------------------------------------
@dataclass
class Network:
    """The graph a session runs, prepared once for every shape pass."""

    nodes: list[Any]  # NodeProto, in topological order
    attrs: list[dict[str, Any]]
    initializers: dict[str, tuple[tuple[int, ...], int]]  # shape, ONNX element type
    values: dict[str, np.ndarray]  # the small initializers (shape tensors)
    input_types: dict[str, int]
    outputs: tuple[str, ...]
    opset: int
    weight_bytes: int
    block: int
    #: Events of a run, by input shapes (see :func:`run_events`).
    cache: dict[Any, tuple[list[tuple[int, int]], list[int], int]] = field(default_factory=dict)


def network_of(generator: OnnxGenerator) -> Network:
    """The graph ``generator``'s session runs (its optimised graph when the session kept
    it), prepared once and kept on the generator."""
    known = generator.__dict__.get("_footprint")
    if known is None:
        import onnx

        model = onnx.load(str(generator.graph_file or generator.path),
                          load_external_data=False)
        known = generator.__dict__["_footprint"] = prepare(model)
    return known


def prepare(model: Any) -> Network:
    """A :class:`Network` of the ONNX ``model`` (a ModelProto)."""
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers, values, weight_bytes = {}, {}, 0
    for tensor in graph.initializer:
        shape = tuple(int(d) for d in tensor.dims)
        initializers[tensor.name] = (shape, tensor.data_type)
        weight_bytes += math.prod(shape) * _itemsize(tensor.data_type)
        if math.prod(shape) <= 64:
            values[tensor.name] = numpy_helper.to_array(tensor)
    nodes = _topological(list(graph.node), {i.name for i in graph.input} | set(initializers))
    attrs = [{a.name: helper.get_attribute_value(a) for a in node.attribute} for node in nodes]
    counts = [initializers[n.input[1]][0][0] for n in nodes
              if n.domain == _NCHWC and n.op_type == "Conv" and n.input[1] in initializers]
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 17)
    return Network(nodes=nodes, attrs=attrs, initializers=initializers, values=values,
                   input_types={i.name: i.type.tensor_type.elem_type for i in graph.input
                                if i.name not in initializers},
                   outputs=tuple(o.name for o in graph.output), opset=opset,
                   weight_bytes=weight_bytes,
                   block=min(math.gcd(*counts), 16) if counts else DEFAULT_BLOCK)


def _topological(nodes: list[Any], available: set[str]) -> list[Any]:
    """``nodes`` in an order where each comes after its inputs' producers (the file's order
    where it already is one, as onnxruntime keeps it)."""
    ready = set(available) | {""}
    order, waiting = [], nodes
    while waiting:
        later = []
        for node in waiting:
            if all(name in ready for name in node.input):
                order.append(node)
                ready.update(node.output)
            else:
                later.append(node)
        if len(later) == len(waiting):  # inputs nobody makes: keep the file's order
            return order + later
        waiting = later
    return order


def _itemsize(elem_type: int) -> int:
    from onnx import helper

    try:
        return int(np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)).itemsize)
    except (KeyError, TypeError, ValueError):
        return 4


# -- the shape pass ----------------------------------------------------------------------------
def tensor_bytes(network: Network, feeds: dict[str, tuple[int, ...]]) -> tuple[dict[str, int],
                                                                                 int]:
    """The bytes of every tensor the graph makes for inputs of the shapes ``feeds``, and
    how many were left unknown by the shape pass (each then counted as its largest input,
    the size an elementwise op gives: a conservative stand-in)."""
    from onnx import defs, helper, numpy_helper, shape_inference

    shapes: dict[str, tuple[int, ...]] = {k: s for k, (s, _) in network.initializers.items()}
    types: dict[str, int] = {k: t for k, (_, t) in network.initializers.items()}
    values = dict(network.values)
    sizes: dict[str, int] = {}
    for name, shape in feeds.items():
        shapes[name], types[name] = tuple(int(d) for d in shape), network.input_types.get(name, 1)
    unknown = 0
    for node, attrs in zip(network.nodes, network.attrs):
        outputs = [o for o in node.output if o]
        if node.domain in ("", "ai.onnx") and node.op_type in _FOLDABLE:
            if node.op_type in ("Shape", "Size") and node.input[0] in shapes:
                shape = np.asarray(shapes[node.input[0]], dtype=np.int64)
                value = shape[attrs.get("start", 0):attrs.get("end")] \
                    if node.op_type == "Shape" else np.asarray(np.prod(shape), np.int64)
            else:
                value = _fold(node.op_type, attrs, [values.get(i) if i else None
                                                    for i in node.input])
            if value is not None and value.size <= 4096:
                values[outputs[0]] = value
                shapes[outputs[0]] = tuple(value.shape)
                types[outputs[0]] = helper.np_dtype_to_tensor_dtype(value.dtype)
                sizes[outputs[0]] = value.nbytes
                continue
        if node.domain in ("", "ai.onnx"):
            try:
                schema = defs.get_schema(node.op_type, network.opset, "")
                given = {i: helper.make_tensor_type_proto(types.get(i, 1), list(shapes[i]))
                         for i in node.input if i in shapes}
                data = {i: numpy_helper.from_array(np.asarray(values[i]), i)
                        for i in node.input if i in values}
                inferred = shape_inference.infer_node_outputs(schema, node, given, data)
            except Exception:  # noqa: BLE001 - an op onnx cannot infer: the fallback below
                inferred = {}
            for name, proto in inferred.items():
                tensor = proto.tensor_type
                dims = [d.dim_value if d.HasField("dim_value") else None
                        for d in tensor.shape.dim] if tensor.HasField("shape") else [None]
                if None not in dims:
                    shapes[name], types[name] = tuple(dims), tensor.elem_type or 1
        else:
            shape = _custom_shape(node, attrs, shapes, network.block)
            if shape is not None:
                shapes[outputs[0]], types[outputs[0]] = shape, types.get(node.input[0], 1)
        for name in outputs:
            if name in shapes:
                sizes[name] = math.prod(shapes[name]) * _itemsize(types.get(name, 1))
            else:  # the op's largest input: what an elementwise op gives
                unknown += 1
                sizes[name] = max((sizes[i] if i in sizes else math.prod(shapes[i]) *
                                   _itemsize(types.get(i, 1)) if i in shapes else 0
                                   for i in node.input), default=0)
    return sizes, unknown


def _custom_shape(node: Any, attrs: dict[str, Any], shapes: dict[str, tuple[int, ...]],
                  block: int) -> tuple[int, ...] | None:
    """Output shapes of onnxruntime's own ops (NCHWc layout, fused convolutions)."""
    source = shapes.get(node.input[0]) if node.input else None
    if source is None or len(source) != 4:
        return None
    batch, channels, height, width = source
    if node.op_type == "ReorderInput":
        return batch, -(-channels // block) * block, height, width
    if node.op_type == "ReorderOutput":
        return batch, int(attrs.get("channels", channels)), height, width
    if node.op_type in ("Conv", "FusedConv") and node.input[1] in shapes:
        return _conv_shape(source, shapes[node.input[1]], attrs)
    if node.op_type in ("MaxPool", "AveragePool"):
        return _conv_shape(source, (channels, channels), attrs)
    if node.op_type == "Upsample":
        scales = attrs.get("scales") or [1, 1]
        return batch, channels, int(height * scales[-2]), int(width * scales[-1])
    return None


def _conv_shape(source: tuple[int, ...], weight: tuple[int, ...], attrs: dict[str, Any]
                ) -> tuple[int, ...]:
    kernel = list(attrs.get("kernel_shape") or weight[2:]) or [1, 1]
    strides = attrs.get("strides") or [1] * len(kernel)
    dilations = attrs.get("dilations") or [1] * len(kernel)
    pads = attrs.get("pads") or [0] * 2 * len(kernel)
    spatial = [(source[2 + i] + pads[i] + pads[i + len(kernel)] - dilations[i] *
                (kernel[i] - 1) - 1) // strides[i] + 1 for i in range(len(kernel))]
    return (source[0], weight[0], *spatial)


_FOLDABLE = frozenset({"Constant", "Shape", "Size", "ConstantOfShape", "Gather", "Unsqueeze",
                       "Squeeze", "Concat", "Reshape", "Slice", "Transpose", "Cast", "Add",
                       "Sub", "Mul", "Div", "Floor", "Ceil", "Min", "Max", "Range", "Equal",
                       "Where", "Identity", "Neg", "Abs", "Sqrt", "Expand"})


def _fold(op: str, attrs: dict[str, Any], inputs: list[np.ndarray | None]
          ) -> np.ndarray | None:
    """The value of a small shape computation (the pads of a Pad, the ends of a Slice),
    with NumPy; None when an input is not known or the op is not one of these."""
    try:
        return _fold_known(op, attrs, inputs)
    except Exception:  # noqa: BLE001 - an odd attribute or input: left to onnx's inference
        return None


def _fold_known(op: str, attrs: dict[str, Any], inputs: list[np.ndarray | None]
                ) -> np.ndarray | None:
    from onnx import helper, numpy_helper

    if op == "Constant":
        if "value" in attrs:
            return numpy_helper.to_array(attrs["value"])
        for key, dtype in (("value_float", np.float32), ("value_floats", np.float32),
                           ("value_int", np.int64), ("value_ints", np.int64)):
            if key in attrs:
                return np.asarray(attrs[key], dtype=dtype)
        return None
    first = inputs[0] if inputs else None
    if first is None or op in ("Shape", "Size") or \
            (op != "Squeeze" and any(v is None for v in inputs[1:2])):
        return None  # Shape and Size: from the input's shape, by the caller
    if op == "ConstantOfShape":
        fill = numpy_helper.to_array(attrs["value"]).reshape(-1)[0] if "value" in attrs \
            else np.float32(0)
        return np.full(tuple(int(d) for d in first), fill)
    if op == "Identity":
        return first
    if op == "Gather":
        return np.take(first, inputs[1], axis=int(attrs.get("axis", 0)))
    if op == "Unsqueeze":
        out = first
        for axis in sorted(int(a) % (first.ndim + len(inputs[1])) for a in inputs[1]):
            out = np.expand_dims(out, axis)
        return out
    if op == "Squeeze":
        axes = inputs[1] if len(inputs) > 1 and inputs[1] is not None else None
        return np.squeeze(first, axis=None if axes is None else tuple(int(a) for a in axes))
    if op == "Concat":
        return None if any(v is None for v in inputs) else \
            np.concatenate(inputs, axis=int(attrs["axis"]))
    if op == "Reshape":
        dims = [int(d) if d != 0 else first.shape[i] for i, d in enumerate(inputs[1])]
        return first.reshape(dims)
    if op == "Slice":
        if any(v is None for v in inputs[1:]):
            return None
        starts, ends = inputs[1], inputs[2]
        axes = inputs[3] if len(inputs) > 3 else range(len(starts))
        steps = inputs[4] if len(inputs) > 4 else [1] * len(starts)
        index = [slice(None)] * first.ndim
        for start, end, axis, step in zip(starts, ends, axes, steps):
            index[int(axis)] = slice(int(start), int(end), int(step))
        return first[tuple(index)]
    if op == "Transpose":
        return np.transpose(first, attrs.get("perm"))
    if op == "Cast":
        return first.astype(helper.tensor_dtype_to_np_dtype(attrs["to"]))
    if op in ("Floor", "Ceil", "Neg", "Abs", "Sqrt"):
        return getattr(np, {"Floor": "floor", "Ceil": "ceil", "Neg": "negative",
                            "Abs": "abs", "Sqrt": "sqrt"}[op])(first)
    if any(v is None for v in inputs):
        return None
    if op == "Div":
        return first // inputs[1] if first.dtype.kind in "iu" else first / inputs[1]
    if op in ("Min", "Max"):
        return (np.minimum if op == "Min" else np.maximum).reduce(np.broadcast_arrays(*inputs))
    if op == "Range":
        return np.arange(first, inputs[1], inputs[2]).astype(first.dtype)
    if op == "Where":
        return np.where(*inputs)
    if op == "Expand":
        return first * np.ones(tuple(int(d) for d in inputs[1]), dtype=first.dtype)
    return {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
            "Equal": np.equal}[op](first, inputs[1])


# -- the run's allocations and onnxruntime's arena ---------------------------------------------
def run_events(network: Network, feeds: dict[str, tuple[int, ...]]
               ) -> tuple[list[tuple[int, int]], list[int], int]:
    """One run's allocations in onnxruntime's arena, in order: ``(key, bytes)`` allocates
    buffer ``key``, ``(key, -1)`` frees it; the keys of the outputs, which outlive the run;
    how many tensor sizes the shape pass did not know."""
    key = tuple(sorted((k, tuple(v)) for k, v in feeds.items()))
    if key in network.cache:
        return network.cache[key]
    sizes, unknown = tensor_bytes(network, feeds)
    root: dict[str, str] = {}
    steps = []
    for node in network.nodes:
        if node.op_type == "Constant":  # onnxruntime makes them initializers
            continue
        if node.op_type in VIEWS and node.input and node.input[0] in sizes:
            root[node.output[0]] = root.get(node.input[0], node.input[0])
            continue
        steps.append(node)
    last: dict[str, int] = {}
    for index, node in enumerate(steps):
        for name in node.input:
            last[root.get(name, name)] = index
    keys = {name: number for number, name in enumerate(sizes)}
    outputs = {root.get(o, o) for o in network.outputs}
    events: list[tuple[int, int]] = []
    for index, node in enumerate(steps):
        for name in node.output:
            if name:
                events.append((keys[name], max(1, sizes[name])))
        for name in {root.get(i, i) for i in node.input}:
            if last.get(name) == index and name in keys and name not in outputs and \
                    name not in network.initializers and name not in feeds:
                events.append((keys[name], -1))
    for node in steps:  # outputs nothing reads (besides the graph's): freed at the end
        for name in node.output:
            if name and name not in last and name not in outputs:
                events.append((keys[name], -1))
    result = (events, [keys[o] for o in outputs if o in keys], unknown)
    network.cache[key] = result
    return result


class Arena:
    """A model of onnxruntime's CPU arena (BFCArena with its defaults): best-fit chunks in
    size bins, split and coalesced, from regions that double in size (from ``first_region``,
    onnxruntime's default 1 MiB, styx's :data:`FIRST_REGION`; doubling stops at 1 GiB, a
    larger request gets a region of its power of two) and are never given back.
    :attr:`touched` is the memory written so far: what the process holds."""

    def __init__(self, first_region: int = FIRST_REGION) -> None:
        self.bins: list[list[tuple[int, int]]] = [[] for _ in range(21)]
        self.chunks: dict[int, list[Any]] = {}  # address: [size, in use, prev, next]
        self.region_size = first_region
        self.next_address = 1 << 62  # regions are mapped downwards, as mmap places them
        self.touched = 0
        self._spans: list[tuple[int, int]] = []  # touched address ranges, sorted
        self._by_key: dict[Any, int] = {}

    def alloc(self, key: Any, nbytes: int) -> None:
        size = max(ROUND, -(-nbytes // ROUND) * ROUND)
        address = self._take(size)
        if address is None:
            self._extend(size)
            address = self._take(size)
        self._by_key[key] = address
        self._touch(address, address + nbytes)

    def free(self, key: Any) -> None:
        address = self._by_key.pop(key, None)
        if address is None:
            return
        chunk = self.chunks[address]
        chunk[1] = False
        after = chunk[3]
        if after is not None and not self.chunks[after][1]:
            self._unbin(after)
            merged = self.chunks.pop(after)
            chunk[0] += merged[0]
            chunk[3] = merged[3]
            if merged[3] is not None:
                self.chunks[merged[3]][2] = address
        before = chunk[2]
        if before is not None and not self.chunks[before][1]:
            self._unbin(before)
            previous = self.chunks[before]
            previous[0] += chunk[0]
            previous[3] = chunk[3]
            if chunk[3] is not None:
                self.chunks[chunk[3]][2] = before
            del self.chunks[address]
            address = before
        self._bin(address)

    def replay(self, events: list[tuple[int, int]], tag: Any) -> None:
        """Allocate and free as ``events`` (of :func:`run_events`) say, keys tagged ``tag``."""
        for key, nbytes in events:
            if nbytes < 0:
                self.free((tag, key))
            else:
                self.alloc((tag, key), nbytes)

    @staticmethod
    def _bin_of(size: int) -> int:
        return min(max((size >> 8).bit_length() - 1, 0), 20)

    def _bin(self, address: int) -> None:
        bisect.insort(self.bins[self._bin_of(self.chunks[address][0])],
                      (self.chunks[address][0], address))

    def _unbin(self, address: int) -> None:
        free = self.bins[self._bin_of(self.chunks[address][0])]
        del free[bisect.bisect_left(free, (self.chunks[address][0], address))]

    def _take(self, size: int) -> int | None:
        for number in range(self._bin_of(size), 21):
            free = self.bins[number]
            found = bisect.bisect_left(free, (size, -1))
            if found == len(free):
                continue
            chunk_size, address = free.pop(found)
            chunk = self.chunks[address]
            if chunk_size >= 2 * size or chunk_size - size >= MAX_DEAD:
                rest = address + size
                self.chunks[rest] = [chunk_size - size, False, address, chunk[3]]
                if chunk[3] is not None:
                    self.chunks[chunk[3]][2] = rest
                chunk[0], chunk[3] = size, rest
                self._bin(rest)
            chunk[1] = True
            return address
        return None

    def _extend(self, size: int) -> None:
        grew = False
        while size > self.region_size:
            self.region_size *= 2
            grew = True
        region = self.region_size
        if not grew:
            self.region_size = min(self.region_size * 2, max(DOUBLING_CAP, self.region_size))
        self.next_address -= region + (1 << 30)
        self.chunks[self.next_address] = [region, False, None, None]
        self._bin(self.next_address)

    def _touch(self, start: int, end: int) -> None:
        spans = self._spans
        index = bisect.bisect_left(spans, (start, start))
        if index and spans[index - 1][1] >= start:
            index -= 1
        stop = index
        while stop < len(spans) and spans[stop][0] <= end:
            start, end = min(start, spans[stop][0]), max(end, spans[stop][1])
            self.touched -= spans[stop][1] - spans[stop][0]
            stop += 1
        spans[index:stop] = [(start, end)]
        self.touched += end - start


# -- a group's need ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Footprint:
    """The parts of one group's estimate, in bytes, and how many tensor sizes the shape
    pass left unknown."""

    weights: int
    network: int
    images: int
    unknown: int = 0


def feeds_for(generator: OnnxGenerator, batch: int, height: int, width: int,
              given: dict[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    """The shape of every input of a run of ``batch`` images of ``height`` x ``width``."""
    sizes = {"batch": batch, "height": height, "width": width}
    feeds = {}
    for name, entry in generator.metadata["inputs"].items():
        if given.get(name) is not None:
            feeds[name] = tuple(np.shape(given[name]))
        elif entry.get("kind") == CONTENT:
            feeds[name] = (batch, 3, height, width)
        else:
            feeds[name] = tuple(int(sizes.get(d, 1)) if isinstance(d, str) else int(d)
                                for d in entry.get("shape") or [1])
    return feeds


def _noise_values(generator: OnnxGenerator, batch: int, pixels: int) -> int:
    """Values of the noise inputs a run of ``batch`` images of ``pixels`` pixels draws."""
    return sum(int(entry["shape"][1]) * batch * pixels
               for entry in generator.metadata["inputs"].values()
               if entry.get("kind") == NOISE and len(entry.get("shape") or []) == 4)


def footprint(generator: OnnxGenerator, group: Group, settings: InferSettings) -> Footprint:
    """The estimate of ``group``'s run (see the module docstring): the largest of its
    phases, each with what is alive during it."""
    network = network_of(generator)
    count, height, width = len(group.pairs), group.height, group.width
    pixels, source = height * width, group.source_pixels
    photo = (PHOTO + (PHOTO_ALPHA if group.alpha else 0)) * pixels
    decode = (DECODE + (DECODE_ALPHA if group.alpha else 0)) * source
    if (height, width) != group.source_size:
        decode = max(decode, RESIZE_SOURCE * source + RESIZE_TARGET * pixels)
    decode = max(decode, 2 * PHOTO * pixels)  # the transposed copy beside its source
    write = (WRITE + (WRITE_ALPHA if group.alpha else 0)) * pixels
    cpu = generator.provider == "CPUExecutionProvider"
    arena = Arena()
    if group.tiled:
        return _tiled(generator, network, group, settings, arena, photo, decode, write)
    events, _, unknown = run_events(network, feeds_for(generator, count, height, width,
                                                         settings.inputs))
    if cpu:
        arena.replay(events, 0)
    # On a GPU the network's memory is the GPU's; the host gets the outputs' copies.
    network_bytes = arena.touched if cpu else 0
    outputs = 0 if cpu else count * PHOTO * pixels
    one = _noise_values(generator, 1, pixels)
    noise_made = NOISE_WORK * one if count == 1 else 4 * one * (count + 1)
    held = count * photo + count * PHOTO * pixels  # the photos and their batch
    phases = [(count - 1) * photo + decode,
              held + max(noise_made, 4 * one * count + network_bytes + outputs),
              count * photo + network_bytes + outputs + write]
    return Footprint(network.weight_bytes, network_bytes, max(phases) - network_bytes,
                     unknown)


def _tiled(generator: OnnxGenerator, network: Network, group: Group, settings: InferSettings,
           arena: Arena, photo: int, decode: int, write: int) -> Footprint:
    """A photo in tiles: the thumbnail's run, then the tiles through the same arena (the
    first two rows and the last: the rows between repeat the second's allocations)."""
    from styx.files.image_arrays import long_side_size
    from styx.files.tiling import tile_spans

    tile, height, width = int(settings.tile or 0), group.height, group.width
    pixels = height * width
    cpu = generator.provider == "CPUExecutionProvider"
    thumb = long_side_size(height, width, tile)
    events, outputs, unknown = run_events(network, feeds_for(generator, 1, *thumb,
                                                             settings.inputs))
    if cpu:
        arena.replay(events, "thumbnail")
        for key in outputs:
            arena.free(("thumbnail", key))
    rows = tile_spans(height, tile, settings.overlap)
    columns = tile_spans(width, tile, settings.overlap)
    largest, previous = 0, None
    for row, (top, bottom) in enumerate(rows):
        if 1 < row < len(rows) - 1:
            continue
        for column, (left, right) in enumerate(columns):
            events, outputs, missing = run_events(network, feeds_for(
                generator, 1, bottom - top, right - left, settings.inputs))
            unknown, largest = max(unknown, missing), max(largest, (bottom - top) * (right - left))
            if cpu:
                arena.replay(events, (row, column))
                if previous is not None:  # the last tile's output lives until this one's
                    for key in previous[1]:
                        arena.free((previous[0], key))
                previous = ((row, column), outputs)
    network_bytes = arena.touched if cpu else 0
    outputs_copy = 0 if cpu else PHOTO * largest
    noise = _noise_values(generator, 1, largest)
    held = photo + PHOTO * pixels + (PHOTO + 4) * pixels  # photo, batch, blend, weights
    phases = [decode,
              photo + PHOTO * pixels + 20 * pixels,  # the thumbnail: the photo resized
              held + network_bytes + outputs_copy + PHOTO * largest +
              max(NOISE_WORK * noise, 16 * largest),
              photo + PHOTO * pixels + network_bytes + write]
    return Footprint(network.weight_bytes, network_bytes, max(phases) - network_bytes,
                     unknown)


#: The file that remembers footprints, under ``$STYX_HOME``.
CACHE_FILE = Path("cache") / "infer-memory.json"
#: Footprints remembered at most (the oldest are forgotten first).
CACHE_ENTRIES = 512


def remembered_footprint(generator: OnnxGenerator, group: Group, settings: InferSettings,
                         *, free: int | None = None) -> Footprint:
    """:func:`footprint`, remembered in ``$STYX_HOME/cache/infer-memory.json`` by what it
    depends on (the file's bytes, this module's code, onnxruntime's version, the provider,
    the group's shapes and the settings'): the shape pass needs ``onnx``, whose import
    costs half a second, so a run of a size seen before skips it.

    A size not seen before, of a file and settings seen before (a folder of photos of many
    sizes), skips it too when ``free`` memory holds :func:`scaled_bound` of the largest
    size seen: a bound that is never below the run's need, so it only ever lets a run go
    ahead that would fit. A run it cannot clear gets the shape pass (and a refusal that
    names the real need). A cache that cannot be read or written is ignored."""
    import json

    from styx.files.atomic import atomic_path
    from styx.files.home import styx_home

    key, family = _cache_keys(generator, group, settings)
    path = styx_home() / CACHE_FILE
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    known = known if isinstance(known, dict) else {}
    if isinstance(known.get(key), list):
        return Footprint(*(int(value) for value in known[key]))
    bound = scaled_bound(known.get(family), group, free)
    if bound is not None:
        return bound
    parts = footprint(generator, group, settings)
    known[key] = [parts.weights, parts.network, parts.images, parts.unknown]
    largest = known.get(family)
    if not group.tiled and not parts.unknown and (
            not isinstance(largest, list) or group.height * group.width >= largest[0]):
        known[family] = [group.height * group.width, group.source_pixels, parts.weights,
                         parts.network, parts.images]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as temporary:
            temporary.write_text(json.dumps(dict(list(known.items())[-CACHE_ENTRIES:])))
    except OSError:
        pass
    return parts


def _cache_keys(generator: OnnxGenerator, group: Group, settings: InferSettings
                ) -> tuple[str, str]:
    """The cache's key of ``group``'s footprint, and of its family: the same file, code,
    onnxruntime, provider, batch and settings at any size."""
    import hashlib
    import json

    import onnxruntime

    # The file, not the graph onnxruntime made of it (whose bytes differ from run to run),
    # and the onnxruntime that optimises it.
    digest = hashlib.sha256(generator.digest.encode())
    digest.update(Path(__file__).read_bytes())
    common = [digest.hexdigest(), onnxruntime.__version__, generator.provider,
              len(group.pairs), group.alpha, group.tiled, settings.tile, settings.overlap,
              sorted((name, list(np.shape(value))) for name, value in settings.inputs.items())]
    return (json.dumps([*common, group.height, group.width, list(group.source_size)]),
            json.dumps(["any size", *common]))


#: How far a smaller run's footprint is multiplied to bound a larger one's: the arena's
#: regions double, so a run's memory grows by up to twice its tensors' growth.
SCALE_MARGIN = 2


def scaled_bound(largest: Any, group: Group, free: int | None) -> Footprint | None:
    """A bound on ``group``'s footprint from ``largest`` (``[pixels, source pixels,
    weights, network, images]`` of the largest run of its family measured), or None when
    there is none or it does not fit in ``free`` bytes. The run's parts grow with its
    pixels and its file's (the decode), at most :data:`SCALE_MARGIN` times as fast; a
    smaller run is bounded by the larger's own footprint times the margin."""
    if free is None or group.tiled or not isinstance(largest, list) or len(largest) != 5:
        return None
    pixels, source, weights, network, images = (int(value) for value in largest)
    growth = SCALE_MARGIN * max(1.0, group.height * group.width / max(pixels, 1),
                                group.source_pixels / max(source, 1))
    bound = Footprint(weights, math.ceil(network * growth), math.ceil(images * growth))
    return bound if bound.weights + bound.network + bound.images <= free else None


def memory_needs(generator: OnnxGenerator, groups: list[Group], settings: InferSettings, *,
                 every: bool = False) -> list[MemoryNeed]:
    """The needs of ``groups``' runs to check before any is decoded: those of the largest
    runs (tiled or not, and the largest file to decode), or with ``every`` one for each
    size (``--dry-run``)."""
    if every:
        chosen: dict[Any, Group] = {}
        for group in groups:
            key = (len(group.pairs), group.height, group.width, group.tiled)
            if key not in chosen or group.source_pixels > chosen[key].source_pixels:
                chosen[key] = group
        picked = list(chosen.values())
    else:
        whole = [g for g in groups if not g.tiled]
        tiled = [g for g in groups if g.tiled]
        picked = [max(kind, key=lambda g: (len(g.pairs) * g.height * g.width,
                                           g.source_pixels)) for kind in (whole, tiled) if kind]
        if groups:
            picked.append(max(groups, key=lambda g: g.source_pixels))
        picked = list({id(g): g for g in picked}.values())
    free = available_bytes("cpu") if picked else None
    return [memory_need(generator, group, settings, available=free, exact=every)
            for group in picked]


def memory_need(generator: OnnxGenerator, group: Group, settings: InferSettings, *,
                available: int | None | Callable[[], int | None] = None,
                exact: bool = False) -> MemoryNeed:
    """The :class:`MemoryNeed` of ``group``'s run: the estimate, what the host has free
    (``available``: the bytes, or None to ask), and the fixes that apply when it does not
    fit (see :func:`fixes`). Without ``exact`` the estimate may be a bound that fits (see
    :func:`remembered_footprint`); ``--dry-run`` asks for the estimate itself."""
    free = available_bytes("cpu") if available is None else \
        (available() if callable(available) else available)
    parts = remembered_footprint(generator, group, settings, free=None if exact else free)
    need = MemoryNeed(what=describe_group(group, settings), device="cpu",
                      parts={"weights": parts.weights, "network": parts.network,
                             "images": parts.images},
                      available=free)
    if need.fits:
        return need
    return MemoryNeed(need.what, need.device, need.parts, need.available,
                      fixes(generator, group, settings, parts, free))


def describe_group(group: Group, settings: InferSettings) -> str:
    """``stylising photo.jpg at 4000x3000 px`` (``4 photos (a.jpg, ...)``, ``4 frames of
    clip.mp4``; ``in 1024 px tiles``)."""
    names = [source.name for source, _ in group.pairs]
    who = names[0] if len(names) == 1 else f"{len(names)} frames of {names[0]}" \
        if len(set(names)) == 1 else \
        f"{len(names)} photos ({', '.join(names[:2])}{', ...' if len(names) > 2 else ''})"
    tiles = f" in {settings.tile} px tiles" if group.tiled else ""
    return f"stylising {who} at {group.width}x{group.height} px{tiles}"


def fixes(generator: OnnxGenerator, group: Group, settings: InferSettings,
          parts: Footprint, free: int | None) -> tuple[str, ...]:
    """What would make ``group`` fit, in one sentence: fewer photos at once, tiles (the
    largest of 1024, 512, 256 px whose run fits), a smaller tile, a smaller long side; only
    those that apply (tiles cannot help when the full-size arrays alone do not fit)."""
    from dataclasses import replace

    from styx.core.checks import MIN_TILE

    options = []
    if len(group.pairs) > 1:
        options.append("--batch-size 1")
    alone = parts.weights + parts.images
    if free is not None and alone < free:
        for size in (1024, 512, 256):
            if size < MIN_TILE or size >= max(group.height, group.width) or \
                    (settings.tile is not None and size >= settings.tile):
                continue
            trial = replace(settings, tile=size, overlap=min(settings.overlap, size // 4))
            single = replace(group, pairs=group.pairs[:1], tiled=True)
            tiled = footprint(generator, single, trial)
            if tiled.weights + tiled.network + tiled.images <= free:
                options.append(f"--tile {size} (memory follows the tile)" if settings.tile is
                               None else f"a smaller --tile, e.g. {size}")
                break
    options.append("a smaller --long-side")
    return ("use " + (", ".join(options[:-1]) + ", or " if len(options) > 1 else "") +
            options[-1],)
