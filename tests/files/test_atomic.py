"""Atomic writes: the final path holds the complete new content or the old one, never a half."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

from styx.core.errors import StyxError
from styx.files.atomic import atomic_dir, atomic_path


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

    from styx.files.atomic import check_writable_folder

    folder = tmp_path / "runs" / "new"  # as DDP ranks check one run folder at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: check_writable_folder(folder, what="--run-dir"),
                                range(64)))
    assert results == [folder] * 64
    assert list(tmp_path.iterdir()) == []  # no folder made, no probe file left
    (tmp_path / "file").write_text("x")
    with pytest.raises(StyxError, match="is a file, not a folder"):
        check_writable_folder(tmp_path / "file" / "sub", what="--run-dir")


# -- checks before the work, and comparing paths ----------------------------------------------
def test_a_folder_is_no_output_file_and_the_hint_fits_what_is_written(tmp_path):
    from styx.files.atomic import check_writable_file

    with pytest.raises(StyxError) as caught:
        check_writable_file(tmp_path)
    assert caught.value.message == f"output {tmp_path} is a folder"
    assert caught.value.hint == "give a file name, e.g. out.png"
    with pytest.raises(StyxError) as caught:
        check_writable_file(tmp_path, what="--log-json")
    assert caught.value.message == f"--log-json {tmp_path} is a folder"
    assert caught.value.hint == "give a file name"


def test_a_file_under_a_file_names_both_in_the_error(tmp_path):
    from styx.files.atomic import check_writable_file

    (tmp_path / "plain").write_text("x")
    target = tmp_path / "plain" / "out.png"
    with pytest.raises(StyxError) as caught:
        check_writable_file(target, what="--output")
    assert caught.value.message == (f"cannot write --output {target}: {tmp_path / 'plain'} "
                                    "is a file, not a folder")
    new = tmp_path / "new" / "out.png"
    assert check_writable_file(new) == new and not (tmp_path / "new").exists()


def test_an_unwritable_folder_is_reported_with_the_reason(tmp_path, monkeypatch):
    import tempfile

    from styx.files.atomic import check_writable_folder

    def refuse(**_):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(StyxError) as caught:
        check_writable_folder(tmp_path / "a" / "b", what="--run-dir x")
    assert caught.value.message == f"cannot write --run-dir x: Permission denied ({tmp_path})"
    assert caught.value.hint == "choose a folder you can write to"

    def no_reason(**_):
        raise OSError()

    monkeypatch.setattr(tempfile, "mkstemp", no_reason)
    with pytest.raises(StyxError, match=r"cannot write --run-dir x: OSError \("):
        check_writable_folder(tmp_path, what="--run-dir x")


def test_same_file_sees_through_links_and_dots(tmp_path):
    from styx.files.atomic import same_file

    real = tmp_path / "a.png"
    real.write_text("x")
    (tmp_path / "link.png").symlink_to(real)
    (tmp_path / "sub").mkdir()
    assert same_file(real, tmp_path / "link.png")
    assert same_file(real, tmp_path / "sub" / ".." / "a.png")
    assert not same_file(real, tmp_path / "sub")
    (tmp_path / "b.png").write_text("x")
    assert not same_file(real, tmp_path / "b.png")  # equal content, other file


def test_same_file_compares_paths_that_do_not_exist_yet(tmp_path):
    from styx.files.atomic import same_file

    assert same_file(tmp_path / "new.png", tmp_path / "sub" / ".." / "new.png")
    assert not same_file(tmp_path / "new.png", tmp_path / "other.png")
    assert not same_file(tmp_path / "new.png", tmp_path)  # one exists, the other does not


def test_temporary_names_carry_the_pid_and_eight_hex_digits(tmp_path):
    with atomic_path(tmp_path / "out.png") as temporary:
        temporary.write_bytes(b"x")
        assert re.fullmatch(rf"\.out\.png\.tmp-{os.getpid()}-[0-9a-f]{{8}}\.png",
                            temporary.name)


def test_a_temporary_folder_that_cannot_be_removed_does_not_hide_the_error(tmp_path,
                                                                          monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    with pytest.raises(ValueError, match="the body failed"), atomic_dir(tmp_path / "mine") as temp:
        (temp / "part.bin").write_bytes(b"x")
        monkeypatch.setattr(os, "rmdir", refuse)  # the clean-up fails: ignored
        monkeypatch.setattr(os, "unlink", refuse)
        raise ValueError("the body failed")
    monkeypatch.undo()
    assert not (tmp_path / "mine").exists()


def test_the_probe_is_a_hidden_file_in_the_nearest_existing_folder(tmp_path, monkeypatch):
    from styx.files.atomic import check_writable_folder

    made: list[Path] = []
    mkstemp = tempfile.mkstemp

    def recording(*args, **kwargs):
        handle, name = mkstemp(*args, **kwargs)
        made.append(Path(name))
        assert Path(name).exists()
        return handle, name

    monkeypatch.setattr(tempfile, "mkstemp", recording)
    (tmp_path / "runs").mkdir()
    assert check_writable_folder(tmp_path / "runs" / "new", what="--run-dir") == \
        tmp_path / "runs" / "new"
    [probe] = made
    assert probe.parent == tmp_path / "runs" and probe.name.startswith(".styx-probe-")
    assert list((tmp_path / "runs").iterdir()) == []  # removed again


def test_a_file_in_the_way_of_a_folder_hints_at_a_folder(tmp_path):
    from styx.files.atomic import check_writable_folder

    (tmp_path / "file").write_text("x")
    with pytest.raises(StyxError) as caught:
        check_writable_folder(tmp_path / "file" / "sub", what="--run-dir x")
    assert caught.value.message == (f"cannot write --run-dir x: {tmp_path / 'file'} is a file, "
                                    "not a folder")
    assert caught.value.hint == "give a path in a folder"
