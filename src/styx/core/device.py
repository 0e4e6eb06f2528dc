"""Choosing the device and the autocast (mixed precision) setting."""

from __future__ import annotations

import contextlib

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
                            "use --device cpu (or auto), or install a CUDA build of torch")
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


def autocast_dtype(device: torch.device | str, dtype: str = "auto") -> torch.dtype | None:
    """The autocast dtype ``dtype`` means on ``device``; None when autocast is off.

    ``auto`` = bf16 on CUDA (fp16 where the GPU lacks bf16), off elsewhere.
    """
    device = torch.device(device) if isinstance(device, str) else device
    key = (dtype or "auto").strip().lower()
    key = _DTYPE_ALIASES.get(key, key)
    if key not in DTYPES:
        raise StyxError(f"unknown precision {dtype!r}", f"choose one of {', '.join(DTYPES)}")
    if key in ("off", "fp32"):
        return None
    if key == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if key == "bf16" else torch.float16


def autocast(device: torch.device | str, dtype: str = "auto") -> contextlib.AbstractContextManager:
    """A context manager: ``torch.autocast`` on ``device`` when enabled, else a no-op.

    ``dtype``: ``auto`` (bf16 on CUDA, off on CPU/MPS), ``bf16``, ``fp16``, ``fp32``/``off``.
    """
    device = torch.device(device) if isinstance(device, str) else device
    chosen = autocast_dtype(device, dtype)
    if chosen is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=chosen)

