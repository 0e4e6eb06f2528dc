"""The ONNX exporter's options (no torch here: ``styx export --help`` reads them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from styx.core.checks import choice, existing_path, number, optional
from styx.core.config import Config, option
from styx.core.errors import StyxError

#: The opsets the exporter is tested with; older ones lack ops the generators need.
MIN_OPSET, MAX_OPSET, DEFAULT_OPSET = 13, 21, 17

#: ``--check`` bounds: the largest |ONNX - PyTorch| difference allowed per precision, and
#: the smallest PSNR of an int8 file against the float32 network.
MAX_DIFFERENCE = {"fp32": 1e-3, "fp16": 2e-2}
MIN_INT8_PSNR = 30.0

#: Where each precision's file runs fast, recorded in its metadata as ``fast_on``.
FAST_ON = {
    "fp32": "any CPU or GPU (onnxruntime's float kernels)",
    "fp16": "CUDA GPUs; slow on CPUs",
    "int8": "x86-64 CPUs with AVX-512 VNNI or AVX-VNNI (uint8 x int8 kernels); no faster "
            "than fp32 without VNNI; ARM64 with dot-product instructions, untested",
}


@dataclass(kw_only=True)
class OnnxOptions(Config):
    """How ``styx export METHOD --onnx`` writes the file."""

    label = "the onnx exporter"

    opset: int = option(DEFAULT_OPSET, check=number(minimum=MIN_OPSET, maximum=MAX_OPSET,
                                                    integer=True),
                        help=f"ONNX opset version ({MIN_OPSET}-{MAX_OPSET}).")
    fp16: bool = option(False, help="Store the weights and compute in float16 (inputs and "
                                    "outputs stay float32); for GPUs.")
    quantize: str | None = option(None, check=optional(choice("int8")), metavar="int8",
                                  help="Quantise to int8 (static, calibrated on --calibrate).")
    calibrate: Path | None = option(None, check=existing_path("folder", optional=True),
                                    help="Folder of content photos to calibrate int8 on.")
    calibrate_size: int = option(512, check=number(minimum=16, integer=True),
                                 help="Long side of the calibration photos in pixels.")
    calibrate_count: int = option(16, check=number(minimum=1, integer=True),
                                  help="How many calibration photos to use at most.")
    verify: bool = option(False, name="check", help="Run the file in onnxruntime on three sizes against "
                                     "PyTorch; fail if it differs.")

    def check(self) -> None:  # type: ignore[override]
        super().check()
        if self.quantize and self.fp16:
            raise StyxError("give --fp16 or --quantize int8, not both",
                            "int8 files keep float32 inputs and outputs already")
        if self.quantize and self.calibrate is None:
            raise StyxError("--quantize int8 needs --calibrate DIR",
                            "give a folder of photos like the ones the model will stylise")
        if self.calibrate is not None and not self.quantize:
            raise StyxError("--calibrate is for --quantize int8", "add --quantize int8")

    @property
    def precision(self) -> str:
        """``fp32``, ``fp16`` or ``int8``."""
        return "int8" if self.quantize else "fp16" if self.fp16 else "fp32"
