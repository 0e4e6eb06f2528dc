"""The training callback (``styx.train(callback=)``, ``styx.training.loop.watching``):
what it sees at each log step, the model's samples, and stopping from it with a checkpoint
that resumes bit for bit."""

from __future__ import annotations

from dataclasses import replace

import pytest
import tiny
import torch
from fake_training_task import TinyTask

import styx
from styx.training.loop import CHECKPOINT_NAME, TrainingOptions, train, watching

CONFIG = TrainingOptions(iterations=12, batch_size=2, image_size=16, lr=1e-2, seed=3,
                         log_every=3, checkpoint_every=0, quiet=True)


def test_the_callback_sees_every_log_step_with_its_losses(content, tmp_path):
    seen = []
    with watching(seen.append):
        result = train(TinyTask(), content, CONFIG, run_dir=tmp_path / "run")
    assert [s.step for s in seen] == [3, 6, 9, 12]
    assert all(s.total_steps == 12 for s in seen)
    assert [s.losses["total"] for s in seen] == [h["total"] for h in result.history]
    assert "lr" in seen[0].losses and seen[-1].seconds >= seen[0].seconds >= 0
    # outside the block, no callback
    train(TinyTask(), content, replace(CONFIG, iterations=3), run_dir=tmp_path / "other")
    assert len(seen) == 4


def test_stopping_from_the_callback_checkpoints_and_resumes_bit_for_bit(content, tmp_path,
                                                                         capsys):
    whole = train(TinyTask(), content, CONFIG, run_dir=tmp_path / "whole")

    def stop_at_six(step):
        if step.step == 6:
            raise KeyboardInterrupt

    run_dir = tmp_path / "stopped"
    with watching(stop_at_six), pytest.raises(KeyboardInterrupt):
        train(TinyTask(), content, CONFIG, run_dir=run_dir)
    assert "stopped at iteration 6" in capsys.readouterr().err
    assert (run_dir / CHECKPOINT_NAME).is_file()
    resumed = train(TinyTask(), content, CONFIG, run_dir=run_dir, resume=True)
    assert [h["total"] for h in resumed.history] == [h["total"] for h in whole.history]
    for key, value in whole.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key


def test_styx_train_passes_the_callback_and_samples_follow_the_model(tmp_path):
    from styx.files.image_arrays import sample_image

    samples = []

    def watch(step):
        photo = torch.rand(1, 3, 24, 32, generator=torch.Generator().manual_seed(0))
        picture = step.image(photo)
        assert step.model.training  # put back in training mode
        samples.append(picture)

    trained = styx.train("texture-nets", style=sample_image("style"), name="watched",
                         **{**tiny.TRAINING, **tiny.FAST_DESCRIPTOR, "log_every": 2},
                         texture=True, callback=watch)
    assert trained.result.iterations_done == 4 and len(samples) == 2
    assert all(s.shape[0] == 1 and s.shape[1] == 3 for s in samples)
    assert all(float(s.min()) >= 0.0 and float(s.max()) <= 1.0 for s in samples)
    assert not torch.equal(samples[0], samples[1])  # the model learned in between
