"""The built-in descriptors: names, taps, truncation, freezing, weights, random weights."""

from __future__ import annotations

import subprocess
import sys
import urllib.error

import pytest
import torch
import torchvision
from torch import nn

import styx
from styx.core.errors import StyxError
from styx.core.plugins import descriptors
from styx.core.specs import DescriptorSpec
from styx.perceptual import weights as weights_module
from styx.perceptual.descriptor import Descriptor, build_descriptor

NAMES = ("vgg16", "vgg19", "resnet50", "inception_v3")
#: The smallest size every tap works at (documented in docs/descriptors.md).
SIZES = {"vgg16": 64, "vgg19": 64, "resnet50": 64, "inception_v3": 75}


@pytest.fixture(scope="module")
def built() -> dict[str, Descriptor]:
    """Each descriptor once, with random weights (seed 0)."""
    return {name: build_descriptor(name, "random", seed=0) for name in NAMES}


def image(size: int, seed: int = 0, batch: int = 1) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def smooth_image(size: int, seed: int = 0) -> torch.Tensor:
    """A photo-like image: low-resolution noise upsampled."""
    small = image(size // 8, seed)
    return nn.functional.interpolate(small, size=(size, size), mode="bicubic").clamp(0, 1)


# -- names ----------------------------------------------------------------------------------------
def test_registered_with_aliases():
    registry = descriptors()
    for name in NAMES:
        assert registry.get(name).name == name
    assert registry.get("inception").name == "inception_v3"
    assert registry.get("ResNet").name == "resnet50"


@pytest.mark.parametrize("name", NAMES)
def test_spec_layers_are_the_networks_taps(built, name):
    spec = descriptors().get(name)
    descriptor = built[name]
    assert list(spec.layers) == descriptor.layers
    assert descriptor.default_content_layers == spec.default_content_layers
    assert descriptor.default_style_layers == spec.default_style_layers
    for layer in (*spec.default_content_layers, *spec.default_style_layers):
        assert layer in spec.layers


def test_layer_naming():
    vgg19 = descriptors().get("vgg19").layers
    assert vgg19[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert vgg19[-3:] == ("conv5_4", "relu5_4", "pool5") and len(vgg19) == 37
    vgg16 = descriptors().get("vgg16").layers
    assert "conv5_3" in vgg16 and "conv5_4" not in vgg16 and len(vgg16) == 31
    resnet = descriptors().get("resnet50").layers
    assert resnet[:6] == ("conv1", "bn1", "relu", "maxpool", "layer1.0", "layer1.1")
    assert resnet[resnet.index("layer1.2") + 1] == "layer1"
    assert resnet[-2:] == ("layer4.2", "layer4") and "layer3.5" in resnet
    inception = descriptors().get("inception_v3").layers
    assert inception[0] == "Conv2d_1a_3x3" and inception[-1] == "Mixed_7c"
    assert {"maxpool1", "maxpool2", "Mixed_6e", "Mixed_7a"} <= set(inception)


def test_plugin_modules_import_no_torch():
    code = ("import sys; import styx.plugins.descriptors.vgg, styx.plugins.descriptors.resnet, "
            "styx.plugins.descriptors.inception; from styx.core.plugins import descriptors; "
            "assert len(descriptors().get('vgg19').layers) == 37; "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "False"


# -- every tap ----------------------------------------------------------------------------------
SHAPES = {
    "vgg16": {"relu1_1": (64, 64), "pool2": (128, 16), "relu4_3": (512, 8), "pool5": (512, 2)},
    "vgg19": {"conv1_1": (64, 64), "relu3_4": (256, 16), "relu5_1": (512, 4), "pool5": (512, 2)},
    "resnet50": {"relu": (64, 32), "maxpool": (64, 16), "layer1": (256, 16),
                 "layer2.0": (512, 8), "layer3": (1024, 4), "layer4": (2048, 2)},
    "inception_v3": {"Conv2d_1a_3x3": (32, 37), "maxpool2": (192, 7), "Mixed_5d": (288, 7),
                     "Mixed_6e": (768, 3), "Mixed_7c": (2048, 1)},
}


@pytest.mark.parametrize("name", NAMES)
def test_every_tap_has_order_one_activations(built, name):
    """Random weights keep every tap's activations of order one (white noise and photo-like)."""
    descriptor = built[name]
    size = SIZES[name]
    for x in (image(size, batch=2), smooth_image(size)):
        with torch.no_grad():
            features = descriptor(x)
        assert list(features) == descriptor.layers
        for tap, feature in features.items():
            assert feature.shape[0] == x.shape[0]
            assert torch.isfinite(feature).all(), tap
            std = float(feature.std())
            assert 0.05 < std < 20, f"{name} {tap}: std {std:.3g}"
    for tap, (channels, side) in SHAPES[name].items():
        assert tuple(features[tap].shape) == (1, channels, side, side), tap


def test_extra_taps_are_the_last_blocks_output(built):
    x = image(64)
    features = built["resnet50"](x, ["layer2", "layer2.3", "layer4"])
    assert list(features) == ["layer2", "layer2.3", "layer4"]  # keyed as asked
    assert features["layer2"] is features["layer2.3"]


def test_too_small_image_is_a_clear_error(built):
    with pytest.raises(StyxError, match="at least 75 px"):
        built["inception_v3"](image(74))
    assert set(built["inception_v3"](image(64), ["Mixed_5d"])) == {"Mixed_5d"}  # shallow ok
    with pytest.raises(StyxError, match="at least 32 px"):
        built["vgg19"](image(31), ["pool5"])


# -- aliases and errors -----------------------------------------------------------------------
def test_keras_names_are_the_relu_outputs(built):
    """Keras' block1_conv1 has its ReLU built in: it is relu1_1, as in the seed report."""
    vgg19 = built["vgg19"]
    x = image(32)
    features = vgg19(x, ["block1_conv1", "relu1_1", "block5_conv4", "relu5_4", "block3_pool"])
    assert torch.equal(features["block1_conv1"], features["relu1_1"])
    assert torch.equal(features["block5_conv4"], features["relu5_4"])
    assert (features["block1_conv1"] >= 0).all()
    assert vgg19.resolve_layer("block3_pool") == "pool3"
    aliases = descriptors().get("vgg19").layer_aliases
    assert len(aliases) == 16 + 5 and set(aliases.values()) <= set(vgg19.layers)
    assert built["vgg16"].resolve_layer("block4_conv3") == "relu4_3"
    with pytest.raises(StyxError, match="did you mean"):
        built["vgg16"].resolve_layer("block4_conv4")


@pytest.mark.parametrize(("name", "typo", "suggestion"), [
    ("vgg19", "relu4_5", "relu4_"), ("resnet50", "layer3.7", "layer3"),
    ("inception_v3", "mixed_6e", "Mixed_6e")])
def test_unknown_layer_suggests(name, typo, suggestion):
    with pytest.raises(StyxError) as error:
        build_descriptor(name, "random", layers=[typo])
    assert typo in error.value.message and "did you mean" in error.value.hint
    assert suggestion in error.value.hint


def test_options_are_checked():
    with pytest.raises(StyxError) as error:
        build_descriptor("vgg19", "random", poling="avg")
    assert "'poling'" in error.value.message and "pooling" in error.value.hint
    with pytest.raises(StyxError, match="takes no options"):
        build_descriptor("resnet50", "random", pooling="avg")
    with pytest.raises(StyxError, match="bad pooling .min. for descriptor .vgg19."):
        build_descriptor("vgg19", "random", pooling="min")
    with pytest.raises(StyxError, match="unknown descriptor"):
        build_descriptor("vgg91", "random")


# -- truncation -----------------------------------------------------------------------------------
def count_stage_calls(descriptor: Descriptor) -> tuple[list[str], list]:
    calls: list[str] = []
    handles = [stage.register_forward_hook(lambda *_, n=name: calls.append(n))
               for name, stage in zip(descriptor.stage_names, descriptor.stages)]
    return calls, handles


@pytest.mark.parametrize(("name", "layers", "last"), [
    ("vgg19", ["relu1_1", "relu2_1"], "relu2_1"), ("resnet50", ["layer1", "relu"], "layer1.2"),
    ("inception_v3", ["Mixed_5b"], "Mixed_5b")])
def test_forward_stops_at_the_deepest_tap(built, name, layers, last):
    descriptor = built[name]
    calls, handles = count_stage_calls(descriptor)
    try:
        descriptor(image(SIZES[name]), layers)
    finally:
        for handle in handles:
            handle.remove()
    assert calls == descriptor.stage_names[: descriptor.stage_names.index(last) + 1]


@pytest.mark.parametrize(("name", "layers", "last"), [
    ("vgg19", ["relu3_1", "block1_conv1"], "relu3_1"), ("resnet50", ["layer2"], "layer2.3"),
    ("inception_v3", ["Mixed_6a", "maxpool1"], "Mixed_6a")])
def test_layers_trim_the_network(built, name, layers, last):
    """Trimmed: fewer modules and parameters, the very same (random) weights and features."""
    full = built[name]
    trimmed = build_descriptor(name, "random", seed=0, layers=layers)
    assert len(trimmed.stages) == full.stage_names.index(last) + 1 < len(full.stages)
    assert trimmed.stage_names[len(trimmed.stages) - 1] == last
    assert sum(p.numel() for p in trimmed.parameters()) < \
        sum(p.numel() for p in full.parameters()) / 2
    kept = trimmed.state_dict()
    full_state = full.state_dict()
    for key, value in kept.items():
        assert torch.equal(value, full_state[key]), key
    x = image(SIZES[name])
    torch.testing.assert_close(trimmed(x, [last])[last], full(x, [last])[last])
    present = list(trimmed(x))  # every tap that is left
    assert present == [t for t in full.layers if full.depth(t) <= full.depth(last)]
    deeper = full.layers[-1]
    with pytest.raises(StyxError, match="trimmed"):
        trimmed(x, [deeper])


# -- frozen, eval, differentiable --------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_frozen_eval_and_differentiable(built, name):
    descriptor = built[name]
    descriptor.train()
    assert not any(m.training for m in descriptor.modules())
    assert not any(p.requires_grad for p in descriptor.parameters())
    x = image(SIZES[name]).requires_grad_(True)
    style = descriptor.default_style_layers
    sum(f.square().mean() for f in descriptor(x, style).values()).backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    assert all(p.grad is None for p in descriptor.parameters())


def test_batch_norm_uses_fixed_statistics(built):
    """Eval mode: one image's features do not depend on the rest of the batch."""
    resnet = built["resnet50"]
    x = image(48, batch=3)
    together = resnet(x, ["layer3"])["layer3"]
    alone = resnet(x[:1], ["layer3"])["layer3"]
    # Batched and single convolutions round differently (up to ~2e-4 on features of order
    # 4); batch statistics would change them by order one (8.6 measured).
    torch.testing.assert_close(together[:1], alone, rtol=1e-3, atol=1e-3)


# -- options ------------------------------------------------------------------------------------
def test_avg_pooling():
    avg = build_descriptor("vgg19", "random", seed=0, pooling="avg")
    mx = build_descriptor("vgg19", "random", seed=0, pooling="max")
    pools = [s for n, s in zip(avg.stage_names, avg.stages) if n.startswith("pool")]
    assert len(pools) == 5 and all(isinstance(p, nn.AvgPool2d) for p in pools)
    assert not any(isinstance(s, nn.MaxPool2d) for s in avg.stages)
    x = image(32)
    a, m = avg(x, ["relu1_2", "pool1"]), mx(x, ["relu1_2", "pool1"])
    assert torch.equal(a["relu1_2"], m["relu1_2"])  # same seeded weights before the pool
    torch.testing.assert_close(a["pool1"], nn.functional.avg_pool2d(a["relu1_2"], 2))
    assert not torch.equal(a["pool1"], m["pool1"])
    assert build_descriptor("vgg16", "random", pooling=None).stages[4].__class__ is nn.MaxPool2d


# -- random weights -----------------------------------------------------------------------------
def test_random_weights_are_seeded(capsys):
    a = build_descriptor("resnet50", "random", seed=3, layers=["layer1"])
    b = build_descriptor("resnet50", "random", seed=3, layers=["layer1"])
    c = build_descriptor("resnet50", "random", seed=4, layers=["layer1"])
    for (key, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), key
    assert not torch.equal(a.stages[0].weight, c.stages[0].weight)
    bn = a.stages[1]
    assert float(bn.running_var.min()) > 0 and float(bn.running_mean.abs().max()) == 0
    err = capsys.readouterr().err
    assert "random weights (seed 3)" in err and len(err.strip().splitlines()) == 3


def test_he_normal_random_vgg_keeps_deep_style_losses_alive(built):
    """The measured fault this guards against: default init gives relu5_1 Grams near 1e-15."""
    features = built["vgg19"](smooth_image(64), ["relu1_1", "relu5_1"])
    grams = {}
    for tap, f in features.items():
        flat = f.flatten(2)
        grams[tap] = float((flat @ flat.transpose(1, 2)).mean() / flat.shape[-1])
    assert 1e-2 < grams["relu5_1"] / grams["relu1_1"] < 1e2


# -- weights from torchvision's cache and from files --------------------------------------------
def random_state(shapes: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0)
        elif key.endswith("running_var"):
            state[key] = torch.rand(value.shape, generator=generator) + 0.5
        else:
            state[key] = torch.randn(value.shape, generator=generator) * 0.05
    return state


def test_imagenet_weights_load_from_torchvision_cache(tmp_path, monkeypatch):
    """A file under torchvision's name in TORCH_HOME is used; nothing is downloaded."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(weights_module, "_probe", pytest.fail)
    with torch.device("meta"):
        network = torchvision.models.vgg16(weights=None)
    # Only the features: the classifier is never run, so a file may lack it.
    features = {k: v for k, v in network.state_dict().items() if k.startswith("features.")}
    state = random_state(features, seed=1)
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(state, cache / "vgg16-397923af.pth")

    descriptor = build_descriptor("vgg16")  # weights="imagenet" is the default
    for stage, index in (("conv1_1", 0), ("conv5_3", 28)):
        conv = descriptor.stages[descriptor.depth(stage)]
        assert torch.equal(conv.weight, state[f"features.{index}.weight"])
        assert torch.equal(conv.bias, state[f"features.{index}.bias"])

    reference = network.features.to_empty(device="cpu")
    reference.load_state_dict({k[len("features."):]: v for k, v in state.items()})
    x = image(32)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    torch.testing.assert_close(descriptor(x, ["pool5"])["pool5"], reference((x - mean) / std))


def test_offline_without_cache_fails_fast_with_the_expected_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("STYX_OFFLINE", raising=False)
    probes = []

    def unreachable(url, timeout):
        probes.append((url, timeout))
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(weights_module, "_probe", unreachable)
    with pytest.raises(StyxError) as error:
        build_descriptor("resnet50")
    expected = tmp_path / "hub" / "checkpoints" / "resnet50-0676ba61.pth"
    assert str(expected) in error.value.message
    assert "Name or service not known" in error.value.message
    assert "\n" not in str(error.value)
    for alternative in ("--weights random", "--weights PATH", "styx weights import resnet50"):
        assert alternative in error.value.hint
    # a first try that finishes in seconds, not the default 512 px, 300-step run
    assert "'styx run gatys --weights random --size 128 --steps 50 -o first.png'" in \
        error.value.hint
    assert probes == [("https://download.pytorch.org/models/resnet50-0676ba61.pth",
                       weights_module.PROBE_TIMEOUT_S)]
    assert not expected.exists()

    monkeypatch.setenv("STYX_OFFLINE", "1")
    monkeypatch.setattr(weights_module, "_probe", pytest.fail)  # not even tried
    with pytest.raises(StyxError, match="STYX_OFFLINE"):
        build_descriptor("inception")


def torchvision_reference(name: str) -> tuple[nn.Module, str, dict[str, torch.Tensor]]:
    """A real torchvision network, its deepest descriptor tap, and its state dict."""
    torch.manual_seed(0)
    if name == "resnet50":
        network = torchvision.models.resnet50(weights=None)
        tap = "layer4"
    else:
        network = torchvision.models.inception_v3(weights=None, aux_logits=True,
                                                  init_weights=False, transform_input=True)
        tap = "Mixed_7c"
    state = network.state_dict()
    # Non-trivial batch-norm statistics, so that loading them is tested too.
    for key, value in state.items():
        if key.endswith("running_mean"):
            value.uniform_(-0.1, 0.1)
        elif key.endswith("running_var"):
            value.uniform_(0.5, 2.0)
    return network.eval(), tap, state


@pytest.mark.parametrize(("name", "suffix"), [("resnet50", ".pth"),
                                              ("inception_v3", ".safetensors")])
def test_weights_file_matches_torchvision(tmp_path, name, suffix):
    """A state dict file gives exactly torchvision's features, normalisation included.

    For Inception v3, torchvision's own forward (``transform_input=True``) takes an
    ImageNet-normalised image; the descriptor takes the raw [0, 1] image.
    """
    network, tap, state = torchvision_reference(name)
    path = tmp_path / f"weights{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    descriptor = build_descriptor(name, path)
    x = image(SIZES[name])
    captured = {}
    getattr(network, tap).register_forward_hook(lambda m, i, o: captured.setdefault(tap, o))
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        network((x - mean) / std)
        ours = descriptor(x, [tap])[tap]
    torch.testing.assert_close(ours, captured[tap], rtol=1e-4, atol=1e-4)


def test_checkpoint_wrappers_are_unwrapped(tmp_path):
    with torch.device("meta"):
        shapes = torchvision.models.vgg19(weights=None).features.state_dict()
    state = random_state({f"module.features.{k}": v for k, v in shapes.items()}, seed=2)
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "checkpoint.pt")
    descriptor = build_descriptor("vgg19", tmp_path / "checkpoint.pt", layers=["relu1_1"])
    assert torch.equal(descriptor.stages[0].weight, state["module.features.0.weight"])


def test_mismatched_weights_file_is_a_short_error(tmp_path):
    with torch.device("meta"):
        vgg16 = torchvision.models.vgg16(weights=None).features.state_dict()
    torch.save(random_state({f"features.{k}": v for k, v in vgg16.items()}, 0),
               tmp_path / "vgg16.pth")
    with pytest.raises(StyxError) as error:
        build_descriptor("vgg19", tmp_path / "vgg16.pth")
    message = error.value.message
    assert "does not fit" in message and "missing 12 (" in message and "more)" in message
    assert "wrong shape 1 (features.19.weight (512, 512, 3, 3) != (512, 256, 3, 3))" in message
    assert len(message) < 400
    with pytest.raises(StyxError, match="unexpected 1 .*bogus"):
        state = random_state({f"features.{k}": v for k, v in vgg16.items()}, 0)
        state["bogus.weight"] = torch.zeros(1)
        torch.save(state, tmp_path / "extra.pth")
        build_descriptor("vgg16", tmp_path / "extra.pth")


def test_bad_weights_arguments(tmp_path):
    with pytest.raises(StyxError, match="not found"):
        build_descriptor("vgg19", tmp_path / "missing.pth")
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(StyxError, match="unsupported weights file"):
        build_descriptor("vgg19", tmp_path / "weights.bin")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(StyxError, match="cannot read weights file"):
        build_descriptor("vgg19", tmp_path / "junk.safetensors")


# -- build_descriptor with a third-party factory -------------------------------------------------
def plain_factory(weights: str = "random", width: int = 4) -> Descriptor:
    """A factory that knows nothing of seed or layers (build_descriptor must cope)."""
    stages = [("conv1", nn.Conv2d(3, int(width), 3)), ("relu1", nn.ReLU()),
              ("conv2", nn.Conv2d(int(width), 2, 3))]
    return Descriptor("plain", stages, layer_aliases={"first": "relu1"})


class PlainPlugin:
    @styx.hookimpl
    def register_descriptors(self, register):
        register(DescriptorSpec(name="plain", summary="A plain descriptor.",
                                factory=plain_factory, layers=("conv1", "relu1", "conv2"),
                                options={"width": "channels"}))


def test_build_descriptor_with_a_minimal_factory(use_plugins):
    use_plugins({"plain": PlainPlugin()})
    descriptor = build_descriptor("PLAIN", "random", seed=7, layers=["first"], device="cpu",
                                  width=5)
    assert len(descriptor.stages) == 2 and descriptor.stages[0].out_channels == 5
    assert descriptor.stages[0].weight.device.type == "cpu"
    with pytest.raises(StyxError, match="valid options: width"):
        build_descriptor("plain", "random", pooling="avg")
