"""What a conformance check found: one :class:`CheckResult` per check, in a report."""

from __future__ import annotations

import contextlib
import functools
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from styx.core.errors import StyxError


@dataclass(frozen=True)
class CheckResult:
    """One check: its name, whether it passed, and what went wrong (or a detail)."""

    check: str
    passed: bool
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "passed": self.passed, "detail": self.detail}


@dataclass
class CheckReport:
    """The checks run on one registered spec (``kind`` descriptor, loss, method or
    exporter)."""

    kind: str
    name: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(result.passed for result in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [result for result in self.results if not result.passed]

    @contextlib.contextmanager
    def check(self, name: str) -> Iterator[list[str]]:
        """Run one check: an exception in the block fails it with a one-line reason; a
        detail appended to the yielded list is kept with a pass."""
        details: list[str] = []
        try:
            yield details
        except Exception as error:  # noqa: BLE001 - every failure is a finding
            self.results.append(CheckResult(name, False, _reason(error)))
        else:
            self.results.append(CheckResult(name, True, "; ".join(details)))

    def skip_rest(self, names: list[str], because: str) -> None:
        """Record checks that cannot run because an earlier one failed."""
        for name in names:
            self.results.append(CheckResult(name, False, f"not run: {because}"))

    def failed(self, name: str) -> bool:
        return any(r.check == name and not r.passed for r in self.results)

    def summary(self) -> str:
        lines = [f"{self.kind} {self.name!r}: {len(self.failures)} of {len(self.results)} "
                 "check(s) failed" if not self.ok else
                 f"{self.kind} {self.name!r}: all {len(self.results)} checks passed"]
        lines += [f"  FAIL {r.check}: {r.detail}" for r in self.failures]
        return "\n".join(lines)

    def raise_for_failures(self) -> CheckReport:
        """Raise :class:`PluginCheckError` if any check failed; else return self."""
        if not self.ok:
            raise PluginCheckError(self)
        return self

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "ok": self.ok,
                "results": [r.as_dict() for r in self.results]}


def without_notes(function: Callable[..., CheckReport]) -> Callable[..., CheckReport]:
    """Run a check function without styx's notes (random weights, ...) on stderr."""
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> CheckReport:
        from styx.perceptual.weights import notes

        with notes(False):
            return function(*args, **kwargs)
    return wrapper


class PluginCheckError(AssertionError):
    """A plugin broke the contract: every failed check, one per line."""

    def __init__(self, report: CheckReport) -> None:
        super().__init__(report.summary())
        self.report = report


def _reason(error: BaseException) -> str:
    if isinstance(error, StyxError):
        text = error.message + (f" ({error.hint})" if error.hint else "")
    elif isinstance(error, AssertionError) and str(error):
        text = str(error)
    else:
        where = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
        at = f" at {where[0].filename}:{where[0].lineno}" if where else ""
        text = f"{type(error).__name__}: {error}{at}"
    return " ".join(text.split())
