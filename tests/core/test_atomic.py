"""Atomic writes: the final path holds the complete new content or the old one, never a half."""

from __future__ import annotations

import pytest

from styx.core.atomic import atomic_dir, atomic_path
from styx.core.errors import StyxError


def test_atomic_path_moves_the_file_into_place(tmp_path):
    target = tmp_path / "deep" / "out.png"
    with atomic_path(target) as temporary:
        assert temporary.parent == target.parent and temporary.parent.is_dir()
        assert temporary.suffix == ".png" and temporary.name.startswith(".out.png.tmp-")
        assert temporary != target
        temporary.write_bytes(b"new")
        assert not target.exists()  # nothing at the final path until the body succeeds
    assert target.read_bytes() == b"new"
    assert [p.name for p in target.parent.iterdir()] == ["out.png"]


def test_atomic_path_replaces_an_existing_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_path(target) as temporary:
        temporary.write_text("new")
        assert target.read_text() == "old"
    assert target.read_text() == "new"


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_atomic_path_cleans_up_on_any_exception(tmp_path, error):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(error), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise error()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_path_with_nothing_written_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "out.txt"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_temporary_names_are_unique(tmp_path):
    with atomic_path(tmp_path / "a.bin") as first, atomic_path(tmp_path / "a.bin") as second:
        assert first != second
        first.write_bytes(b"1")
        second.write_bytes(b"2")
    assert (tmp_path / "a.bin").read_bytes() == b"1"  # the outer one finished last


def test_atomic_dir_builds_a_new_folder(tmp_path):
    target = tmp_path / "models" / "mine"
    with atomic_dir(target) as temporary:
        assert temporary.is_dir() and temporary.parent == target.parent
        (temporary / "model.json").write_text("{}")
        assert not target.exists()
    assert (target / "model.json").read_text() == "{}"
    assert [p.name for p in target.parent.iterdir()] == ["mine"]


def test_atomic_dir_replaces_an_existing_folder_only_when_complete(tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_dir(target) as temporary:
        (temporary / "new.txt").write_text("new")
        assert (target / "old.txt").exists()
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_atomic_dir_failure_keeps_the_old_folder(tmp_path, error):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(error), atomic_dir(target) as temporary:
        (temporary / "partial.bin").write_bytes(b"x")
        raise error()
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]


def test_atomic_dir_replaces_a_file_at_the_path(tmp_path):
    target = tmp_path / "mine"
    target.write_text("a file")
    with atomic_dir(target) as temporary:
        (temporary / "x").write_text("y")
    assert (target / "x").read_text() == "y"


def test_checking_a_new_folder_creates_nothing_and_concurrent_checks_agree(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from styx.core.atomic import check_writable_folder

    folder = tmp_path / "runs" / "new"  # as DDP ranks check one run folder at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: check_writable_folder(folder, what="--run-dir"),
                                range(64)))
    assert results == [folder] * 64
    assert list(tmp_path.iterdir()) == []  # no folder made, no probe file left
    (tmp_path / "file").write_text("x")
    with pytest.raises(StyxError, match="is a file, not a folder"):
        check_writable_folder(tmp_path / "file" / "sub", what="--run-dir")
