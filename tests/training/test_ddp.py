"""Distributed training: the same code under ``torchrun --nproc-per-node 2`` on the gloo
backend (CPU) trains with DistributedDataParallel, ends with identical parameters on both
ranks, has rank 0 alone write the checkpoint, and resumes exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_training_task import write_images
from safetensors.torch import load_file

from styx.training.checkpoint import read_checkpoint
from styx.training.loop import CHECKPOINT_NAME

SCRIPT = Path(__file__).with_name("fake_training_task.py")


@pytest.mark.slow
def test_torchrun_two_processes_train_identically_and_resume_exactly(tmp_path):
    content, run_dir, out = tmp_path / "content", tmp_path / "runs", tmp_path / "out"
    write_images(content, count=5)
    (content / "broken.jpg").write_bytes(b"not a jpeg")
    run_dir.mkdir()
    out.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
         "2", str(SCRIPT), str(content), str(run_dir), str(out)],
        check=False, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]

    reports = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    models = [load_file(str(out / f"rank{r}.safetensors")) for r in (0, 1)]
    assert [r["world_size"] for r in reports] == [2, 2]
    # DDP keeps the replicas equal: both ranks end with the same parameters ...
    assert models[0].keys() == models[1].keys() and models[0]
    for key in models[0]:
        assert models[0][key].equal(models[1][key]), key
    # ... and the run resumed from its 3-iteration checkpoint equals the uninterrupted one.
    for key in [k for k in models[0] if k.startswith("whole.")]:
        assert models[0][key].equal(models[0]["resumed." + key[len("whole."):]]), key
    for report in reports:
        whole, resumed = report["whole_losses"], report["resumed_losses"]
        assert set(whole) == {"2", "4", "6"}
        assert all(resumed[step] == loss for step, loss in whole.items())
        # The unreadable file is reported once, the ranks' lists merged.
        assert [Path(p).name for p in report["skipped"]] == ["broken.jpg"]
    # Rank 0 alone wrote the checkpoint, which records the two processes.
    assert reports[0]["checkpoint"].endswith(CHECKPOINT_NAME)
    assert reports[1]["checkpoint"] == "None"
    state = read_checkpoint(run_dir / "whole" / CHECKPOINT_NAME).state
    assert state["step"] == 6
    assert {k: state["data"][k] for k in ("samples_per_rank", "world_size", "seed",
                                          "images")} == \
        {"samples_per_rank": 12, "world_size": 2, "seed": 0, "images": 6}
    assert sorted(p.name for p in (run_dir / "whole").iterdir()) == [CHECKPOINT_NAME]
