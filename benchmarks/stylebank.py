"""StyleBank: training throughput beside texture-nets, inference latency, peak memory, and
pytorch/examples' TransformerNet at the same size.

Prints one JSON document, every number from the same run (so ratios are meaningful on a
noisy machine), each measurement in its own process:

* ``training``: images/s of ``styx.train("stylebank", ...)`` (two style images, VGG16) and
  of ``styx.train("texture-nets", ...)`` (one style image, VGG19) beside it, at 256 px,
  batch 4, random descriptor weights, in fp32 and with ``amp="bf16"``. The first iteration
  builds the descriptor and the style targets and is not counted
  (``result.images_per_second``); StyleBank's iterations are its T+1 schedule (2 stylising steps, then an
  auto-encoder step without the descriptor), so a multiple of 3 timed iterations keeps the
  mix of a long run. bf16 is measured where the device computes it natively (CUDA with
  bf16, a CPU with oneDNN bf16); elsewhere torch falls back to a slow reference
  convolution (hundreds of times slower than fp32) and the entry says ``skipped``, with
  ``bf16_support`` giving the evidence; ``--bf16 on`` measures it anyway.
* ``inference``: a StyleBank model of the default network with two styles (trained for one
  iteration by ``styx.train``, saved and loaded by ``styx.load_model``: the path users
  take), at each of ``--sizes`` (width x height): the median seconds of ``model(image,
  style=NAME)`` for each style, of ``model(image, style_mix={...})`` (a 2-style linear
  mix), and, under ``forward``, of the bare ``network(image, weights)`` under
  ``torch.no_grad`` in channels_last (what ``styx.generators.models.apply_generator``
  runs).
* ``transformer_net``: the fast_neural_style TransformerNet of pytorch/examples (Johnson et
  al. 2016; written here from its published description, random weights) in eager mode,
  contiguous NCHW as that code runs it, at ``--compare-size``; ``stylebank_ratio`` is
  StyleBank's ``model(image, style=...)`` seconds over TransformerNet's at that size
  (the target: <= 1), ``stylebank_forward_ratio`` the same for the bare forward.
* peak memory of each measurement: on CUDA ``torch.cuda.max_memory_allocated``; on the CPU
  the growth of the process's peak resident set (``ru_maxrss``).

Usage: ``python benchmarks/stylebank.py [--device cpu|cuda] [--iterations N] [--repeat N]
[--threads N] [--sizes 512x512,1024x768] [--compare-size 1024x768] [--bf16 auto|on|off]``.
Unknown arguments are ignored (nox passes its own).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import _common
import torch
from torch import nn

PRECISIONS = {"fp32": "off", "bf16": "bf16"}
METHODS = {"stylebank": 2, "texture-nets": 1}  # method: style images
DESCRIPTORS = {"stylebank": "vgg16", "texture-nets": "vgg19"}


def parse_size(text: str) -> tuple[int, int]:
    """``"1024x768"`` -> (width, height)."""
    width, _, height = text.lower().partition("x")
    return int(width), int(height or width)


def seconds(times: list[float]) -> float:
    return round(statistics.median(times), 4)


# -- training ----------------------------------------------------------------------------------
def measure_training(args: argparse.Namespace, method: str, precision: str) -> dict:
    """Images/s of ``styx.train(method, ...)`` at 256 px, batch 4, in ``precision``."""
    trained, peak = _common.train_method(method, args, styles=METHODS[method],
                                         iterations=args.iterations + 1,
                                         amp=PRECISIONS[precision])
    result = trained.result
    out = {"images_per_second": round(result.images_per_second, 3),
           "seconds_per_iteration": round(4 / result.images_per_second, 3),
           "iterations_timed": result.iterations_done - 1,
           "first_iteration_seconds": round(4 / result.history[0]["images_per_second"], 3)}
    schedule = trained.metadata.get("schedule")
    if schedule:  # StyleBank: which of the timed iterations were auto-encoder steps
        period = schedule["style_steps"] + 1
        timed = range(1, result.iterations_done)
        out["auto_encoder_steps_timed"] = sum(step % period == period - 1 for step in timed)
    return {**out, **peak}


def bf16_support(args: argparse.Namespace) -> dict:
    """Whether the device computes bf16 natively, and on the CPU a 3x3 convolution's
    milliseconds in fp32 and bf16 (the evidence)."""
    from styx.runtime.device import cpu_has_native_bf16, resolve_device

    device = resolve_device(args.device)
    if device.type == "cuda":
        return {"native": torch.cuda.is_bf16_supported()}
    import torch.nn.functional as F

    native = cpu_has_native_bf16()  # what --amp auto asks
    features = torch.rand(1, 64, 64, 64, device=device)
    kernel = torch.rand(64, 64, 3, 3, device=device)
    out = {"native": native, "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        x, w = features.to(dtype), kernel.to(dtype)
        times = _common.time_calls(lambda x=x, w=w: F.conv2d(x, w, padding=1), repeat=3)
        out[f"conv3x3_64ch_{name}_ms"] = round(statistics.median(times) * 1000, 2)
    out["bf16_slowdown"] = round(out["conv3x3_64ch_bf16_ms"] / out["conv3x3_64ch_fp32_ms"], 1)
    return out


def make_model(args: argparse.Namespace) -> dict:
    """The model the inference phases load: the default network, two styles, trained for one
    iteration (its speed does not depend on how well it is trained)."""
    from styx.plugins.methods.stylebank.network import NetworkConfig

    output = Path(args.work) / "model"
    trained, _peak = _common.train_method("stylebank", args, styles=2, iterations=1,
                                          amp="off", batch_size=1, image_size=64,
                                          output=output)
    architecture = trained.metadata["architecture"]
    assert architecture == NetworkConfig(num_styles=2).to_dict(), architecture
    return {"path": str(trained.path), "architecture": architecture}


# -- inference ---------------------------------------------------------------------------------
def load(args: argparse.Namespace):
    import os

    import styx

    os.environ["STYX_HOME"] = str(Path(args.work) / "home")
    return styx.load_model(Path(args.work) / "model")


def content(size: tuple[int, int]) -> torch.Tensor:
    width, height = size
    return torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))


def measure_inference(args: argparse.Namespace, size: tuple[int, int]) -> dict:
    """``model(image, style=...)`` per style and ``model(image, style_mix=...)``: the
    public path (loading, checks, the style weights, the copy back to the CPU)."""
    model = load(args)
    image = content(size)
    names = model.styles
    mix = {name: 1 / len(names) for name in names}
    cuda = _common.is_cuda(args.device)
    with _common.peak_memory(args.device) as peak:
        out = model(image, style=names[0], device=args.device)
        assert out.shape == image.shape, (out.shape, image.shape)
        per_style = {name: _common.time_calls(
            lambda name=name: model(image, style=name, device=args.device),
            repeat=args.repeat, cuda=cuda) for name in names}
        mixed = _common.time_calls(lambda: model(image, style_mix=mix, device=args.device),
                                   repeat=args.repeat, cuda=cuda)
    return {"per_style_seconds": {name: seconds(t) for name, t in per_style.items()},
            "style_seconds": seconds([t for times in per_style.values() for t in times]),
            "mix_seconds": seconds(mixed), "mix": mix, "runs": args.repeat, **peak}


def measure_forward(args: argparse.Namespace, size: tuple[int, int]) -> dict:
    """The bare ``network(image, weights)``, channels_last, under ``torch.no_grad``."""
    from styx.runtime.device import resolve_device

    device = resolve_device(args.device)
    network = load(args).generator.to(device, memory_format=torch.channels_last).eval()
    image = content(size).to(device, memory_format=torch.channels_last)
    styles = network.num_styles
    choices = [network.one_hot(torch.tensor(i)).to(device) for i in range(styles)]
    mix = torch.full((styles,), 1 / styles, device=device)

    def forward(weights: torch.Tensor) -> None:
        with torch.no_grad():
            network(image, weights)

    cuda = device.type == "cuda"
    with _common.peak_memory(args.device) as peak:
        per_style = [_common.time_calls(lambda w=w: forward(w), repeat=args.repeat, cuda=cuda)
                     for w in choices]
        mixed = _common.time_calls(lambda: forward(mix), repeat=args.repeat, cuda=cuda)
    return {"style_seconds": seconds([t for times in per_style for t in times]),
            "mix_seconds": seconds(mixed), "runs": args.repeat,
            "parameters": sum(p.numel() for p in network.parameters()), **peak}


# -- TransformerNet ----------------------------------------------------------------------------
def _padded_conv(cin: int, cout: int, kernel: int, stride: int = 1,
                 upsample: bool = False) -> list[nn.Module]:
    """[x2 nearest upsampling,] reflection padding of half the kernel, a convolution."""
    layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest")] if upsample else []
    return [*layers, nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride)]


def _conv_norm_relu(cin: int, cout: int, kernel: int, stride: int = 1,
                    upsample: bool = False) -> list[nn.Module]:
    return [*_padded_conv(cin, cout, kernel, stride, upsample),
            nn.InstanceNorm2d(cout, affine=True), nn.ReLU()]


class _ResidualBlock(nn.Module):
    """x + (conv, norm, ReLU, conv, norm)(x), 3x3 convolutions that keep the channels."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*_conv_norm_relu(channels, channels, 3),
                                  *_padded_conv(channels, channels, 3),
                                  nn.InstanceNorm2d(channels, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def transformer_net() -> nn.Sequential:
    """The image transformation network of Johnson et al. (2016) as pytorch/examples'
    fast_neural_style describes it: 9x9 3->32, 3x3/2 32->64, 3x3/2 64->128 (each with
    affine instance norm and ReLU), five residual blocks of 128 channels, two x2 nearest
    upsamplings each followed by a 3x3 convolution (128->64, 64->32, norm, ReLU), a 9x9
    convolution 32->3 (no output activation); reflection padding throughout."""
    return nn.Sequential(*_conv_norm_relu(3, 32, 9), *_conv_norm_relu(32, 64, 3, stride=2),
                         *_conv_norm_relu(64, 128, 3, stride=2),
                         *(_ResidualBlock(128) for _ in range(5)),
                         *_conv_norm_relu(128, 64, 3, upsample=True),
                         *_conv_norm_relu(64, 32, 3, upsample=True), *_padded_conv(32, 3, 9))


def measure_transformer_net(args: argparse.Namespace, size: tuple[int, int]) -> dict:
    """TransformerNet's eager forward at ``size`` under ``torch.no_grad``: contiguous NCHW
    (as pytorch/examples runs it; its peak memory), then channels_last for comparison."""
    from styx.runtime.device import resolve_device

    device = resolve_device(args.device)
    torch.manual_seed(0)
    network = transformer_net().to(device).eval()
    image = content(size).to(device)
    cuda = device.type == "cuda"

    def forward() -> None:
        with torch.no_grad():
            out = network(image)
        assert out.shape == image.shape, (out.shape, image.shape)

    with _common.peak_memory(args.device) as peak:
        nchw = _common.time_calls(forward, repeat=args.repeat, cuda=cuda)
    network.to(memory_format=torch.channels_last)
    image = image.contiguous(memory_format=torch.channels_last)
    channels_last = _common.time_calls(forward, repeat=args.repeat, cuda=cuda)
    return {"seconds": seconds(nchw), "channels_last_seconds": seconds(channels_last),
            "runs": args.repeat, "parameters": sum(p.numel() for p in network.parameters()),
            **peak}


# -- the processes -----------------------------------------------------------------------------
def run_phase(args: argparse.Namespace) -> dict:
    kind, _, detail = args.phase.partition(":")
    if kind == "training":
        method, _, precision = detail.partition(":")
        return measure_training(args, method, precision)
    if kind == "bf16-support":
        return bf16_support(args)
    if kind == "model":
        return make_model(args)
    measure = {"inference": measure_inference, "forward": measure_forward,
               "transformer-net": measure_transformer_net}[kind]
    return measure(args, parse_size(detail))


def training_section(args: argparse.Namespace, work: str) -> dict:
    """The training phases, interleaved (fp32 of both methods, then bf16 of both)."""
    section: dict = {"image_size": 256, "batch_size": 4, "iterations_timed": args.iterations,
                     "weights": "random", "descriptors": DESCRIPTORS, "style_images": METHODS}
    support = None
    if args.bf16 == "auto":
        support = _common.run_phase_process(__file__, "bf16-support", "--work", work)
        section["bf16_support"] = support
    rates: dict[str, dict[str, float]] = {}
    for precision in PRECISIONS:
        for method in METHODS:
            entry = section.setdefault(method.replace("-", "_"), {})
            if precision == "bf16" and args.bf16 == "off":
                entry[precision] = {"skipped": "--bf16 off"}
                continue
            if precision == "bf16" and support is not None and not support.get("native"):
                why = "bf16_support failed" if _common.failed(support) else \
                    "the device has no native bf16 (see bf16_support)"
                entry[precision] = {"skipped": f"{why}; --bf16 on measures it anyway"}
                continue
            value = _common.run_phase_process(__file__, f"training:{method}:{precision}",
                                              "--work", work)
            entry[precision] = value
            if "images_per_second" in value:
                rates.setdefault(precision, {})[method] = value["images_per_second"]
    section["stylebank_over_texture_nets"] = {
        precision: round(r["stylebank"] / r["texture-nets"], 3)
        for precision, r in rates.items() if len(r) == 2}
    return section


def main() -> None:
    parser = _common.parser(__doc__)
    parser.add_argument("--iterations", type=int, default=6,
                        help="timed training iterations (after one warm-up); a multiple of "
                             "3 keeps StyleBank's 2 stylising : 1 auto-encoder steps")
    parser.add_argument("--repeat", type=int, default=5, help="timed inference runs")
    parser.add_argument("--sizes", default="512x512,1024x768",
                        help="inference sizes, width x height")
    parser.add_argument("--compare-size", default="1024x768",
                        help="the size of the TransformerNet comparison")
    parser.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                        help="bf16 training: auto measures it where the device computes "
                             "bf16 natively")
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = _common.parse_args(parser)
    if _common.child(args, run_phase):  # a child process: one measurement
        return

    results = _common.machine(args, method="stylebank",
                              network="default NetworkConfig (width 32, reflect padding, "
                                      "instance norm), 2 styles")
    sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    compare = args.compare_size.strip().lower()
    with tempfile.TemporaryDirectory() as work:
        results["training"] = training_section(args, work)
        model = _common.run_phase_process(__file__, "model", "--work", work)
        inference: dict = {}
        results["inference"] = inference
        if _common.failed(model):
            inference["error"] = model["error"]
        else:
            for size in dict.fromkeys([*sizes, compare]):
                inference[size] = _common.run_phase_process(__file__, f"inference:{size}",
                                                            "--work", work)
                inference[size]["forward"] = _common.run_phase_process(
                    __file__, f"forward:{size}", "--work", work)
        net = _common.run_phase_process(__file__, f"transformer-net:{compare}", "--work", work)
    results["transformer_net"] = comparison(net, inference.get(compare, {}), compare)
    print(json.dumps(results, indent=2))


def comparison(net: dict, stylebank: dict, size: str) -> dict:
    """TransformerNet's numbers at ``size`` and StyleBank's time over its."""
    if _common.failed(net):
        return net
    out = {f"{size}_seconds": net["seconds"],
           f"{size}_channels_last_seconds": net["channels_last_seconds"],
           **{k: v for k, v in net.items() if k not in ("seconds", "channels_last_seconds")}}
    if "style_seconds" in stylebank:
        ratio = stylebank["style_seconds"] / net["seconds"]
        out["stylebank_ratio"] = round(ratio, 3)
        out["target_met"] = ratio <= 1.0
    forward = stylebank.get("forward", {})
    if "style_seconds" in forward:
        out["stylebank_forward_ratio"] = round(forward["style_seconds"] / net["seconds"], 3)
    out["note"] = ("stylebank_ratio: StyleBank's model(image, style=...) seconds over "
                   "TransformerNet's eager NCHW forward (target <= 1); "
                   "stylebank_forward_ratio: its bare channels_last forward")
    return out


if __name__ == "__main__":
    main()
