"""The local store: answers already paid for, and the journal of jobs.

SQLite in WAL mode because Excel's Python, the CLI and a DuckDB session use it at
the same time from different processes; SQLite lets several processes write.
Every connection is per thread; every multi-step change is one transaction.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import json
import os
import socket
import sqlite3
import threading
import time
import zlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from . import redact
from .errors import (
    StoreDamaged,
    StoreError,
    StoreForeign,
    StoreFull,
    StoreLocked,
    StoreReadOnly,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    task_type  TEXT NOT NULL,
    number     TEXT NOT NULL,
    value      TEXT,
    status     TEXT NOT NULL,          -- ok | unknown (left out of the result file)
    checked_at REAL NOT NULL,
    task_id    TEXT,
    PRIMARY KEY (task_type, number)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS jobs (
    id           INTEGER PRIMARY KEY,
    key          TEXT NOT NULL,        -- hash of provider identity, task type, number set
    provider     TEXT NOT NULL,
    task_type    TEXT NOT NULL,
    count        INTEGER NOT NULL,
    numbers      BLOB NOT NULL,        -- zlib of the sorted numbers, so `resume` needs no input
    -- new | submitting | open | stalled | done | failed | lost | uncertain | abandoned
    state        TEXT NOT NULL,
    task_id      TEXT,
    status       TEXT,                 -- the provider's last status word
    total        INTEGER,
    success      INTEGER,
    failure      INTEGER,
    status_calls INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    owner        TEXT,                 -- host:pid of the process driving it
    heartbeat    REAL,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    budget_from  INTEGER NOT NULL DEFAULT 0,  -- status_calls when the poll budget began
    estimated_amount TEXT,             -- the provider's estimated charge (decimal text)
    actual_amount    TEXT,             -- and the charge it reported at the end
    currency     TEXT,                 -- of both amounts, e.g. USD
    polled_at    REAL,                 -- the last billed status call
    moved_at     REAL                  -- the last poll that showed progress (NULL: none)
);
CREATE INDEX IF NOT EXISTS jobs_task_id ON jobs(task_id);
-- A set's newest job in any state (a claim asks whether its last task was lost).
CREATE INDEX IF NOT EXISTS jobs_key ON jobs(key);
"""
# At most one live job per set: the heart of "never create the same task twice".
# Kept apart from SCHEMA: a store made before `stalled` existed has this index
# with the old state list, and _migrate() replaces it.
LIVE_INDEX = """CREATE UNIQUE INDEX jobs_live_key ON jobs(key)
    WHERE state IN ('new', 'submitting', 'open', 'stalled', 'uncertain')"""
# Columns added since the first release, added to older store files on open.
ADDED_COLUMNS = (
    ("budget_from", "INTEGER NOT NULL DEFAULT 0"),
    ("estimated_amount", "TEXT"),
    ("actual_amount", "TEXT"),
    ("currency", "TEXT"),
    ("polled_at", "REAL"),
    ("moved_at", "REAL"),
)

# Live jobs hold their numbers: no other task is created for them. A stalled
# job's task exists but has used its status-call budget: it is not polled until
# the user asks (`tgcheck resume`, `tgcheck status`), and still holds its numbers.
LIVE_STATES = ("new", "submitting", "open", "stalled", "uncertain")
# job_answers' status for a job's number whose answer was deleted since (cache clear).
MISSING = "missing"
# A lookup of at least 1/SCAN_SHARE of a task type's answers scans them rather
# than probing the index number by number (measured: ~2x faster at 1,000,000).
SCAN_SHARE = 4
SCAN_MIN = 20_000
# A scan aggregates one column per distinct (value, status) when there are at
# most this many (yes/no types); free-form values (URLs) are grouped instead.
FILTER_PAIRS_MAX = 16
# A driving process that stops heart-beating for this long is taken for dead.
LEASE_SECONDS = 60.0
# A job's error text is bounded: it quotes the provider.
ERROR_LIMIT = 2000

HOST = socket.gethostname()


_DAMAGED = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB
_FULL = 13  # SQLITE_FULL
_READONLY = (8, 14, 23)  # SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_AUTH
_LOCKED = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED
_IOERR = 10  # SQLITE_IOERR (a full disk can show as an I/O error on write)


def store_error(path, e: BaseException) -> StoreError | None:
    """The StoreError a SQLite or OS error on the store means, with its own advice;
    None for errors that are not about the store file (a bug: let it show).

    Only damage (SQLite's own verdict) sends the user to the doctor, and only the
    doctor, after an integrity check, moves a file aside: a full disk, a read-only
    folder or a lock must never cost the answers already paid for."""
    if isinstance(e, StoreError):
        return e
    if isinstance(e, OSError):
        import errno

        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            return StoreFull(f"the disk holding the local store {path} is full "
                             f"({e.strerror}); free some space and run again: nothing stored "
                             "is lost, and open jobs are collected then")
        if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return StoreReadOnly(_READ_ONLY_ADVICE.format(path=path, why=e.strerror))
        return None
    if not isinstance(e, sqlite3.DatabaseError):
        return None
    code = getattr(e, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(e)
    if primary in _DAMAGED:
        return StoreDamaged(f"the local store {path} is damaged ({text}); run `tgcheck doctor` "
                            "to set it aside and keep its open jobs")
    if primary == _FULL or "disk is full" in text:
        return StoreFull(f"the disk holding the local store {path} is full ({text}); free "
                         "some space and run again: nothing stored is lost, and open jobs "
                         "are collected then")
    if primary in _READONLY or "readonly" in text or "read-only" in text:
        return StoreReadOnly(_READ_ONLY_ADVICE.format(path=path, why=text))
    if primary in _LOCKED:
        return StoreLocked(f"the local store {path} stayed locked by another process ({text}); "
                           "run again when the other tgcheck (a CLI run, Excel, DuckDB) is done")
    if primary == _IOERR:
        return StoreError(f"the local store {path} could not be read or written ({text}): "
                          "check the disk (full, removed, a network folder gone); nothing "
                          "stored is lost")
    return None


_READ_ONLY_ADVICE = (
    "the local store {path} cannot be written ({why}): make it and its folder writable, "
    "or set TGCHECK_HOME to a writable folder; the store itself is fine, keep it")


@contextlib.contextmanager
def _damage_as_store_error(path):
    try:
        yield
    except (sqlite3.DatabaseError, OSError) as e:
        translated = store_error(path, e)
        if translated is None or translated is e:
            raise
        raise translated from None


def _translating(method):
    """Damage found after opening (a bad page read later) is a StoreError naming the
    doctor, like damage found at open; locking and other errors pass unchanged."""
    if inspect.isgeneratorfunction(method):
        # A generator reads as it is consumed: damage met then is translated too.
        @functools.wraps(method)
        def generator(self, *args, **kwargs):
            with _damage_as_store_error(self.path):
                yield from method(self, *args, **kwargs)

        return generator

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with _damage_as_store_error(self.path):
            return method(self, *args, **kwargs)

    return wrapper


def _use_wal(db: sqlite3.Connection, patience: float = 60.0) -> None:
    """Put the file in WAL mode (it stays so). Switching needs the file to itself,
    and SQLite answers "locked" at once rather than through the busy handler when
    several processes open a new store together: wait for them, within bounds."""
    end = time.monotonic() + patience
    delay = 0.01
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() + delay > end:
                raise
            time.sleep(delay)  # another process is switching it right now
            delay = min(delay * 2, 0.5)


def _fresh(max_age_days: float, unknown_retry_hours: float, retry_unknown: bool,
           now: float | None) -> tuple[str, tuple]:
    """The SQL condition (and its arguments) for an answer still fresh enough to use."""
    now = time.time() if now is None else now
    ok_after = now - max_age_days * 86400
    unknown_after = now + 1 if retry_unknown else now - unknown_retry_hours * 3600
    return "checked_at > CASE status WHEN 'ok' THEN ? ELSE ? END", (ok_after, unknown_after)


@contextlib.contextmanager
def _reading(db: sqlite3.Connection):
    """A read transaction: queries inside see one snapshot of the store (WAL)."""
    if db.in_transaction:
        yield
        return
    db.execute("BEGIN")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


# The columns a tgcheck store's tables have had from the start: a file whose
# tables lack them belongs to another program (newer columns are added as needed).
_CORE_COLUMNS = {
    "answers": {"task_type", "number", "value", "status", "checked_at"},
    "jobs": {"id", "key", "provider", "task_type", "count", "numbers", "state", "task_id"},
}


def foreign_schema(db: sqlite3.Connection) -> str | None:
    """Why the database on db is not a tgcheck store, or None (a store, or empty).
    Reads only: the doctor asks it of a file it must not change."""
    tables = {name: {c[1] for c in db.execute(f"PRAGMA table_info('{name}')")}
              for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite_%'").fetchall()}
    if not tables:
        return None  # a new store
    odd = [name for name, columns in _CORE_COLUMNS.items()
           if name in tables and not columns <= tables[name]]
    if odd or not set(_CORE_COLUMNS) & set(tables):
        return (f"its tables: {', '.join(sorted(tables)[:6])}"
                + (f"; {', '.join(odd)} without tgcheck's columns" if odd else ""))
    return None


def this_owner() -> str:
    return f"{HOST}:{os.getpid()}"


def _started_at(pid: int) -> float | None:
    """When a process started (epoch seconds), where /proc says; else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # Field 22, after the command name in parentheses (which may hold spaces).
            ticks = int(f.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/stat", "rb") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith(b"btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def owner_alive(owner: str | None, heartbeat: float | None, now: float) -> bool:
    """Whether the process driving a job is still there.

    On this host the process table decides: a live owner whose heartbeat is old
    (stopped with Ctrl-Z, a laptop asleep) is alive, and must not have its create
    taken for cut off; a pid that is gone (or was reused by a process started
    after the owner's last beat) is dead at once. Elsewhere only the lease does.
    """
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host == HOST and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False  # killed: no need to wait out the lease
        except PermissionError:
            pass
        started = _started_at(int(pid))
        # False: that pid is another process, started after the owner's last beat.
        return started is None or heartbeat is None or started <= heartbeat + 1.0
    return heartbeat is not None and now - heartbeat < LEASE_SECONDS


def pack_numbers(numbers: Sequence[str]) -> bytes:
    return zlib.compress("\n".join(numbers).encode())


def unpack_numbers(blob: bytes) -> list[str]:
    text = zlib.decompress(blob).decode()
    return text.split("\n") if text else []


@dataclasses.dataclass
class Job:
    id: int
    key: str
    provider: str
    task_type: str
    count: int
    state: str
    task_id: str | None
    status: str | None
    total: int | None
    success: int | None
    failure: int | None
    status_calls: int
    error: str | None
    owner: str | None
    heartbeat: float | None
    created_at: float
    updated_at: float
    budget_from: int = 0
    estimated_amount: str | None = None
    actual_amount: str | None = None
    currency: str | None = None
    polled_at: float | None = None
    moved_at: float | None = None

    @property
    def budget_used(self) -> int:
        """Status calls made since the poll budget last began (job start or a resume)."""
        return self.status_calls - (self.budget_from or 0)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})


_JOB_COLUMNS = ", ".join(f.name for f in dataclasses.fields(Job))


class AnswerStats(NamedTuple):
    """One (task_type, status) group of stored answers."""

    task_type: str
    status: str
    count: int
    fresh: int
    oldest: float
    newest: float


class StoredAnswer(NamedTuple):
    """One row of the answers table."""

    task_type: str
    number: str
    value: str | None
    status: str
    checked_at: float
    task_id: str | None


# (value, status, numbers): the answers of a lookup, grouped as SQLite hands them over.
AnswerGroup = tuple[str | None, str, list[str]]


class Store:
    def __init__(self, path: Path | str):
        # Resolved: the engine keys the jobs this process drives by str(store.path),
        # so two spellings of one file (relative, absolute, via a symlink) must agree.
        self.path = Path(path).resolve()
        self._local = threading.local()
        with _damage_as_store_error(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._check_schema()
            self.db.executescript(SCHEMA)
            self._migrate()

    def _check_schema(self) -> None:
        """Refuse a database of another program (or another tgcheck schema) before
        writing to it: its tables are not ours to change."""
        if not self.path.exists():
            return
        # Read-only, before _connect switches the file to WAL (a write).
        try:
            probe = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=60)
        except sqlite3.OperationalError:
            return  # cannot even be read: _connect says why
        try:
            problem = foreign_schema(probe)
        except sqlite3.OperationalError:
            return
        finally:
            probe.close()
        if problem:
            raise StoreForeign(
                f"{self.path} is a SQLite database but not a tgcheck store ({problem}); "
                "tgcheck leaves it untouched: set TGCHECK_HOME to another folder, or move "
                "that file away yourself")

    def _migrate(self) -> None:
        """Bring a store file made by an older tgcheck forward: new journal columns,
        and the live-set index with today's live states. Idempotent; one transaction."""
        db = self.db
        have = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
        index = db.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND "
                           "name = 'jobs_live_key'").fetchone()
        if all(name in have for name, _ in ADDED_COLUMNS) and index is not None \
                and " ".join(index[0].split()) == " ".join(LIVE_INDEX.split()):
            return
        with self._tx() as tx:
            have = {row[1] for row in tx.execute("PRAGMA table_info(jobs)")}
            for name, decl in ADDED_COLUMNS:
                if name not in have:
                    tx.execute(f"ALTER TABLE jobs ADD COLUMN {name} {decl}")
            tx.execute("DROP INDEX IF EXISTS jobs_live_key")
            tx.execute(LIVE_INDEX)

    # -- connections -----------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout=60000")
            _use_wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
            # Grouping a million answers sorts them: in memory, not in a temp file.
            db.execute("PRAGMA temp_store=MEMORY")
        except sqlite3.DatabaseError as e:
            # Damaged, full, read-only, locked: each its own message. Never "move it
            # aside" here: that advice is the doctor's, after an integrity check.
            raise store_error(self.path, e) or StoreError(
                f"the local store {self.path} cannot be opened ({e}); `tgcheck doctor` "
                "checks it") from None
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o600)
        return db

    @property
    def db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    def _tx(self):
        return _Transaction(self)

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- answers ---------------------------------------------------------
    @_translating
    def lookup(
        self,
        task_type: str,
        numbers: Collection[str],
        *,
        max_age_days: float,
        unknown_retry_hours: float,
        retry_unknown: bool = False,
        now: float | None = None,
    ) -> dict[str, tuple[str | None, str]]:
        """Fresh answers among numbers: number -> (value, status)."""
        return self._answers_of(task_type, numbers, *_fresh(
            max_age_days, unknown_retry_hours, retry_unknown, now))

    @_translating
    def lookup_groups(
        self,
        task_type: str,
        numbers: Collection[str],
        *,
        max_age_days: float,
        unknown_retry_hours: float,
        retry_unknown: bool = False,
        now: float | None = None,
    ) -> list[AnswerGroup]:
        """lookup() without a per-number dict: (value, status, numbers) groups.

        Each fresh answer among numbers is in one group; a group may also hold
        numbers that were not asked for (a large set is matched by scanning the
        table). For callers that join by number themselves, e.g. with Arrow.
        """
        return self._answer_groups(task_type, numbers, *_fresh(
            max_age_days, unknown_retry_hours, retry_unknown, now))[0]

    @_translating
    def stored(self, task_type: str, numbers: Collection[str]) -> dict[str, tuple]:
        """Stored answers whatever their age: for a job that has just finished."""
        return self._answers_of(task_type, numbers, "1", ())

    def _answers_of(self, task_type: str, numbers: Collection[str], condition: str,
                    args: tuple) -> dict[str, tuple[str | None, str]]:
        """number -> (value, status) for the numbers with a stored answer meeting condition."""
        groups, exact = self._answer_groups(task_type, numbers, condition, args)
        wanted = None if exact else (
            numbers if isinstance(numbers, (set, frozenset)) else set(numbers))
        found: dict[str, tuple[str | None, str]] = {}
        for value, status, group in groups:
            found.update(dict.fromkeys(group if exact else wanted.intersection(group),
                                       (value, status)))
        return found

    def _answer_groups(self, task_type: str, numbers: Collection[str], condition: str,
                       args: tuple) -> tuple[list[AnswerGroup], bool]:
        """The answers meeting condition as (value, status, numbers) groups, and
        whether the groups hold asked numbers only (False: a scan, they may hold more).

        Built for a million numbers: SQLite hands each group over as one string,
        so Python splits a few strings instead of building a million rows. A set
        that is a large part of the table is matched by scanning it, which beats
        probing the index; and the scan aggregates one column per (value, status)
        pair instead of grouping, which would sort every row (for a task type of
        a few answers; free-form values are grouped).
        """
        if not numbers:
            return [], True
        cursor = self.db.cursor()
        cursor.row_factory = None
        # Several queries below see one snapshot; a small set makes just one.
        with _reading(self.db) if len(numbers) >= SCAN_MIN else contextlib.nullcontext():
            # Counting the table costs a pass over its index: only worth it when
            # the set is big enough for a scan to pay off.
            scan = len(numbers) >= SCAN_MIN and len(numbers) * SCAN_SHARE >= cursor.execute(
                "SELECT count(*) FROM answers WHERE task_type = ?", (task_type,)).fetchone()[0]
            if scan:
                where, params = "task_type = ?", (task_type,)
                pairs = cursor.execute(
                    "SELECT DISTINCT value, status FROM answers WHERE task_type = ? LIMIT ?",
                    (task_type, FILTER_PAIRS_MAX + 1)).fetchall()
            else:
                ordered = sorted(numbers)  # the index is probed in order: far fewer page reads
                where = "task_type = ? AND number IN (SELECT value FROM json_each(?))"
                params = (task_type, json.dumps(ordered))
            if scan and len(pairs) <= FILTER_PAIRS_MAX:
                if not pairs:
                    return [], False
                # One pass, one column per answer: no sort of every row.
                columns = ", ".join(
                    ["group_concat(number, char(10)) FILTER (WHERE value IS ? AND status = ?)"]
                    * len(pairs))
                joined = cursor.execute(
                    f"SELECT {columns} FROM answers WHERE {where} AND {condition}",
                    (*(x for pair in pairs for x in pair), *params, *args)).fetchone()
                rows = [(*pair, text) for pair, text in zip(pairs, joined, strict=True)]
            else:
                # A small set, or a task type with free-form values (URLs): grouping
                # sorts, but stays within SQLite's limit on result columns.
                rows = cursor.execute(
                    f"""SELECT value, status, group_concat(number, char(10)) FROM answers
                        WHERE {where} AND {condition} GROUP BY value, status""",
                    (*params, *args)).fetchall()
        return [(value, status, text.split("\n")) for value, status, text in rows
                if text is not None], not scan

    def _save_answers(self, db, task_type, rows, task_id, now) -> None:
        # A number a newer file left out (unknown) keeps a stored "ok": that answer
        # was paid for, and being left out contradicts nothing. It is kept as it
        # was, checked_at too (nothing confirmed it), so it ages out as before.
        db.executemany(
            """INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (task_type, number) DO UPDATE SET value = excluded.value,
                   status = excluded.status, checked_at = excluded.checked_at,
                   task_id = excluded.task_id
               WHERE NOT (answers.status = 'ok' AND excluded.status = 'unknown')""",
            ((task_type, n, v, s, now, task_id) for n, v, s in rows),
        )

    @_translating
    def save_answers(
        self, task_type: str, rows: Iterable[tuple[str, str | None, str]], task_id: str | None
    ) -> None:
        with self._tx() as db:
            self._save_answers(db, task_type, rows, task_id, time.time())

    @_translating
    def stalest(self, task_type: str, count: int, *, exclude: Collection[str] = ()) -> list[str]:
        """Up to count numbers with a stored answer of task_type, least recently
        checked first, leaving out exclude (for a top-up to the minimum task size)."""
        skip = exclude if isinstance(exclude, (set, frozenset)) else set(exclude)
        cursor = self.db.execute(
            "SELECT number FROM answers WHERE task_type = ? ORDER BY checked_at, number",
            (task_type,))
        found: list[str] = []
        try:
            for (number,) in cursor:
                if number not in skip:
                    found.append(number)
                    if len(found) >= count:
                        break
        finally:
            cursor.close()
        return found

    # -- the store as a whole: for `tgcheck cache` ------------------------
    @staticmethod
    def _answer_filter(task_type: str | None, older_than_days: float | None,
                       now: float | None) -> tuple[str, list]:
        where, args = [], []
        if task_type:
            where.append("task_type = ?")
            args.append(task_type)
        if older_than_days is not None:
            now = time.time() if now is None else now
            where.append("checked_at < ?")
            args.append(now - older_than_days * 86400)
        return (" WHERE " + " AND ".join(where)) if where else "", args

    @_translating
    def answer_stats(self, *, max_age_days: float, now: float | None = None) -> list[AnswerStats]:
        """Per (task_type, status), ordered by both: how many answers, how many are
        fresh (checked within max_age_days), the oldest and newest checked_at."""
        now = time.time() if now is None else now
        rows = self.db.execute(
            "SELECT task_type, status, COUNT(*), SUM(checked_at > ?), MIN(checked_at), "
            "MAX(checked_at) FROM answers GROUP BY 1, 2 ORDER BY 1, 2",
            (now - max_age_days * 86400,),
        )
        return [AnswerStats(t, s, n, fresh or 0, oldest, newest)
                for t, s, n, fresh, oldest, newest in rows]

    @_translating
    def job_state_counts(self) -> dict[str, int]:
        """How many jobs the journal holds in each state, ordered by state."""
        return dict(self.db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY 1 ORDER BY 1"))

    @_translating
    def iter_answers(self, *, task_type: str | None = None, older_than_days: float | None = None,
                     now: float | None = None) -> Iterator[StoredAnswer]:
        """Stored answers ordered by task type and number, read as they are consumed;
        older_than_days keeps those checked more than that many days before now.

        The query starts here, so an unreadable store fails before the caller
        opens its output; damage met later, while reading, is a StoreError too."""
        where, args = self._answer_filter(task_type, older_than_days, now)
        cursor = self.db.cursor()
        cursor.row_factory = None
        cursor.execute(
            "SELECT task_type, number, value, status, checked_at, task_id FROM answers"
            f"{where} ORDER BY task_type, number", args)
        return self._stored_answers(cursor)

    @_translating
    def _stored_answers(self, cursor: sqlite3.Cursor) -> Iterator[StoredAnswer]:
        try:
            for row in cursor:
                yield StoredAnswer(*row)
        finally:
            cursor.close()

    @_translating
    def count_answers(self, *, task_type: str | None = None,
                      older_than_days: float | None = None, now: float | None = None) -> int:
        """How many answers delete_answers with the same arguments would delete."""
        where, args = self._answer_filter(task_type, older_than_days, now)
        return self.db.execute(f"SELECT COUNT(*) FROM answers{where}", args).fetchone()[0]

    @_translating
    def delete_answers(self, *, task_type: str | None = None,
                       older_than_days: float | None = None, now: float | None = None) -> int:
        """Delete stored answers (all, or those of a task type and/or checked more than
        older_than_days before now); the journal is not touched. Returns how many."""
        where, args = self._answer_filter(task_type, older_than_days, now)
        with self._tx() as db:
            return db.execute(f"DELETE FROM answers{where}", args).rowcount

    # -- the journal -----------------------------------------------------
    def _one_job(self, where: str, args: tuple) -> Job | None:
        row = self.db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {where}", args).fetchone()
        return Job.from_row(row) if row else None

    @_translating
    def job_by_key(self, key: str) -> Job | None:
        """The newest job for a set's key, in any state (live_job: live ones only)."""
        return self._one_job("key = ? ORDER BY id DESC LIMIT 1", (key,))

    @_translating
    def job_by_task_id(self, task_id: str) -> Job | None:
        """The newest job that holds the provider's task id."""
        return self._one_job("task_id = ? ORDER BY id DESC LIMIT 1", (task_id,))

    @_translating
    def job(self, job_id: int) -> Job | None:
        return self._one_job("id = ?", (job_id,))

    @_translating
    def live_job(self, key: str) -> Job | None:
        return self._one_job(f"key = ? AND state IN {LIVE_STATES}", (key,))

    @_translating
    def jobs(self, *, states: Sequence[str] | None = None, limit: int = 1000) -> list[Job]:
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs"
        args: list = []
        if states:
            sql += f" WHERE state IN ({', '.join('?' * len(states))})"
            args.extend(states)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [Job.from_row(r) for r in self.db.execute(sql, args)]

    @_translating
    def job_numbers(self, job_id: int) -> list[str]:
        row = self.db.execute("SELECT numbers FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return unpack_numbers(row[0]) if row else []

    @_translating
    def job_answers(self, job_id: int) -> list[tuple[str, str | None, str]]:
        """(number, value, status) for each of a job's numbers, in the job's (sorted)
        order, from the stored answers whatever their age: a finished job's answers
        for `tgcheck export`. status is MISSING where the answer has been deleted
        since; a number answered again later has its newer answer."""
        row = self.db.execute("SELECT task_type, numbers FROM jobs WHERE id = ?",
                              (job_id,)).fetchone()
        if row is None:
            return []
        numbers = unpack_numbers(row["numbers"])
        stored = self.stored(row["task_type"], numbers)
        return [(n, *stored.get(n, (None, MISSING))) for n in numbers]

    @_translating
    def claim(
        self, key: str, provider: str, task_type: str, numbers: Sequence[str], *,
        resubmit: bool = False, since: float = 0.0,
        settled: frozenset[int] = frozenset(),
    ) -> tuple[str, Job]:
        """Decide, atomically across processes, who drives the job for this set.

        Returns (role, job): "stalled" (a job for these numbers used its
        status-call budget), "lost" (this set's last task is gone at the
        provider; only resubmit=True creates again), "drive" (this process creates or polls), "wait"
        (another live process drives it), "overlap" (another job holds some of
        these numbers: live, or finished after the caller's store lookup at
        `since`, about when the caller looked the store up; wait for it and
        send only the rest), "reopened" (with resubmit: a stalled job holding
        some of these numbers, opened again; handled as an overlap), or
        "uncertain" (a create whose outcome is unknown; only resubmit=True creates
        again, and only for exactly this set).
        The row is written here, BEFORE any create call.
        """
        me, now = this_owner(), time.time()
        with self._tx() as db:
            row = db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE key = ? AND state IN {LIVE_STATES}",
                (key,),
            ).fetchone()
            job = Job.from_row(row) if row else None
            if job is not None and job.state == "stalled":
                # Its task exists but used its status-call budget: polled again only
                # when the user asks; a resubmit gives it up and creates anew.
                if not resubmit:
                    return "stalled", job
                self._abandon(db, job, now)
                job = None
            if job is None and not resubmit:
                # The set's last task is gone at the provider: a new one is paid
                # again, so only a deliberate resubmit creates it.
                last = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE key = ? "
                                  "ORDER BY id DESC LIMIT 1", (key,)).fetchone()
                if last is not None and last["state"] == "lost":
                    return "lost", Job.from_row(last)
            if job is not None:
                alive = job.owner != me and owner_alive(job.owner, job.heartbeat, now)
                if job.state == "uncertain" or (job.state == "submitting" and not alive):
                    if not resubmit:
                        if job.state != "uncertain":
                            self._mark_uncertain(db, job, now)
                        return "uncertain", job
                    self._abandon(db, job, now)
                    job = None
                elif alive:
                    return "wait", job
                else:
                    # Ours already, or its driver is gone: take it over and go on
                    # from where it stands (new: create; open: poll).
                    db.execute(
                        "UPDATE jobs SET owner=?, heartbeat=?, updated_at=? WHERE id=?",
                        (me, now, now, job.id),
                    )
                    job.owner, job.heartbeat = me, now
                    return "drive", job
            found = self._overlapping(db, provider, task_type, numbers, since, resubmit, now,
                                      settled)
            if found is not None:
                return found
            cur = db.execute(
                """INSERT INTO jobs (key, provider, task_type, count, numbers, state,
                                     owner, heartbeat, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, 'new', ?, ?, ?, ?)""",
                (key, provider, task_type, len(numbers), pack_numbers(numbers), me, now, now, now),
            )
            return "drive", self._one_job("id = ?", (cur.lastrowid,))

    def _overlapping(self, db, provider, task_type, numbers, since, resubmit, now, settled):
        """(role, job) for a job sharing a number with ours, else None.

        A live job, or one done since the caller's lookup: paying for those
        numbers again would be paying twice ("overlap": wait, then send the
        rest). An uncertain create or a stalled job holding some of them blocks
        ("uncertain", "stalled"), a resubmit too: it gives up only the job of exactly
        its set. With resubmit, a stalled one is opened again with a new status-call
        budget ("reopened": wait for it, as for an overlap, then send the rest).
        """
        rows = db.execute(
            f"""SELECT {_JOB_COLUMNS}, numbers AS packed FROM jobs
                WHERE provider = ? AND task_type = ?
                  AND (state IN {LIVE_STATES} OR (state = 'done' AND updated_at >= ?))
                ORDER BY id""",
            (provider, task_type, since),
        ).fetchall()
        if not rows:
            return None
        ours = set(numbers)
        for row in rows:
            # settled: finished jobs the caller has already taken what it could from.
            if row["id"] in settled or ours.isdisjoint(unpack_numbers(row["packed"])):
                continue
            job = Job.from_row(row)
            if job.state == "submitting" and not owner_alive(job.owner, job.heartbeat, now):
                self._mark_uncertain(db, job, now)
            if job.state == "stalled" and resubmit:
                # Its task exists and is known: a resubmit of another set must not
                # throw it (and what it cost) away. Polled again with a new budget.
                db.execute("UPDATE jobs SET state='open', budget_from=status_calls, "
                           "error=NULL, owner=NULL, polled_at=NULL, updated_at=? WHERE id=?",
                           (now, job.id))
                job.state, job.owner = "open", None
                return "reopened", job
            if job.state in ("uncertain", "stalled"):
                # Left alone even by a resubmit, which gives up only a job for
                # exactly the caller's set: this one may hold a paid task.
                return job.state, job
            return "overlap", job
        return None

    @staticmethod
    def _mark_uncertain(db, job: Job, now: float) -> None:
        db.execute(
            "UPDATE jobs SET state='uncertain', owner=NULL, updated_at=?, error=? WHERE id=?",
            (now, "the process creating this task stopped before the task id was recorded",
             job.id),
        )
        job.state = "uncertain"

    @staticmethod
    def _abandon(db, job: Job, now: float) -> None:
        # resubmit: the uncertain create is given up, a new one may be made.
        db.execute("UPDATE jobs SET state='abandoned', owner=NULL, updated_at=? WHERE id=?",
                   (now, job.id))
        job.state = "abandoned"

    @_translating
    def stored_since(self, task_type: str, numbers: Collection[str], since: float) -> dict:
        """Answers stored at or after `since` (by a job that finished meanwhile)."""
        return self._answers_of(task_type, numbers, "checked_at >= ?", (since,))

    _UPDATABLE = frozenset(
        {"state", "task_id", "status", "total", "success", "failure", "error", "owner",
         "budget_from", "estimated_amount", "actual_amount", "currency", "polled_at",
         "moved_at"}
    )

    @_translating
    def update_job(self, job_id: int, *, status_call: bool = False,
                   expect_state: str | tuple[str, ...] | None = None, **fields) -> bool:
        """Update a job; with expect_state, only while it is still in that state
        (or one of those states). Returns whether a row changed."""
        bad = set(fields) - self._UPDATABLE
        if bad:
            raise ValueError(f"not updatable: {bad}")
        # The journal is a file the key must never reach, and `tgcheck jobs` prints
        # these: provider text passes the redaction point on its way in.
        for name, limit in (("error", ERROR_LIMIT), ("status", 40), ("currency", 16),
                            ("estimated_amount", 40), ("actual_amount", 40)):
            if isinstance(fields.get(name), str):
                fields[name] = redact.clean(fields[name], limit)
        now = time.time()
        sets = [f"{k} = ?" for k in fields] + ["updated_at = ?", "heartbeat = ?"]
        args = [*fields.values(), now, now]
        if status_call:
            sets.append("status_calls = status_calls + 1")
        where, where_args = "id = ?", [job_id]
        if expect_state is not None:
            states = (expect_state,) if isinstance(expect_state, str) else tuple(expect_state)
            where += f" AND state IN ({', '.join('?' * len(states))})"
            where_args.extend(states)
        with self._tx() as db:
            cur = db.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE {where}",
                             (*args, *where_args))
            return cur.rowcount > 0

    # Jobs a known task id may be attached to: its create's outcome is unknown
    # or was never recorded (new: cut off before the create was journaled).
    ATTACHABLE = ("new", "submitting", "uncertain")

    @_translating
    def attach_task(self, job_id: int, task_id: str) -> Job:
        """Record a task created for this job whose id the journal lost (a full
        disk right after the create, a cut-off reply): the job becomes open, and
        the next run or `tgcheck resume` polls the task instead of paying again.
        Returns the job as it was; raises StoreError when it cannot take one."""
        with self._tx() as db:
            row = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?",
                             (job_id,)).fetchone()
            if row is None:
                raise StoreError(f"no job {job_id} in the journal")
            job = Job.from_row(row)
            if job.state not in self.ATTACHABLE:
                raise StoreError(
                    f"job {job_id} is {job.state}"
                    + (f" with task {job.task_id}" if job.task_id else "")
                    + f": only {', '.join(self.ATTACHABLE)} jobs take a task id")
            if job.owner and job.owner != this_owner() and \
                    owner_alive(job.owner, job.heartbeat, time.time()):
                raise StoreError(f"job {job_id} is being driven by {job.owner}; wait for it")
            other = db.execute("SELECT id FROM jobs WHERE task_id = ? AND id != ?",
                               (task_id, job_id)).fetchone()
            if other is not None:
                raise StoreError(f"task {task_id} already belongs to job {other[0]}")
            now = time.time()
            db.execute("UPDATE jobs SET state='open', task_id=?, owner=NULL, heartbeat=NULL, "
                       "error=NULL, updated_at=? WHERE id=?", (task_id, now, job_id))
            return job

    @_translating
    def reopen(self, job_id: int) -> bool:
        """A stalled job open again, with a new status-call budget (the user asked)."""
        with self._tx() as db:
            return db.execute(
                # polled_at cleared: the user asked, so the first poll is at once
                # (then the backoff goes on from how long the task has been still).
                "UPDATE jobs SET state='open', budget_from=status_calls, error=NULL, "
                "polled_at=NULL, updated_at=? WHERE id=? AND state='stalled'",
                (time.time(), job_id)
            ).rowcount > 0

    @_translating
    def abandon_job(self, job_id: int, reason: str) -> Job | None:
        """End a live job on purpose (`tgcheck jobs abandon`): its numbers are free
        to be sent again. Returns the job as it was, or None when it is not live."""
        with self._tx() as db:
            row = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?",
                             (job_id,)).fetchone()
            if row is None or row["state"] not in (*LIVE_STATES, "lost"):
                return None
            db.execute("UPDATE jobs SET state='abandoned', owner=NULL, error=?, updated_at=? "
                       "WHERE id=?", (reason, time.time(), job_id))
            return Job.from_row(row)

    @_translating
    def heartbeat(self, job_id: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE jobs SET heartbeat = ? WHERE id = ?", (time.time(), job_id))

    @_translating
    def finish_job(
        self, job: Job, task_type: str, rows: Sequence[tuple[str, str | None, str]]
    ) -> None:
        """Store the answers and close the job in one transaction: a crash here
        leaves the job open, to be finished by the next run, never half-stored."""
        with self._tx() as db:
            now = time.time()  # after the lock: as close to the commit as can be
            self._save_answers(db, task_type, rows, job.task_id, now)
            db.execute(
                "UPDATE jobs SET state='done', owner=NULL, error=NULL, updated_at=? WHERE id=?",
                (now, job.id),
            )

    @_translating
    def release(self, job_id: int) -> None:
        """Leave a live job for another process or a later run to pick up."""
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET owner=NULL, heartbeat=NULL, updated_at=? WHERE id=? AND owner=?",
                (time.time(), job_id, this_owner()),
            )

    def integrity_check(self) -> str:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT: takes the write lock up front, so two processes
    deciding who drives a job can never both decide "me"."""

    def __init__(self, store: Store):
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        self.db = self.store.db
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as e:
            raise store_error(self.store.path, e) or StoreError(
                f"the local store {self.store.path} cannot be written: {e}") from None
        return self.db

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self.db.execute("COMMIT")
            except sqlite3.DatabaseError:
                # A full disk at COMMIT: end the transaction, report the COMMIT's error.
                if self.db.in_transaction:
                    with contextlib.suppress(sqlite3.DatabaseError):
                        self.db.execute("ROLLBACK")
                raise
        elif self.db.in_transaction:
            # SQLite may have rolled back already (a full disk); the error that
            # brought us here is the one to report, not ROLLBACK's.
            with contextlib.suppress(sqlite3.DatabaseError):
                self.db.execute("ROLLBACK")
        return False
