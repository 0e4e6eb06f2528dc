"""The training tests run tiny convolutions: one intra-op thread (the root conftest's
``one_thread``) keeps them fast on a small, busy machine. ``fake_training_task.py`` beside
them is their tiny task (``from fake_training_task import TinyTask``)."""

from __future__ import annotations

import pytest
from fake_training_task import write_images


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny convolutions on a busy 2-core machine run 100x faster on one thread."""


@pytest.fixture
def content(tmp_path):
    """Four small content photos (a test module may define its own ``content``)."""
    folder = tmp_path / "content"
    write_images(folder, count=4)
    return folder
