"""What the method tests share: one intra-op thread, and Ctrl-C at a chosen iteration."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here on one intra-op thread (the root conftest's ``one_thread``)."""


@pytest.fixture
def interrupted_at(monkeypatch) -> Callable[[type, int], object]:
    """``with interrupted_at(TaskClass, step): train(...)``: the task's ``training_step``
    raises KeyboardInterrupt (as Ctrl-C would) at iteration ``step`` inside the block."""
    @contextmanager
    def interrupt(task_class: type, step: int) -> Iterator[None]:
        original = task_class.training_step

        def training_step(self, model, batch, at, **streams):
            if at == step:
                raise KeyboardInterrupt
            return original(self, model, batch, at, **streams)

        monkeypatch.setattr(task_class, "training_step", training_step)
        try:
            yield
        finally:
            monkeypatch.setattr(task_class, "training_step", original)
    return interrupt
