"""What the page offers, generated from the installed plugins, and what it may send back.

:func:`catalogue` describes every method (its run and training options, from its configs'
:func:`~styx.core.config.describe_options`), every stored model (with the style images its
generator declares it takes at run time) and the images; the page builds its forms from
that alone, so a plugin's method or model appears with no studio code.

:func:`form_options` turns what a form sent into a method's options. The studio supplies
every file itself (images by id, content folders by id), so options of a path type are not
offered, and a value that could name a file on the server is refused: the page's options
are words and numbers. No torch here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from styx.core.errors import StyxError

#: Training options the studio fills in itself: the images, the folders, resuming.
STUDIO_TRAIN_FIELDS = ("style", "style_dir", "add_style", "content_dir", "output", "run_dir",
                       "log_json", "resume")
#: Form kinds that are paths on the server: never taken from a form.
PATH_KINDS = ("path", "paths")

_TOKENS = re.compile(r"[,:;=\s]+")


def form_fields(config_class: Any, *, training: bool = False) -> list[dict[str, Any]]:
    """The options of ``config_class`` a form offers (see the module docstring)."""
    from styx.core.config import describe_options

    skip = STUDIO_TRAIN_FIELDS if training else ()
    return [d for d in describe_options(config_class)
            if d["kind"] not in PATH_KINDS and d["name"] not in skip]


def style_kind(config_class: Any) -> str | None:
    """How a training config takes its style images: ``"path"`` (one), ``"paths"``
    (several), or None (no ``style`` field)."""
    from styx.core.config import option_kind, options_of

    return next((option_kind(info) for info in options_of(config_class)
                 if info.field == "style"), None)


def describe_method(spec: Any) -> dict[str, Any]:
    from styx.core.method import run_config_class, train_config_class

    run_config = run_config_class(spec) if spec.config is not None else None
    train_config = train_config_class(spec) if spec.trains else None
    kind = style_kind(train_config) if train_config is not None else None
    style_field = None if kind is None else "many" if kind == "paths" else "one"
    return {"name": spec.name, "summary": spec.summary, "feed_forward": spec.feed_forward,
            "uses_styles": spec.uses_styles, "can_run": run_config is not None,
            "can_train": train_config is not None, "train_styles": style_field,
            "run_options": form_fields(run_config) if run_config is not None else [],
            "train_options": form_fields(train_config, training=True)
            if train_config is not None else []}


def describe_model(info: Any, style_inputs: Sequence[Any] = ()) -> dict[str, Any]:
    """A stored model, JSON-ready: ``styles``, those it holds; ``style_inputs``, the style
    images it takes at run time (its generator's declared inputs of kind style)."""
    from styx.files.modelstore import styles_of

    metadata = info.metadata if isinstance(info.metadata, dict) else {}
    return {"name": info.name, "method": metadata.get("method"), "error": info.error,
            "size_bytes": info.size_bytes,
            "styles": [str(s.get("name", i)) for i, s in enumerate(styles_of(metadata))]
            if info.error is None else [],
            "style_inputs": [{"name": item.name, "help": item.help}
                             for item in style_inputs],
            "training": metadata.get("training", {})}


def describe_methods() -> list[dict[str, Any]]:
    """Every installed method, JSON-ready (what a server describes once, at its start)."""
    import styx

    return [describe_method(spec) for spec in styx.list_methods()]


def catalogue(methods: list[dict[str, Any]] | None = None,
              style_inputs: Callable[[str], Sequence[Any]] | None = None) -> dict[str, Any]:
    """Every method (``methods``, when already described) and stored model, JSON-ready.
    ``style_inputs(name)``: the style inputs stored model ``name`` declares (the studio
    loads the model for them); without it, no model takes a style image."""
    import styx

    models = [describe_model(info, style_inputs(info.name)
                             if style_inputs is not None and info.error is None else ())
              for info in styx.list_models()]
    return {"methods": describe_methods() if methods is None else methods, "models": models}


def form_options(fields: list[dict[str, Any]], given: Any) -> dict[str, Any]:
    """The options of a form: only fields the form offers, empty values left out (the
    method's default), list fields as lists. A StyxError for anything else."""
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise StyxError("options must be an object of option names and values",
                        "e.g. {\"steps\": \"200\"}")
    offered = {field["name"]: field for field in fields}
    options: dict[str, Any] = {}
    for name, value in given.items():
        field = offered.get(name)
        if field is None:
            raise StyxError(f"no option {name!r} here",
                            "the form lists the options this method takes")
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if field["kind"] == "list":
            values = value if isinstance(value, list) else str(value).splitlines()
            value = [str(v).strip() for v in values if str(v).strip()]
            for item in value:
                refuse_server_path(field, item)
        elif isinstance(value, str):
            value = value.strip()
            refuse_server_path(field, value)
        elif not isinstance(value, (bool, int, float)):
            raise StyxError(f"bad {field['flag']} {value!r}", "give text, a number or a flag")
        options[name] = value
    return options


def refuse_server_path(field: dict[str, Any], value: str) -> None:
    """StyxError if ``value`` could name a file on the server: a path (``/``, ``\\``,
    ``~``, ``.``, ``..``), or a word that is the name of a file in the server's working
    folder. (A folder of that name is no matter: options read files, and keywords such as
    gatys' ``--init content`` stay usable beside a ``content/`` folder.)"""
    looks_like_path = "/" in value or "\\" in value or value.startswith("~") or any(
        token in (".", "..") or Path(token).is_file()
        for token in _TOKENS.split(value) if token)
    if looks_like_path:
        raise StyxError(f"{field['flag']} {value!r} names a file on the server",
                        "the studio takes images as uploads; give names and numbers here")
