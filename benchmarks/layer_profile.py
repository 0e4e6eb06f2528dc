"""Where a feed-forward generator's time goes, layer by layer: the profile each method's
``fast`` variant was designed from (docs/texture-nets.md, docs/stylebank.md, docs/adain.md).

For one method and variant, random weights (speed does not depend on training), one photo
size, prints one JSON document:

* ``layers``: per module that does work (convolutions with their activation,
  normalisations, padding, upsampling), in order of onnxruntime time: its multiply-adds (``gmac``,
  modules that are convolutions; a convolution by ``F.conv2d`` with weights computed in
  ``forward``, like StyleBank's bank, is counted in time only), PyTorch eager milliseconds (fp32, channels_last, as ``styx run``
  runs it with ``--amp off``; per-module forward hooks) and onnxruntime milliseconds (the
  exported fp32 file on the CPU provider, from onnxruntime's own profiler, its nodes
  grouped by the module they were traced from). Work outside modules (concatenation,
  functional upsampling) is the ``(between modules)`` row.
* ``total``: the same sums, the parameters, and the whole-forward medians (``eager_s``,
  ``onnx_s``) with ``onnx_speedup`` = eager over onnxruntime.

Usage: ``python benchmarks/layer_profile.py --method texture-nets|stylebank|adain
[--variant paper|fast] [--size 1024x768] [--repeat 3] [--top 15]``.
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import _common

#: Module classes whose forward is timed (leaves that do the work).
LEAF_KINDS = ("Conv2d", "InstanceNorm", "GroupNorm", "BatchNorm2d", "Pad", "ReLU",
              "LeakyReLU", "Upsample", "Sigmoid")
BETWEEN = "(between modules)"


#: Activations: their time goes to the convolution before them, as onnxruntime fuses a
#: convolution and its activation into one node (named after either).
ACTIVATIONS = ("ReLU", "LeakyReLU")


def leaf_modules(network: Any) -> dict[Any, str]:
    return {module: name for name, module in network.named_modules()
            if type(module).__name__ in LEAF_KINDS}


def row_names(network: Any) -> dict[str, str]:
    """The profile row of each leaf module: its own name, or for an activation the
    convolution before it (rows read "the convolution and its activation")."""
    rows, last_conv = {}, None
    for name, module in network.named_modules():
        kind = type(module).__name__
        if kind == "Conv2d":
            last_conv = name
        if kind in LEAF_KINDS:
            rows[name] = last_conv if kind in ACTIVATIONS and last_conv else name
    return rows


def regroup(times: dict[str, float], rows: dict[str, str]) -> dict[str, float]:
    """``times`` by module summed into their rows; a module traced a second time in one
    forward (AdaIN's encoder on the painting: ``features.2_1``) joins its first row."""
    out: dict[str, float] = defaultdict(float)
    for name, value in times.items():
        base = re.sub(r"_\d+$", "", name)
        out[rows.get(name, rows.get(base, base))] += value
    return dict(out)


def conv_macs(network: Any, inputs: dict[str, Any]) -> dict[str, float]:
    """Giga multiply-adds of each convolution module on ``inputs``."""
    import torch
    from torch import nn

    names = {module: name for name, module in network.named_modules()}
    work: dict[str, float] = defaultdict(float)

    def count(module: nn.Conv2d, _inputs: Any, output: torch.Tensor) -> None:
        kernel = module.kernel_size[0] * module.kernel_size[1]
        work[names[module]] += output.numel() * kernel * module.in_channels / \
            module.groups / 1e9

    hooks = [m.register_forward_hook(count) for m in network.modules()
             if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        network(**inputs)
    for hook in hooks:
        hook.remove()
    return dict(work)


def eager_profile(network: Any, inputs: dict[str, Any], repeat: int
                  ) -> tuple[dict[str, float], float]:
    """Median milliseconds of each leaf module's forward, and of the whole forward."""
    import torch

    names = leaf_modules(network)
    started: dict[Any, float] = {}
    spent: dict[str, list[float]] = defaultdict(list)
    current: dict[str, float] = defaultdict(float)

    def before(module: Any, _inputs: Any) -> None:
        started[module] = time.perf_counter()

    def after(module: Any, _inputs: Any, _output: Any) -> None:
        current[names[module]] += (time.perf_counter() - started.pop(module)) * 1e3

    hooks = [h for m in names for h in (m.register_forward_pre_hook(before),
                                        m.register_forward_hook(after))]
    totals = []
    with torch.no_grad():
        network(**inputs)  # warm-up
        for _ in range(repeat):
            current.clear()
            start = time.perf_counter()
            network(**inputs)
            totals.append(time.perf_counter() - start)
            for name, ms in current.items():
                spent[name].append(ms)
    for hook in hooks:
        hook.remove()
    return {name: statistics.median(ms) for name, ms in spent.items()}, \
        statistics.median(totals)


def onnx_profile(onnx_file: Path, feeds: dict[str, Any], repeat: int
                 ) -> tuple[dict[str, float], float]:
    """Median milliseconds of each traced module in onnxruntime (its profiler's node
    times, grouped by module), and of the whole run (timed without the profiler)."""
    import onnxruntime as ort

    from styx.exports.onnx.quantize import module_of

    def session(profile: bool) -> Any:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.enable_profiling = profile
        options.profile_file_prefix = str(onnx_file.with_suffix(""))  # beside the file
        return ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])

    plain = session(False)
    plain.run(None, feeds)
    whole = _common.time_calls(lambda: plain.run(None, feeds), repeat=repeat)
    profiled = session(True)
    for _ in range(repeat + 1):
        profiled.run(None, feeds)
    trace = Path(profiled.end_profiling())
    events = json.loads(trace.read_text())
    trace.unlink()
    runs: dict[str, float] = defaultdict(float)
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            node = event["name"][: -len("_kernel_time")]
            module = module_of(node) or BETWEEN
            runs[module] += event["dur"] / 1e3 / (repeat + 1)
    return dict(runs), statistics.median(whole)


def main() -> None:
    parser = _common.parser(__doc__)
    parser.add_argument("--method", default="texture-nets")
    parser.add_argument("--variant", default="paper")
    parser.add_argument("--size", default="1024x768")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top", type=int, default=15, help="rows (0: every module)")
    args = _common.parse_args(parser)
    import torch

    import styx
    from styx.files.modelstore import save_model
    from styx.inference.onnxfile import OnnxGenerator

    width, _, height = args.size.partition("x")
    width, height = int(width), int(height or width)
    network, metadata = _common.build_network(args.method, args.variant)
    photo = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    extra = {"style": torch.rand(1, 3, 384, 512)} if args.method == "adain" else {}
    inputs = network.make_inputs(photo, generator=torch.Generator().manual_seed(0), **extra)
    macs = conv_macs(network, inputs)
    network = network.to(memory_format=torch.channels_last)
    inputs = {k: v.contiguous(memory_format=torch.channels_last)
              if isinstance(v, torch.Tensor) and v.dim() == 4 else v for k, v in inputs.items()}
    eager, eager_s = eager_profile(network, inputs, args.repeat)
    eager[BETWEEN] = max(0.0, eager_s * 1e3 - sum(eager.values()))
    with tempfile.TemporaryDirectory(prefix="styx-layers-") as folder:
        model = save_model(network.to(memory_format=torch.contiguous_format), metadata,
                           path=Path(folder) / "model")
        onnx_file = styx.export(model, "onnx", Path(folder) / "model.onnx")
        generator = OnnxGenerator.open(onnx_file, provider="cpu")
        images = photo.numpy()
        given = {"style": extra["style"].numpy()} if extra else {}
        feeds = generator.inputs_for(images, seed=0, **given)
        runs, onnx_s = onnx_profile(Path(onnx_file), feeds, args.repeat)
    rows = row_names(network)
    eager, runs = regroup(eager, rows), regroup(runs, rows)
    names = sorted(set(eager) | set(runs), key=lambda n: -runs.get(n, 0.0))
    layers = [{"module": name, "gmac": round(macs.get(name, 0.0), 3),
               "eager_ms": round(eager.get(name, 0.0), 1),
               "onnx_ms": round(runs.get(name, 0.0), 1)} for name in names]
    print(json.dumps({
        **_common.machine(args, args.method, variant=args.variant, size=args.size,
                          cpu=_common.lscpu_model(),
                          date=time.strftime("%Y-%m-%d")),
        "layers": layers[: args.top or None],
        "total": {"gmac": round(sum(macs.values()), 2),
                  "params_m": round(sum(p.numel() for p in network.parameters()) / 1e6, 3),
                  "eager_s": round(eager_s, 4), "onnx_s": round(onnx_s, 4),
                  "onnx_speedup": round(eager_s / onnx_s, 2)}}, indent=1))


if __name__ == "__main__":
    main()
