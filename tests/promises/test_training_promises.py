"""docs/training.md and README.md on `styx train ... --resume` from the command line: Ctrl-C
saves a checkpoint and exits 130, and `--resume` continues bit for bit (the same weights,
torch.equal, as a run that was never stopped)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from child_styx import ctrl_c_styx
from PIL import Image
from safetensors.torch import load_file

from styx.training.checkpoint import read_checkpoint

#: `styx train texture-nets` at its smallest: a two-scale generator, random VGG19 trimmed to
#: relu2_1, batches of two 32 px crops.
TINY = ["--weights", "random", "--image-size", "32", "--batch-size", "2", "--scales", "2",
        "--channels", "4", "--content-layers", "relu2_1", "--style-layers", "relu1_1,relu2_1",
        "--log-every", "1", "--quiet", "--amp", "off"]  # fp32 in subprocesses too


def write_image(path: Path, height: int, width: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    picture = np.stack([0.5 + 0.4 * np.sin(rng.uniform(0.1, 0.6) * x + rng.uniform(0.1, 0.6) * y
                                           + c) for c in range(3)], -1)
    picture = np.clip(picture + rng.normal(0, 0.05, picture.shape), 0, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((picture * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    content = tmp_path / "content"
    for i, (h, w) in enumerate([(40, 48), (36, 60), (48, 40)]):
        write_image(content / f"{i}.png", h, w, seed=i)
    return {"style": write_image(tmp_path / "style.png", 48, 48, seed=7), "content": content,
            "root": tmp_path}


def train_args(data, name: str, iterations: int, *extra: str) -> list[str]:
    root = data["root"]
    return ["train", "texture-nets", "--style", str(data["style"]), "--content-dir",
            str(data["content"]), "-o", str(root / f"{name}-model"), "--run-dir",
            str(root / f"{name}-run"), "--iterations", str(iterations), *extra, *TINY]


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def test_cli_ctrl_c_exits_130_with_a_checkpoint_and_resume_is_bit_for_bit(data, styx_cli,
                                                                          tmp_path):
    root = data["root"]
    checkpoint = root / "split-run" / "checkpoint.safetensors"
    # Ctrl-C once the first checkpoint is there: finish the iteration, save, stop.
    code, stderr = ctrl_c_styx(train_args(data, "split", 100000, "--checkpoint-every", "1"),
                               once=checkpoint, env={"OMP_NUM_THREADS": "1"}, poll=0.05)
    assert code == 130, stderr
    assert "Traceback" not in stderr
    stopped = read_checkpoint(checkpoint).state["step"]
    # Said even with --quiet: where the checkpoint is and how to go on.
    assert f"stopped at iteration {stopped}; checkpoint in {checkpoint}" in stderr
    assert "--resume" in stderr
    assert not (root / "split-model").exists()  # no model until training finishes
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == [checkpoint.name]

    total = stopped + 2
    resumed = styx_cli(*train_args(data, "split", total, "--resume"))
    assert resumed.exit_code == 0, resumed.stderr
    straight = styx_cli(*train_args(data, "straight", total))
    assert straight.exit_code == 0, straight.stderr
    a, b = weights(root / "split-model"), weights(root / "straight-model")
    assert a.keys() == b.keys() and a
    for key in a:
        assert torch.equal(a[key], b[key]), key
    history = read_checkpoint(checkpoint).state["history"]
    straight_history = read_checkpoint(root / "straight-run" /
                                       "checkpoint.safetensors").state["history"]
    assert [h["step"] for h in history] == list(range(1, total + 1))
    assert [h["total"] for h in history] == [h["total"] for h in straight_history]


def test_training_options_defaults_are_the_documented_ones():
    """docs/training.md, the TrainingOptions table."""
    from styx.training.loop import TrainingOptions

    options = TrainingOptions()
    documented = {"iterations": 2000, "batch_size": 4, "image_size": 256, "lr": 1e-3,
                  "lr_decay": 0.8, "lr_decay_every": 2000, "checkpoint_every": 500,
                  "log_every": 10, "seed": 0, "device": "auto", "amp": "auto",
                  "num_workers": 0, "quiet": False, "short_side": None}
    assert {key: getattr(options, key) for key in documented} == documented
