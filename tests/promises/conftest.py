"""Every promise test runs tiny convolutions: one intra-op thread (the root conftest's
``one_thread``) keeps them fast on a small, busy machine."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny convolutions run far faster on one thread."""


@pytest.fixture
def no_weight_notes():
    """No "random weights" notes on stderr (``pytestmark = usefixtures(...)`` in a module)."""
    from styx.perceptual.weights import notes

    with notes(False):
        yield
