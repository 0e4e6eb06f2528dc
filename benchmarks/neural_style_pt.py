"""Side by side with neural-style-pt (ProGamerGov's PyTorch port of Johnson's neural-style):
seconds per L-BFGS step, and the time styx takes to reach the loss neural-style-pt reaches
in ``--steps`` steps.

Prints one JSON document with one entry per size (default 256 and 512 px, long side). Both
programs get the same VGG19 (random weights: torchvision's initialisation, ``--seed``),
the sample photo and painting, content and style layers (relu4_2; relu1_1 ... relu5_1),
loss weights (content 5, style 100 per layer, TV 1e-3: neural-style-pt's defaults) and
L-BFGS from the content image (``-init image``); styx runs with every other setting at its
default (``--amp auto``, channels_last, L-BFGS memory 20).

* The weights are saved twice: for neural-style-pt in its format (a ``.pth`` of
  ``features.N.*``, its Caffe input: BGR, 0-256, mean subtracted), and for styx (torchvision
  input: RGB in [0, 1], normalised by the ImageNet mean and std) as a ``.safetensors`` whose
  first convolution absorbs the difference, so both networks compute the same features of
  the same picture.
* Both read the sample photo and painting resized once to the size (PNG files), so they
  see the same pixels.
* One fp32 objective judges both: styx's, with neural-style-pt's losses (content MSE; Gram
  divided by C*H*W, then the mean squared difference, i.e. styx's ``elements``; TV as the
  L1 sum of differences of the 0-256 image) over those weights. ``judge_check`` compares
  its loss of the content image, where both runs start, with neural-style-pt's own first
  reported loss (they differ by the resizing of the content image and the rounding of the
  mean pixel).
* neural-style-pt runs in its own process (``python -m neural_style.neural_style``, fp32,
  the CPU or ``-gpu 0``); its steps are timed from its per-iteration output. styx runs
  ``styx.stylize("gatys", ...)`` and stops as soon as its loss reaches neural-style-pt's
  final loss under the judge (checked again on the written 8-bit image).

``speedup_per_step`` and ``speedup_to_loss`` are neural-style-pt's time over styx's (the
optimisation alone; the setup seconds are given too). The target (issue 12): at least 2x at
512 px. neural-style-pt must be installed without its dependencies (``pip install --no-deps
neural-style``; ``nox -s bench`` does); without it the document says so and exits 0.

Usage: ``python benchmarks/neural_style_pt.py [--sizes 256,512] [--steps 100]
[--device cpu|cuda]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

#: neural-style-pt's default loss weights and layers, used by both programs.
CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT = 5.0, 100.0, 1e-3
CONTENT_LAYERS = "relu4_2"
STYLE_LAYERS = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1"
#: styx runs at least this many steps, for its seconds per step.
MIN_STEPS = 10
#: neural-style-pt's preprocessing: BGR, 0-256 (it multiplies by 256), this mean subtracted.
CAFFE_SCALE = 256.0
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def write_weights(folder: Path, seed: int) -> tuple[Path, Path]:
    """One random VGG19, saved for neural-style-pt (its input space) and for styx (its own,
    the first convolution rewritten to match)."""
    import torch
    import torchvision
    from safetensors.torch import save_file

    from styx.perceptual.descriptor import IMAGENET_MEAN, IMAGENET_STD

    torch.manual_seed(seed)
    features = torchvision.models.vgg19(weights=None).features.state_dict()
    theirs = {f"features.{k}": v.clone() for k, v in features.items()}
    ours = {k: v.clone() for k, v in theirs.items()}
    # Theirs sees q_k = 256 x_rgb(k) - mean_k (k in BGR order); ours n_c = (x_c - m_c) / s_c.
    # Since x_c = s_c n_c + m_c: q_k = 256 s_c n_c + (256 m_c - mean_k), for c = rgb(k):
    # our weight for c is 256 s_c times theirs for k, and the constants join the bias.
    weight, bias = theirs["features.0.weight"], theirs["features.0.bias"]
    new_weight, new_bias = torch.empty_like(weight), bias.clone()
    for c in range(3):
        k = 2 - c
        new_weight[:, c] = CAFFE_SCALE * IMAGENET_STD[c] * weight[:, k]
        constant = CAFFE_SCALE * IMAGENET_MEAN[c] - CAFFE_MEAN_BGR[k]
        new_bias += constant * weight[:, k].sum(dim=(1, 2))
    ours["features.0.weight"], ours["features.0.bias"] = new_weight, new_bias
    theirs_path, ours_path = folder / "vgg19-random.pth", folder / "vgg19-random.safetensors"
    torch.save(theirs, theirs_path)  # written here, read by neural-style-pt: not untrusted
    save_file({k: v.contiguous() for k, v in ours.items()}, str(ours_path))
    return theirs_path, ours_path


def styx_options(weights: Path, size: int, device: str) -> dict:
    """The Gatys options of the styx run: neural-style-pt's losses, styx's defaults for the
    rest. Its TV, the sum of |differences| of the 0-256 image, becomes styx's L1 TV (the
    mean over each direction) weighted by the count of differences of a square image."""
    count = 3 * size * (size - 1)  # per direction, for a square image of this long side
    return {"weights": str(weights), "size": size, "device": device,
            "content_layers": CONTENT_LAYERS, "style_layers": STYLE_LAYERS,
            "content_weight": CONTENT_WEIGHT, "style_weight": STYLE_WEIGHT,
            "tv_weight": TV_WEIGHT * CAFFE_SCALE * count, "loss_options": {"tv": {"power": 1}, "style": {"normalization": "elements"}},
            "balance_style_layers": False, "init": "content"}


class Judge:
    """The one fp32 objective, at one image size: styx's content and style terms, and
    neural-style-pt's TV computed as it does; ``judge(image)`` (1 x 3 x H x W in [0, 1])."""

    def __init__(self, images: tuple[Path, Path], weights: Path, size: int,
                 device: str) -> None:
        from styx.plugins.methods.gatys.config import GatysConfig

        options = {**styx_options(weights, size, device), "amp": "off", "tv_weight": 0.0}
        self.run = _common.gatys_run(GatysConfig(**options), images[0], [images[1]])
        self.seconds = 0.0  # time spent judging (not the run's)

    def __call__(self, image) -> float:
        import torch
        import torch.nn.functional as F

        started = time.perf_counter()
        if tuple(image.shape[-2:]) != tuple(self.run.content.shape[-2:]):  # a pixel off
            image = F.interpolate(image, size=self.run.content.shape[-2:], mode="bilinear")
        with torch.no_grad():
            content_and_style = float(self.run.objective(image.to(self.run.device)).total)
        scaled = image.float() * CAFFE_SCALE
        tv = (scaled[..., 1:, :] - scaled[..., :-1, :]).abs().sum() + \
            (scaled[..., :, 1:] - scaled[..., :, :-1]).abs().sum()
        self.seconds += time.perf_counter() - started
        return content_and_style + TV_WEIGHT * float(tv)


def run_theirs(args: argparse.Namespace, images: tuple[Path, Path], weights: Path, size: int,
               out: Path) -> dict:
    command = [sys.executable, "-u", "-m", "neural_style.neural_style",
               "-content_image", str(images[0]), "-style_image", str(images[1]),
               "-image_size", str(size),
               "-model_file", str(weights), "-disable_check", "-init", "image",
               "-num_iterations", str(args.steps), "-print_iter", "1", "-save_iter", "0",
               "-output_image", str(out), "-seed", "0",
               "-gpu", "0" if _common.is_cuda(args.device) else "c"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    stamps, losses = [], []
    for line in process.stdout:
        if line.startswith("Iteration "):
            stamps.append(time.perf_counter())
        elif "Total loss:" in line:
            losses.append(float(line.split(":")[1]))
    process.wait()
    if process.returncode != 0:
        raise SystemExit(f"neural-style-pt failed: {process.stderr.read()[-2000:]}")
    steps = _common.intervals(stamps)
    first = _median(steps) or 0.0  # the first step: before its line, about one step
    return {"steps": len(stamps), "seconds_per_step": _median(steps),
            "optimisation_seconds": round(stamps[-1] - stamps[0] + first, 2),
            "setup_seconds": round(stamps[0] - started - first, 2),
            "own_first_loss": losses[0] if losses else None,
            "own_last_loss": losses[-1] if losses else None}


def run_ours(args: argparse.Namespace, images: tuple[Path, Path], weights: Path, size: int,
             judge: Judge, targets: dict[str, float], out: Path) -> dict:
    """styx until the judge says its image is at every loss of ``targets`` (judged every
    ``--check-every`` steps; the judging time is not counted): the step and seconds at
    which it first reached each."""
    import styx
    from styx.runtime.image_tensors import load_image, save_image

    stamps: list[float] = []
    reached: dict[str, dict] = {}
    started = time.perf_counter()
    judged_before = judge.seconds
    kept: dict = {}

    def callback(info) -> None:
        stamps.append(time.perf_counter() - (judge.seconds - judged_before))
        if info.step % args.check_every:
            return
        kept["image"] = image = info.image()
        loss = judge(image)
        for name, target in targets.items():
            if name not in reached and loss <= target:
                reached[name] = {"step": info.step, "seconds": stamps[-1] - stamps[0]}
        if len(reached) == len(targets) and info.step >= MIN_STEPS:
            raise KeyboardInterrupt  # stop: every target is reached

    result = styx.stylize("gatys", *images, **styx_options(weights, size, args.device),
                          steps=args.max_steps, callback=callback)
    save_image(kept.get("image", result.image), out)
    steps = _common.intervals(stamps)
    # The first step's time is the interval before the first callback, about one step.
    first = _median(steps) or 0.0
    return {"precision": result.precision, "steps": len(stamps),
            "seconds_per_step": _median(steps),
            "reached": {name: {"step": value["step"],
                               "optimisation_seconds": round(value["seconds"] + first, 2)}
                        for name, value in reached.items()},
            "setup_seconds": round(stamps[0] - started - first, 2),
            "judged_loss_of_written_image": judge(load_image(out))}


def _median(values: list[float]) -> float | None:
    import statistics

    return round(statistics.median(values), 4) if values else None


def same_images(folder: Path, size: int) -> tuple[Path, Path]:
    """The sample photo and painting resized to ``size`` (long side) once, as PNG files:
    neither program resizes them again, so both see the same pixels."""
    from styx.runtime.image_tensors import save_image

    paths = []
    for kind, image in zip(("content", "style"), _common.sample_images(size)):
        paths.append(save_image(image, folder / f"{kind}-{size}.png"))
    return paths[0], paths[1]


def compare(args: argparse.Namespace, folder: Path, size: int) -> dict:
    from styx.runtime.image_tensors import load_image

    theirs_weights, ours_weights = write_weights(folder, args.seed)
    images = same_images(folder, size)
    theirs = run_theirs(args, images, theirs_weights, size, folder / f"theirs-{size}.png")
    written = load_image(folder / f"theirs-{size}.png")
    judge = Judge(images, ours_weights, max(written.shape[-2:]), args.device)
    theirs["judged_loss"] = judge(written)
    # Both start from the content image: the judge's loss of it against neural-style-pt's
    # own first loss shows that the two measure the same thing.
    start = judge(judge.run.content)
    # Two targets: the loss of the image neural-style-pt writes (clamped to [0, 1], 8 bits),
    # and the stricter loss it reports for its last step (its unclamped image).
    targets = {"written_image": theirs["judged_loss"], "own_last_loss": theirs["own_last_loss"]}
    ours = run_ours(args, images, ours_weights, size, judge, targets,
                    folder / f"ours-{size}.png")
    speedups = {name: round(theirs["optimisation_seconds"] / value["optimisation_seconds"], 2)
                for name, value in ours["reached"].items()}
    return {"size": size, "targets": targets,
            "judge_check": {"neural_style_pt_first_loss": theirs["own_first_loss"],
                            "judged_loss_of_the_content": start,
                            "relative_difference": round(theirs["own_first_loss"] / start - 1,
                                                         4)},
            "neural_style_pt": theirs, "styx": ours,
            "speedup_per_step": round(theirs["seconds_per_step"] / ours["seconds_per_step"], 2),
            "speedup_to_loss": speedups}


def main() -> None:
    parser = _common.parser(__doc__)
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--steps", type=int, default=100, help="neural-style-pt's steps")
    parser.add_argument("--max-steps", type=int, default=300,
                        help="styx gives up on the target after this many steps")
    parser.add_argument("--check-every", type=int, default=1,
                        help="judge styx's image every N steps")
    parser.add_argument("--seed", type=int, default=0, help="of the random VGG19")
    args = _common.parse_args(parser)
    report = _common.machine(args, comparison="neural-style-pt 0.5.7 (pip: neural-style)")
    if importlib.util.find_spec("neural_style") is None:
        report["skipped"] = "neural-style-pt is not installed: pip install --no-deps neural-style"
        print(json.dumps(report, indent=2))
        return
    from styx.runtime.device import choose_precision, resolve_device

    report["styx_precision"] = choose_precision(resolve_device(args.device), "auto").describe()
    with tempfile.TemporaryDirectory() as tmp:
        report["sizes"] = [compare(args, Path(tmp), int(size))
                           for size in args.sizes.split(",") if size]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
