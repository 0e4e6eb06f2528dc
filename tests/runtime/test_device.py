"""Device choice and autocast settings (this machine has no GPU: CUDA/MPS are faked here)."""

from __future__ import annotations

import pytest
import torch

from styx.core.errors import StyxError
from styx.runtime import device as device_module
from styx.runtime.device import autocast, choose_precision, resolve_device


@pytest.fixture
def no_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_module, "_mps_available", lambda: False)


def test_auto_is_cpu_without_accelerators(no_accelerator):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device() == torch.device("cpu")
    assert resolve_device("CPU") == torch.device("cpu")


def test_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(device_module, "_mps_available", lambda: True)
    assert resolve_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "mps"


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "mps"])
def test_absent_accelerator_is_a_styx_error_with_a_hint(no_accelerator, name):
    with pytest.raises(StyxError, match="not available") as caught:
        resolve_device(name)
    assert caught.value.hint and "cpu" in caught.value.hint


def test_cuda_index_out_of_range(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(StyxError, match="only 1 CUDA"):
        resolve_device("cuda:3")


@pytest.mark.parametrize("name", ["gpu0", "tpu", "meta"])
def test_unknown_device(no_accelerator, name):
    with pytest.raises(StyxError, match="device"):
        resolve_device(name)


def test_precision_choices(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: False)
    assert choose_precision(cpu, "auto").dtype is None
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: True)
    assert choose_precision(cpu, "auto").dtype is torch.bfloat16
    assert choose_precision(cpu, "off").dtype is None and choose_precision(cpu, "fp32").dtype is None
    assert choose_precision(cpu, "bf16").dtype is torch.bfloat16
    assert choose_precision("cpu", "fp16").dtype is torch.float16
    with pytest.raises(StyxError, match="unknown precision"):
        choose_precision(cpu, "fp8")


def test_auto_is_bf16_on_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert choose_precision(torch.device("cuda"), "auto").dtype is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert choose_precision(torch.device("cuda"), "auto").dtype is torch.float16


def test_autocast_on_cpu_runs_matmul_in_bf16_only_when_asked(monkeypatch):
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: False)
    a, b = torch.rand(8, 8), torch.rand(8, 8)
    with autocast("cpu", "bf16"):
        assert (a @ b).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "auto"):
        assert (a @ b).dtype == torch.float32
    with autocast("cpu", "off"):
        assert (a @ b).dtype == torch.float32
