"""What the page offers, generated from the installed plugins, and what it may send back.

:func:`catalogue` describes every method (its run and training options, from its configs'
:func:`~styx.core.config.describe_options`), every stored model (with the style images its
generator declares it takes at run time) and the images; the page builds its forms from
that alone, so a plugin's method or model appears with no studio code.

:func:`form_options` turns what a form sent into a method's options. The studio supplies
every file itself (images by id, content folders by id), so options of a path type are not
offered, and a value that could name a file on the server is refused: the page's options
are words and numbers.

Each field has a ``label``, the words the page shows for it, and :func:`page_error` words
an error for the page: a field's flag becomes its label, a hint that names a command line
is left out, and the field at fault is named, so that the page can point at it. No torch
here.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from styx.core.errors import StyxError

#: Training options the studio fills in itself: the images, the folders, resuming.
STUDIO_TRAIN_FIELDS = ("style", "style_dir", "add_style", "content_dir", "output", "run_dir",
                       "log_json", "resume")
#: Form kinds that are paths on the server: never taken from a form.
PATH_KINDS = ("path", "paths")

_TOKENS = re.compile(r"[,:;=\s]+")
#: Where the first clause of a help text ends; a remark in brackets is left out first.
_CLAUSE_END = re.compile(r"[.:,;]| e\.g\.")
_REMARK = re.compile(r"\s*\([^()]*\)")
#: A label is at most this long; a longer first clause gives way to the field's name.
LABEL_LENGTH = 40


def form_fields(config_class: Any, *, training: bool = False) -> list[dict[str, Any]]:
    """The options of ``config_class`` a form offers (see the module docstring), each with
    its ``label``."""
    from styx.core.config import describe_options

    skip = STUDIO_TRAIN_FIELDS if training else ()
    return [{**d, "label": field_label(d["name"], d["help"])}
            for d in describe_options(config_class)
            if d["kind"] not in PATH_KINDS and d["name"] not in skip]


def method_fields(method: str, *, training: bool = False) -> list[dict[str, Any]]:
    """The form fields of ``method``'s run (or training) options; none if it has none."""
    from styx.core.method import method_spec, run_config_class, train_config_class

    spec = method_spec(method)
    if training:
        return form_fields(train_config_class(spec), training=True) if spec.trains else []
    return form_fields(run_config_class(spec)) if spec.config is not None else []


def field_label(name: str, help_text: str) -> str:
    """The words a form shows for option ``name``: the first clause of its help, remarks in
    brackets left out, when that reads as a label (a capital first, no one-letter word
    first but "A", no flag, at most :data:`LABEL_LENGTH` characters: "Keep the content's
    colours"), else the name as words ("Lbfgs history")."""
    text = help_text or ""
    while _REMARK.search(text):
        text = _REMARK.sub("", text)
    clause = _CLAUSE_END.split(text, maxsplit=1)[0].strip()
    first = clause.split(" ", 1)[0]
    if clause[:1].isupper() and len(clause) <= LABEL_LENGTH and "--" not in clause \
            and (len(first) > 1 or first in ("A", "I")):
        return clause
    return name.replace("_", " ").strip().capitalize()


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


# -- errors, worded for the page ------------------------------------------------------------
#: A long flag in an error's text; and one with the placeholder of its value after it.
_FLAG = re.compile(r"(?<![\w-])--[a-z0-9][a-z0-9-]*")
_FLAG_AND_PLACEHOLDER = re.compile(
    r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)(?: (?:[A-Z][A-Z_]+|[A-Z]+(?:\|[A-Z]+)+)(?![\w|]))?")
#: A clause of a hint that is a command line: ``styx run ...``, ``'styx models list'``,
#: ``-o OUT``.
_COMMAND = re.compile(r"\bstyx [a-z]|(?<![\w-])-o ")
#: A number as the form sent it, quoted as text (``'0'``): shown as the number.
_NUMBER_QUOTED = re.compile(r"^'([-+]?[0-9][0-9.eE+-]*)'")
#: Errors about one option that read better turned round: ``bad --steps 0``.
_ABOUT_ONE = [
    (re.compile(r"^bad (--[a-z0-9-]+) (.+)$", re.DOTALL), "{label} cannot be {rest}"),
    (re.compile(r"^missing (--[a-z0-9-]+)$"), "{label} is needed"),
    (re.compile(r"^empty (--[a-z0-9-]+)$"), "{label} is empty")]


class FormError(StyxError):
    """A StyxError worded for the page (see :func:`page_error`): ``field``, the config
    field at fault when one is."""

    def __init__(self, message: str, hint: str | None = None, *,
                 field: str | None = None) -> None:
        super().__init__(message, hint)
        self.field = field

    def to_json(self) -> dict[str, Any]:
        """The API's error: ``{"error": "one line"}``, with ``"field"`` when one is at
        fault."""
        out: dict[str, Any] = {"error": " ".join(str(self).split())}
        if self.field is not None:
            out["field"] = self.field
        return out


def page_error(problem: StyxError, fields: Iterable[dict[str, Any]] = ()) -> FormError:
    """``problem`` as the page says it: each flag of one of ``fields`` becomes that field's
    label in quotes (``bad --steps 0`` reads ``"Optimiser steps per scale" cannot be 0``),
    clauses of the hint that give a command line are left out, and the field is named when
    the message (or else the hint) names one field alone."""
    if isinstance(problem, FormError):
        return problem
    by_flag = {field["flag"]: field for field in fields}
    return FormError(_reworded(problem.message, by_flag), _page_hint(problem.hint, by_flag),
                     field=_field_at_fault(problem, by_flag))


@contextlib.contextmanager
def worded_for(fields: Iterable[dict[str, Any]]) -> Iterator[None]:
    """Within it, a StyxError is raised again as :func:`page_error` words it for
    ``fields``."""
    try:
        yield
    except FormError:
        raise
    except StyxError as problem:
        raise page_error(problem, list(fields)) from None


def _label_of(flag: str, by_flag: dict[str, dict[str, Any]]) -> str:
    field = by_flag.get(flag)
    return flag if field is None else f'"{field["label"]}"'


def _with_labels(text: str, by_flag: dict[str, dict[str, Any]]) -> str:
    """``text`` with each flag of a field as its label, the placeholder after it left out
    (``--style NAME|INDEX`` reads ``"The style"``)."""
    def labelled(found: re.Match[str]) -> str:
        flag = found.group(1)
        return _label_of(flag, by_flag) if flag in by_flag else found.group(0)

    return _FLAG_AND_PLACEHOLDER.sub(labelled, text)


def _reworded(message: str, by_flag: dict[str, dict[str, Any]]) -> str:
    for pattern, wording in _ABOUT_ONE:
        found = pattern.match(message)
        if found and found.group(1) in by_flag:
            rest = _NUMBER_QUOTED.sub(r"\1", found.group(2)) if found.re.groups > 1 else ""
            return wording.format(label=_label_of(found.group(1), by_flag),
                                  rest=_with_labels(rest, by_flag))
    return _with_labels(message, by_flag)


def _page_hint(hint: str | None, by_flag: dict[str, dict[str, Any]]) -> str | None:
    """``hint`` less its command lines: a remark in brackets that gives one, then a clause
    that still does."""
    if not hint:
        return None
    clauses = (_REMARK.sub(lambda found: "" if _COMMAND.search(found.group(0))
                           else found.group(0), clause) for clause in hint.split("; "))
    kept = [_with_labels(clause, by_flag) for clause in clauses if not _COMMAND.search(clause)]
    return "; ".join(kept) or None


def _field_at_fault(problem: StyxError, by_flag: dict[str, dict[str, Any]]) -> str | None:
    for text in (problem.message, problem.hint or ""):
        named = {by_flag[flag]["name"] for flag in _FLAG.findall(text) if flag in by_flag}
        if named:
            return named.pop() if len(named) == 1 else None
    return None
