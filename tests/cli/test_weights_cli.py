"""``styx weights list|path|download|import``: cache paths, offline errors, strict imports."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import styx
import styx.plugins.descriptors.vgg as vgg_plugin
from styx.core.specs import DescriptorSpec
from styx.perceptual import weights as w
from styx.perceptual.descriptor import Descriptor

TINY_URL = "https://download.example.invalid/models/tinynet-1234abcd.pth"


def tiny_network() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))


@w.declares_weights(w.WeightsInfo(imagenet=SimpleNamespace(url=TINY_URL), network=tiny_network))
def tinynet(weights: str = "imagenet", *, seed: int = 0) -> Descriptor:
    with torch.device("meta"):
        network = tiny_network()
    descriptor = Descriptor("tinynet", [("conv1", network[0]), ("relu1", nn.ReLU())])
    return w.apply_weights(descriptor, network, weights, tinynet.weights_info, seed=seed)


def untrained(weights: str = "random") -> Descriptor:
    raise AssertionError("never built by 'styx weights'")


class TinyPlugin:
    @styx.hookimpl
    def register_descriptors(self, register):
        register(DescriptorSpec(name="tinynet", summary="A tiny descriptor.", factory=tinynet,
                                layers=("conv1", "relu1")))
        register(DescriptorSpec(name="untrained", summary="No weights file.", factory=untrained,
                                layers=("conv1",)))


@pytest.fixture
def home(tmp_path, monkeypatch, use_plugins):
    """An empty TORCH_HOME, no network, and the plugins vgg (real) and tinynet (fake)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("STYX_OFFLINE", raising=False)

    def unreachable(url, timeout):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(w, "_probe", unreachable)
    use_plugins({"vgg": vgg_plugin, "tiny": TinyPlugin()})
    return tmp_path / "torch" / "hub" / "checkpoints"


def tiny_state(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return tiny_network().state_dict()


def test_path(home, styx_cli):
    result = styx_cli("weights", "path", "vgg19")
    assert result.exit_code == 0
    assert result.stdout.strip() == str(home / "vgg19-dcbb9e9d.pth")
    assert styx_cli("weights", "path", "tinynet").stdout.strip() == \
        str(home / "tinynet-1234abcd.pth")


def test_list_shows_files_and_whether_cached(home, styx_cli):
    result = styx_cli("weights", "list", "--json")
    assert result.exit_code == 0
    rows = {row["descriptor"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"vgg16", "vgg19", "tinynet", "untrained"}
    assert rows["vgg16"]["file"] == "vgg16-397923af.pth"
    assert rows["vgg19"]["path"] == str(home / "vgg19-dcbb9e9d.pth")
    assert rows["vgg19"]["url"] == "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
    assert not any(row["cached"] for row in rows.values())
    assert rows["untrained"]["file"] is None

    home.mkdir(parents=True)
    torch.save(tiny_state(), home / "tinynet-1234abcd.pth")
    rows = {r["descriptor"]: r for r in json.loads(styx_cli("weights", "list", "--json").stdout)}
    assert rows["tinynet"]["cached"] and not rows["vgg19"]["cached"]

    lines = styx_cli("weights", "list").stdout.splitlines()
    assert lines[0].split() == ["descriptor", "cached", "path"]
    table = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert table["tinynet"] == ["yes", str(home / "tinynet-1234abcd.pth")]
    assert table["vgg16"] == ["no", str(home / "vgg16-397923af.pth")]
    assert table["untrained"][0] == "-"


def test_download_offline_is_a_clean_error(home, styx_cli):
    result = styx_cli("weights", "download", "vgg19")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert str(home / "vgg19-dcbb9e9d.pth") in result.stderr
    assert "Network is unreachable" in result.stderr
    assert "styx weights import vgg19 FILE" in result.stderr
    assert not (home / "vgg19-dcbb9e9d.pth").exists()


def test_download_when_cached_or_online(home, styx_cli, monkeypatch):
    import torch.hub

    monkeypatch.setattr(w, "_probe", lambda url, timeout: None)
    fetched = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        fetched.append((url, hash_prefix, progress))
        torch.save(tiny_state(), dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    result = styx_cli("weights", "download", "tinynet", "--quiet")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(home / "tinynet-1234abcd.pth")
    assert fetched == [(TINY_URL, "1234abcd", False)]
    again = styx_cli("weights", "download", "tinynet")
    assert again.exit_code == 0 and "already cached" in again.stderr and len(fetched) == 1


def test_import_safetensors(home, styx_cli, tmp_path):
    from safetensors.torch import save_file

    state = tiny_state(1)
    save_file(state, str(tmp_path / "mine.safetensors"))
    result = styx_cli("weights", "import", "tinynet", str(tmp_path / "mine.safetensors"))
    assert result.exit_code == 0, result.stderr
    target = home / "tinynet-1234abcd.pth"
    assert result.stdout.strip() == str(target)
    loaded = torch.load(target, weights_only=True)
    assert all(torch.equal(loaded[k], state[k]) for k in state) and set(loaded) == set(state)
    assert os.listdir(home) == [target.name]
    # ... and the descriptor now finds its ImageNet weights offline.
    assert torch.equal(tinynet().stages[0].weight, state["0.weight"])

    again = styx_cli("weights", "import", "tinynet", str(tmp_path / "mine.safetensors"))
    assert again.exit_code == 2 and "--force" in again.stderr
    torch.save(tiny_state(2), tmp_path / "newer.pth")
    forced = styx_cli("weights", "import", "tinynet", str(tmp_path / "newer.pth"), "--force")
    assert forced.exit_code == 0, forced.stderr
    assert torch.equal(torch.load(target, weights_only=True)["0.weight"],
                       tiny_state(2)["0.weight"])


@pytest.mark.parametrize("case", ["mismatch", "missing", "garbage", "unknown", "no-file"])
def test_bad_input_exits_2_without_traceback(home, styx_cli, tmp_path, case):
    path = tmp_path / "bad.pth"
    name = "tinynet"
    if case == "mismatch":
        state = tiny_state()
        state["0.weight"] = torch.zeros(4, 3, 5, 5)
        torch.save(state, path)
        expected = "wrong shape 1 (0.weight (4, 3, 5, 5) != (4, 3, 3, 3))"
    elif case == "missing":
        path = tmp_path / "absent.safetensors"
        expected = "weights file not found"
    elif case == "garbage":
        path.write_bytes(b"definitely not a state dict")
        expected = "cannot read weights file"
    elif case == "unknown":
        name = "vgg91"
        torch.save(tiny_state(), path)
        expected = "'vgg19'?"
    else:
        name = "untrained"
        torch.save(tiny_state(), path)
        expected = "declares no ImageNet weights file"
    result = styx_cli("weights", "import", name, str(path))
    assert result.exit_code == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not home.exists() or os.listdir(home) == []
