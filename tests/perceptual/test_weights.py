"""styx.perceptual.weights on a tiny network: files, checks, the cache, downloads, calibration."""

from __future__ import annotations

import os
import urllib.error
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from styx.core.errors import StyxError
from styx.perceptual import weights as w
from styx.perceptual.descriptor import Descriptor

#: A stand-in for a torchvision weights enum member: only ``url`` is used.
TINY_WEIGHTS = SimpleNamespace(url="https://download.example.invalid/models/tiny-0a1b2c3d.pth")


class Tiny(nn.Module):
    """A network with a batch norm, a residual add and a head the descriptor never runs."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8))
        self.head = nn.Linear(8, 2)


class Residual(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.inner(x))


INFO = w.WeightsInfo(imagenet=TINY_WEIGHTS, network=Tiny, unused_prefixes=("head.",))


def tiny_descriptor(weights: object, *, seed: int = 0) -> Descriptor:
    """Built the way the real factories build theirs: on the meta device, then filled."""
    with torch.device("meta"):
        network = Tiny()
    stages = [("body", network.body)] + [(f"block{i}", Residual(network.block)) for i in (1, 2)]
    descriptor = Descriptor("tiny", stages)
    return w.apply_weights(descriptor, network, weights, INFO, seed=seed, quiet=True)


def full_state(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return Tiny().state_dict()


def test_weights_info_names_the_file_and_shapes():
    assert INFO.file_name == "tiny-0a1b2c3d.pth"
    assert INFO.url == TINY_WEIGHTS.url
    assert INFO.expected_shapes()["body.0.weight"] == (8, 3, 3, 3)
    assert INFO.is_unused("head.weight") and not INFO.is_unused("body.0.weight")
    vgg = w.WeightsInfo(imagenet="torchvision.models:VGG19_Weights.IMAGENET1K_V1",
                        network=Tiny)
    assert vgg.file_name == "vgg19-dcbb9e9d.pth"


def test_cache_follows_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert w.cached_file(INFO) == tmp_path / "hub" / "checkpoints" / "tiny-0a1b2c3d.pth"


@pytest.mark.parametrize("suffix", [".pth", ".pt", ".safetensors"])
def test_files_load(tmp_path, suffix):
    state = full_state(1)
    path = tmp_path / f"tiny{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save(state, path)
    descriptor = tiny_descriptor(str(path))
    assert torch.equal(descriptor.stages[0][0].weight, state["body.0.weight"])
    assert torch.equal(descriptor.stages[0][1].running_var, state["body.1.running_var"])
    assert torch.equal(descriptor.stages[1].inner[0].weight, state["block.0.weight"])
    assert descriptor.stages[0][0].weight.device.type == "cpu"
    assert not any(p.requires_grad for p in descriptor.parameters())


def test_head_and_batch_counters_may_be_missing(tmp_path):
    state = {k: v for k, v in full_state(2).items()
             if not k.startswith("head.") and not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "body.pth")
    descriptor = tiny_descriptor(tmp_path / "body.pth")
    assert torch.equal(descriptor.stages[0][0].bias, state["body.0.bias"])


def test_check_state_dict_summarises():
    expected = {f"k{i}": (2, 2) for i in range(6)}
    state = {"k0": torch.zeros(2, 2), "k1": torch.zeros(3, 2), "extra": torch.zeros(1)}
    with pytest.raises(StyxError) as error:
        w.check_state_dict(state, expected, source="file.pth")
    assert error.value.message == ("file.pth does not fit: missing 4 (k2, k3, k4, ... 1 more); "
                                   "unexpected 1 (extra); wrong shape 1 (k1 (3, 2) != (2, 2))")
    w.check_state_dict({"k0": torch.zeros(2, 2)}, {"k0": (2, 2), "opt": (1,)},
                       source="x", optional=lambda key: key == "opt")


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_unreadable_files(tmp_path):
    (tmp_path / "model.pth").write_bytes(b"\x80\x04not a pickle")
    with pytest.raises(StyxError, match="cannot read weights file"):
        w.read_state_dict(tmp_path / "model.pth")
    torch.save({"weight": torch.zeros(1), "note": "text"}, tmp_path / "mixed.pth")
    with pytest.raises(StyxError, match="not tensors"):
        w.read_state_dict(tmp_path / "mixed.pth")
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(StyxError, match="no state dict"):
        w.read_state_dict(tmp_path / "list.pth")


class Pickled:
    """Not a tensor: weights_only loading must refuse to unpickle it."""


def test_pickled_objects_are_never_unpickled(tmp_path):
    torch.save({"weight": torch.zeros(1), "obj": Pickled()}, tmp_path / "evil.pth")
    with pytest.raises(StyxError, match="cannot read weights file") as error:
        w.read_state_dict(tmp_path / "evil.pth")
    # The hint must not pass on torch's advice to load with weights_only=False.
    assert "weights_only" not in str(error.value)
    assert "never unpickles" in str(error.value.hint)


class RunsCode:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_that_runs_code_does_not_run(tmp_path):
    marker = tmp_path / "ran"
    torch.save({"weight": torch.zeros(1), "payload": RunsCode(marker)}, tmp_path / "evil.pth")
    with pytest.raises(StyxError, match="not a plain state dict"):
        w.read_state_dict(tmp_path / "evil.pth")
    assert not marker.exists()


def test_random_weights_are_seeded_he_normal():
    a, b, c = tiny_descriptor("random", seed=5), tiny_descriptor("RANDOM", seed=5), \
        tiny_descriptor("random", seed=6)
    conv = a.stages[0][0].weight
    assert torch.equal(conv, b.stages[0][0].weight)
    assert not torch.equal(conv, c.stages[0][0].weight)
    assert abs(float(conv.std()) - (2 / 27) ** 0.5) < 0.05
    assert float(a.stages[0][0].bias.abs().sum()) == 0


def test_calibration_gives_unit_second_moments():
    descriptor = tiny_descriptor("random", seed=0)
    norm = descriptor.stages[0][1]
    assert float(norm.running_mean.abs().max()) == 0 and float(norm.bias.abs().max()) == 0
    # On the calibration batch itself, each batch norm's output has unit mean square.
    outputs = []
    hook = norm.register_forward_hook(lambda m, i, o: outputs.append(o))
    descriptor(w.calibration_batch(torch.Generator().manual_seed(0)))
    hook.remove()
    mean_square = outputs[0].square().mean(dim=(0, 2, 3))
    torch.testing.assert_close(mean_square, torch.ones(8), rtol=1e-3, atol=1e-3)


def test_calibration_batch_is_seeded_and_in_range():
    a = w.calibration_batch(torch.Generator().manual_seed(1), batch=2, size=32)
    b = w.calibration_batch(torch.Generator().manual_seed(1), batch=2, size=32)
    assert a.shape == (2, 3, 32, 32) and torch.equal(a, b)
    assert float(a.min()) == 0 and float(a.max()) == 1


def test_random_note_on_stderr(capsys):
    with torch.device("meta"):
        network = Tiny()
    descriptor = Descriptor("tiny", [("body", network.body)])
    w.apply_weights(descriptor, network, "random", INFO, seed=9)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "random weights (seed 9)" in err[0]


def test_random_note_silenced_inside_notes_false(capsys):
    with torch.device("meta"):
        network = Tiny()
    with w.notes(False):
        w.apply_weights(Descriptor("tiny", [("body", network.body)]), network, "random", INFO)
    assert capsys.readouterr().err == ""
    with torch.device("meta"):
        network = Tiny()
    w.apply_weights(Descriptor("tiny", [("body", network.body)]), network, "random", INFO)
    assert "random weights" in capsys.readouterr().err  # back on after the block


def test_bad_weights_values():
    with pytest.raises(StyxError, match="not found"):
        tiny_descriptor("imagnet")
    with pytest.raises(StyxError, match="bad weights"):
        tiny_descriptor("  ")


# -- the cache and downloads -------------------------------------------------------------------
def test_imagenet_reads_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(w, "_probe", pytest.fail)
    state = full_state(3)
    w.cached_file(INFO).parent.mkdir(parents=True)
    torch.save(state, w.cached_file(INFO))
    descriptor = tiny_descriptor("imagenet")
    assert torch.equal(descriptor.stages[0][0].weight, state["body.0.weight"])


def test_a_damaged_cached_file_says_how_to_replace_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(w, "_probe", pytest.fail)
    w.cached_file(INFO).parent.mkdir(parents=True)
    torch.save(full_state(3), w.cached_file(INFO))
    data = w.cached_file(INFO).read_bytes()
    w.cached_file(INFO).write_bytes(data[: len(data) // 2])  # a partial copy
    with pytest.raises(StyxError, match="cached ImageNet weights of 'tiny' are damaged") as caught:
        tiny_descriptor("imagenet")
    assert str(w.cached_file(INFO)) in caught.value.hint
    assert "styx weights import tiny FILE --force" in caught.value.hint


def test_offline_error_is_one_line_and_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("STYX_OFFLINE", raising=False)

    def unreachable(url, timeout):
        raise urllib.error.URLError(TimeoutError("timed out"))

    monkeypatch.setattr(w, "_probe", unreachable)
    with pytest.raises(StyxError) as error:
        tiny_descriptor("imagenet")
    assert str(w.cached_file(INFO)) in error.value.message
    assert "timed out" in error.value.message and "\n" not in str(error.value)
    assert "styx weights import tiny FILE" in error.value.hint
    assert not w.cached_file(INFO).parent.exists() or not any(
        w.cached_file(INFO).parent.iterdir())


def test_download_goes_through_torch_hub(tmp_path, monkeypatch):
    """Online (simulated): torch.hub downloads to the cache path with the hash prefix."""
    import torch.hub

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("STYX_OFFLINE", raising=False)
    monkeypatch.setattr(w, "_probe", lambda url, timeout: None)
    calls = []
    state = full_state(4)

    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, dst, hash_prefix, progress))
        torch.save(state, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    descriptor = tiny_descriptor("imagenet")
    assert calls == [(TINY_WEIGHTS.url, str(w.cached_file(INFO)), "0a1b2c3d", True)]
    assert torch.equal(descriptor.stages[0][0].weight, state["body.0.weight"])
    tiny_descriptor("imagenet")  # cached now: no second download
    assert len(calls) == 1


def test_failed_download_is_a_styx_error(tmp_path, monkeypatch):
    import torch.hub

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("STYX_OFFLINE", raising=False)
    monkeypatch.setattr(w, "_probe", lambda url, timeout: None)

    def broken(url, dst, hash_prefix=None, progress=True):
        raise RuntimeError('invalid hash value (expected "0a1b2c3d", got "ffff")')

    monkeypatch.setattr(torch.hub, "download_url_to_file", broken)
    with pytest.raises(StyxError, match="downloading .* failed: invalid hash"):
        w.download(INFO, "tiny")


# -- importing into the cache -------------------------------------------------------------------
def test_import_converts_safetensors_to_torchvisions_file(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    state = full_state(5)
    save_file(state, str(tmp_path / "tiny.safetensors"))
    target = w.import_into_cache(INFO, tmp_path / "tiny.safetensors")
    assert target == w.cached_file(INFO) and target.name == "tiny-0a1b2c3d.pth"
    loaded = torch.load(target, weights_only=True)
    assert set(loaded) == set(state) and all(torch.equal(loaded[k], state[k]) for k in state)
    assert os.listdir(target.parent) == [target.name]  # no temporary file left behind
    Tiny().load_state_dict(loaded)  # what torchvision would do with it: strict

    with pytest.raises(StyxError, match="already exists"):
        w.import_into_cache(INFO, tmp_path / "tiny.safetensors")
    other = full_state(6)
    torch.save(other, tmp_path / "other.pth")
    w.import_into_cache(INFO, tmp_path / "other.pth", force=True)
    assert torch.equal(torch.load(target, weights_only=True)["head.weight"], other["head.weight"])


def test_import_is_strict_and_leaves_nothing_on_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    state = {k: v for k, v in full_state(7).items() if not k.startswith("head.")}
    torch.save(state, tmp_path / "no-head.pth")
    with pytest.raises(StyxError, match="missing 2 .*head.weight"):
        w.import_into_cache(INFO, tmp_path / "no-head.pth")
    assert not w.cached_file(INFO).exists()


def test_probe_counts_an_answering_server_as_online(monkeypatch):
    """An HTTP error means the network works; only unreachable servers fail the probe."""
    import urllib.request

    def answer(request, timeout):
        assert request.get_method() == "HEAD" and timeout == 1.5
        raise urllib.error.HTTPError(request.full_url, 403, "Forbidden", {}, None)

    monkeypatch.setattr(urllib.request, "urlopen", answer)
    w._probe(TINY_WEIGHTS.url, 1.5)  # no error

    def unreachable(request, timeout):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.raises(OSError, match="Name or service"):
        w._probe(TINY_WEIGHTS.url, 1.5)
