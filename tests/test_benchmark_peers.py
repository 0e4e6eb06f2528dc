"""benchmarks/neural_style_pt.py's one non-obvious step: the VGG19 saved for styx computes
the same features of a picture as the one saved for neural-style-pt does of its Caffe
input (BGR, 0-256, mean subtracted), so one objective can judge both programs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def load_benchmark():
    sys.path.insert(0, str(ROOT / "benchmarks"))  # for its `import _common`
    try:
        spec = importlib.util.spec_from_file_location("neural_style_pt",
                                                      ROOT / "benchmarks" / "neural_style_pt.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_styx_weights_see_a_picture_as_neural_style_pt_sees_its_caffe_input(tmp_path,
                                                                           one_thread):
    import torchvision

    from styx.perceptual.descriptor import build_descriptor

    benchmark = load_benchmark()
    theirs_path, ours_path = benchmark.write_weights(tmp_path, seed=0)
    theirs = torchvision.models.vgg19(weights=None).features.eval()
    state = torch.load(theirs_path, weights_only=True)  # written by this test
    theirs.load_state_dict({k.removeprefix("features."): v for k, v in state.items()})
    ours = build_descriptor("vgg19", str(ours_path), layers=["relu2_1"]).eval()

    picture = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(1))
    mean = torch.tensor(benchmark.CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    caffe = picture[:, [2, 1, 0]] * benchmark.CAFFE_SCALE - mean
    with torch.no_grad():
        expected = {"relu1_1": theirs[:2](caffe), "relu2_1": theirs[:7](caffe)}
        got = ours(picture, ["relu1_1", "relu2_1"])
    for layer, value in expected.items():
        scale = value.abs().max()
        inside = (slice(None), slice(None), slice(3, -3), slice(3, -3))  # borders: padding
        torch.testing.assert_close(got[layer][inside], value[inside], rtol=0,
                                   atol=1e-5 * float(scale))
        # At the borders zero padding is the mean pixel in both, up to 255 vs 256.
        assert (got[layer] - value).abs().max() < 5e-3 * scale, layer
    # Without the rewrite the features would differ entirely.
    plain = build_descriptor("vgg19", str(theirs_path), layers=["relu1_1"]).eval()
    with torch.no_grad():
        assert (plain(picture, ["relu1_1"])["relu1_1"] - expected["relu1_1"]).abs().max() > \
            0.1 * expected["relu1_1"].abs().max()
