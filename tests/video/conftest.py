"""What the video tests share: small models (a texture-nets model, stored and exported to
ONNX, and a StyleBank model), made once per session, and the clips of
``tests/video_clips.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

import styx


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """``styx run``'s tiny convolutions on one intra-op thread (the root conftest's)."""


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    """``texture-nets`` (a model folder), ``texture-nets.onnx`` (it, exported fp32) and
    ``stylebank`` (a model folder of three styles)."""
    from trained_models import save_stylebank, save_texture_nets

    root = tmp_path_factory.mktemp("video-models")
    folder = save_texture_nets(root / "tn")
    return {"texture-nets": folder,
            "texture-nets.onnx": styx.export(folder, "onnx", root / "tn.onnx"),
            "stylebank": save_stylebank(root / "sb")}


@pytest.fixture
def infer(styx_cli, models):
    """``styx infer TN.onnx ARGS... -q`` in this process (onnxruntime)."""

    def run(*args: str):
        return styx_cli("infer", str(models["texture-nets.onnx"]), *map(str, args), "-q")

    return run


@pytest.fixture
def run_tn(styx_cli, models):
    """``styx run texture-nets --model TN ARGS... -q`` in this process (PyTorch)."""

    def run(*args: str):
        return styx_cli("run", "texture-nets", "--model", str(models["texture-nets"]),
                        *map(str, args), "-q")

    return run
