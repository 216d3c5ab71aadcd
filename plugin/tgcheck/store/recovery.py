"""The recovery file: ids of paid tasks the journal could not record.

When the store cannot be written right after a create (the disk holding it is
full, the PostgreSQL server stopped), the task exists and is billed but the
journal does not know it. Its id is written here instead, and the next run that
can write the store attaches it to its job (`BaseStore.attach_task`), so the task
is collected instead of paid for again.

Where: beside the SQLite file (`tgcheck.db.paid-tasks`), or under TGCHECK_HOME
for a PostgreSQL store (one file per database and schema). The file is a few
JSON lines: `{"job": 3, "key": ..., "task": "...", "store": "...", ...}` when a task is
noted, `{"attached": "..."}` once it is in the journal, `{"unattachable": "...",
"why": ...}` when its job can never take it (the line stays, naming the paid
task). It never holds the API key (nor the store's password: the store is named
as `describe_url` shows it).

A full disk must not take the entry too: the file keeps RESERVE bytes of zeros
after its last line, written while the disk had room (`prepare`, before each
create), and an entry is written over those zeros, which needs no new block.
Readers ignore the zeros.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path

log = logging.getLogger("tgcheck.recovery")

# Zero bytes kept after the last line: room for about 25 entries on a full disk.
RESERVE = 4096
# In-process writers take turns here; other processes through an OS file lock.
_LOCK = threading.Lock()


def recovery_path(store, home: Path | None) -> Path | None:
    """The recovery file of a store: beside a SQLite file, under home for any
    other (None when there is no home to put it in)."""
    if getattr(store, "backend", "") == "sqlite":
        path = Path(store.path)
        return path.with_name(path.name + ".paid-tasks")
    if home is None:
        return None
    # The store's name as shown (password masked): a file per database and schema.
    digest = hashlib.sha256(str(store.path).encode()).hexdigest()[:12]
    return Path(home) / f"paid-tasks-{digest}"


@contextlib.contextmanager
def _locked(f):
    """The file, locked against other processes for one read-modify-write."""
    with _LOCK:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            import msvcrt

            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield f
            finally:
                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
            return
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield f
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _lines(data: bytes) -> tuple[list[dict], int]:
    """The entries in data, and where its zeros begin."""
    end = data.find(b"\0")
    end = len(data) if end < 0 else end
    entries = []
    for line in data[:end].splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict):
                entries.append(entry)
    return entries, end


class RecoveryFile:
    """One store's recovery file (see the module's docstring)."""

    def __init__(self, path: Path, store_name: str):
        self.path = Path(path)
        self.store_name = store_name
        # (size, mtime) of the file when it last held nothing pending: unchanged
        # since, pending() need not read it again (a check per Excel recalculation).
        self._idle_at: tuple[int, int] | None = None

    def _open(self):
        # TGCHECK_HOME holds no SQLite file when the store is PostgreSQL: it may not exist yet.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        return os.fdopen(fd, "r+b")

    def _write_at(self, f, offset: int, data: bytes) -> None:
        f.seek(offset)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())

    def prepare(self) -> None:
        """Make sure RESERVE zeros follow the last entry (best effort: called
        before a create, while the disk has room)."""
        try:
            with self._open() as f, _locked(f):
                data = f.read()
                _, end = _lines(data)
                if len(data) - end < RESERVE:
                    self._write_at(f, end, b"\0" * RESERVE)
        except OSError as e:
            log.warning("could not prepare the recovery file %s: %s", self.path, e)

    def note(self, job_id: int, key: str, task_id: str, provider: str, owner: str) -> bool:
        """Write down a paid task the journal could not record (key: its job's
        number set's, so it is never attached to another job; owner: the driver
        giving the job up); whether it was written (and synced to disk)."""
        entry = {"job": job_id, "key": key, "task": task_id, "provider": provider,
                 "owner": owner, "store": self.store_name, "at": round(time.time(), 3)}
        return self._append(entry)

    def _append(self, entry: dict) -> bool:
        line = json.dumps(entry, separators=(",", ":")).encode() + b"\n"
        try:
            with self._open() as f, _locked(f):
                _, end = _lines(f.read())
                self._write_at(f, end, line)
            self._idle_at = None
            return True
        except OSError as e:
            log.warning("could not write the recovery file %s: %s", self.path, e)
            return False

    def pending(self) -> list[dict]:
        """Noted tasks not yet attached, oldest first."""
        try:
            stat = self.path.stat()
        except OSError:
            return []
        seen = (stat.st_size, stat.st_mtime_ns)
        if seen == self._idle_at:
            return []
        try:
            entries, _ = _lines(self.path.read_bytes())
        except OSError:
            return []
        settled = {e.get("attached") for e in entries} | {e.get("unattachable") for e in entries}
        found = [e for e in entries if "task" in e and e["task"] not in settled]
        if not found:
            self._idle_at = seen
        return found

    def given_up_by(self, task_id: str) -> str | None:
        """The owner that wrote task_id down (and so gave its job up), if pending."""
        return next((e.get("owner") for e in self.pending() if e["task"] == task_id), None)

    def unattachable(self, task_id: str, why: str) -> None:
        """The task's job can never take it (abandoned, gone): no run tries again,
        and its line stays in the file, for the user to find the paid task by."""
        self._append({"unattachable": task_id, "why": why})

    def attached(self, task_id: str) -> None:
        """The task is in the journal now: its entry is settled. When no entry is
        pending (nor unattachable) any more, the file is emptied back to its reserve."""
        if not self.path.exists():
            return
        self._append({"attached": task_id})
        with contextlib.suppress(OSError), self._open() as f, _locked(f):
            entries, _ = _lines(f.read())
            done = {e.get("attached") for e in entries}
            if all(e["task"] in done for e in entries if "task" in e):
                f.truncate(0)
                self._write_at(f, 0, b"\0" * RESERVE)
