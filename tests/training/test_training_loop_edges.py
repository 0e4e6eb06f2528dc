"""The shared training loop at its edges: what a checkpoint records about the run, what a
resumed run says and restores, the log's entries, the errors before any work and the result.
The fake task of test_training.py on 16 px crops, a few iterations each."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from typing import ClassVar

import pytest
import torch
from fake_training_task import SignalsAt, TinyTask, write_images
from torch import nn

from styx.core.errors import StyxError
from styx.perceptual.objective import LossTerms
from styx.training.checkpoint import read_checkpoint, save_checkpoint
from styx.training.loop import (
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
    assert "skipped " not in err  # said by the first run already
    assert "1 unreadable content image(s) skipped" in err


def test_resuming_a_finished_run_trains_nothing(content, tmp_path):
    run_dir = tmp_path / "run"
    train(TinyTask(), content, CONFIG, run_dir=run_dir)
    before = (run_dir / CHECKPOINT_NAME).read_bytes()
    task = TinyTask()
    result = train(task, content, CONFIG, run_dir=run_dir, resume=True)
    assert task.steps_seen == [] and result.iterations_done == 3
    assert result.images_per_second == 0.0
    assert result.checkpoint == run_dir / CHECKPOINT_NAME  # the run's, though not rewritten
    assert (run_dir / CHECKPOINT_NAME).read_bytes() == before


def test_an_existing_checkpoint_without_resume_is_refused_with_the_choices(content, tmp_path):
    run_dir = tmp_path / "run"
    train(TinyTask(), content, replace(CONFIG, iterations=1), run_dir=run_dir)
    with pytest.raises(StyxError) as caught:
        train(TinyTask(), content, CONFIG, run_dir=run_dir)
    assert caught.value.message == f"{run_dir} already holds a checkpoint"
    assert caught.value.hint == ("continue it with --resume, start afresh with --overwrite, "
                                 "or choose another --run-dir")


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
    assert (caught.value.message, caught.value.hint) == \
        ("the model has no trainable parameters", "a bug in the method")


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


def test_step_decay_every_zero_keeps_the_rate_for_a_long_run():
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = step_decay(optimizer, replace(CONFIG, lr_decay=0.1, lr_decay_every=0))
    for _ in range(5000):  # a real run's length
        optimizer.step()
        schedule.step()
    assert optimizer.param_groups[0]["lr"] == 1.0


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


# -- the clock: images/s and elapsed time, exactly -------------------------------------------
class Clock:
    """A stand-in for ``time`` in the training module: time passes only in a step."""

    def __init__(self, now: float) -> None:
        self.now = now

    def perf_counter(self) -> float:
        return self.now


class TakesTime(TinyTask):
    """Each step takes ``seconds[step]`` on ``clock`` (the first builds, like a descriptor)."""

    def __init__(self, clock: Clock, seconds: dict[int, float]) -> None:
        super().__init__()
        self.clock, self.seconds = clock, seconds

    def training_step(self, model, batch, step):
        self.clock.now += self.seconds[step]
        return super().training_step(model, batch, step)


STEP_SECONDS = {0: 5.0, 1: 0.5, 2: 0.25, 3: 0.25}


def test_images_per_second_and_elapsed_time_come_from_the_timed_iterations(content, tmp_path,
                                                                          monkeypatch):
    """docs/training.md: images/s counts iterations only, not the session's first (it
    builds what the task builds lazily); the log's rate is over the steps since the last
    log step; elapsed is wall time of the run, resumed sessions included."""
    from styx.training import loop as training

    clock = Clock(100.0)
    monkeypatch.setattr(training, "time", clock)
    config = replace(CONFIG, iterations=4, log_every=2, batch_size=2)
    result = train(TakesTime(clock, STEP_SECONDS), content, config, run_dir=tmp_path / "run")
    # Steps 1-3 took 1.0 s for 3 x 2 images; the first step's 5 s are not counted.
    assert result.images_per_second == 6.0
    assert [h["images_per_second"] for h in result.history] == [4.0, 8.0]  # 2/0.5, 4/0.5
    assert [h["elapsed"] for h in result.history] == [5.5, 6.0]
    assert result.seconds == 6.0
    state = read_checkpoint(tmp_path / "run" / CHECKPOINT_NAME).state
    assert state["elapsed_seconds"] == 6.0


def test_a_resumed_session_times_its_own_iterations_and_adds_to_the_elapsed_time(
        content, tmp_path, monkeypatch):
    from styx.training import loop as training

    clock = Clock(100.0)
    monkeypatch.setattr(training, "time", clock)
    run_dir = tmp_path / "run"
    config = replace(CONFIG, iterations=4, log_every=2)
    train(TakesTime(clock, STEP_SECONDS), content, replace(config, iterations=2),
          run_dir=run_dir)
    clock.now = 5000.0  # another session, another clock origin
    result = train(TakesTime(clock, STEP_SECONDS), content, config, run_dir=run_dir,
                   resume=True)
    # The session's first step (2) is not timed; step 3 alone: 1 image in 0.25 s.
    assert result.images_per_second == 4.0
    assert [h["elapsed"] for h in result.history] == [5.5, 6.0]
    assert result.seconds == 0.5


def test_a_session_of_one_iteration_is_timed_by_that_iteration(content, tmp_path, monkeypatch):
    from styx.training import loop as training

    clock = Clock(7.0)
    monkeypatch.setattr(training, "time", clock)
    result = train(TakesTime(clock, STEP_SECONDS), content, replace(CONFIG, iterations=1),
                   run_dir=tmp_path / "run")
    assert result.images_per_second == 0.2  # 1 image in the first step's 5 s
    assert [h["images_per_second"] for h in result.history] == [0.2]


# -- the progress bar -------------------------------------------------------------------------
class RecordingBar:
    """A stand-in for :class:`styx.runtime.progress.Progress` that keeps what it is told."""

    made: ClassVar[list[RecordingBar]] = []

    def __init__(self, total, description, *, quiet=False, console=None) -> None:
        self.total, self.description, self.quiet = total, description, quiet
        self.updates: list[tuple[int, dict]] = []
        RecordingBar.made.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def update(self, advance=1, **metrics) -> None:
        self.updates.append((advance, metrics))


@pytest.fixture
def bars(monkeypatch):
    from styx.runtime import progress

    RecordingBar.made = []
    monkeypatch.setattr(progress, "Progress", RecordingBar)
    return RecordingBar.made


def test_the_bar_counts_the_iterations_left_and_shows_the_loss_and_rate_at_log_steps(
        content, tmp_path, bars):
    run_dir = tmp_path / "run"
    config = replace(CONFIG, iterations=5, log_every=2, quiet=False)
    first = train(TinyTask(), content, replace(config, iterations=3), run_dir=run_dir)
    [bar] = bars
    assert (bar.total, bar.description, bar.quiet) == (3, "training", False)
    logged = [{"loss": h["total"], "img/s": h["images_per_second"]} for h in first.history]
    assert bar.updates == [(1, {}), (1, logged[0]), (1, logged[1])]  # steps 2 and 3 logged

    resumed = train(TinyTask(), content, replace(config, quiet=True), run_dir=run_dir,
                    resume=True)
    bar = bars[1]
    assert (bar.total, bar.description, bar.quiet) == (2, "training (from 3)", True)
    logged = [{"loss": h["total"], "img/s": h["images_per_second"]}
              for h in resumed.history[-2:]]  # steps 4 and 5
    assert bar.updates == [(1, logged[0]), (1, logged[1])]


def test_resuming_a_finished_run_shows_no_bar_and_builds_no_batches(content, tmp_path, bars,
                                                                     monkeypatch):
    from styx.training import loop as training

    run_dir = tmp_path / "run"
    train(TinyTask(), content, CONFIG, run_dir=run_dir)
    bars.clear()
    monkeypatch.setattr(training, "content_batches",
                        lambda *args, **kwargs: pytest.fail("a finished run read content"))
    result = train(TinyTask(), content, CONFIG, run_dir=run_dir, resume=True)
    assert bars == [] and result.iterations_done == 3


# -- rank 1 of 2, with the collectives played in this process ---------------------------------
class FakeGroup:
    """torchrun's side of the loop for one rank, without a process group: what the loop
    hands to the collectives is recorded, and they answer as a group whose other ranks
    agree with this one."""

    def __init__(self, monkeypatch, *, rank: int, world_size: int = 2,
                 owned: bool = False) -> None:
        import torch.distributed as dist

        from styx.training import distributed
        from styx.training import loop as training
        from styx.training.distributed import DistContext

        self.context = DistContext(rank=rank, world_size=world_size, local_rank=rank,
                                   owned=owned)
        self.wrapped: list[dict] = []
        self.calls: list[str] = []
        self.devices: set[torch.device] = set()  # every device a collective was given
        monkeypatch.setattr(training, "setup_distributed", lambda device: self.context)
        monkeypatch.setattr(distributed, "broadcast_bytes", self.broadcast_bytes)
        monkeypatch.setattr(training, "wrap_model", self.wrap_model)
        monkeypatch.setattr(training, "reduce_log", self.reduce_log)
        monkeypatch.setattr(training, "gather_json", self.gather_json)
        monkeypatch.setattr(dist, "barrier", lambda: self.calls.append("barrier"))
        monkeypatch.setattr(dist, "destroy_process_group",
                            lambda: self.calls.append("destroy"))

    def wrap_model(self, model, ctx, device, *, find_unused_parameters=False):
        self.wrapped.append({"ctx": ctx, "find_unused_parameters": find_unused_parameters})
        self.devices.add(device)
        return model

    def reduce_log(self, values, stop, ctx, device):
        self.calls.append("reduce_log")
        self.devices.add(device)
        return values, stop

    def gather_json(self, value, ctx, device):
        self.calls.append("gather_json")
        self.devices.add(device)
        return [value, {"elsewhere.png": "elsewhere.png: broken"}]

    def broadcast_bytes(self, data, ctx, device):
        self.calls.append("broadcast_bytes")
        self.devices.add(device)
        return data


def test_rank_1_trains_its_share_but_writes_and_says_nothing(content, tmp_path, monkeypatch,
                                                               capsys, bars):
    alone = RecordingTask()
    train(alone, content, replace(CONFIG, iterations=2), run_dir=tmp_path / "alone")
    group = FakeGroup(monkeypatch, rank=1)
    task = RecordingTask()
    log = tmp_path / "log.jsonl"
    result = train(task, content, replace(CONFIG, iterations=2, quiet=False),
                   run_dir=tmp_path / "run", log_json=log)
    assert not (tmp_path / "run" / CHECKPOINT_NAME).exists() and not log.exists()
    assert capsys.readouterr().err == ""
    assert bars[-1].quiet  # rank 1 shows no bar, though the run is not --quiet
    assert (result.rank, result.world_size, result.main) == (1, 2, False)
    assert result.checkpoint is None and result.iterations_done == 2
    # Its own share of the crops, its own noise: not what a single process sees.
    assert not any(torch.equal(a, b) for a, b in zip(alone.batches, task.batches))
    assert [w["find_unused_parameters"] for w in group.wrapped] == [False]
    assert group.wrapped[0]["ctx"] is group.context
    assert group.calls == ["reduce_log", "reduce_log", "gather_json", "barrier"]
    assert group.devices == {torch.device("cpu")}  # the run's device, to every collective
    # Skipped files of every rank are reported, all ranks together.
    assert result.skipped_files == ["elsewhere.png"]


def test_a_task_that_leaves_parameters_unused_says_so_to_ddp(content, tmp_path, monkeypatch):
    class SomeUnused(TinyTask):
        ddp_find_unused_parameters = True

    group = FakeGroup(monkeypatch, rank=0)
    train(SomeUnused(), content, replace(CONFIG, iterations=1), run_dir=tmp_path / "run")
    assert [w["find_unused_parameters"] for w in group.wrapped] == [True]


def test_images_per_second_counts_every_rank(content, tmp_path, monkeypatch):
    from styx.training import loop as training

    FakeGroup(monkeypatch, rank=0, world_size=3)
    clock = Clock(0.0)
    monkeypatch.setattr(training, "time", clock)
    result = train(TakesTime(clock, STEP_SECONDS), content, replace(CONFIG, iterations=2),
                   run_dir=tmp_path / "run")
    assert result.images_per_second == 6.0  # 3 ranks x 1 image in step 1's 0.5 s


def test_a_process_group_styx_made_is_torn_down_and_one_it_joined_is_not(content, tmp_path,
                                                                           monkeypatch):
    owned = FakeGroup(monkeypatch, rank=0, owned=True)
    train(TinyTask(), content, replace(CONFIG, iterations=1), run_dir=tmp_path / "a")
    assert owned.calls[-1] == "destroy"
    joined = FakeGroup(monkeypatch, rank=0, owned=False)
    train(TinyTask(), content, replace(CONFIG, iterations=1), run_dir=tmp_path / "b")
    assert "destroy" not in joined.calls


@pytest.mark.parametrize(("world_size", "stops_after"), [(1, 2), (2, 3)])
def test_ctrl_c_stops_after_the_iteration_alone_and_at_the_next_log_step_under_ddp(
        content, tmp_path, monkeypatch, capsys, world_size, stops_after):
    """docs/training.md: a single process stops after the iteration it is in; under
    torchrun the ranks agree on stopping at a log step. Said once, with the checkpoint."""
    if world_size > 1:
        FakeGroup(monkeypatch, rank=0, world_size=world_size)
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(SignalsAt(1), content, replace(CONFIG, iterations=6, log_every=3),
              run_dir=run_dir)
    err = capsys.readouterr().err
    assert err.count(f"stopped at iteration {stops_after}; checkpoint in "
                     f"{run_dir / CHECKPOINT_NAME}; continue with --resume") == 1
    assert "interrupted at" not in err
    assert read_checkpoint(run_dir / CHECKPOINT_NAME).state["step"] == stops_after


def test_a_refused_resume_names_the_checkpoint(content, tmp_path):
    run_dir = tmp_path / "run"
    train(TinyTask(), content, replace(CONFIG, iterations=1), run_dir=run_dir)
    with pytest.raises(StyxError) as caught:
        train(TinyTask(method="another"), content, CONFIG, run_dir=run_dir, resume=True)
    assert caught.value.message.startswith(f"{run_dir / CHECKPOINT_NAME} was written by")


def test_task_state_is_given_back_only_to_a_task_that_takes_it(content, tmp_path):
    run_dir = tmp_path / "run"
    train(TinyTask(), content, replace(CONFIG, iterations=1), run_dir=run_dir)
    task = StatefulTask()  # the run's task kept no state: nothing to give back
    train(task, content, replace(CONFIG, iterations=2), run_dir=run_dir, resume=True)
    assert task.loaded == []
    stateless_again = TinyTask()  # a checkpoint with a task state, a task without
    result = train(stateless_again, content, CONFIG, run_dir=run_dir, resume=True)
    assert result.iterations_done == 3


def test_a_checkpoint_that_does_not_fit_the_model_is_named(content, tmp_path):
    class Wider(TinyTask):
        def build_model(self):
            return nn.Conv2d(3, 3, 5, padding=2)

    run_dir = tmp_path / "run"
    train(TinyTask(), content, replace(CONFIG, iterations=1), run_dir=run_dir)
    with pytest.raises(StyxError) as caught:
        train(Wider(), content, CONFIG, run_dir=run_dir, resume=True)
    assert caught.value.message.startswith(f"{run_dir / CHECKPOINT_NAME} does not fit this model")


def test_a_checkpoint_without_the_optional_parts_resumes_with_their_defaults(content, tmp_path,
                                                                             monkeypatch, capsys):
    """The history, skipped files, elapsed time and data description of a checkpoint are
    optional: without them (or with a data entry that is not a mapping) a resume starts
    them afresh, as for one process, and says nothing about it."""
    from styx.training import loop as training

    clock = Clock(10.0)
    monkeypatch.setattr(training, "time", clock)
    run_dir = tmp_path / "run"
    config = replace(CONFIG, iterations=4, log_every=1, quiet=False)
    train(TakesTime(clock, STEP_SECONDS), content, replace(config, iterations=2),
          run_dir=run_dir)
    path = run_dir / CHECKPOINT_NAME
    checkpoint = read_checkpoint(path)
    state = {key: value for key, value in checkpoint.state.items()
             if key not in ("history", "skipped_files", "elapsed_seconds")}
    save_checkpoint(path, checkpoint.model, checkpoint.optimizer, {**state, "data": "lost"})
    capsys.readouterr()
    result = train(TakesTime(clock, STEP_SECONDS), content, config, run_dir=run_dir,
                   resume=True)
    assert [h["step"] for h in result.history] == [3, 4]
    assert [h["elapsed"] for h in result.history] == [0.25, 0.5]  # counted from 0 again
    assert result.skipped_files == []
    err = capsys.readouterr().err
    assert "process(es)" not in err and "content images differ" not in err
    del state["data"]
    save_checkpoint(path, checkpoint.model, checkpoint.optimizer, state)
    train(TinyTask(), content, replace(config, iterations=5), run_dir=run_dir, resume=True)
    err = capsys.readouterr().err
    assert "process(es)" not in err and "content images differ" not in err


def test_a_resume_under_torchrun_reads_the_checkpoint_through_rank_0(content, tmp_path,
                                                                     monkeypatch):
    run_dir = tmp_path / "run"
    group = FakeGroup(monkeypatch, rank=0)
    train(TinyTask(), content, replace(CONFIG, iterations=1), run_dir=run_dir)
    train(TinyTask(), content, replace(CONFIG, iterations=2), run_dir=run_dir, resume=True)
    assert "broadcast_bytes" in group.calls and group.devices == {torch.device("cpu")}


class DrawsNoise(RecordingTask):
    """Keeps what torch's and Python's RNGs give at the start of every step."""

    def __init__(self) -> None:
        super().__init__()
        self.draws: list[torch.Tensor] = []
        self.python_draws: list[float] = []

    def training_step(self, model, batch, step):
        self.draws.append(torch.rand(4))
        self.python_draws.append(random.random())
        return super().training_step(model, batch, step)


@pytest.mark.parametrize("rank", [0, 1])
def test_each_step_is_seeded_from_the_seed_the_rank_and_the_iteration(content, tmp_path,
                                                                      monkeypatch, rank):
    """The scheme the checkpoint records ("seeded per iteration from (seed, rank,
    iteration)"): a checkpoint written by another version of styx resumes exactly only if
    the scheme stays the same, so it is checked value for value."""
    from styx.training.data import mix_seed

    if rank:
        FakeGroup(monkeypatch, rank=rank)
    task = DrawsNoise()
    train(task, content, replace(CONFIG, iterations=3, seed=7), run_dir=tmp_path / "run")
    for step, (drawn, python_drawn) in enumerate(zip(task.draws, task.python_draws)):
        torch.manual_seed(mix_seed("step", 7, rank, step))
        random.seed(mix_seed("step", 7, rank, step))
        assert torch.equal(drawn, torch.rand(4)) and python_drawn == random.random()
    assert not torch.equal(task.draws[0], task.draws[1])
    # The initial weights: drawn from the seed alone, under their own label.
    torch.manual_seed(mix_seed("init", 7))
    assert torch.equal(task.initial["weight"], nn.Conv2d(3, 3, 3, padding=1).weight)


def test_an_unreadable_content_image_is_reported_once_and_recorded_with_its_reason(
        content, tmp_path, capsys):
    (content / "broken.png").write_bytes(b"not a png")
    run_dir = tmp_path / "run"
    config = replace(CONFIG, iterations=12, quiet=False)
    result = train(TinyTask(), content, config, run_dir=run_dir)  # 3 images: four epochs
    err = capsys.readouterr().err
    assert err.count(f"skipped {content / 'broken.png'}: not an image file") == 1
    skipped = read_checkpoint(run_dir / CHECKPOINT_NAME).state["skipped_files"]
    assert list(skipped) == [str(content / "broken.png")] == result.skipped_files
    assert skipped[str(content / "broken.png")] == \
        "not an image file (or not a format Pillow reads)"  # the reason; the path is the key


def test_a_checkpoint_that_cannot_be_written_names_its_path(content, tmp_path, monkeypatch):
    import errno

    from styx.training import loop as training

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(training, "save_checkpoint", disk_full)
    run_dir = tmp_path / "run"
    with pytest.raises(StyxError) as caught:
        train(TinyTask(), content, replace(CONFIG, iterations=1), run_dir=run_dir)
    assert str(run_dir / CHECKPOINT_NAME) in caught.value.message


def test_quiet_silences_the_notes(content, tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(TinyTask(), content, replace(CONFIG, iterations=1), run_dir=run_dir)
    train(TinyTask(), content, replace(CONFIG, iterations=1), run_dir=run_dir, restart=True)
    assert capsys.readouterr().err == ""  # CONFIG is quiet: no "starting afresh" note


def test_the_content_batches_get_the_workers_and_no_pinned_memory_on_the_cpu(content, tmp_path,
                                                                             monkeypatch):
    from styx.training import loop as training

    given = []
    real = training.content_batches

    def recording(*args, **kwargs):
        given.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "content_batches", recording)
    train(TinyTask(), content, replace(CONFIG, iterations=1, num_workers=2),
          run_dir=tmp_path / "run")
    assert given[0]["num_workers"] == 2 and given[0]["pin_memory"] is False


def test_the_seed_chooses_where_a_photo_is_cropped(tmp_path):
    """With one photo there is no order to shuffle: the seed still moves the crop."""
    folder = tmp_path / "one"
    write_images(folder, count=1, sizes=((40, 48),))
    crops = []
    for seed in (1, 2):
        task = RecordingTask()
        train(task, folder, replace(CONFIG, iterations=1, seed=seed),
              run_dir=tmp_path / f"run{seed}")
        crops.append(task.batches[0])
    assert not torch.equal(crops[0], crops[1])
