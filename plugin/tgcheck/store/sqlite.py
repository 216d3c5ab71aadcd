"""The SQLite store: one file under TGCHECK_HOME, the embedded default.

SQLite in WAL mode because Excel's Python, the CLI and a DuckDB session use it at
the same time from different processes; SQLite lets several processes write.
Every connection is per thread; every multi-step change is one transaction
(BEGIN IMMEDIATE: the write lock up front, so two claims never both decide "me").
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

from ..errors import (
    StoreDamaged,
    StoreError,
    StoreForeign,
    StoreFull,
    StoreLocked,
    StoreReadOnly,
)
from . import journal
from .base import (
    AnswerGroup,
    BaseStore,
    StoredAnswer,
    _translating,
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
LIVE_INDEX = f"""CREATE UNIQUE INDEX jobs_live_key ON jobs(key)
    WHERE state IN {journal.sql_list(journal.LIVE_STATES)}"""
# Columns added since the first release, added to older store files on open.
ADDED_COLUMNS = (
    ("budget_from", "INTEGER NOT NULL DEFAULT 0"),
    ("estimated_amount", "TEXT"),
    ("actual_amount", "TEXT"),
    ("currency", "TEXT"),
    ("polled_at", "REAL"),
    ("moved_at", "REAL"),
    ("account", "TEXT"),   # version 2: the account (key fingerprint) of the job's task
    # version 3: the set's first and last number (base.number_range), for claims
    ("first_number", "TEXT"),
    ("last_number", "TEXT"),
)
# Version 3: a claim's overlap test read from the index alone. The columns after
# the numbers blob are costly to reach in the table (its overflow pages are a
# chain), and only the jobs whose range meets the claim's are read there.
OVERLAP_INDEX = """CREATE INDEX IF NOT EXISTS jobs_overlap ON jobs(provider, task_type,
    state, updated_at, first_number, last_number)"""

# Columns added to the answers table since, on open (version 4: where an answer
# came from; its task_id and checked_at were there from the start).
# Version 5: an answer's typed fields (tgcheck.fields), one JSON object; NULL for
# a task type without fields, and for an answer stored before fields were kept.
ADDED_ANSWER_COLUMNS = (("provider", "TEXT"), ("fields", "TEXT"))

# The schema's version (PRAGMA user_version), for forward migrations.
SCHEMA_VERSION = 5
# A copied answer replaces a stored one only when newer ("ok" wins a tie).
_IMPORT_ANSWER = """INSERT INTO answers (task_type, number, value, status, checked_at, task_id,
                                    provider, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (task_type, number) DO UPDATE SET value = excluded.value,
        status = excluded.status, checked_at = excluded.checked_at, task_id = excluded.task_id,
        provider = excluded.provider, fields = excluded.fields
    WHERE excluded.checked_at > answers.checked_at
       OR (excluded.checked_at = answers.checked_at AND excluded.status = 'ok'
           AND answers.status <> 'ok')"""
# A lookup of at least 1/SCAN_SHARE of a task type's answers scans them rather
# than probing the index number by number (measured: ~2x faster at 1,000,000).
SCAN_SHARE = 4
SCAN_MIN = 20_000
# A scan aggregates one column per distinct (value, status) when there are at
# most this many (yes/no types); free-form values (URLs) are grouped instead.
FILTER_PAIRS_MAX = 16
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


class Store(BaseStore):
    """The SQLite store at path (created with its folder on first use)."""

    backend = "sqlite"

    def __init__(self, path: Path | str):
        # Resolved: the engine keys the jobs this process drives by str(store.path),
        # so two spellings of one file (relative, absolute, via a symlink) must agree.
        self.path = Path(path).resolve()
        self._local = threading.local()
        self._watch_lock = threading.Lock()  # change_token's own connection
        with _damage_as_store_error(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._check_schema()
            # A store at today's version gets no DDL at all; an older one is
            # brought forward (a file from before versions counts as version 0).
            if self.schema_version() < SCHEMA_VERSION:
                self.db.executescript(SCHEMA)
                self._migrate()
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

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
        have_answers = {row[1] for row in db.execute("PRAGMA table_info(answers)")}
        index = db.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND "
                           "name = 'jobs_live_key'").fetchone()
        overlap = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND "
                             "name = 'jobs_overlap'").fetchone()
        if all(name in have for name, _ in ADDED_COLUMNS) and index is not None \
                and all(name in have_answers for name, _ in ADDED_ANSWER_COLUMNS) \
                and " ".join(index[0].split()) == " ".join(LIVE_INDEX.split()) \
                and overlap is not None:
            return
        with self._tx() as tx:
            have = {row[1] for row in tx.execute("PRAGMA table_info(jobs)")}
            for name, decl in ADDED_COLUMNS:
                if name not in have:
                    tx.execute(f"ALTER TABLE jobs ADD COLUMN {name} {decl}")
            have = {row[1] for row in tx.execute("PRAGMA table_info(answers)")}
            for name, decl in ADDED_ANSWER_COLUMNS:
                if name not in have:
                    tx.execute(f"ALTER TABLE answers ADD COLUMN {name} {decl}")
            tx.execute("DROP INDEX IF EXISTS jobs_live_key")
            tx.execute(LIVE_INDEX)
            tx.execute(OVERLAP_INDEX)

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

    def _tx(self, *, exclusive: bool = False):
        # Every SQLite write transaction is exclusive: it takes the write lock up front.
        return _Transaction(self)

    def _read(self):
        return self.db

    def _errors(self):
        return _damage_as_store_error(self.path)

    def schema_version(self) -> int:
        """PRAGMA user_version: 0 for a file made before the schema had a version."""
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def check(self) -> str:
        return self.integrity_check()

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*")
                   if p.is_file())

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
        with self._watch_lock:
            watch, self._watch = getattr(self, "_watch", None), None
            if watch is not None:
                watch.close()

    # -- answers ---------------------------------------------------------
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

    def _save_answers(self, db, task_type, rows, task_id, now, provider) -> None:
        # A number a newer file left out (unknown) keeps a stored "ok": that answer
        # was paid for, and being left out contradicts nothing. It is kept as it
        # was, checked_at too (nothing confirmed it), so it ages out as before.
        # One statement per distinct answer, its numbers one JSON array SQLite
        # unpacks itself: a third less CPU than binding each row (executemany),
        # 0.14 s to 0.09 s for 100,000 answers. (WHERE true: an upsert's SELECT
        # needs one.)
        by_answer: dict[tuple[str | None, str], list[str]] = {}
        for number, value, status in rows:
            by_answer.setdefault((value, status), []).append(number)
        for (value, status), numbers in by_answer.items():
            db.execute(
                """INSERT INTO answers (task_type, number, value, status, checked_at, task_id,
                                       provider)
                   SELECT ?, j.value, ?, ?, ?, ?, ? FROM json_each(?) AS j
                   WHERE true
                   ON CONFLICT (task_type, number) DO UPDATE SET value = excluded.value,
                       status = excluded.status, checked_at = excluded.checked_at,
                       task_id = excluded.task_id, provider = excluded.provider
                   WHERE NOT (answers.status = 'ok' AND excluded.status = 'unknown')""",
                (task_type, value, status, now, task_id, provider, json.dumps(numbers)),
            )

    @_translating
    def import_answers(self, rows: Iterable[StoredAnswer]) -> int:
        offered = 0

        def counted():
            nonlocal offered
            for row in rows:
                offered += 1
                # A 6- or 7-tuple (a copy from an older tgcheck) has no provider
                # or no fields.
                yield (*row, *(None,) * (8 - len(row)))

        with self._tx() as db:
            db.executemany(_IMPORT_ANSWER, counted())
        return offered

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
            "SELECT task_type, number, value, status, checked_at, task_id, provider, fields "
            f"FROM answers{where} ORDER BY task_type, number", args)
        return self._stored_answers(cursor)

    @_translating
    def _stored_answers(self, cursor: sqlite3.Cursor) -> Iterator[StoredAnswer]:
        try:
            for row in cursor:
                yield StoredAnswer(*row)
        finally:
            cursor.close()

    def integrity_check(self) -> str:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]

    # -- for a memo of answers already read (the SQL face's answer_memo) ----
    @_translating
    def change_token(self) -> tuple:
        """A value that differs whenever anything was committed to the store since
        it was last taken, by any connection of any process (this one's included).

        PRAGMA data_version changes when another connection commits; it is read on
        a connection of its own that never writes, so every commit is another's.
        The file's identity is in it too: a store replaced by another file is changed.
        """
        with self._watch_lock:
            watch = getattr(self, "_watch", None)
            if watch is None:
                watch = self._watch = sqlite3.connect(self.path, timeout=60,
                                                      isolation_level=None,
                                                      check_same_thread=False)
            try:
                inode = os.stat(self.path).st_ino
            except OSError:  # removed meanwhile: a change, which the check then meets
                inode = None
            return inode, watch.execute("PRAGMA data_version").fetchone()[0]

    @_translating
    def answer_columns(self, task_type: str, numbers: Collection[str]
                       ) -> tuple[list[tuple[str | None, str, str | None, str, str]], bool]:
        """Every stored answer among numbers, whatever its age, as (value, status,
        provider, numbers, checked_at) groups, numbers and checked_at (the store's
        clock) each one string joined by newlines, in the same order: what a memo
        applying freshness itself needs, split by the caller in bulk. And whether
        the groups hold asked numbers only (False: a large set scanned the table,
        as _answer_groups does; they may hold more)."""
        if not numbers:
            return [], True
        cursor = self.db.cursor()
        cursor.row_factory = None
        with _reading(self.db) if len(numbers) >= SCAN_MIN else contextlib.nullcontext():
            scan = len(numbers) >= SCAN_MIN and len(numbers) * SCAN_SHARE >= cursor.execute(
                "SELECT count(*) FROM answers WHERE task_type = ?", (task_type,)).fetchone()[0]
            if scan:
                where, params = "task_type = ?", (task_type,)
                kinds = cursor.execute(
                    "SELECT DISTINCT value, status, provider FROM answers WHERE task_type = ? "
                    "LIMIT ?", (task_type, FILTER_PAIRS_MAX + 1)).fetchall()
            else:
                where = "task_type = ? AND number IN (SELECT value FROM json_each(?))"
                params = (task_type, json.dumps(sorted(numbers)))
            # Within one query every aggregate is fed a group's rows in the same
            # order: a group's numbers and times are aligned.
            if scan and len(kinds) <= FILTER_PAIRS_MAX:
                if not kinds:
                    return [], False
                one = "FILTER (WHERE value IS ? AND status = ? AND provider IS ?)"
                columns = ", ".join([f"group_concat(number, char(10)) {one}, "
                                     f"group_concat(checked_at, char(10)) {one}"] * len(kinds))
                joined = cursor.execute(
                    f"SELECT {columns} FROM answers WHERE {where}",
                    (*(x for kind in kinds for x in (*kind, *kind)), *params)).fetchone()
                rows = [(*kind, joined[2 * i], joined[2 * i + 1])
                        for i, kind in enumerate(kinds)]
            else:
                rows = cursor.execute(
                    "SELECT value, status, provider, group_concat(number, char(10)), "
                    f"group_concat(checked_at, char(10)) FROM answers WHERE {where} "
                    "GROUP BY value, status, provider", params).fetchall()
        return [row for row in rows if row[3] is not None], not scan

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
