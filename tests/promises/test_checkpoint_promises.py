"""docs/training.md: a checkpoint "is written to a temporary file and renamed, so a run
killed while saving keeps the previous checkpoint"; a checkpoint that cannot be written
stops the run with a StyxError. Here the write fails midway (after some bytes), the rename
fails, and Ctrl-C lands in the middle of the write: the previous checkpoint must survive
byte for byte, load, and resume exactly; no temporary file may be left."""

from __future__ import annotations

import os
import signal
from dataclasses import replace

import pytest
import safetensors.torch
import torch
from _fake_tasks import ShapeTask

from styx.core.errors import StyxError
from styx.files import atomic
from styx.training.checkpoint import read_checkpoint
from styx.training.loop import CHECKPOINT_NAME, TrainingOptions, train

CONFIG = TrainingOptions(iterations=6, batch_size=2, image_size=16, lr=1e-2,
                         checkpoint_every=2, log_every=1, seed=1, device="cpu", quiet=True)


def half_written_then(error: BaseException):
    """A safetensors writer that writes half the file to the (temporary) path, then fails."""
    real = safetensors.torch.save_file

    def save_file(tensors, filename, metadata=None):
        real(tensors, filename, metadata=metadata)
        with open(filename, "r+b") as handle:
            handle.truncate(os.path.getsize(filename) // 2)
        raise error
    return save_file


def rename_fails(*args, **kwargs):
    raise OSError(18, "Invalid cross-device link")


@pytest.mark.parametrize("failure", ["disk-full-midway", "rename-fails", "ctrl-c-midway"])
def test_a_failed_checkpoint_write_keeps_the_previous_checkpoint_intact(tmp_path,
                                                                         monkeypatch, failure):
    run_dir = tmp_path / "run"
    path = run_dir / CHECKPOINT_NAME
    train(ShapeTask(), None, replace(CONFIG, iterations=2), run_dir=run_dir)
    before = path.read_bytes()

    if failure == "rename-fails":
        monkeypatch.setattr(atomic.os, "replace", rename_fails)
    else:
        error = OSError(28, "No space left on device") if failure == "disk-full-midway" \
            else KeyboardInterrupt()
        monkeypatch.setattr(safetensors.torch, "save_file", half_written_then(error))
    expected = KeyboardInterrupt if failure == "ctrl-c-midway" else StyxError
    with pytest.raises(expected) as caught:
        train(ShapeTask(), None, CONFIG, run_dir=run_dir, resume=True)  # saves at 4
    if expected is StyxError:
        assert "cannot write the checkpoint" in caught.value.message
    monkeypatch.undo()

    assert path.read_bytes() == before  # byte for byte the checkpoint of iteration 2
    assert sorted(p.name for p in run_dir.iterdir()) == [CHECKPOINT_NAME]  # no temporary
    assert read_checkpoint(path).state["step"] == 2
    # It loads and resumes exactly: the same weights as a run that never failed.
    resumed = train(ShapeTask(), None, CONFIG, run_dir=run_dir, resume=True)
    straight = train(ShapeTask(), None, CONFIG, run_dir=tmp_path / "straight")
    assert [h["total"] for h in resumed.history] == [h["total"] for h in straight.history]
    for key, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key


def test_a_fresh_run_that_fails_its_first_checkpoint_leaves_no_file(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    monkeypatch.setattr(safetensors.torch, "save_file",
                        half_written_then(OSError(28, "No space left on device")))
    with pytest.raises(StyxError, match="cannot write the checkpoint .*No space left"):
        train(ShapeTask(), None, CONFIG, run_dir=run_dir)
    assert list(run_dir.iterdir()) == []


# -- what a resume may and may not change (docs/training.md) -------------------------------
@pytest.mark.parametrize("change", [
    {"batch_size": 3}, {"image_size": 24}, {"lr": 2e-2}, {"lr_decay": 0.5},
    {"lr_decay_every": 3}, {"seed": 2}, {"short_side": 20}])
def test_a_resume_with_another_fixed_setting_is_refused_naming_both_values(tmp_path, change):
    run_dir = tmp_path / "run"
    train(ShapeTask(), None, replace(CONFIG, iterations=2), run_dir=run_dir)
    before = (run_dir / CHECKPOINT_NAME).read_bytes()
    [(key, value)] = change.items()
    with pytest.raises(StyxError) as caught:
        train(ShapeTask(), None, replace(CONFIG, **change), run_dir=run_dir, resume=True)
    old = getattr(CONFIG, key)
    assert f"--{key.replace('_', '-')} {old!r} -> {value!r}" in caught.value.message
    assert "same settings" in caught.value.hint
    assert (run_dir / CHECKPOINT_NAME).read_bytes() == before


@pytest.mark.parametrize("change", [
    {"iterations": 5}, {"device": "auto"}, {"amp": "bf16"}, {"checkpoint_every": 1},
    {"log_every": 2}, {"num_workers": 1}, {"quiet": False}])
def test_a_resume_may_change_the_other_settings(tmp_path, change):
    run_dir = tmp_path / "run"
    train(ShapeTask(), None, replace(CONFIG, iterations=2), run_dir=run_dir)
    resumed = train(ShapeTask(), None, replace(CONFIG, **change), run_dir=run_dir,
                    resume=True)
    assert resumed.iterations_done == change.get("iterations", CONFIG.iterations)
    assert read_checkpoint(run_dir / CHECKPOINT_NAME).state["step"] == resumed.iterations_done


# -- a second Ctrl-C stops at once (docs/training.md) --------------------------------------
def ctrl_c_twice() -> None:
    os.kill(os.getpid(), signal.SIGINT)  # the first asks to stop after this iteration
    os.kill(os.getpid(), signal.SIGINT)  # the second stops at once


class TwiceInStep(ShapeTask):
    def __init__(self, at: int) -> None:
        self.at = at
        self.finished: list[int] = []

    def training_step(self, model, batch, step):
        if step == self.at:
            ctrl_c_twice()
        terms = super().training_step(model, batch, step)
        self.finished.append(step)
        return terms


def test_a_second_ctrl_c_stops_at_once_and_saves_the_finished_iterations(tmp_path, capsys):
    run_dir = tmp_path / "run"
    task = TwiceInStep(at=3)  # iterations 0, 1, 2 finished; checkpoints every 2
    previous = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        train(task, None, CONFIG, run_dir=run_dir)
    assert task.finished == [0, 1, 2]  # iteration 3 stopped inside its step
    assert signal.getsignal(signal.SIGINT) is previous
    assert read_checkpoint(run_dir / CHECKPOINT_NAME).state["step"] == 3
    assert "interrupted at iteration 3; checkpoint of iteration 3" in capsys.readouterr().err
    resumed = train(ShapeTask(), None, CONFIG, run_dir=run_dir, resume=True)
    straight = train(ShapeTask(), None, CONFIG, run_dir=tmp_path / "straight")
    assert [h["total"] for h in resumed.history] == [h["total"] for h in straight.history]


def test_a_second_ctrl_c_during_an_update_keeps_the_previous_checkpoint(tmp_path, capsys):
    updates = []

    class InterruptedAdam(torch.optim.Adam):
        def step(self, closure=None):
            updates.append(1)
            if len(updates) == 4:  # the update of iteration 3, half done
                ctrl_c_twice()
            return super().step(closure)

    def interrupted_adam(model, settings):
        return InterruptedAdam(model.parameters(), lr=settings.lr)

    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(ShapeTask(), None, CONFIG, run_dir=run_dir, optimizer=interrupted_adam)
    # Never a checkpoint of a half-updated model: the last whole one (iteration 2) stays.
    assert read_checkpoint(run_dir / CHECKPOINT_NAME).state["step"] == 2
    assert "checkpoint of iteration 2" in capsys.readouterr().err
    resumed = train(ShapeTask(), None, CONFIG, run_dir=run_dir, resume=True)
    straight = train(ShapeTask(), None, CONFIG, run_dir=tmp_path / "straight")
    for key, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
