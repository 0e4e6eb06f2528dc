"""The checkpoint file on its own (styx.training.checkpoint): what a round trip keeps, how a
failed write leaves the previous file, what each kind of damage reads as, and the checks a
resume makes. Tiny tensors and a two-parameter model; no training loop."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import save, save_file

from styx.core.errors import StyxError
from styx.training import checkpoint as ckpt
from styx.training.checkpoint import (
    check_resumable,
    checkpoint_tensors,
    differences,
    load_for_resume,
    read_checkpoint,
    restore,
    save_checkpoint,
)
from styx.training.distributed import DistContext


def _model_and_optimizer():
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9))
    model(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    return model, optimizer


def _state(**more):
    return {"step": 3, "config": {"lr": 0.01}, "task": {"method": "fake"}, **more}


def _written(tmp_path, state=None, extra=None, name="ck.safetensors") -> Path:
    model, optimizer = _model_and_optimizer()
    return save_checkpoint(tmp_path / name, model.state_dict(), optimizer.state_dict(),
                           state if state is not None else _state(), extra)


# -- round trips -------------------------------------------------------------------------
def test_every_part_comes_back_with_its_type(tmp_path):
    model, optimizer = _model_and_optimizer()
    state = _state(
        milestones=Counter({10: 1, 20: 2}),          # a Counter with integer keys
        by_pair={(1, 2): "a", (3, 4): "b"},          # a mapping keyed by tuples
        shape=(4, 5),
        nested=[(1, [2.5, None]), {"x": True}],
        odd_floats=[math.inf, -math.inf, 1.5],
        tensor_inside={"scale": torch.tensor([2.0, 3.0])},
    )
    extra = {"noise": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
    path = save_checkpoint(tmp_path / "ck.safetensors", model.state_dict(),
                           optimizer.state_dict(), state, extra)
    assert path == tmp_path / "ck.safetensors"
    back = read_checkpoint(path)

    assert back.model.keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        assert torch.equal(back.model[key], value)
    assert back.extra.keys() == {"noise"} and torch.equal(back.extra["noise"], extra["noise"])
    restored = back.state
    assert restored["step"] == 3 and restored["config"] == {"lr": 0.01}
    assert isinstance(restored["milestones"], Counter)
    assert restored["milestones"] == Counter({10: 1, 20: 2})
    assert restored["by_pair"] == {(1, 2): "a", (3, 4): "b"}
    assert restored["shape"] == (4, 5) and isinstance(restored["shape"], tuple)
    assert restored["nested"] == [(1, [2.5, None]), {"x": True}]
    assert isinstance(restored["nested"][0], tuple)
    assert restored["odd_floats"][:2] == [math.inf, -math.inf]
    assert torch.equal(restored["tensor_inside"]["scale"], torch.tensor([2.0, 3.0]))
    group = back.optimizer["param_groups"][0]
    assert group["lr"] == 0.01 and group["betas"] == (0.8, 0.9)


def test_the_bytes_of_a_file_read_as_the_file(tmp_path):
    path = _written(tmp_path, state=_state(shape=(1, 2)),
                    extra={"e": torch.ones(2)})
    from_file = read_checkpoint(path)
    from_bytes = read_checkpoint(path.read_bytes(), name="sent by rank 0")
    assert from_bytes.state == from_file.state
    assert from_bytes.model.keys() == from_file.model.keys()
    assert all(torch.equal(from_bytes.model[k], from_file.model[k]) for k in from_file.model)
    assert torch.equal(from_bytes.extra["e"], torch.ones(2))
    assert from_bytes.optimizer["param_groups"] == from_file.optimizer["param_groups"]


def test_the_tensors_are_copied_to_the_cpu_and_share_no_memory():
    weight = torch.zeros(2, 2)
    tensors, metadata = checkpoint_tensors({"w": weight, "w_t": weight.t()}, None,
                                           {"step": 0}, {"e": weight})
    assert set(tensors) == {"model.w", "model.w_t", "extra.e"}
    weight += 1  # the stored copies must not follow
    assert all(float(t.sum()) == 0.0 for t in tensors.values())
    assert all(t.is_contiguous() for t in tensors.values())
    document = json.loads(metadata["styx"])
    assert document == {"format": "styx-checkpoint", "version": 1, "state": {"step": 0}}


def test_a_state_value_json_cannot_hold_is_a_type_error_naming_its_place(tmp_path):
    with pytest.raises(TypeError, match=r"state\.where: cannot store a set"):
        checkpoint_tensors({}, None, {"where": {1, 2}})
    with pytest.raises(TypeError, match="cannot store a Tensor as JSON"):
        ckpt._jsonable({torch.tensor(1.0): 1}, "state.k")  # a tensor as a key


# -- writing ----------------------------------------------------------------------------------
def test_a_failed_write_keeps_the_previous_checkpoint_and_leaves_no_temporary(tmp_path,
                                                                              monkeypatch):
    path = _written(tmp_path, state=_state(step=1))
    before = path.read_bytes()

    def half_written(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("safetensors.torch.save_file", half_written)
    with pytest.raises(OSError, match="No space"):
        _written(tmp_path, state=_state(step=2))
    assert path.read_bytes() == before
    assert read_checkpoint(path).state["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_save_creates_the_folder(tmp_path):
    path = _written(tmp_path / "new" / "folder")
    assert path.is_file() and read_checkpoint(path).state["step"] == 3


# -- reading damaged or foreign files -------------------------------------------------------
def test_a_missing_file_says_to_start_without_resume(tmp_path):
    with pytest.raises(StyxError, match="no checkpoint at") as caught:
        read_checkpoint(tmp_path / "none.safetensors")
    assert "without --resume" in caught.value.hint


@pytest.mark.parametrize("data", [b"", b"\x00" * 7, b"not a safetensors file at all"])
def test_garbage_is_a_damaged_file(tmp_path, data):
    path = tmp_path / "ck.safetensors"
    path.write_bytes(data)
    with pytest.raises(StyxError, match=f"cannot read checkpoint {path}") as caught:
        read_checkpoint(path)
    assert "damaged" in caught.value.hint
    with pytest.raises(StyxError, match="cannot read checkpoint sent"):
        read_checkpoint(data, name="sent")


def test_bytes_without_a_name_are_called_checkpoint():
    with pytest.raises(StyxError, match="cannot read checkpoint checkpoint:"):
        read_checkpoint(b"junk")


NO_HEADER = " is not a styx checkpoint (no styx metadata in its header)"
NOT_STYX = " is not a styx checkpoint"


@pytest.mark.parametrize("metadata, message", [
    (None, NO_HEADER),
    ({"other": "x"}, NO_HEADER),
    ({"styx": "{not json"}, NO_HEADER),
    ({"styx": "[1, 2]"}, NOT_STYX),
    ({"styx": json.dumps({"format": "other"})}, NOT_STYX),
    ({"styx": json.dumps({"format": "styx-checkpoint", "version": 2})},
     " has checkpoint version 2; this styx reads version 1"),
    ({"styx": json.dumps({"format": "styx-checkpoint"})},
     " has checkpoint version None; this styx reads version 1"),
])
def test_foreign_or_future_files_are_refused(tmp_path, metadata, message):
    path = tmp_path / "ck.safetensors"
    save_file({"model.w": torch.ones(1)}, str(path), metadata=metadata)
    for source in (path, path.read_bytes()):
        with pytest.raises(StyxError) as caught:
            read_checkpoint(source, name=str(path))
        assert caught.value.message == f"{path}{message}"
        assert "styx" in caught.value.hint


def _with_document(tmp_path, document, tensors=None) -> Path:
    path = tmp_path / "ck.safetensors"
    save_file(tensors or {"model.w": torch.ones(1)}, str(path),
              metadata={"styx": json.dumps(document)})
    return path


def test_a_file_without_optimizer_or_state_reads_as_empty(tmp_path):
    path = _with_document(tmp_path, {"format": "styx-checkpoint", "version": 1})
    back = read_checkpoint(path)
    assert back.optimizer is None and back.state == {} and back.extra == {}
    assert torch.equal(back.model["w"], torch.ones(1))


def test_a_missing_optimizer_tensor_is_a_damaged_optimizer_state(tmp_path):
    document = {"format": "styx-checkpoint", "version": 1, "state": {},
                "optimizer": {"state": {"0": {"exp_avg": {"__tensor__": "optimizer.gone"}}},
                              "param_groups": []}}
    with pytest.raises(StyxError, match="damaged optimizer state: .*optimizer.gone") as caught:
        read_checkpoint(_with_document(tmp_path, document))
    assert "delete it to start over" in caught.value.hint


def test_a_missing_state_tensor_or_a_state_that_is_no_mapping_is_damaged(tmp_path):
    document = {"format": "styx-checkpoint", "version": 1,
                "state": {"x": {"__tensor__": "state.x"}}}
    with pytest.raises(StyxError, match=r"has a damaged state: .*state\.x"):
        read_checkpoint(_with_document(tmp_path, document))
    document["state"] = [1, 2]
    with pytest.raises(StyxError) as caught:
        read_checkpoint(_with_document(tmp_path, document))
    assert caught.value.message.endswith("ck.safetensors has a damaged state")


def test_long_error_texts_are_cut_to_one_short_line():
    assert ckpt._short(ValueError("a\n  b\tc")) == "a b c"
    assert ckpt._short(ValueError()) == "ValueError"
    text = ckpt._short(ValueError("x" * 300))
    assert len(text) == 200 and text.endswith("x...")
    assert ckpt._short(ValueError("y" * 200)) == "y" * 200
    assert len(ckpt._short(ValueError("z" * 201))) == 200


# -- resuming -------------------------------------------------------------------------------
SETTINGS = {"batch_size": 2, "image_size": 32, "lr": 0.01, "lr_decay": 0.5,
            "lr_decay_every": 10, "seed": 1, "short_side": None, "iterations": 5}


def _resume_state(**changes):
    state = {"step": 4, "task": {"method": "fake", "a": 1, "styx_version": "0.1"},
             "config": dict(SETTINGS)}
    state.update(changes)
    return state


def test_a_matching_checkpoint_is_resumable_whatever_the_volatile_keys():
    metadata = {"method": "fake", "a": 1, "styx_version": "9.9", "created": "today"}
    check_resumable(_resume_state(), metadata, {**SETTINGS, "iterations": 50}, Path("ck"))
    check_resumable(_resume_state(step=0), metadata, SETTINGS, Path("ck"))


def test_another_method_is_named_with_both_names():
    with pytest.raises(StyxError, match="written by method 'fake', not 'other'"):
        check_resumable(_resume_state(), {"method": "other", "a": 1}, SETTINGS, Path("ck"))
    with pytest.raises(StyxError, match="written by method None, not 'fake'"):
        check_resumable(_resume_state(task="junk"), {"method": "fake"}, SETTINGS, Path("ck"))


def test_other_task_metadata_names_three_differences_and_counts_the_rest():
    old = {"method": "fake", **{f"k{i}": i for i in range(5)}}
    new = {"method": "fake", **{f"k{i}": i + 10 for i in range(5)}}
    with pytest.raises(StyxError) as caught:
        check_resumable(_resume_state(task=old), new, SETTINGS, Path("ck"))
    message = str(caught.value)
    assert "k0: 0 -> 10; k1: 1 -> 11; k2: 2 -> 12; and 2 more" in message
    with pytest.raises(StyxError) as caught:
        check_resumable(_resume_state(task={**old, "k0": 10, "k1": 11}), new, SETTINGS,
                        Path("ck"))
    assert "(k2: 2 -> 12; k3: 3 -> 13; k4: 4 -> 14)" in str(caught.value)


def test_changed_settings_are_named_as_options_with_both_values():
    with pytest.raises(StyxError, match=r"\(--lr 0\.01 -> 0\.1, --short-side None -> 64\)"):
        check_resumable(_resume_state(), {"method": "fake", "a": 1},
                        {**SETTINGS, "lr": 0.1, "short_side": 64}, Path("ck"))


@pytest.mark.parametrize("step", [None, -1, "3", 2.0])
def test_a_checkpoint_without_a_valid_step_is_damaged(step):
    state = _resume_state(step=step)
    with pytest.raises(StyxError, match="no valid iteration count"):
        check_resumable(state, {"method": "fake", "a": 1}, SETTINGS, Path("ck"))


def test_differences_are_dotted_sorted_and_short():
    old = {"a": 1, "b": {"c": 2, "d": 3}, "same": 0, "gone": "x", "skip": 1}
    new = {"a": 2, "b": {"c": 2, "d": 4}, "same": 0, "new": "y" * 80, "skip": 2}
    found = differences(old, new, ignore=("skip",))
    assert found == ["a: 1 -> 2", "b.d: 3 -> 4", "gone: \"x\" -> <missing>",
                     "new: <missing> -> \"" + "y" * 56 + "..."]
    assert differences({"p": {"q": 1}}, {"p": {"q": 2}}, prefix="top.") == ["top.p.q: 1 -> 2"]


def test_load_for_resume_reads_the_file_or_says_there_is_none(tmp_path):
    single = SimpleNamespace(active=False, main=True)
    with pytest.raises(StyxError, match=f"no checkpoint to resume in {tmp_path}") as caught:
        load_for_resume(tmp_path / "ck.safetensors", single, torch.device("cpu"))
    assert "without --resume" in caught.value.hint
    path = _written(tmp_path)
    assert load_for_resume(path, single, torch.device("cpu")).state["step"] == 3


def _restorable(tmp_path, **state_changes):
    model, optimizer = _model_and_optimizer()
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    optimizer.step()
    scheduler.step()
    state = {"step": 1, "scheduler": scheduler.state_dict(), "scaler": None, **state_changes}
    path = save_checkpoint(tmp_path / "ck.safetensors", model.state_dict(),
                           optimizer.state_dict(), state)
    return path, model, optimizer


def _fresh():
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.5)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    return model, optimizer, scheduler, scaler


def test_restore_loads_model_optimizer_and_scheduler(tmp_path):
    path, model, optimizer = _restorable(tmp_path)
    fresh_model, fresh_optimizer, scheduler, scaler = _fresh()
    restore(fresh_model, fresh_optimizer, scheduler, scaler, read_checkpoint(path), path)
    assert torch.equal(fresh_model.weight, model.weight)
    assert fresh_optimizer.param_groups[0]["lr"] == 0.01
    assert torch.equal(fresh_optimizer.state_dict()["state"][0]["exp_avg"],
                       optimizer.state_dict()["state"][0]["exp_avg"])
    assert scheduler.last_epoch == 1


def test_restore_refuses_another_model_with_the_first_line_that_matters(tmp_path):
    path, _, _ = _restorable(tmp_path)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2)
    with pytest.raises(StyxError, match=f"{path} does not fit this model: size mismatch") \
            as caught:
        restore(model, optimizer, scheduler, None, read_checkpoint(path), path)
    assert "\n" not in str(caught.value)
    assert "options of the first run" in caught.value.hint


def test_restore_needs_an_optimizer_state_and_a_scheduler_state(tmp_path):
    path, _, _ = _restorable(tmp_path)
    checkpoint = read_checkpoint(path)
    fresh_model, optimizer, scheduler, scaler = _fresh()
    without = ckpt.Checkpoint(model=checkpoint.model, optimizer=None, state=checkpoint.state)
    with pytest.raises(StyxError, match="has no optimizer state"):
        restore(fresh_model, optimizer, scheduler, scaler, without, path)
    del checkpoint.state["scheduler"]
    with pytest.raises(StyxError, match="has an optimizer state that does not fit: 'scheduler'"):
        restore(fresh_model, optimizer, scheduler, scaler, checkpoint, path)


def test_restore_loads_a_saved_scaler_state_only_into_an_enabled_scaler(tmp_path):
    path, _, _ = _restorable(tmp_path, scaler={"scale": 8.0})
    fresh_model, optimizer, scheduler, _ = _fresh()
    loaded = []
    scaler = SimpleNamespace(is_enabled=lambda: True, load_state_dict=loaded.append)
    restore(fresh_model, optimizer, scheduler, scaler, read_checkpoint(path), path)
    assert loaded == [{"scale": 8.0}]
    off = SimpleNamespace(is_enabled=lambda: False, load_state_dict=loaded.append)
    restore(fresh_model, optimizer, scheduler, off, read_checkpoint(path), path)
    assert loaded == [{"scale": 8.0}]


def test_unflattened_state_has_integer_parameter_ids():
    _, optimizer = _model_and_optimizer()
    tensors, description = ckpt.flatten_optimizer_state(optimizer.state_dict())
    assert set(description["state"]) == {"0", "1"}
    assert "optimizer.state.0.exp_avg" in tensors
    back = ckpt.unflatten_optimizer_state(tensors, description)
    assert set(back["state"]) == {0, 1}
    assert ckpt.unflatten_optimizer_state({}, {}) == {"state": {}, "param_groups": []}
    assert ckpt.flatten_optimizer_state({}) == ({}, {"state": {}, "param_groups": []})


def test_header_of_bytes_without_metadata_is_empty():
    blob = save({"w": torch.ones(1)})
    assert ckpt._header_of_bytes(blob) == {}
    blob = save({"w": torch.ones(1)}, metadata={"styx": "x"})
    assert ckpt._header_of_bytes(blob) == {"styx": "x"}


def test_json_round_trip_of_nested_values_with_odd_keys():
    value = {"a": [1, (2, 3)], "b": {(1, (2, 3)): "t", 4: None}, "c": Counter({"x": 2}),
             "d": float("nan"), "e": -math.inf, "f": True}
    tensors = {}
    back = ckpt._from_jsonable(json.loads(json.dumps(ckpt._jsonable(value, "s", tensors))),
                               tensors)
    assert back["a"] == [1, (2, 3)] and isinstance(back["a"][1], tuple)
    assert back["b"] == {(1, (2, 3)): "t", 4: None}
    assert isinstance(back["c"], Counter) and back["c"] == Counter({"x": 2})
    assert math.isnan(back["d"]) and back["e"] == -math.inf and back["f"] is True
    assert tensors == {}
    inside = ckpt._jsonable({"t": [torch.ones(1)]}, "state", tensors)
    assert inside == {"t": [{"__tensor__": "state.t.0"}]} and set(tensors) == {"state.t.0"}
    assert torch.equal(ckpt._from_jsonable(inside, tensors)["t"][0], torch.ones(1))
    with pytest.raises(KeyError, match="state.t.0"):
        ckpt._from_jsonable(inside, None)


def test_differences_show_any_value_and_cut_it_at_sixty_characters():
    assert differences({"a": {1}}, {"a": {2}}) == ['a: "{1}" -> "{2}"']
    exactly = "x" * 58  # 60 characters with its quotes: shown whole
    assert differences({"k": exactly}, {}) == [f'k: "{exactly}" -> <missing>']
    longer = "y" * 59   # 61: cut to 57 and "..."
    assert differences({"k": longer}, {}) == ['k: "' + "y" * 56 + '... -> <missing>']


def test_json_lists_become_tuples_as_mapping_keys():
    assert ckpt._hashable([1, [2, [3]]]) == (1, (2, (3,)))
    assert ckpt._hashable("k") == "k"


# -- exact texts and the less travelled paths ---------------------------------------------------
def test_finite_floats_are_plain_json_numbers_and_only_the_others_are_tagged():
    _, metadata = checkpoint_tensors({}, None, {"lr": 0.5, "odd": [math.nan, -math.inf]})
    assert json.loads(metadata["styx"])["state"] == {
        "lr": 0.5, "odd": [{"__float__": "nan"}, {"__float__": "-inf"}]}


def test_a_mapping_with_other_keys_stays_a_dict_and_a_counter_stays_a_counter(tmp_path):
    assert ckpt._jsonable({10: 0.5}, "s") == {"__items__": [[10, 0.5]]}
    assert ckpt._jsonable(Counter({"a": 2}), "s") == {"__counter__": [["a", 2]]}
    back = read_checkpoint(_written(tmp_path, state=_state(
        by_step={10: 0.5, 20: 0.25}, counts=Counter({"a": 2})))).state
    assert type(back["by_step"]) is dict and back["by_step"] == {10: 0.5, 20: 0.25}
    assert type(back["counts"]) is Counter and back["counts"] == Counter({"a": 2})


def test_tensors_in_tuples_and_under_keys_that_are_no_text_come_back_from_their_paths(tmp_path):
    a, b, c = torch.tensor([1.0]), torch.tensor([2.0]), torch.tensor([3.0])
    state = _state(pair=(a, {"b": b}), by_id={7: c, 8: (a, b)})
    tensors, _ = checkpoint_tensors({}, None, state)
    assert set(tensors) == {"state.pair.0", "state.pair.1.b", "state.by_id.7",
                            "state.by_id.8.0", "state.by_id.8.1"}
    back = read_checkpoint(_written(tmp_path, state=state)).state
    assert isinstance(back["pair"], tuple) and torch.equal(back["pair"][0], a)
    assert torch.equal(back["pair"][1]["b"], b)
    assert type(back["by_id"]) is dict and set(back["by_id"]) == {7, 8}
    assert torch.equal(back["by_id"][7], c)
    assert isinstance(back["by_id"][8], tuple)
    assert [float(t) for t in back["by_id"][8]] == [1.0, 2.0]


def test_what_json_cannot_hold_under_keys_that_are_no_text_is_named_by_its_path():
    with pytest.raises(TypeError) as caught:
        checkpoint_tensors({}, None, {"by_id": {3: {1, 2}}})
    assert str(caught.value) == "state.by_id.3: cannot store a set as JSON"
    with pytest.raises(TypeError) as caught:
        ckpt._jsonable({torch.tensor(1.0): 1}, "state.k", {})  # a tensor as a key
    assert str(caught.value) == "state.k.key: cannot store a Tensor as JSON"
    with pytest.raises(TypeError) as caught:
        ckpt._jsonable({frozenset(): 1}, "state.k")
    assert str(caught.value) == "state.k.key: cannot store a frozenset as JSON"


def test_tensors_in_param_groups_are_named_by_their_group_and_come_back_to_it(tmp_path):
    optimizer_state = {"state": {}, "param_groups": [
        {"params": [0], "lr": torch.tensor(0.1)}, {"params": [1], "lr": torch.tensor(0.2)}]}
    tensors, description = ckpt.flatten_optimizer_state(optimizer_state)
    assert set(tensors) == {"optimizer.group.0.lr", "optimizer.group.1.lr"}
    assert description["param_groups"][1] == {"params": [1],
                                              "lr": {"__tensor__": "optimizer.group.1.lr"}}
    path = save_checkpoint(tmp_path / "ck.safetensors", {}, optimizer_state, _state())
    groups = read_checkpoint(path).optimizer["param_groups"]
    assert [g["params"] for g in groups] == [[0], [1]]
    assert [round(float(g["lr"]), 6) for g in groups] == [0.1, 0.2]
    with pytest.raises(TypeError) as caught:
        ckpt.flatten_optimizer_state({"param_groups": [{}, {"params": {1}}]})
    assert str(caught.value) == "optimizer.group.1.params: cannot store a set as JSON"


def test_a_nan_that_escapes_the_tagging_fails_the_write_rather_than_break_the_json(
        tmp_path, monkeypatch):
    """_jsonable tags every non-finite float; should a bare NaN reach the encoder anyway
    (here from the optimizer's description), no header that strict JSON refuses is written."""
    monkeypatch.setattr(ckpt, "flatten_optimizer_state",
                        lambda state: ({}, {"state": {}, "param_groups": [{"lr": math.nan}]}))
    with pytest.raises(ValueError, match="not JSON compliant"):
        save_checkpoint(tmp_path / "ck.safetensors", {}, {"state": {}}, {"step": 0})
    assert list(tmp_path.iterdir()) == []


DAMAGED = "the file is damaged (a run killed while writing it?); delete it to start over"


def _document(**parts) -> dict[str, str]:
    return {"styx": json.dumps({"format": "styx-checkpoint", "version": 1, **parts})}


@pytest.mark.parametrize("metadata, message, hint", [
    (None, " is not a styx checkpoint (no styx metadata in its header)",
     "resume only from a run_dir written by 'styx train'"),
    ({"styx": json.dumps({"format": "other"})}, " is not a styx checkpoint",
     "resume only from a styx run_dir"),
    ({"styx": json.dumps({"format": "styx-checkpoint", "version": 2})},
     " has checkpoint version 2; this styx reads version 1", "train again with this styx"),
    (_document(state={"x": {"__tensor__": "state.x"}}),
     " has a damaged state: \"tensor 'state.x' is missing\"", DAMAGED),
    (_document(state=[1, 2]), " has a damaged state", DAMAGED),
    (_document(optimizer={"state": {"0": {"m": {"__tensor__": "optimizer.gone"}}}}),
     " has a damaged optimizer state: \"tensor 'optimizer.gone' is missing\"", DAMAGED),
])
def test_each_refused_file_has_its_exact_message_and_hint(tmp_path, metadata, message, hint):
    path = tmp_path / "ck.safetensors"
    save_file({"model.w": torch.ones(1)}, str(path), metadata=metadata)
    for source in (path, path.read_bytes()):
        with pytest.raises(StyxError) as caught:
            read_checkpoint(source, name=str(path))
        assert (caught.value.message, caught.value.hint) == (f"{path}{message}", hint)


def test_a_missing_or_unreadable_file_has_its_exact_message_and_hint(tmp_path, monkeypatch):
    path = tmp_path / "ck.safetensors"
    with pytest.raises(StyxError) as caught:
        read_checkpoint(path)
    assert (caught.value.message, caught.value.hint) == (
        f"no checkpoint at {path}", "start a run without --resume first")

    def unreadable(*args, **kwargs):
        raise OSError("read error\n  at byte 8")

    monkeypatch.setattr("safetensors.safe_open", unreadable)
    with pytest.raises(StyxError) as caught:
        read_checkpoint(path)
    assert (caught.value.message, caught.value.hint) == (
        f"cannot read checkpoint {path}: read error at byte 8", DAMAGED)


NO_CHECKPOINT_HINT = "start the run without --resume"
CPU = torch.device("cpu")


def test_without_torchrun_a_missing_checkpoint_has_its_exact_message_and_hint(tmp_path):
    with pytest.raises(StyxError) as caught:
        load_for_resume(tmp_path / "ck.safetensors", DistContext(), CPU)
    assert (caught.value.message, caught.value.hint) == (
        f"no checkpoint to resume in {tmp_path}", NO_CHECKPOINT_HINT)


def _fake_ranks(monkeypatch, from_rank_0):
    """broadcast_bytes as under torchrun: records what this rank sends; rank 0 gets its own
    bytes back, the other ranks get ``from_rank_0``."""
    sent = []

    def broadcast_bytes(data, ctx, device):
        sent.append((data, ctx, device))
        return data if ctx.main else from_rank_0

    monkeypatch.setattr("styx.training.distributed.broadcast_bytes", broadcast_bytes)
    return sent


def test_under_torchrun_rank_0_sends_the_bytes_of_its_file_and_reads_them(tmp_path,
                                                                           monkeypatch):
    path = _written(tmp_path)
    sent = _fake_ranks(monkeypatch, None)
    ctx = DistContext(rank=0, world_size=2)
    assert load_for_resume(path, ctx, CPU).state["step"] == 3
    assert len(sent) == 1
    data, sent_ctx, device = sent[0]
    assert data == path.read_bytes() and sent_ctx is ctx and device == CPU


def test_under_torchrun_other_ranks_send_nothing_and_read_the_bytes_of_rank_0(tmp_path,
                                                                               monkeypatch):
    from_rank_0 = _written(tmp_path / "rank0", state=_state(step=7)).read_bytes()
    local = _written(tmp_path, state=_state(step=3))  # a shared folder: rank 1 sees one too
    sent = _fake_ranks(monkeypatch, from_rank_0)
    ctx = DistContext(rank=1, world_size=2)
    assert load_for_resume(local, ctx, CPU).state["step"] == 7
    assert sent == [(None, ctx, CPU)]


def test_under_torchrun_no_file_on_rank_0_is_refused_on_every_rank(tmp_path, monkeypatch):
    sent = _fake_ranks(monkeypatch, None)
    for rank in (0, 1):
        with pytest.raises(StyxError) as caught:
            load_for_resume(tmp_path / "ck.safetensors", DistContext(rank, 2), CPU)
        assert (caught.value.message, caught.value.hint) == (
            f"no checkpoint to resume in {tmp_path} (on rank 0)", NO_CHECKPOINT_HINT)
    assert [data for data, _, _ in sent] == [None, None]


def test_under_torchrun_a_foreign_file_is_named_by_its_path_on_every_rank(tmp_path,
                                                                           monkeypatch):
    path = tmp_path / "ck.safetensors"
    save_file({"model.w": torch.ones(1)}, str(path))
    _fake_ranks(monkeypatch, path.read_bytes())
    for rank in (0, 1):
        with pytest.raises(StyxError) as caught:
            load_for_resume(path, DistContext(rank, 2), CPU)
        assert caught.value.message == (
            f"{path} is not a styx checkpoint (no styx metadata in its header)")


OTHER_METHOD_HINT = "resume with the same method, or choose another --run-dir"
OTHER_TASK_HINT = "resume with the options of the first run, or choose another --run-dir"
OTHER_SETTINGS_HINT = "resume with the same settings, or choose another --run-dir"
_FOUR_CHANGED = ({"method": "fake", **{f"k{i}": i for i in range(4)}},
                 {"method": "fake", **{f"k{i}": i + 10 for i in range(4)}})


@pytest.mark.parametrize("state, metadata, settings, message, hint", [
    (_resume_state(), {"method": "other"}, SETTINGS,
     "ck was written by method 'fake', not 'other'", OTHER_METHOD_HINT),
    ({"step": 4, "config": dict(SETTINGS)}, {"method": "fake"}, SETTINGS,
     "ck was written by method None, not 'fake'", OTHER_METHOD_HINT),
    (_resume_state(task=_FOUR_CHANGED[0]), _FOUR_CHANGED[1], SETTINGS,
     "ck was trained with other settings (k0: 0 -> 10; k1: 1 -> 11; k2: 2 -> 12; and 1 more)",
     OTHER_TASK_HINT),
    (_resume_state(), {"method": "fake", "a": 1}, {**SETTINGS, "seed": 2},
     "ck was trained with other settings (--seed 1 -> 2)", OTHER_SETTINGS_HINT),
    ({"step": 4, "task": {"method": "fake"}}, {"method": "fake"}, SETTINGS,
     ("ck was trained with other settings (--batch-size None -> 2, --image-size None -> 32, "
      "--lr None -> 0.01, --lr-decay None -> 0.5, --lr-decay-every None -> 10, "
      "--seed None -> 1)"), OTHER_SETTINGS_HINT),
    (_resume_state(step=-1), {"method": "fake", "a": 1}, SETTINGS,
     "ck has no valid iteration count", "the checkpoint is damaged; delete it to start over"),
])
def test_each_refusal_to_resume_has_its_exact_message_and_hint(state, metadata, settings,
                                                                message, hint):
    with pytest.raises(StyxError) as caught:
        check_resumable(state, metadata, settings, Path("ck"))
    assert (caught.value.message, caught.value.hint) == (message, hint)


def test_a_nested_mapping_against_a_plain_or_missing_value_is_one_difference():
    assert differences({"p": {"q": 1}}, {}) == ['p: {"q": 1} -> <missing>']
    assert differences({}, {"p": {"q": 1}}) == ['p: <missing> -> {"q": 1}']
    assert differences({"p": {"q": 1}}, {"p": 5}) == ['p: {"q": 1} -> 5']


@pytest.mark.parametrize("change, reason", [
    (lambda model: model.update(junk=torch.ones(1)), 'Unexpected key(s) in state_dict: "junk".'),
    (lambda model: model.pop("bias"), 'Missing key(s) in state_dict: "bias".'),
])
def test_restore_refuses_a_model_state_with_a_key_too_many_or_too_few(tmp_path, change,
                                                                      reason):
    path, _, _ = _restorable(tmp_path)
    checkpoint = read_checkpoint(path)
    change(checkpoint.model)
    with pytest.raises(StyxError) as caught:
        restore(*_fresh(), checkpoint, path)
    assert (caught.value.message, caught.value.hint) == (
        f"{path} does not fit this model: {reason}", OTHER_TASK_HINT)


def test_restore_names_only_the_first_mismatch_of_torchs_error(tmp_path):
    path, _, _ = _restorable(tmp_path)
    model = torch.nn.Linear(3, 2)  # weight and bias both mismatch: two lines after the title
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2)
    with pytest.raises(StyxError) as caught:
        restore(model, optimizer, scheduler, None, read_checkpoint(path), path)
    assert caught.value.message == (
        f"{path} does not fit this model: size mismatch for weight: copying a param with "
        "shape torch.Size([1, 2]) from checkpoint, the shape in current model is "
        "torch.Size([2, 3]).")


def test_restore_shows_a_one_line_error_of_the_model_whole(tmp_path):
    path, _, _ = _restorable(tmp_path)

    def refuse(state_dict, strict=True):
        raise RuntimeError("  no room for these weights  ")

    _, optimizer, scheduler, scaler = _fresh()
    model = SimpleNamespace(load_state_dict=refuse)
    with pytest.raises(StyxError) as caught:
        restore(model, optimizer, scheduler, scaler, read_checkpoint(path), path)
    assert (caught.value.message, caught.value.hint) == (
        f"{path} does not fit this model: no room for these weights", OTHER_TASK_HINT)


def test_restore_refusals_of_the_optimizer_state_have_their_exact_hints(tmp_path):
    path, _, _ = _restorable(tmp_path)
    checkpoint = read_checkpoint(path)
    without = ckpt.Checkpoint(model=checkpoint.model, optimizer=None, state=checkpoint.state)
    with pytest.raises(StyxError) as caught:
        restore(*_fresh(), without, path)
    assert (caught.value.message, caught.value.hint) == (
        f"{path} has no optimizer state", "delete it to start over")
    del checkpoint.state["scheduler"]
    with pytest.raises(StyxError) as caught:
        restore(*_fresh(), checkpoint, path)
    assert (caught.value.message, caught.value.hint) == (
        f"{path} has an optimizer state that does not fit: 'scheduler'", OTHER_TASK_HINT)
