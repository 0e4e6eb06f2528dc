"""The shared training loop at its edges: what a checkpoint records about the run, what a
resumed run says and restores, the log's entries, the errors before any work and the result.
The fake task of test_training.py on 16 px crops, a few iterations each."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch
from fake_training_task import TinyTask, write_images
from torch import nn

from styx.core.checkpoint import read_checkpoint, save_checkpoint
from styx.core.errors import StyxError
from styx.core.objective import LossTerms
from styx.core.training import (
    CHECKPOINT_NAME,
    TrainingOptions,
    adam,
    step_decay,
    train,
    training_settings,
)

CONFIG = TrainingOptions(iterations=3, batch_size=1, image_size=16, lr=1e-2, lr_decay=0.5,
                         lr_decay_every=2, checkpoint_every=0, log_every=1, seed=5,
                         device="cpu", quiet=True)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny convolutions: one intra-op thread."""


@pytest.fixture
def content(tmp_path):
    folder = tmp_path / "content"
    write_images(folder, count=3)
    return folder


class StatefulTask(TinyTask):
    """Carries a counter from one iteration to the next (as StyleBank carries a norm)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.loaded: list[dict] = []

    def training_step(self, model, batch, step):
        self.count += 1
        return super().training_step(model, batch, step)

    def state_dict(self):
        return {"count": self.count, "tensor": torch.tensor([float(self.count)])}

    def load_state_dict(self, state):
        self.loaded.append(state)
        self.count = state["count"]


# -- what a checkpoint records ------------------------------------------------------------------
def test_the_checkpoint_records_the_data_position_and_the_run(content, tmp_path):
    run_dir = tmp_path / "run"
    task = StatefulTask()
    result = train(task, content, CONFIG, run_dir=run_dir)
    state = read_checkpoint(run_dir / CHECKPOINT_NAME).state
    assert state["step"] == 3
    assert state["data"]["samples_per_rank"] == 3 * CONFIG.batch_size
    assert state["data"]["world_size"] == 1 and state["data"]["seed"] == 5
    assert state["data"]["content_dir"] == str(content) and state["data"]["images"] == 3
    assert state["data"]["files"]
    assert state["rng"] == {"scheme": "seeded per iteration from (seed, rank, iteration)",
                            "seed": 5}
    assert state["config"] == training_settings(CONFIG)
    assert state["task"] == {"method": "fake-tiny", "noise": 0.05}
    assert state["scaler"] is None  # no fp16 on the CPU
    assert state["scheduler"]["last_epoch"] == 3
    assert state["task_state"]["count"] == 3
    assert torch.equal(state["task_state"]["tensor"], torch.tensor([3.0]))
    assert state["skipped_files"] == {}
    assert 0 < state["elapsed_seconds"] <= result.seconds + 1.0
    assert [h["step"] for h in state["history"]] == [1, 2, 3]
    assert result.checkpoint == run_dir / CHECKPOINT_NAME


def test_a_task_without_state_records_none(content, tmp_path):
    train(TinyTask(), content, CONFIG, run_dir=tmp_path / "run")
    assert read_checkpoint(tmp_path / "run" / CHECKPOINT_NAME).state["task_state"] is None


def test_a_run_without_content_records_no_content_folder(tmp_path):
    class NoContent(TinyTask):
        def training_step(self, model, batch, step):
            loss = model(torch.rand(1, 3, 8, 8)).pow(2).mean()
            return LossTerms(total=loss)

    train(NoContent(), None, CONFIG, run_dir=tmp_path / "run")
    data = read_checkpoint(tmp_path / "run" / CHECKPOINT_NAME).state["data"]
    assert data == {"samples_per_rank": 3, "world_size": 1, "seed": 5}


# -- resuming ---------------------------------------------------------------------------------
def test_resume_restores_the_task_state_history_and_elapsed_time(content, tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(StatefulTask(), content, replace(CONFIG, iterations=2), run_dir=run_dir)
    first = read_checkpoint(run_dir / CHECKPOINT_NAME).state
    capsys.readouterr()
    task = StatefulTask()
    result = train(task, content, replace(CONFIG, quiet=False), run_dir=run_dir, resume=True)
    err = capsys.readouterr().err
    assert f"resuming {run_dir} at iteration 2/3" in err
    assert "not bit for bit" not in err
    assert task.loaded and task.loaded[0]["count"] == 2 and task.count == 3
    assert [h["step"] for h in result.history] == [1, 2, 3]
    assert result.history[:2] == first["history"]
    assert result.history[2]["elapsed"] >= first["elapsed_seconds"]
    state = read_checkpoint(run_dir / CHECKPOINT_NAME).state
    assert state["elapsed_seconds"] > first["elapsed_seconds"]
    assert result.iterations_done == 3 and result.images_per_second > 0


def _rewrite_state(path, **changes):
    checkpoint = read_checkpoint(path)
    state = {**checkpoint.state, **changes}
    save_checkpoint(path, checkpoint.model, checkpoint.optimizer, state)


def test_resume_under_another_world_size_says_it_is_not_bit_for_bit(content, tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(TinyTask(), content, replace(CONFIG, iterations=2), run_dir=run_dir)
    checkpoint = read_checkpoint(run_dir / CHECKPOINT_NAME)
    _rewrite_state(run_dir / CHECKPOINT_NAME,
                   data={**checkpoint.state["data"], "world_size": 2})
    capsys.readouterr()
    train(TinyTask(), content, replace(CONFIG, quiet=False), run_dir=run_dir, resume=True)
    err = capsys.readouterr().err
    assert "note: the run used 2 process(es), now 1: it continues, but not bit for bit" in err


def test_resume_remembers_the_files_already_found_unreadable(content, tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(TinyTask(), content, replace(CONFIG, iterations=2), run_dir=run_dir)
    gone = str(content / "gone.png")
    _rewrite_state(run_dir / CHECKPOINT_NAME, skipped_files={gone: "gone.png: broken"})
    capsys.readouterr()
    result = train(TinyTask(), content, replace(CONFIG, quiet=False), run_dir=run_dir,
                   resume=True)
    assert result.skipped_files == [gone]
    assert read_checkpoint(run_dir / CHECKPOINT_NAME).state["skipped_files"] == \
        {gone: "gone.png: broken"}
    err = capsys.readouterr().err
    assert "skipping unreadable content image" not in err  # said by the first run already
    assert "1 unreadable content image(s) skipped" in err


def test_resuming_a_finished_run_trains_nothing(content, tmp_path):
    run_dir = tmp_path / "run"
    train(TinyTask(), content, CONFIG, run_dir=run_dir)
    before = (run_dir / CHECKPOINT_NAME).read_bytes()
    task = TinyTask()
    result = train(task, content, CONFIG, run_dir=run_dir, resume=True)
    assert task.steps_seen == [] and result.iterations_done == 3
    assert result.images_per_second == 0.0
    assert (run_dir / CHECKPOINT_NAME).read_bytes() == before


def test_an_existing_checkpoint_without_resume_is_refused_with_the_choices(content, tmp_path):
    run_dir = tmp_path / "run"
    train(TinyTask(), content, replace(CONFIG, iterations=1), run_dir=run_dir)
    with pytest.raises(StyxError) as caught:
        train(TinyTask(), content, CONFIG, run_dir=run_dir)
    assert caught.value.message == f"{run_dir} already holds a checkpoint"
    assert "--resume" in caught.value.hint and "--overwrite" in caught.value.hint


def test_a_restart_over_an_old_checkpoint_says_where(content, tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(TinyTask(), content, replace(CONFIG, iterations=1), run_dir=run_dir)
    capsys.readouterr()
    train(TinyTask(), content, replace(CONFIG, iterations=1, quiet=False), run_dir=run_dir,
          restart=True)
    assert (f"note: starting afresh; the new run's first checkpoint replaces the one in "
            f"{run_dir}") in capsys.readouterr().err


# -- the log ----------------------------------------------------------------------------------
def test_log_entries_at_every_nth_step_and_the_last_with_the_rate_before_the_step(content,
                                                                                tmp_path):
    log = tmp_path / "log.jsonl"
    config = replace(CONFIG, iterations=5, log_every=2, lr_decay_every=1)
    result = train(TinyTask(), content, config, run_dir=tmp_path / "run", log_json=log)
    assert [h["step"] for h in result.history] == [2, 4, 5]
    # The rate in use during the step: 0.01 * 0.5 ** (step - 1).
    assert [h["lr"] for h in result.history] == pytest.approx([0.005, 0.00125, 0.000625])
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines == result.history
    for entry in result.history:
        assert {"step", "lr", "total", "content", "style", "tv", "content/mse",
                "images_per_second", "elapsed"} <= set(entry)
        assert entry["images_per_second"] > 0 and entry["elapsed"] > 0
    assert result.history[0]["elapsed"] < result.history[-1]["elapsed"]


def test_lr_decay_every_zero_never_decays(content, tmp_path):
    config = replace(CONFIG, iterations=4, lr_decay_every=0)
    result = train(TinyTask(), content, config, run_dir=tmp_path / "run")
    assert [h["lr"] for h in result.history] == [0.01] * 4


def test_a_non_finite_loss_names_the_iteration(content, tmp_path):
    class Diverging(TinyTask):
        def training_step(self, model, batch, step):
            terms = super().training_step(model, batch, step)
            if step == 1:
                terms.content["mse"] = terms.content["mse"] * math.inf
            return terms

    with pytest.raises(StyxError) as caught:
        train(Diverging(), content, CONFIG, run_dir=tmp_path / "run")
    # The total is finite, one part is not: the error quotes the total.
    message = caught.value.message
    assert message.startswith("the loss became ") and message.endswith(" at iteration 2")
    assert math.isfinite(float(message.split()[3]))
    assert "--resume continues from the last checkpoint" in caught.value.hint


# -- before any work --------------------------------------------------------------------------
def test_a_run_dir_that_is_a_file_or_a_log_that_is_a_folder_is_refused(content, tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("x")
    with pytest.raises(StyxError) as caught:
        train(TinyTask(), content, CONFIG, run_dir=plain)
    assert caught.value.message == f"--run-dir {plain} is a file, not a folder"
    assert caught.value.hint == "give a folder path to --run-dir"
    with pytest.raises(StyxError) as caught:
        train(TinyTask(), content, CONFIG, run_dir=tmp_path / "run", log_json=tmp_path)
    assert caught.value.message == f"--log-json {tmp_path} is a folder"
    assert caught.value.hint == "give a file path, e.g. run.jsonl"
    with pytest.raises(StyxError, match=f"cannot write --log-json {plain / 'x.jsonl'}"):
        train(TinyTask(), content, CONFIG, run_dir=tmp_path / "run",
              log_json=plain / "x.jsonl")
    assert not (tmp_path / "run").exists()


def test_a_model_without_trainable_parameters_is_refused(content, tmp_path):
    class Frozen(TinyTask):
        def build_model(self):
            model = nn.Conv2d(3, 3, 1)
            model.requires_grad_(False)
            return model

    with pytest.raises(StyxError) as caught:
        train(Frozen(), content, CONFIG, run_dir=tmp_path / "run")
    assert caught.value.message == "the model has no trainable parameters"


@pytest.mark.parametrize("returned, name", [(1.5, "float"), (torch.ones(2), "Tensor")])
def test_a_step_that_returns_neither_terms_nor_a_scalar_is_a_type_error(content, tmp_path,
                                                                        returned, name):
    class Wrong(TinyTask):
        def training_step(self, model, batch, step):
            super().training_step(model, batch, step)
            return returned

    with pytest.raises(TypeError) as caught:
        train(Wrong(), content, CONFIG, run_dir=tmp_path / "run")
    assert str(caught.value) == ("training_step must return LossTerms or a scalar tensor, "
                                 f"not {name}")


# -- the pieces ---------------------------------------------------------------------------------
def test_adam_trains_only_the_parameters_that_require_gradients():
    model = nn.Sequential(nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 1))
    model[0].requires_grad_(False)
    optimizer = adam(model, replace(CONFIG, lr=0.25))
    params = optimizer.param_groups[0]["params"]
    assert len(params) == 2 and all(p.requires_grad for p in params)
    assert optimizer.param_groups[0]["lr"] == 0.25


def test_step_decay_multiplies_the_rate_every_n_iterations():
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = step_decay(optimizer, replace(CONFIG, lr_decay=0.1, lr_decay_every=2))
    rates = []
    for _ in range(5):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01])


def test_training_settings_are_the_loop_settings_as_json():
    settings = training_settings(CONFIG)
    assert settings["iterations"] == 3 and settings["image_size"] == 16
    assert settings["lr"] == 0.01 and settings["short_side"] is None
    assert json.loads(json.dumps(settings)) == settings


def test_the_result_describes_the_session(content, tmp_path):
    result = train(TinyTask(), content, CONFIG, run_dir=tmp_path / "run")
    assert result.iterations_done == 3 and result.world_size == 1
    assert result.rank == 0 and result.main
    assert result.seconds > 0 and result.images_per_second > 0
    assert not result.model.training
    assert result.skipped_files == []


class RecordingTask(TinyTask):
    """TinyTask that keeps its freshly built weights and every batch it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.initial: dict[str, torch.Tensor] = {}
        self.batches: list[torch.Tensor] = []

    def build_model(self) -> nn.Module:
        model = super().build_model()
        self.initial = {k: v.clone() for k, v in model.state_dict().items()}
        return model

    def training_step(self, model, batch, step):
        self.batches.append(batch.clone())
        return super().training_step(model, batch, step)


def test_the_seed_chooses_both_the_initial_weights_and_the_crops(content, tmp_path):
    """docs/training.md: --seed makes a run repeatable; another seed is another run."""
    runs = {}
    for name, seed in (("a", 1), ("again", 1), ("b", 2)):
        task = RecordingTask()
        train(task, content, replace(CONFIG, iterations=2, seed=seed),
              run_dir=tmp_path / name)
        runs[name] = task
    same, other = runs["again"], runs["b"]
    for key, value in runs["a"].initial.items():
        assert torch.equal(same.initial[key], value)
        assert not torch.equal(other.initial[key], value)
    assert all(torch.equal(x, y) for x, y in zip(runs["a"].batches, same.batches))
    assert not all(torch.equal(x, y) for x, y in zip(runs["a"].batches, other.batches))


def test_short_side_reaches_the_crops(content, tmp_path):
    """--short-side rescales each photo before it is cropped: other pixels in the crops."""
    plain, rescaled = RecordingTask(), RecordingTask()
    train(plain, content, replace(CONFIG, iterations=1), run_dir=tmp_path / "plain")
    train(rescaled, content, replace(CONFIG, iterations=1, short_side=16),
          run_dir=tmp_path / "rescaled")
    assert plain.batches[0].shape == rescaled.batches[0].shape
    assert not torch.equal(plain.batches[0], rescaled.batches[0])
