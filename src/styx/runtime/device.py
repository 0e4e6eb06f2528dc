"""Choosing the device and the autocast (mixed precision) setting."""

from __future__ import annotations

import contextlib
import platform
from dataclasses import dataclass
from typing import Any

import torch

from styx.core.bundles import PRECISION_ALIASES as _DTYPE_ALIASES
from styx.core.bundles import PRECISIONS as DTYPES
from styx.core.errors import StyxError


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``"auto"``: cuda if available, else mps, else cpu. ``"cuda:1"``, ``"mps"``, ``"cpu"`` too.

    Asking for a device this machine lacks is a StyxError with a hint.
    """
    if isinstance(name, torch.device):
        name = str(name)
    text = (name or "auto").strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise StyxError(f"unknown device {name!r}",
                        "use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise StyxError(f"device {name!r} asked for, but CUDA is not available",
                            _no_gpu_hint())
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise StyxError(f"device {name!r} asked for, but only "
                            f"{torch.cuda.device_count()} CUDA device(s) exist",
                            "use --device cuda:0 .. cuda:N-1")
    elif device.type == "mps":
        if not _mps_available():
            raise StyxError(f"device {name!r} asked for, but MPS is not available",
                            "use --device cpu (or auto)")
    elif device.type != "cpu":
        raise StyxError(f"unsupported device {name!r}", "use auto, cpu, cuda, cuda:N or mps")
    return device


def _no_gpu_hint() -> str:
    """The hint for ``--device cuda`` where torch sees no GPU: a GPU build that sees none is
    a driver or visibility matter; only a CPU-only build needs another torch."""
    if torch.version.cuda:
        return (f"this torch is a CUDA build (CUDA {torch.version.cuda}) but sees no GPU: "
                "check nvidia-smi, the driver and CUDA_VISIBLE_DEVICES, or use --device cpu")
    if getattr(torch.version, "hip", None):
        return (f"this torch is a ROCm build (ROCm {torch.version.hip}) but sees no GPU: "
                "check rocm-smi, the driver and HIP_VISIBLE_DEVICES, or use --device cpu")
    return "this torch is a CPU-only build: use --device cpu (or auto), or install a CUDA " \
           "build of torch"


def free_bytes(device: torch.device) -> int | None:
    """What ``device`` has free for tensors: a CUDA device's free memory plus what torch's
    own cache holds (it reuses that); the host's for the CPU; None where unknown (MPS)."""
    from styx.runtime.memory import available_bytes

    free = None
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        free = torch.cuda.mem_get_info(index)[0] + torch.cuda.memory_reserved(index) - \
            torch.cuda.memory_allocated(index)
    return available_bytes(str(device), device_free=free)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX on x86, the BF16
    extension on Arm), as torch's cpuinfo reports it. Without it oneDNN emulates bf16, which
    is slower than fp32 (on an AVX2-only CPU a Gatys step ran about 100x slower)."""
    cpu = torch.cpu
    if platform.machine().lower() in ("arm64", "aarch64"):
        # On Arm oneDNN's bf16 check is the hardware's (on x86 it may say yes to emulation).
        check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        return bool(check is not None and torch.backends.mkldnn.is_available() and check())
    checks = [getattr(cpu, name, None) for name in ("_is_avx512_bf16_supported",
                                                    "_is_amx_tile_supported")]
    return any(check is not None and bool(check()) for check in checks)


@dataclass(frozen=True)
class Precision:
    """What ``--amp`` means on a device: the autocast dtype (None: plain fp32) and why."""

    #: The device it was chosen for, and runs on.
    device: torch.device
    #: ``bf16``, ``fp16`` or ``fp32``: what runs (recorded in logs, metadata and --json).
    name: str
    #: The autocast dtype, or None for no autocast (exact fp32).
    dtype: torch.dtype | None
    #: The ``--amp`` value asked for, in its canonical spelling (``auto``, ``bf16``, ...).
    asked: str
    #: Why, in a few words: ``auto: this CPU has native bf16`` (empty when asked for).
    reason: str = ""

    def describe(self) -> str:
        """``bf16 (auto: this CPU has native bf16)``, or ``fp32`` when asked for."""
        return f"{self.name} ({self.reason})" if self.reason else self.name

    def autocast(self) -> contextlib.AbstractContextManager:
        """``torch.autocast`` on the device with this dtype, or a no-op for fp32."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def announce(self, what: str) -> list[str]:
        """A run's first line, ``WHAT on DEVICE in PRECISION (why)``, and the note of
        :meth:`slow_here_note` after it when there is one."""
        slow = self.slow_here_note()
        return [f"{what} on {self.device} in {self.describe()}", *([slow] if slow else [])]

    def slow_here_note(self) -> str | None:
        """A note when bf16 was asked for on a CPU that only emulates it, else None."""
        if self.asked == "bf16" and self.device.type == "cpu" and not cpu_has_native_bf16():
            return ("note: this CPU has no native bf16 (AVX-512 BF16 or AMX): --amp bf16 "
                    "is emulated and slower than fp32; --amp auto uses fp32 here")
        return None


def choose_precision(device: torch.device | str, amp: str = "auto") -> Precision:
    """The :class:`Precision` ``amp`` means on ``device``.

    ``auto``: bf16 on CUDA (fp16 where the GPU lacks bf16) and on CPUs with native bf16
    (AVX-512 BF16 or AMX: 1.5-2.7x faster, the final loss within 1 %, see docs/precision.md);
    fp32 elsewhere (MPS, CPUs that would emulate bf16). ``off``/``fp32``: no autocast;
    ``bf16``/``fp16``: that dtype. An unknown value is a StyxError.
    """
    device = torch.device(device) if isinstance(device, str) else device
    key = (amp or "auto").strip().lower()
    key = _DTYPE_ALIASES.get(key, key)
    if key not in DTYPES:
        raise StyxError(f"unknown precision {amp!r}", f"choose one of {', '.join(DTYPES)}")

    def chosen(name: str, reason: str = "") -> Precision:
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}[name]
        return Precision(device=device, name=name, dtype=dtype, asked=key, reason=reason)

    if key in ("off", "fp32"):
        return chosen("fp32")
    if key in ("bf16", "fp16"):
        return chosen(key)
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return chosen("bf16", "auto: CUDA")
        return chosen("fp16", "auto: this GPU lacks bf16")
    if device.type == "cpu" and cpu_has_native_bf16():
        return chosen("bf16", "auto: this CPU has native bf16")
    if device.type == "cpu":
        return chosen("fp32", "auto: this CPU has no native bf16")
    return chosen("fp32", f"auto: {device.type}")


def precision_of(config: Any) -> Precision:
    """What a run config's ``device`` and ``amp`` (:class:`~styx.core.bundles.RuntimeOptions`)
    mean on this machine: the device is :attr:`Precision.device`. A config without them
    runs on the default device in fp32."""
    return choose_precision(resolve_device(getattr(config, "device", "auto")),
                            getattr(config, "amp", "off"))


def autocast(device: torch.device | str, dtype: str = "auto") -> contextlib.AbstractContextManager:
    """A context manager: ``torch.autocast`` on ``device`` when ``dtype`` (an ``--amp``
    value, see :func:`choose_precision`) enables it, else a no-op."""
    return choose_precision(device, dtype).autocast()
