"""The model store: trained feed-forward models, by name, under ``$STYX_HOME/models``.

A trained model is a folder::

    NAME/
      model.safetensors   the tensors (the metadata it was saved with also sits in its header)
      model.json          method, architecture config, style image (name + sha256),
                          training settings, styx version, created time
      parts/*.safetensors tensors added later (StyleBank's new styles), listed in
                          model.json's "parts": a model grows without being copied

:func:`save_model` writes the folder atomically (a failure leaves nothing behind and an
existing model untouched), :func:`read_model` reads it back without unpickling anything.
``STYX_HOME`` defaults to the platform's user data folder for ``styx``
(``~/.local/share/styx`` on Linux). No torch import at module import time.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from styx.core.checks import MODEL_NAME, check_model_name
from styx.core.errors import StyxError
from styx.files.home import styx_home

if TYPE_CHECKING:
    import torch

WEIGHTS_FILE = "model.safetensors"
METADATA_FILE = "model.json"
PARTS_FOLDER = "parts"
FORMAT = "styx-model"
VERSION = 1
_HEADER_KEY = "styx_model"


def models_home() -> Path:
    """Where named models live: ``$STYX_HOME/models``."""
    return styx_home() / "models"


def name_from_file(path: str | os.PathLike[str], *, fallback: str = "model") -> str:
    """A valid model (or style) name from a file's name: ``The Scream.jpg`` ->
    ``The-Scream``; ``fallback`` when nothing usable is left."""
    cleaned = "".join(c if (c.isascii() and c.isalnum()) or c in "._+-" else "-"
                      for c in Path(path).stem)
    cleaned = cleaned.strip("-.") or fallback
    return cleaned[:100]


def styles_of(metadata: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The styles a model's metadata describes, in order: its ``styles`` (a model of
    several, StyleBank's) or its one ``style``; each a dict (``name``, ``sha256``, ...)."""
    styles = metadata.get("styles", metadata.get("style"))
    styles = styles if isinstance(styles, list) else [styles] if styles else []
    return [s if isinstance(s, dict) else {"name": str(s)} for s in styles]


@dataclass
class ModelInfo:
    """One stored model, as ``styx models list/show`` report it."""

    name: str
    path: Path
    metadata: dict[str, Any]
    size_bytes: int
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "size_bytes": self.size_bytes,
                "metadata": self.metadata, "error": self.error}


# -- saving ----------------------------------------------------------------------------------
def save_model(tensors_or_module: Any, metadata: Mapping[str, Any], *, name: str | None = None,
               path: str | os.PathLike[str] | None = None, overwrite: bool = False) -> Path:
    """Save a trained model as a folder; returns the folder.

    ``tensors_or_module``: an ``nn.Module`` (its ``state_dict()``) or a dict of tensors.
    ``metadata``: JSON-able; should hold ``method``, the architecture config, the style image
    (name and sha256) and the training settings. ``styx_version``, ``created`` and
    ``format`` are added. Give exactly one of ``name`` (stored under :func:`models_home`) or
    ``path`` (any folder). An existing model there is replaced only with ``overwrite``; an
    existing folder that is not a styx model never is.
    """
    from styx.core import __version__
    from styx.files.atomic import atomic_dir

    if (name is None) == (path is None):
        raise ValueError("give exactly one of name= or path=")
    destination = model_destination(name=name, path=path, overwrite=overwrite)
    tensors = _tensors_of(tensors_or_module)
    text = _metadata_text(metadata, styx_version=__version__, created=_now())
    from safetensors.torch import save_file

    with atomic_dir(destination) as temp:
        save_file(tensors, str(temp / WEIGHTS_FILE), metadata={_HEADER_KEY: text})
        (temp / METADATA_FILE).write_text(text + "\n", encoding="utf-8")
        _same_permissions(temp / WEIGHTS_FILE, like=temp / METADATA_FILE)
    return destination


def add_model_part(folder: str | os.PathLike[str], tensors: Mapping[str, torch.Tensor],
                   metadata: Mapping[str, Any], *, part: str) -> Path:
    """Grow the model in ``folder`` by ``tensors`` without rewriting its other files.

    The tensors go to ``parts/PART.safetensors``, written atomically, then ``model.json`` is
    replaced (atomically) by ``metadata`` with the part added to its ``parts``: the
    commit point. A failure before it leaves the model as it was (a part file that no
    ``model.json`` lists is never read). Keys the model already has are a ValueError.
    Returns the folder.
    """
    from safetensors.torch import save_file

    from styx.core import __version__
    from styx.files.atomic import atomic_path

    folder = Path(folder).expanduser()
    if not MODEL_NAME.fullmatch(part):
        raise ValueError(f"bad part name {part!r}")
    state, old = read_model(folder)
    clash = sorted(set(state) & set(tensors))
    if clash:
        raise ValueError(f"the model already has tensor {clash[0]!r}")
    relative = f"{PARTS_FOLDER}/{part}.safetensors"
    if relative in _parts_of(old):
        raise ValueError(f"the model already has a part {part!r}")
    text = _metadata_text(metadata, parts=[*_parts_of(old), relative],
                          styx_version=__version__, created=old.get("created"), updated=_now())
    (folder / PARTS_FOLDER).mkdir(exist_ok=True)
    with atomic_path(folder / relative) as temporary:
        save_file(_tensors_of(dict(tensors)), str(temporary))
    _same_permissions(folder / relative, like=folder / METADATA_FILE)
    with atomic_path(folder / METADATA_FILE) as temporary:
        temporary.write_text(text + "\n", encoding="utf-8")
    return folder


def _parts_of(metadata: Mapping[str, Any]) -> list[str]:
    """The part files ``metadata`` lists (relative paths inside ``parts/``), checked: a
    listed path that leaves the folder is refused, so a crafted model.json cannot make
    styx read other files."""
    parts = metadata.get("parts", [])
    if not isinstance(parts, list) or not all(
            isinstance(p, str) and re.fullmatch(rf"{PARTS_FOLDER}/[A-Za-z0-9][A-Za-z0-9._+-]*"
                                                r"\.safetensors", p) for p in parts):
        raise StyxError("the model's metadata lists bad parts",
                        "the model is damaged; train or copy it again")
    return list(parts)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _metadata_text(metadata: Mapping[str, Any], **fields: Any) -> str:
    """The text of ``model.json``: the format and version, ``metadata``, then ``fields``."""
    document = {"format": FORMAT, "version": VERSION, **dict(metadata), **fields}
    try:
        return json.dumps(document, indent=2, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"model metadata must be JSON (finite numbers, str keys): {error}") \
            from None


def model_destination(*, name: str | None = None, path: str | os.PathLike[str] | None = None,
                      overwrite: bool = False) -> Path:
    """The folder a model saved as ``name`` (in the store) or at ``path`` goes to.

    StyxError if it cannot be written there: a folder or file that is not a styx model, or
    a model already there without ``overwrite``. Commands call it before training, so a
    taken name fails at once rather than after hours.
    """
    destination = models_home() / check_model_name(name) if name is not None else \
        Path(path).expanduser()
    label = name if name is not None else str(destination)
    if destination.exists() or destination.is_symlink():
        if not destination.is_dir() or not (destination / METADATA_FILE).is_file():
            raise StyxError(f"{destination} exists and is not a styx model folder",
                            "choose another name or path; styx does not overwrite it")
        if not overwrite:
            remedy = f"remove it with 'styx models rm {label}', or choose another name" \
                if name is not None else "delete the folder, or choose another path"
            raise StyxError(f"model {label!r} already exists",
                            f"{remedy} (or overwrite it where the command offers --overwrite)")
    from styx.files.atomic import check_writable_folder

    check_writable_folder(destination.parent, what=f"model {label}")
    return destination


def _same_permissions(path: Path, *, like: Path) -> None:
    """Give ``path`` the permissions of ``like``, a file just created the usual way.

    safetensors writes its files as ``0o600``: a model in a shared store would be
    unreadable to everyone but its trainer, though its ``model.json`` is not.
    """
    with contextlib.suppress(OSError):  # a filesystem without Unix permissions
        os.chmod(path, like.stat().st_mode & 0o777)


def _tensors_of(tensors_or_module: Any) -> dict[str, torch.Tensor]:
    import torch

    if isinstance(tensors_or_module, torch.nn.Module):
        state = tensors_or_module.state_dict()
    elif isinstance(tensors_or_module, Mapping):
        state = dict(tensors_or_module)
    else:
        raise TypeError("save_model wants an nn.Module or a dict of tensors, "
                        f"not {type(tensors_or_module).__name__}")
    out = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"state entry {key!r} is a {type(value).__name__}, not a tensor")
        # Contiguous CPU copies: safetensors refuses shared or strided memory.
        out[str(key)] = value.detach().to("cpu", copy=True).contiguous()
    return out


# -- finding and loading ----------------------------------------------------------------------
def _as_model_folder(path: Path) -> Path:
    if path.is_file() and path.name in (WEIGHTS_FILE, METADATA_FILE):
        path = path.parent
    if not path.exists():
        raise StyxError(f"no model at {path}",
                        "give a model folder, or a name from 'styx models list'")
    if not path.is_dir():
        raise StyxError(f"{path} is not a styx model folder",
                        f"a model is a folder with {WEIGHTS_FILE} and {METADATA_FILE}")
    return path


def resolve_model(name_or_path: str | os.PathLike[str]) -> Path:
    """The model folder meant by a store name or a path (a folder, or its model.* file).

    A string with a path separator (or starting with ``~`` or ``.``) is a path; otherwise
    a stored model of that name wins over a folder of that name in the current directory.
    """
    name = str(name_or_path)
    if isinstance(name_or_path, os.PathLike) or "/" in name or os.sep in name or \
            name.startswith(("~", ".")):
        return _as_model_folder(Path(name_or_path).expanduser())
    if MODEL_NAME.match(name) and (models_home() / name).is_dir():
        return models_home() / name
    if Path(name).exists():
        return _as_model_folder(Path(name))
    return stored_model_folder(name)


def stored_model_folder(name: str) -> Path:
    """The store folder of model ``name``; StyxError with suggestions if there is none."""
    check_model_name(name)
    path = models_home() / name
    if path.is_dir():
        return path
    known = [p.name for p in _model_folders()]
    from styx.core.suggest import did_you_mean

    hint = did_you_mean(name, known) or (
        "'styx models list' shows the stored models" if known else
        f"no model is stored in {models_home()} yet; train one with 'styx train'")
    raise StyxError(f"no model named {name!r}", hint)


def read_metadata(folder: Path) -> dict[str, Any]:
    """The ``model.json`` of a model folder (StyxError if missing or not valid)."""
    meta_path = folder / METADATA_FILE
    try:
        document = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StyxError(f"{folder} is not a styx model folder (no {METADATA_FILE})",
                        f"a model is a folder with {WEIGHTS_FILE} and {METADATA_FILE}") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise StyxError(f"cannot read {meta_path}: {' '.join(str(error).split())}",
                        "the model is damaged; train or copy it again") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise StyxError(f"{meta_path} is not styx model metadata",
                        "train or copy the model again")
    if document.get("version") != VERSION:
        raise StyxError(f"{meta_path} has model format version {document.get('version')!r}; "
                        f"this styx reads version {VERSION}", "upgrade styx")
    return document


def read_model(name_or_path: str | os.PathLike[str]
               ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(state_dict, metadata)`` of a stored model (tensors on the CPU; nothing unpickled)."""
    from safetensors.torch import load_file

    folder = resolve_model(name_or_path)
    metadata = read_metadata(folder)
    state: dict[str, torch.Tensor] = {}
    for relative in (WEIGHTS_FILE, *_parts_of(metadata)):
        weights = folder / relative
        if not weights.is_file():
            raise StyxError(f"{folder} has no {relative}", "the model is incomplete; "
                            "train or copy it again")
        try:
            tensors = load_file(str(weights), device="cpu")
        except Exception as error:  # noqa: BLE001 - safetensors raises several kinds
            raise StyxError(f"cannot read {weights}: {' '.join(str(error).split())[:200]}",
                            "the file is damaged; train or copy the model again") from None
        twice = sorted(set(state) & set(tensors))
        if twice:
            raise StyxError(f"{folder}: tensor {twice[0]!r} is stored twice",
                            "the model is damaged; train or copy it again")
        state.update(tensors)
    return state, metadata


def enclosing_model(path: str | os.PathLike[str]) -> Path | None:
    """The model folder that holds ``path`` (or is it), if any: a file written there would
    damage the model."""
    current = Path(path).expanduser().resolve()
    for folder in (current, *current.parents):
        if (folder / METADATA_FILE).is_file() and (folder / WEIGHTS_FILE).exists():
            return folder
    return None


def weights_problem(folder: Path, metadata: Mapping[str, Any] | None = None) -> str | None:
    """Why ``folder``'s weights files (its model.safetensors and the parts its metadata
    lists) cannot be loaded (missing, truncated, not safetensors), or None; reads only
    their headers, so it is cheap for large models. ``metadata``: the folder's, when the
    caller has read it already."""
    try:
        parts = _parts_of(read_metadata(folder) if metadata is None else metadata)
    except StyxError:
        parts = []  # damaged metadata is reported on its own
    problems = (_file_problem(folder / relative, relative) for relative in (WEIGHTS_FILE, *parts))
    return next((problem for problem in problems if problem), None)


def _file_problem(weights: Path, label: str) -> str | None:
    """Why one safetensors file cannot be loaded, or None (see :func:`weights_problem`)."""
    try:
        size = weights.stat().st_size
        with open(weights, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                return f"{label} is truncated ({size} bytes)"
            header_size = int.from_bytes(prefix, "little")
            if header_size > size - 8:
                return f"{label} is truncated or not safetensors"
            header = json.loads(handle.read(header_size))
    except FileNotFoundError:
        return f"no {label}"
    except OSError as error:
        return f"cannot read {label}: {error.strerror or error}"
    except (UnicodeDecodeError, ValueError):
        return f"{label} is not a safetensors file"
    if not isinstance(header, dict):
        return f"{label} is not a safetensors file"
    try:
        end = max((int(entry["data_offsets"][1]) for key, entry in header.items()
                   if key != "__metadata__"), default=0)
    except (TypeError, KeyError, IndexError, ValueError):
        return f"{label} has a damaged header"
    if 8 + header_size + end != size:
        return (f"{label} is truncated ({size} bytes, its header describes "
                f"{8 + header_size + end})")
    return None


def model_info(name_or_path: str | os.PathLike[str]) -> ModelInfo:
    """Name, folder, metadata and size of one model. A damaged model (unreadable
    ``model.json``, missing or truncated weights) comes back with ``error`` saying what is
    wrong, as ``styx models list`` shows it; a folder with neither model file is no model
    at all (StyxError)."""
    folder = resolve_model(name_or_path)
    if not (folder / METADATA_FILE).exists() and not (folder / WEIGHTS_FILE).exists():
        read_metadata(folder)  # raises: not a styx model folder
    return _info_of(folder)


def _info_of(folder: Path) -> ModelInfo:
    try:
        metadata = read_metadata(folder)
        error = weights_problem(folder, metadata)
    except StyxError as problem:
        metadata, error = {}, problem.message
    return ModelInfo(name=folder.name, path=folder, metadata=metadata,
                     size_bytes=_size(folder), error=error)


def _model_folders() -> list[Path]:
    home = models_home()
    if not home.is_dir():
        return []
    return sorted((p for p in home.iterdir()
                   if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


def list_models() -> list[ModelInfo]:
    """Every model in the store, by name; a damaged one is listed with ``error`` set."""
    return [_info_of(folder) for folder in _model_folders()]


def remove_model(name: str) -> Path:
    """Delete the stored model ``name`` (store names only, never a path); returns its folder."""
    folder = models_home() / check_model_name(name)
    if folder.is_symlink():
        folder.unlink()
        return folder
    stored_model_folder(name)  # raises "no model named ..." with suggestions
    # Rename first, so the name disappears at once even if deleting takes a while.
    doomed = folder.with_name(f".{name}.rm-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.replace(folder, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
    return folder


def _size(folder: Path) -> int:
    total = 0
    for file in folder.rglob("*"):
        with contextlib.suppress(OSError):  # a file removed meanwhile
            if file.is_file():
                total += file.stat().st_size
    return total


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file, hex (for the style image recorded in a model's metadata)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
