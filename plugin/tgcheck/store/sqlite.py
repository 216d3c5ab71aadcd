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
from . import migrations
from .answers import IMPORT_ON_CONFLICT, SAVE_ON_CONFLICT, SELECT_STORED
from .base import BaseStore
from .rows import AnswerGroup, AnswerRows, StoredAnswer
from .sqlite_schema import SqliteSchema, foreign_schema
from .translating import _translating
from .tuning import DEFAULT_TUNING, StoreTuning

_IMPORT_ANSWER = f"""INSERT INTO answers (task_type, number, value, status, checked_at, task_id,
                                    provider, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    {IMPORT_ON_CONFLICT}"""
# A job's answers of one (value, status), their numbers one JSON array. (WHERE
# true: an upsert's SELECT needs one.)
_SAVE_ANSWERS = f"""INSERT INTO answers (task_type, number, value, status, checked_at, task_id,
                                    provider)
    SELECT ?, j.value, ?, ?, ?, ?, ? FROM json_each(?) AS j WHERE true
    {SAVE_ON_CONFLICT}"""
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


class Store(BaseStore):
    """The SQLite store at path (created with its folder on first use)."""

    backend = "sqlite"

    def __init__(self, path: Path | str, *, tuning: StoreTuning | None = None):
        self.tuning = tuning or DEFAULT_TUNING
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
            migrations.bring_forward(SqliteSchema(self))

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
        whether the groups hold asked numbers only (False: a range read, they may
        hold more).

        Built for a million numbers: SQLite hands each group over as one string,
        so Python splits a few strings instead of building a million rows. A set
        that is a large part of the answers between its first and last number
        reads that range of the index (_reach), which beats probing it number by
        number."""
        if not numbers:
            return [], True
        cursor = self.db.cursor()
        cursor.row_factory = None
        big = len(numbers) >= self.tuning.scan_min
        # Several queries below see one snapshot; a small set makes just one.
        with _reading(self.db) if big else contextlib.nullcontext():
            reach = big and self._reach(cursor, task_type, numbers)
            if reach:
                return self._between(cursor, task_type, *reach, condition, args), False
            ordered = sorted(numbers)  # the index is probed in order: far fewer page reads
            rows = cursor.execute(
                """SELECT value, status, group_concat(number, char(10)) FROM answers
                   WHERE task_type = ? AND number IN (SELECT value FROM json_each(?))
                   AND """ f"{condition} GROUP BY value, status",
                (task_type, json.dumps(ordered), *args)).fetchall()
        return [(value, status, text.split("\n")) for value, status, text in rows
                if text is not None], True

    @_translating
    def _answers_between(self, task_type: str, first: str, last: str, condition: str,
                         args: tuple) -> list[AnswerGroup]:
        cursor = self.db.cursor()
        cursor.row_factory = None
        with _reading(self.db):
            return self._between(cursor, task_type, first, last, condition, args)

    def _between(self, cursor, task_type: str, first: str, last: str, condition: str,
                 args: tuple) -> list[AnswerGroup]:
        """The answers between first and last meeting condition, as groups: one
        pass, one column per (value, status) pair, no sort of every row (for a
        task type of a few answers; free-form values are grouped)."""
        tuning = self.tuning
        span, spanned = "task_type = ? AND number BETWEEN ? AND ?", (task_type, first, last)
        where, params = f"{span} AND {condition}", (*spanned, *args)
        # The pairs of the range's first pair_sample rows, whatever their age: in a
        # yes/no type's range almost always all of them, found without a pass over
        # the range (the pairs of every row cost 0.025 s of CPU per 200,000). The
        # aggregate also counts its rows (a fresh row of another pair is in no
        # column); only when they are more are the whole range's pairs read and
        # the range aggregated again.
        sample = cursor.execute(
            f"SELECT DISTINCT value, status FROM (SELECT value, status FROM answers "
            f"WHERE {span} LIMIT ?) LIMIT ?",
            (*spanned, tuning.pair_sample, tuning.filter_pairs_max + 1)).fetchall()
        if not sample:
            return []  # no row in the range at all
        groups = None
        if len(sample) <= tuning.filter_pairs_max:
            groups = self._by_pair(cursor, sample, where, params, counted=True)
        if groups is None and len(sample) <= tuning.filter_pairs_max:
            # The pairs whatever their age: a pair with no fresh answer gives a
            # NULL column, dropped below (the condition here cost a quarter more).
            pairs = cursor.execute(
                f"SELECT DISTINCT value, status FROM answers WHERE {span} LIMIT ?",
                (*spanned, tuning.filter_pairs_max + 1)).fetchall()
            if len(pairs) <= tuning.filter_pairs_max:
                groups = self._by_pair(cursor, pairs, where, params, counted=False)
        if groups is None:
            # Free-form values (URLs): grouping sorts, but stays within SQLite's
            # limit on result columns.
            rows = cursor.execute(
                "SELECT value, status, group_concat(number, char(10)) FROM answers "
                f"WHERE {where} GROUP BY value, status", params).fetchall()
            groups = [(value, status, text.split("\n")) for value, status, text in rows
                      if text is not None]
        return groups

    @staticmethod
    def _by_pair(cursor, pairs: list[tuple], where: str, params: tuple, *, counted: bool
                 ) -> list[AnswerGroup] | None:
        """The rows meeting where as groups, one column per pair, in one pass;
        counted: None when some of those rows are of none of the pairs (the pairs
        were a sample's)."""
        columns = ", ".join(
            ["group_concat(number, char(10)) FILTER (WHERE value IS ? AND status = ?)"]
            * len(pairs))
        joined = cursor.execute(
            f"SELECT {columns}{', count(*)' if counted else ''} FROM answers WHERE {where}",
            (*(x for pair in pairs for x in pair), *params)).fetchone()
        groups = [(*pair, text.split("\n")) for pair, text in zip(pairs, joined, strict=False)
                  if text is not None]
        if counted and joined[-1] != sum(len(numbers) for _, _, numbers in groups):
            return None
        return groups

    def _save_answers(self, db, task_type, rows, task_id, now, provider) -> None:
        # The upsert is answers.SAVE_ON_CONFLICT (a stored "ok" is kept over an
        # "unknown"). One statement per distinct answer, its numbers one JSON array SQLite
        # unpacks itself: a third less CPU than binding each row (executemany),
        # 0.14 s to 0.09 s for 100,000 answers.
        # Rows found grouped (AnswerRows) are taken as their groups.
        if isinstance(rows, AnswerRows):
            by_answer = rows.groups
        else:
            by_answer = {}
            for number, value, status in rows:
                by_answer.setdefault((value, status), []).append(number)
        for (value, status), numbers in by_answer.items():
            db.execute(
                _SAVE_ANSWERS,
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
        cursor.execute(SELECT_STORED.format(where=where), args)
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

    def answer_columns(self, task_type: str, numbers: Collection[str]
                       ) -> tuple[list[tuple[str | None, str, str | None, str, str]], bool]:
        """Every stored answer among numbers, whatever its age, as (value, status,
        provider, numbers, checked_at) groups, numbers and checked_at (the store's
        clock) each one string joined by newlines, in the same order: what a memo
        applying freshness itself needs, split by the caller in bulk. And whether
        the groups hold asked numbers only (False: a large set read its range of
        the index, as _answer_groups does; they may hold more)."""
        if not numbers:
            return [], True
        cursor = self.db.cursor()
        cursor.row_factory = None
        tuning = self.tuning
        big = len(numbers) >= tuning.scan_min
        with _reading(self.db) if big else contextlib.nullcontext():
            reach = big and self._reach(cursor, task_type, numbers)
            scan = bool(reach)
            if scan:
                where, params = "task_type = ? AND number BETWEEN ? AND ?", (task_type, *reach)
                kinds = cursor.execute(
                    f"SELECT DISTINCT value, status, provider FROM answers WHERE {where} "
                    "LIMIT ?", (*params, tuning.filter_pairs_max + 1)).fetchall()
            else:
                where = "task_type = ? AND number IN (SELECT value FROM json_each(?))"
                params = (task_type, json.dumps(sorted(numbers)))
            # Within one query every aggregate is fed a group's rows in the same
            # order: a group's numbers and times are aligned.
            if scan and len(kinds) <= tuning.filter_pairs_max:
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
