"""The studio's memory: jobs and images in SQLite, their files beside it.

Everything lives under one folder (``$STYX_HOME/studio`` by default)::

    studio.sqlite      jobs (what was asked, how it went, its settings) and images
    studio.lock        held by the one server using the folder: its pid and URL
    images/ID.png      every uploaded or bundled image, decoded and re-encoded as PNG
    clips/ID.clip      every uploaded clip, as sent (checked: see :mod:`styx.studio.uploads`)
    clips/ID.png       its first frame, upright, small: the clip's picture in the page
    results/ID.png     each finished job's picture (a clip's: its first stylised frame)
    results/ID.mp4     a clip job's video
    samples/ID.png     a training job's latest sample output
    work/ID/           a running clip job's segments (emptied when it ends, and at start)

File names are made here from ids this module made (hex digests and random hex), never
from a request: routes look an id up with :meth:`Store.job` or :meth:`Store.image` first,
and a name that is not a known id finds nothing.

One server at a time: a :class:`Store` holds an exclusive lock on ``studio.lock`` from its
opening to :meth:`Store.close` (the system lets go of it when the process dies, even by
``kill -9``); a second one on the same folder is a StyxError naming the first. Else the
second would take the first one's running jobs for a crashed session's and mark them
interrupted. No torch here.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from styx.core.errors import StyxError

#: What ids look like: hex only, so one can never be a path.
JOB_ID = re.compile(r"^[0-9a-f]{12}$")
IMAGE_ID = re.compile(r"^[0-9a-f]{16}$")
CLIP_ID = IMAGE_ID

#: Job states. ``queued`` and ``running`` are live; the rest are final.
QUEUED, RUNNING, DONE, STOPPED, FAILED, CANCELLED, INTERRUPTED = (
    "queued", "running", "done", "stopped", "failed", "cancelled", "interrupted")
LIVE = (QUEUED, RUNNING)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,              -- 'stylize' or 'train'
    method TEXT NOT NULL,
    state TEXT NOT NULL,
    request TEXT NOT NULL,           -- JSON: what was asked (images by id, options as typed)
    settings TEXT,                   -- JSON: the config the run used, every value
    summary TEXT,                    -- JSON: steps, loss, seconds, device, precision, ...
    history TEXT,                    -- JSON: the loss curve
    error TEXT,
    parent TEXT,                     -- the job this one re-runs or resumes
    created REAL NOT NULL,
    started REAL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,              -- for display only
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    source TEXT NOT NULL,            -- 'upload' or 'sample'
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS clips (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,              -- for display only
    width INTEGER NOT NULL,          -- upright, as players show it
    height INTEGER NOT NULL,
    frames INTEGER NOT NULL,
    fps REAL NOT NULL,
    audio INTEGER NOT NULL,
    created REAL NOT NULL
);
"""


@dataclass
class Job:
    """One row of ``jobs``, JSON columns decoded."""

    id: str
    kind: str
    method: str
    state: str
    request: dict[str, Any]
    settings: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    parent: str | None = None
    created: float = 0.0
    started: float | None = None
    finished: float | None = None

    @property
    def live(self) -> bool:
        return self.state in LIVE

    def to_json(self, *, has_result: bool = False, has_sample: bool = False,
                has_video: bool = False) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "method": self.method, "state": self.state,
                "request": self.request, "settings": self.settings, "summary": self.summary,
                "history": self.history, "error": self.error, "parent": self.parent,
                "created": self.created, "started": self.started, "finished": self.finished,
                "result": f"/api/jobs/{self.id}/result.png" if has_result else None,
                "video": f"/api/jobs/{self.id}/result.mp4" if has_video else None,
                "sample": f"/api/jobs/{self.id}/sample.png" if has_sample else None}


@dataclass
class ImageRecord:
    id: str
    name: str
    width: int
    height: int
    source: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "width": self.width, "height": self.height,
                "source": self.source, "url": f"/api/images/{self.id}"}


@dataclass
class ClipRecord:
    """An uploaded clip: its size as players show it, its frames and frame rate."""

    id: str
    name: str
    width: int
    height: int
    frames: int
    fps: float
    audio: bool = False

    @property
    def seconds(self) -> float:
        return self.frames / self.fps if self.fps > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "kind": "clip", "width": self.width,
                "height": self.height, "frames": self.frames, "fps": round(self.fps, 3),
                "seconds": round(self.seconds, 2), "audio": self.audio, "source": "upload",
                "url": f"/api/clips/{self.id}/poster.png"}


LOCK_NAME = "studio.lock"


class FolderLock:
    """An exclusive lock on a studio folder's ``studio.lock`` (``flock`` on POSIX,
    ``msvcrt.locking`` on Windows), holding the pid and URL of the server that took it.

    Taking it when another process (or another Store of this one) holds it is a
    StyxError that names the holder; the system lets go of it when its process dies."""

    #: Windows locks byte ranges and refuses to read a locked one: the lock is on a byte
    #: far past the owner's line (a lock past the end of a file is allowed), so that a
    #: second server can still read who holds it.
    _WINDOWS_BYTE = 1 << 20

    def __init__(self, folder: Path, owner: str | None = None) -> None:
        self.path = folder / LOCK_NAME
        handle = os.fdopen(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644), "r+",
                           encoding="utf-8")
        try:
            self._lock(handle)
        except OSError:
            handle.close()
            raise self._in_use(folder) from None
        self._handle: IO[str] | None = handle
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "url": owner or ""}) + "\n")
        handle.flush()

    def release(self) -> None:
        """Let go of the lock (again: nothing); the file stays, emptied."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            self._unlock(handle)
        finally:
            handle.close()

    def _in_use(self, folder: Path) -> StyxError:
        try:
            holder = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            holder = {}
        if not isinstance(holder, dict):
            holder = {}
        parts = [f"pid {holder['pid']}"] if holder.get("pid") else []
        if holder.get("url"):
            parts.append(str(holder["url"]))
        who = ", ".join(parts)
        return StyxError(f"the studio folder {folder} is in use by another styx serve"
                         + (f" ({who})" if who else ""),
                         "stop that one, or give --folder another folder")

    if os.name == "nt":
        def _lock(self, handle: IO[str]) -> None:
            import msvcrt

            handle.seek(self._WINDOWS_BYTE)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]

        def _unlock(self, handle: IO[str]) -> None:
            import msvcrt

            handle.seek(self._WINDOWS_BYTE)
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
    else:
        def _lock(self, handle: IO[str]) -> None:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

        def _unlock(self, handle: IO[str]) -> None:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class Store:
    """The database and the folders, safe to use from several threads; the folder is
    this store's alone until :meth:`close` (``owner``: the URL a second server is told)."""

    def __init__(self, folder: Path, *, owner: str | None = None) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._folder_lock = FolderLock(folder, owner)  # first: a folder in use is left as is
        try:
            for sub in ("images", "clips", "results", "samples", "work"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            self._lock = threading.Lock()
            self._db = sqlite3.connect(folder / "studio.sqlite", check_same_thread=False,
                                       isolation_level=None)
            self._db.row_factory = sqlite3.Row
            with self._lock:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.executescript(_SCHEMA)
        except BaseException:
            self._folder_lock.release()
            raise

    def close(self) -> None:
        """Close the database and let go of the folder (again: nothing)."""
        with self._lock:
            self._db.close()
        self._folder_lock.release()

    # -- files -----------------------------------------------------------------------------
    def image_path(self, image_id: str) -> Path:
        return self.folder / "images" / f"{_checked(IMAGE_ID, image_id)}.png"

    def result_path(self, job_id: str) -> Path:
        return self.folder / "results" / f"{_checked(JOB_ID, job_id)}.png"

    def sample_path(self, job_id: str) -> Path:
        return self.folder / "samples" / f"{_checked(JOB_ID, job_id)}.png"

    def video_path(self, job_id: str) -> Path:
        """A clip job's video."""
        return self.folder / "results" / f"{_checked(JOB_ID, job_id)}.mp4"

    def work_folder(self, job_id: str) -> Path:
        """Where a clip job's segments are made (removed when it ends)."""
        return self.folder / "work" / _checked(JOB_ID, job_id)

    def clear_work(self) -> None:
        """Remove what clip jobs of an earlier session left half made (no job is live)."""
        import shutil

        for leftover in (self.folder / "work").iterdir():
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)

    def clip_path(self, clip_id: str) -> Path:
        return self.folder / "clips" / f"{_checked(CLIP_ID, clip_id)}.clip"

    def clip_poster_path(self, clip_id: str) -> Path:
        return self.folder / "clips" / f"{_checked(CLIP_ID, clip_id)}.png"

    # -- images ----------------------------------------------------------------------------
    def add_image(self, record: ImageRecord) -> ImageRecord:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO images (id, name, width, height, source, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (record.id, record.name, record.width, record.height, record.source,
                 time.time()))
        return self.image(record.id) or record

    def image(self, image_id: str) -> ImageRecord | None:
        if not isinstance(image_id, str) or not IMAGE_ID.match(image_id):
            return None
        with self._lock:
            row = self._db.execute("SELECT * FROM images WHERE id = ?", (image_id,)).fetchone()
        if row is None or not self.image_path(image_id).is_file():
            return None
        return ImageRecord(row["id"], row["name"], row["width"], row["height"], row["source"])

    def images(self) -> list[ImageRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM images ORDER BY source DESC, created DESC").fetchall()
        return [ImageRecord(r["id"], r["name"], r["width"], r["height"], r["source"])
                for r in rows]

    def delete_image(self, image_id: str) -> None:
        """Forget an image: its row and its PNG."""
        with self._lock:
            self._db.execute("DELETE FROM images WHERE id = ?", (image_id,))
        self.image_path(image_id).unlink(missing_ok=True)

    def image_in_use(self, image_id: str) -> bool:
        """Whether a queued or running job names the image as its content or a style."""
        with self._lock:
            rows = self._db.execute("SELECT request FROM jobs WHERE state IN (?, ?)",
                                    LIVE).fetchall()
        for row in rows:
            request = json.loads(row["request"] or "{}")
            if image_id == request.get("content") or image_id in (request.get("styles") or []):
                return True
        return False

    # -- clips -----------------------------------------------------------------------------
    def add_clip(self, record: ClipRecord) -> ClipRecord:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO clips (id, name, width, height, frames, fps, audio, "
                "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (record.id, record.name, record.width, record.height, record.frames,
                 record.fps, int(record.audio), time.time()))
        return self.clip(record.id) or record

    def clip(self, clip_id: str) -> ClipRecord | None:
        if not isinstance(clip_id, str) or not CLIP_ID.match(clip_id):
            return None
        with self._lock:
            row = self._db.execute("SELECT * FROM clips WHERE id = ?", (clip_id,)).fetchone()
        if row is None or not self.clip_path(clip_id).is_file():
            return None
        return _clip_of(row)

    def clips(self) -> list[ClipRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM clips ORDER BY created DESC").fetchall()
        return [_clip_of(row) for row in rows]

    def delete_clip(self, clip_id: str) -> None:
        """Forget a clip: its row, its file and its picture."""
        with self._lock:
            self._db.execute("DELETE FROM clips WHERE id = ?", (clip_id,))
        self.clip_path(clip_id).unlink(missing_ok=True)
        self.clip_poster_path(clip_id).unlink(missing_ok=True)

    def clip_in_use(self, clip_id: str) -> bool:
        """Whether a queued or running job stylises the clip."""
        with self._lock:
            rows = self._db.execute("SELECT request FROM jobs WHERE state IN (?, ?)",
                                    LIVE).fetchall()
        return any(json.loads(row["request"] or "{}").get("clip") == clip_id for row in rows)

    def stage_styles(self, image_ids: list[str]) -> list[Path]:
        """Copies of images for a training run, named by their display names (made safe),
        so that a model's styles are called what the user called the files."""
        import shutil

        from styx.files.modelstore import name_from_file

        if not image_ids:
            return []
        folder = self.folder / "staging" / secrets.token_hex(6)
        folder.mkdir(parents=True)
        paths: list[Path] = []
        for image_id in image_ids:
            record = self.image(image_id)
            stem = name_from_file(record.name if record else "style", fallback="style")
            path = folder / f"{stem}.png"
            number = 2
            while path.exists():
                path, number = folder / f"{stem}-{number}.png", number + 1
            shutil.copyfile(self.image_path(image_id), path)
            paths.append(path)
        return paths

    # -- jobs ------------------------------------------------------------------------------
    def add_job(self, kind: str, method: str, request: dict[str, Any], *,
                parent: str | None = None) -> Job:
        job = Job(id=secrets.token_hex(6), kind=kind, method=method, state=QUEUED,
                  request=request, parent=parent, created=time.time())
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, kind, method, state, request, parent, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (job.id, kind, method, QUEUED, json.dumps(request), parent, job.created))
        return job

    def update_job(self, job_id: str, **values: Any) -> None:
        """Set columns of a job; dicts and lists are stored as JSON."""
        columns = ("state", "request", "settings", "summary", "history", "error", "started",
                   "finished")
        unknown = set(values) - set(columns)
        if unknown:
            raise ValueError(f"no job column {sorted(unknown)}")
        names = sorted(values)
        encoded = [json.dumps(values[n]) if isinstance(values[n], (dict, list)) else values[n]
                   for n in names]
        assignments = ", ".join(f"{name} = ?" for name in names)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?",
                             (*encoded, job_id))

    def job(self, job_id: str) -> Job | None:
        if not isinstance(job_id, str) or not JOB_ID.match(job_id):
            return None
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _job_of(row)

    def jobs(self, *, limit: int = 500) -> list[Job]:
        """The newest ``limit`` jobs, newest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs ORDER BY created DESC LIMIT ?",
                                    (int(limit),)).fetchall()
        return [_job_of(row) for row in rows]

    def delete_job(self, job_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        for path in (self.result_path(job_id), self.sample_path(job_id),
                     self.video_path(job_id)):
            path.unlink(missing_ok=True)

    def mark_interrupted(self) -> int:
        """Jobs left live by a server that stopped (or was killed): ``interrupted``, their
        pictures so far kept. Returns how many."""
        now = time.time()
        with self._lock:
            cursor = self._db.execute(
                "UPDATE jobs SET state = ?, finished = ?, error = COALESCE(error, ?) "
                "WHERE state IN (?, ?)",
                (INTERRUPTED, now, "the server stopped before the job finished", *LIVE))
        return cursor.rowcount


def _checked(pattern: re.Pattern[str], value: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise ValueError(f"not an id: {value!r}")
    return value


def _clip_of(row: sqlite3.Row) -> ClipRecord:
    return ClipRecord(row["id"], row["name"], row["width"], row["height"], row["frames"],
                      row["fps"], bool(row["audio"]))


def _job_of(row: sqlite3.Row) -> Job:
    def decoded(name: str, empty: Any) -> Any:
        return json.loads(row[name]) if row[name] else empty

    return Job(id=row["id"], kind=row["kind"], method=row["method"], state=row["state"],
               request=decoded("request", {}), settings=decoded("settings", None),
               summary=decoded("summary", None), history=decoded("history", []),
               error=row["error"], parent=row["parent"], created=row["created"],
               started=row["started"], finished=row["finished"])
