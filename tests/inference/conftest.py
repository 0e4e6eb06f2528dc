"""What the tests of ``styx.inference`` share."""

from __future__ import annotations

from pathlib import Path

import pytest

import styx


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A small texture-nets file and a StyleBank file of three styles, exported fp32 (one
    pair for each test module)."""
    from trained_models import save_stylebank, save_texture_nets

    root = tmp_path_factory.mktemp("inference")
    return {"texture-nets": styx.export(save_texture_nets(root / "tn"), "onnx",
                                        root / "tn.onnx"),
            "stylebank": styx.export(save_stylebank(root / "sb"), "onnx", root / "sb.onnx")}
