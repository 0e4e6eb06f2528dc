"""``--check``: an exported file run in onnxruntime against the PyTorch network.

Three sizes, one of them odd and one a batch of two, on real photos (the calibration
photos of an int8 file, else the sample photo shipped with styx), with every other input
(noise, style weights) the same for both. A float32 file must stay within 1e-3 of PyTorch
and a float16 one within 2e-2 (the largest difference over every pixel); an int8 file
within a PSNR of 30 dB of the float32 network. A StyleBank file is also run with a random
mix of its styles.

A file with style inputs is checked for meaning too: each style input gets a real picture
(another check photo), and the file's output must move when the picture does (a style
input that the graph ignores, or that is filled with noise, fails).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from styx.core.inputs import STYLE, UNMOVED
from styx.exports.onnx.config import MAX_DIFFERENCE, MIN_INT8_PSNR, OnnxOptions
from styx.generators.models import Model
from styx.inference.onnxfile import stand_in_styles

#: The (height, width, batch) of the three checks, at least the file's smallest size.
CHECK_SIZES = ((96, 128, 2), (97, 131, 1), (256, 192, 1))


@dataclass
class CheckCase:
    size: str
    batch: int
    inputs: str
    value: float


@dataclass
class CheckReport:
    """Every case of one check, and whether the file passed."""

    precision: str
    measure: str  # "max_abs_difference" or "psnr_db"
    bound: float
    cases: list[CheckCase] = field(default_factory=list)
    #: What the file gets wrong beyond pixel differences (a style input it ignores).
    problems: list[str] = field(default_factory=list)

    @property
    def worst(self) -> float:
        values = [case.value for case in self.cases]
        return min(values) if self.measure == "psnr_db" else max(values)

    @property
    def passed(self) -> bool:
        if self.problems:
            return False
        return self.worst >= self.bound if self.measure == "psnr_db" else self.worst <= self.bound

    def summary(self) -> str:
        if self.problems:
            return "; ".join(self.problems)
        if self.measure == "psnr_db":
            return (f"{self.precision} PSNR {self.worst:.1f} dB against float32 "
                    f"(at least {self.bound:g} dB wanted)")
        return (f"{self.precision} largest difference from PyTorch {self.worst:.2e} "
                f"(at most {self.bound:g} allowed)")


def psnr(reference: np.ndarray, other: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of ``other`` against ``reference`` (peak 1)."""
    error = float(np.mean((reference.astype(np.float64) - other.astype(np.float64)) ** 2))
    return math.inf if error == 0 else 10.0 * math.log10(1.0 / error)


def check_photos(config: OnnxOptions) -> list[np.ndarray]:
    """The photos a check runs on (1 x 3 x H x W): up to four readable calibration photos
    of an int8 file, else styx's sample photo."""
    from styx.files.image_arrays import sample_image
    from styx.inference.batch import load_photo, readable_photos

    photos = [] if config.calibrate is None else readable_photos(config.calibrate, limit=4)
    return photos or [load_photo(sample_image("content"), None)[0]]


def check_file(path: Path, model: Model, config: OnnxOptions) -> CheckReport:
    """Run ``path`` and ``model``'s generator side by side (see the module docstring)."""
    from styx.exports.onnx.graph import float_copy
    from styx.inference.onnxfile import OnnxGenerator
    from styx.runtime.image_tensors import resize_to

    onnx_generator = OnnxGenerator.open(path, provider="cpu")
    network = float_copy(model.generator)
    precision = config.precision
    report = CheckReport(precision=precision,
                         measure="psnr_db" if precision == "int8" else "max_abs_difference",
                         bound=MIN_INT8_PSNR if precision == "int8" else
                         MAX_DIFFERENCE[precision])
    pictures = check_photos(config)
    if onnx_generator.names_of_kind(STYLE) and len(pictures) < 2:  # a painting to swap in
        pictures.append(np.ascontiguousarray(1.0 - pictures[0][..., ::-1]))
    photos = [torch.from_numpy(photo) for photo in pictures]
    smallest = onnx_generator.smallest_size
    rng = np.random.default_rng(0)
    for index, (height, width, batch) in enumerate(CHECK_SIZES):
        height, width = max(height, smallest), max(width, smallest)
        images = torch.cat([resize_to(photos[(index + i) % len(photos)], (height, width))
                            for i in range(batch)]).numpy()
        styles = stand_in_styles(onnx_generator.metadata, pictures, index)
        variants = [("default", styles)]
        per_style = onnx_generator.per_style_input
        weights = onnx_generator.metadata["inputs"].get(per_style) if per_style else None
        if weights is not None and int(weights["shape"][0]) > 1 and index == 1:
            mix = rng.random(int(weights["shape"][0])).astype(np.float32)
            variants.append(("style mix", {**styles, per_style: mix / mix.sum()}))
        for label, given in variants:
            feed = onnx_generator.inputs_for(images, seed=index, **given)
            out = onnx_generator.run(images, seed=index, **given)
            with torch.no_grad():
                reference = network(**{name: torch.from_numpy(value)
                                       for name, value in feed.items()
                                       if name in network.input_names})
            reference = reference.clamp(0, 1).numpy()
            value = psnr(reference, out) if precision == "int8" else \
                float(np.abs(reference - out).max())
            report.cases.append(CheckCase(size=f"{height}x{width}", batch=batch, inputs=label,
                                          value=round(value, 6 if precision != "int8" else 2)))
        if index == 0:
            report.problems += ignored_styles(onnx_generator, images, styles, pictures)
    return report


def ignored_styles(onnx_generator, images: np.ndarray, styles: dict[str, np.ndarray],
                   pictures: list[np.ndarray]) -> list[str]:
    """The style inputs whose swap for another picture leaves the output unmoved."""
    problems = []
    out = onnx_generator.run(images, seed=0, **styles)
    for name, picture in styles.items():
        other = next(p for p in pictures if p is not picture)
        moved = onnx_generator.run(images, seed=0, **{**styles, name: other})
        change = float(np.abs(moved - out).mean())
        if change < UNMOVED:
            problems.append(f"the output does not change when the style image {name!r} does "
                            f"(mean change {change:.1e})")
    return problems
