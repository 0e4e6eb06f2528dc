"""Training checkpoints: one safetensors file, tensors plus JSON state, never a pickle.

A checkpoint holds

* ``model.<key>``: the model's state dict;
* ``optimizer.state.<param>.<key>`` and ``optimizer.group.<i>.<key>``: the tensors of the
  optimizer's state dict (Adam's ``step``, ``exp_avg``, ``exp_avg_sq``, ...), flattened by
  :func:`flatten_optimizer_state`;
* any extra named tensors (``extra.<name>``), and tensors found in the state
  (``state.<path>``, e.g. of a scheduler);

and, in the safetensors header, one JSON document (``__metadata__["styx"]``) with the step,
the data position, the scheduler, the training config, the task's metadata and everything
else the loop needs to continue exactly (tuples, ``Counter``s and mappings with keys other
than text survive the trip). Files are written atomically: a killed process
leaves the previous checkpoint in place.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from styx.core.errors import StyxError
from styx.files.atomic import atomic_path

FORMAT = "styx-checkpoint"
VERSION = 1
_HEADER_KEY = "styx"

MODEL_PREFIX = "model."
OPTIMIZER_PREFIX = "optimizer."
EXTRA_PREFIX = "extra."
STATE_PREFIX = "state."


# -- optimizer and scheduler state <-> tensors + JSON ----------------------------------------
def _jsonable(value: Any, where: str, tensors: dict[str, torch.Tensor] | None = None) -> Any:
    """``value`` as JSON, reversibly (:func:`_from_jsonable`): tuples, non-finite floats,
    mappings with keys that are not text (``MultiStepLR``'s milestones, a ``Counter``)
    are tagged. A tensor anywhere inside goes into ``tensors`` under its path ``where``
    and is replaced by a reference; without ``tensors`` it is a TypeError, as is anything
    else JSON cannot hold."""
    if isinstance(value, torch.Tensor):
        if tensors is None:
            raise TypeError(f"{where}: cannot store a Tensor as JSON")
        tensors[where] = value
        return {"__tensor__": where}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, (list, tuple)):
        items = [_jsonable(v, f"{where}.{i}", tensors) for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, Mapping):
        if isinstance(value, Counter) or not all(isinstance(k, str) for k in value):
            tag = "__counter__" if isinstance(value, Counter) else "__items__"
            return {tag: [[_jsonable(k, f"{where}.key", None),
                           _jsonable(v, f"{where}.{k}", tensors)] for k, v in value.items()]}
        return {k: _jsonable(v, f"{where}.{k}", tensors) for k, v in value.items()}
    raise TypeError(f"{where}: cannot store a {type(value).__name__} as JSON")


def _from_jsonable(value: Any, tensors: Mapping[str, torch.Tensor] | None = None) -> Any:
    if isinstance(value, list):
        return [_from_jsonable(v, tensors) for v in value]
    if isinstance(value, dict):
        keys = set(value)
        if keys == {"__tensor__"}:
            name = value["__tensor__"]
            if tensors is None or name not in tensors:
                raise KeyError(f"tensor {name!r} is missing")
            return tensors[name]
        if keys == {"__tuple__"}:
            return tuple(_from_jsonable(v, tensors) for v in value["__tuple__"])
        if keys == {"__float__"}:
            return float(value["__float__"])
        if keys in ({"__items__"}, {"__counter__"}):
            pairs = {_hashable(_from_jsonable(k)): _from_jsonable(v, tensors)
                     for k, v in next(iter(value.values()))}
            return Counter(pairs) if keys == {"__counter__"} else pairs
        return {k: _from_jsonable(v, tensors) for k, v in value.items()}
    return value


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def flatten_optimizer_state(state_dict: Mapping[str, Any], prefix: str = OPTIMIZER_PREFIX
                            ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into named tensors and a JSON-able description.

    Works for any ``torch.optim`` optimizer: per-parameter state tensors (also inside lists,
    as L-BFGS keeps them) become ``{prefix}state.<param>.<key>[.<index>]``; numbers, tuples
    and other plain values go to the JSON part, as do the param groups (a tensor inside a
    group, e.g. a tensor ``lr``, becomes ``{prefix}group.<i>.<key>``).
    :func:`unflatten_optimizer_state` inverts it.
    """
    tensors: dict[str, torch.Tensor] = {}
    state_json = {str(param_id): _jsonable(dict(param_state), f"{prefix}state.{param_id}",
                                           tensors)
                  for param_id, param_state in state_dict.get("state", {}).items()}
    groups_json = [_jsonable(dict(group), f"{prefix}group.{index}", tensors)
                   for index, group in enumerate(state_dict.get("param_groups", []))]
    return tensors, {"state": state_json, "param_groups": groups_json}


def unflatten_optimizer_state(tensors: Mapping[str, torch.Tensor], description: Mapping[str, Any]
                              ) -> dict[str, Any]:
    """The ``optimizer.state_dict()`` that :func:`flatten_optimizer_state` split up."""
    state = {int(param_id): _from_jsonable(entry, tensors)
             for param_id, entry in description.get("state", {}).items()}
    groups = [_from_jsonable(group, tensors) for group in description.get("param_groups", [])]
    return {"state": state, "param_groups": groups}


# -- the checkpoint file -------------------------------------------------------------------
@dataclass
class Checkpoint:
    """What a checkpoint file holds, split back into its parts (tensors on the CPU)."""

    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any] | None
    state: dict[str, Any]
    extra: dict[str, torch.Tensor] = field(default_factory=dict)


def checkpoint_tensors(model_state: Mapping[str, torch.Tensor],
                       optimizer_state: Mapping[str, Any] | None,
                       state: Mapping[str, Any],
                       extra: Mapping[str, torch.Tensor] | None = None
                       ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and the header metadata of a checkpoint (see the module docstring)."""
    tensors: dict[str, torch.Tensor] = {}
    for key, value in model_state.items():
        tensors[MODEL_PREFIX + key] = value
    # Tensors in the state (a scheduler's, say) are stored as state.<path> tensors.
    document: dict[str, Any] = {"format": FORMAT, "version": VERSION,
                                "state": _jsonable(dict(state), STATE_PREFIX[:-1], tensors)}
    if optimizer_state is not None:
        optimizer_tensors, description = flatten_optimizer_state(optimizer_state)
        tensors.update(optimizer_tensors)
        document["optimizer"] = description
    for key, value in (extra or {}).items():
        tensors[EXTRA_PREFIX + key] = value
    # safetensors wants contiguous CPU tensors that share no memory.
    tensors = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in tensors.items()}
    return tensors, {_HEADER_KEY: json.dumps(document, allow_nan=False)}


def save_checkpoint(path: str | os.PathLike[str], model_state: Mapping[str, torch.Tensor],
                    optimizer_state: Mapping[str, Any] | None, state: Mapping[str, Any],
                    extra: Mapping[str, torch.Tensor] | None = None) -> Path:
    """Write a checkpoint to ``path`` atomically; returns ``path``."""
    from safetensors.torch import save_file

    tensors, metadata = checkpoint_tensors(model_state, optimizer_state, state, extra)
    path = Path(path)
    with atomic_path(path) as temp:
        save_file(tensors, str(temp), metadata=metadata)
    return path


def read_checkpoint(source: str | os.PathLike[str] | bytes, *, name: str | None = None
                    ) -> Checkpoint:
    """Parse a checkpoint file (or its bytes). Anything wrong with it is a StyxError."""
    from safetensors import safe_open
    from safetensors.torch import load

    label = name or (str(source) if not isinstance(source, bytes) else "checkpoint")
    hint = "the file is damaged (a run killed while writing it?); delete it to start over"
    try:
        if isinstance(source, bytes):
            tensors = load(source)
            header = _header_of_bytes(source)
        else:
            with safe_open(str(source), framework="pt", device="cpu") as handle:
                header = handle.metadata() or {}
                tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except FileNotFoundError:
        raise StyxError(f"no checkpoint at {label}", "start a run without --resume first") \
            from None
    except Exception as error:  # noqa: BLE001 - safetensors raises several kinds
        raise StyxError(f"cannot read checkpoint {label}: {_short(error)}", hint) from None
    try:
        document = json.loads(header[_HEADER_KEY])
    except (KeyError, TypeError, ValueError):
        raise StyxError(f"{label} is not a styx checkpoint (no styx metadata in its header)",
                        "resume only from a run_dir written by 'styx train'") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise StyxError(f"{label} is not a styx checkpoint", "resume only from a styx run_dir")
    if document.get("version") != VERSION:
        raise StyxError(f"{label} has checkpoint version {document.get('version')!r}; "
                        f"this styx reads version {VERSION}", "train again with this styx")
    model = {k[len(MODEL_PREFIX):]: v for k, v in tensors.items() if k.startswith(MODEL_PREFIX)}
    extra = {k[len(EXTRA_PREFIX):]: v for k, v in tensors.items() if k.startswith(EXTRA_PREFIX)}
    optimizer = None
    if "optimizer" in document:
        try:
            optimizer = unflatten_optimizer_state(tensors, document["optimizer"])
        except (KeyError, ValueError, TypeError, AttributeError) as error:
            raise StyxError(f"{label} has a damaged optimizer state: {_short(error)}", hint) \
                from None
    try:
        state = _from_jsonable(document.get("state", {}), tensors)
    except KeyError as error:
        raise StyxError(f"{label} has a damaged state: {_short(error)}", hint) from None
    if not isinstance(state, dict):
        raise StyxError(f"{label} has a damaged state", hint)
    return Checkpoint(model=model, optimizer=optimizer, state=state, extra=extra)


def _header_of_bytes(data: bytes) -> dict[str, str]:
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    return header.get("__metadata__", {}) or {}


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# -- resuming ------------------------------------------------------------------------------
#: Training settings a resumed run must share with the run it continues (the others, such
#: as ``iterations``, ``device`` or ``checkpoint_every``, may change between the two).
RESUME_KEYS = ("batch_size", "image_size", "lr", "lr_decay", "lr_decay_every", "seed",
               "short_side")

#: Task metadata keys that may differ between a run and its resumption.
VOLATILE_METADATA = ("styx_version", "created")

_MISSING = "<missing>"


def load_for_resume(path: Path, ctx: Any, device: torch.device) -> Checkpoint:
    """The checkpoint at ``path``; under torchrun rank 0 reads it and sends its bytes, so
    other machines need no shared folder."""
    if not ctx.active:
        if not path.exists():
            raise StyxError(f"no checkpoint to resume in {path.parent}",
                            "start the run without --resume")
        return read_checkpoint(path)
    from styx.training.distributed import broadcast_bytes

    data = path.read_bytes() if ctx.main and path.is_file() else None
    data = broadcast_bytes(data, ctx, device)
    if data is None:
        raise StyxError(f"no checkpoint to resume in {path.parent} (on rank 0)",
                        "start the run without --resume")
    return read_checkpoint(data, name=str(path))


def check_resumable(state: Mapping[str, Any], task_metadata: Mapping[str, Any],
                    settings: Mapping[str, Any], path: Path) -> None:
    """StyxError unless the checkpoint's ``state`` was written by the same method with the
    same task metadata and the same :data:`RESUME_KEYS` of the training ``settings``; each
    difference is named with both values."""
    old_task = state.get("task", {})
    if not isinstance(old_task, dict):
        old_task = {}
    if old_task.get("method") != task_metadata.get("method"):
        raise StyxError(f"{path} was written by method {old_task.get('method')!r}, "
                        f"not {task_metadata.get('method')!r}",
                        "resume with the same method, or choose another --run-dir")
    changed = differences(old_task, dict(task_metadata), VOLATILE_METADATA)
    if changed:
        more = f"; and {len(changed) - 3} more" if len(changed) > 3 else ""
        raise StyxError(f"{path} was trained with other settings "
                        f"({'; '.join(changed[:3])}{more})",
                        "resume with the options of the first run, or choose another "
                        "--run-dir")
    old_settings = state.get("config", {})
    changed_keys = [k for k in RESUME_KEYS if old_settings.get(k) != settings.get(k)]
    if changed_keys:
        was = ", ".join(f"--{k.replace('_', '-')} {old_settings.get(k)!r} -> "
                        f"{settings.get(k)!r}" for k in changed_keys)
        raise StyxError(f"{path} was trained with other settings ({was})",
                        "resume with the same settings, or choose another --run-dir")
    if not isinstance(state.get("step"), int) or state["step"] < 0:
        raise StyxError(f"{path} has no valid iteration count",
                        "the checkpoint is damaged; delete it to start over")


def differences(old: Mapping[str, Any], new: Mapping[str, Any], ignore: tuple[str, ...] = (),
                prefix: str = "") -> list[str]:
    """``key: old -> new`` for every differing key, nested dicts as dotted keys."""
    keys = sorted((set(old) | set(new)) - set(ignore))
    found: list[str] = []
    for key in keys:
        a, b = old.get(key, _MISSING), new.get(key, _MISSING)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            found += differences(a, b, prefix=f"{prefix}{key}.")
        else:
            found.append(f"{prefix}{key}: {_short_value(a)} -> {_short_value(b)}")
    return found


def _short_value(value: Any) -> str:
    text = value if value == _MISSING else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def restore(model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
            scaler: Any, checkpoint: Checkpoint, path: Path) -> None:
    """Load a checkpoint into the run's model, optimizer, scheduler and gradient scaler;
    anything that does not fit is a StyxError."""
    hint = "resume with the options of the first run, or choose another --run-dir"
    try:
        model.load_state_dict(checkpoint.model, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        raise StyxError(f"{path} does not fit this model: "
                        f"{' '.join(first[1:2]).strip() or first[0]}", hint) from None
    if checkpoint.optimizer is None:
        raise StyxError(f"{path} has no optimizer state", "delete it to start over")
    try:
        optimizer.load_state_dict(checkpoint.optimizer)
        scheduler.load_state_dict(checkpoint.state["scheduler"])
        if checkpoint.state.get("scaler") and scaler.is_enabled():
            scaler.load_state_dict(checkpoint.state["scaler"])
    except (KeyError, ValueError, TypeError, RuntimeError) as error:
        raise StyxError(f"{path} has an optimizer state that does not fit: {error}", hint) \
            from None
