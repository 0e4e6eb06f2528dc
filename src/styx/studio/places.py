"""Server-side folders the page may use: content folders for training, experiment reports.

The page never sends a path. It is shown folders found under the roots the server was
started with (``--allow-dir``), each with an id (a digest of its resolved path); a request
names a folder by that id, and :meth:`Places.folder` finds it again by listing the roots.
Study reports are found the same way, under the roots and ``./experiments``; a report's
files are served by looking the requested name up among the files of that report folder,
never by joining it to a path. No torch here.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

#: How deep below a root folders and reports are looked for.
MAX_DEPTH = 3
#: At most this many folders are listed.
MAX_FOLDERS = 300
#: Suffixes of the report files served.
REPORT_SUFFIXES = (".html", ".png", ".jpg", ".jpeg", ".json", ".svg", ".csv", ".txt")


def place_id(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Folder:
    id: str
    path: Path
    root: Path
    images: int

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "path": str(self.path), "root": str(self.root),
                "images": self.images}


def _walk(root: Path, depth: int = MAX_DEPTH) -> Iterator[Path]:
    """``root`` and the folders below it, to ``depth`` levels, hidden ones left out; links
    that lead outside ``root`` are not followed."""
    yield root
    if depth <= 0:
        return
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return
    for child in children:
        if child.resolve().is_relative_to(root):
            yield from _walk(child.resolve(), depth - 1)


def _image_count(folder: Path) -> int:
    from styx.files.image_arrays import IMAGE_SUFFIXES

    try:
        return sum(1 for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    except OSError:
        return 0


def default_folder(folders: Sequence[Folder]) -> Folder | None:
    """The folder a form offers first: the one holding the most images (the first listed of
    those), None when none holds any."""
    best = max(folders, key=lambda folder: folder.images, default=None)
    return best if best is not None and best.images > 0 else None


class Places:
    """The allowed roots, and what the page may use under them."""

    def __init__(self, roots: Sequence[str | os.PathLike[str]],
                 study_roots: Sequence[str | os.PathLike[str]] = ()) -> None:
        self.roots = [Path(r).expanduser().resolve() for r in roots]
        self.study_roots = [*self.roots,
                            *(Path(r).expanduser().resolve() for r in study_roots)]

    def folders(self) -> list[Folder]:
        """Content folders: the roots and their subfolders."""
        walked = ((path, root) for root in self.roots for path in _walk(root))
        return [Folder(place_id(path), path, root, _image_count(path))
                for path, root in itertools.islice(walked, MAX_FOLDERS)]

    def folder(self, folder_id: object) -> Folder | None:
        if not isinstance(folder_id, str):
            return None
        return next((f for f in self.folders() if f.id == folder_id), None)

    # -- studies ---------------------------------------------------------------------------
    def studies(self) -> list[dict[str, object]]:
        """Experiment folders (holding ``report.html``), newest first."""
        seen: dict[str, dict[str, object]] = {}
        for root in self.study_roots:
            for path in _walk(root):  # a root that is no folder finds nothing
                report, key = path / "report.html", place_id(path)
                if report.is_file() and key not in seen:
                    seen[key] = {"id": key, "name": path.name, "path": str(path),
                                 "modified": report.stat().st_mtime,
                                 "url": f"/studies/{key}/report.html"}
        return sorted(seen.values(), key=lambda s: -float(s["modified"]))  # type: ignore

    def study_file(self, study_id: str, name: str) -> Path | None:
        """The file ``name`` (as the report names it) of study ``study_id``, if it is one of
        that folder's report files."""
        study = next((s for s in self.studies() if s["id"] == study_id), None)
        if study is None:
            return None
        folder = Path(str(study["path"]))
        files = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*")
                 if p.is_file() and p.suffix.lower() in REPORT_SUFFIXES
                 and p.resolve().is_relative_to(folder)}
        return files.get(name)
