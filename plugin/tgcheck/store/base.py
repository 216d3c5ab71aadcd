"""The store contract: answers already paid for, and the journal of jobs.

`BaseStore` is what the engine, the faces and the doctor use; its docstrings are
the contract both backends keep (SQLite, `sqlite.py`; PostgreSQL, `postgres.py`).
The journal's decisions (who drives a job, who waits, what is taken over) are
written once, here, in SQL both databases speak; a backend brings its
connections, its transactions, its clock and its bulk paths for answers.

Times are epoch seconds. A backend may keep them on another clock (PostgreSQL:
the database's, shared by every machine); what it hands out and takes in is on
this host's clock, so `owner_alive(job.owner, job.heartbeat, time.time())`
holds on either.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import inspect
import json
import os
import socket
import time
import zlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

from .. import redact, settings_registry
from ..errors import StoreError
from ..fields import fields_json
from ..models import OK
from . import journal
from .journal import (
    ABANDONED,
    DONE,
    LIVE_STATES,
    LOST,
    NEW,
    OPEN,
    STALLED,
    SUBMITTING,
    UNCERTAIN,
)

# The journal's states as SQL list literals (journal.py's own words).
_LIVE_SQL = journal.sql_list(LIVE_STATES)
# job_answers' status for a job's number whose answer was deleted since (cache clear).
MISSING = "missing"
# A driving process that stops heart-beating for this long is taken for dead
# (on another host; on this one the process table decides at once).
LEASE_SECONDS = 60.0
# A job's error text is bounded: it quotes the provider.
ERROR_LIMIT = 2000

# The host part of a job's owner. TGCHECK_HOST_NAME overrides it: tests pose as
# two machines with it, and containers that share a name can tell themselves apart.
HOST = settings_registry.value("host_name") or socket.gethostname()


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
    after the owner's last beat) is dead at once. Elsewhere only the lease does:
    an owner on another host is alive until LEASE_SECONDS after its last beat.
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


def account_of(api_key: str) -> str:
    """A short fingerprint of an API key, kept with each job: it tells members'
    accounts apart without the key (not reversible, and not the key's prefix)."""
    return hashlib.sha256(f"tgcheck-account\0{api_key}".encode()).hexdigest()[:12]


def pack_numbers(numbers: Sequence[str]) -> bytes:
    return zlib.compress("\n".join(numbers).encode())


def unpack_numbers(blob: bytes) -> list[str]:
    text = zlib.decompress(blob).decode()
    return text.split("\n") if text else []


def number_range(numbers: Collection[str]) -> tuple[str | None, str | None]:
    """A set's first and last number (code point order, as SQLite's BINARY and
    PostgreSQL's "C" collation compare): kept with each job, so a claim unpacks
    only jobs whose range meets its own. A run's chunks are slices of one sorted
    set, so they never meet each other's, and another run's meet a few."""
    return (min(numbers), max(numbers)) if numbers else (None, None)


@dataclasses.dataclass
class Job:
    """One row of the journal: a task for one number set, from claim to its end."""

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
    # account_of() the API key that created (or will create) its task; None: unknown.
    account: str | None = None

    @property
    def budget_used(self) -> int:
        """Status calls made since the poll budget last began (job start or a resume)."""
        return self.status_calls - (self.budget_from or 0)

    @classmethod
    def from_row(cls, row) -> Job:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})


# The journal's columns as the Job has them; a stored job also has its `numbers`.
JOB_COLUMNS = tuple(f.name for f in dataclasses.fields(Job))
_JOB_COLUMNS = ", ".join(JOB_COLUMNS)
# Job times kept on the store's clock.
_JOB_TIMES = ("heartbeat", "created_at", "updated_at", "polled_at", "moved_at")
ANSWER_COLUMNS = ("task_type", "number", "value", "status", "checked_at", "task_id")


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
    # The provider that answered (its name, e.g. "ekycpro"); None: stored by a
    # tgcheck that did not record it (schema version 3 and before).
    provider: str | None = None
    # Its typed fields as the store keeps them (JSON text, tgcheck.fields.fields_json);
    # None: its task type has none, or stored before schema version 5.
    fields: str | None = None


class StoredJob(NamedTuple):
    """A journal row with its numbers: what a copy of the store carries over."""

    job: Job
    numbers: list[str]


# (value, status, numbers): the answers of a lookup, grouped as the database hands them over.
AnswerGroup = tuple[str | None, str, list[str]]


def _translating(method):
    """Errors of the database met inside a store method (damage found after
    opening, a server gone) are StoreErrors saying what to do, through the
    backend's `_errors()`; a generator's are translated as it is consumed."""
    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def generator(self, *args, **kwargs):
            with self._errors():
                yield from method(self, *args, **kwargs)

        return generator

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._errors():
            return method(self, *args, **kwargs)

    return wrapper


def _fresh(max_age_days: float, unknown_retry_hours: float, retry_unknown: bool,
           now: float) -> tuple[str, tuple]:
    """The SQL condition (and its arguments) for an answer still fresh enough to use."""
    ok_after = now - max_age_days * 86400
    unknown_after = now + 1 if retry_unknown else now - unknown_retry_hours * 3600
    return "checked_at > CASE status WHEN 'ok' THEN ? ELSE ? END", (ok_after, unknown_after)


class BaseStore:
    """The answers and the journal, shared by every thread and process that opens
    the same store (a SQLite file, or a PostgreSQL schema shared by a team).

    Guarantees, on every backend:
      * at most one live job per number set (key), across processes and machines;
      * a job's row is written before its create call (claim), so a crash never
        leaves a paid task unknown;
      * answers and the job's end are stored in one transaction (finish_job);
      * a stored "ok" answer is never replaced by "unknown" (a number a newer result
        file left out);
      * nothing here calls the provider.

    A backend implements the members marked "backend:" below; SQL in the shared
    methods uses `?` placeholders and is passed through the backend's `_tx()`.
    """

    #: What the store is, for messages and `tgcheck cache` (a file path, or a
    #: PostgreSQL URL with its password masked). The engine keys the jobs this
    #: process drives by str(path).
    path: object
    #: "sqlite" or "postgresql".
    backend: str = ""
    #: Whether wait_for_change wakes on a change (rather than only sleeping).
    notifies: bool = False
    #: account_of(the API key) of whoever opened the store (open_store(settings)
    #: sets it): jobs this store creates carry it, and a task of another account
    #: is never taken over (its status calls need that account's key).
    account: str | None = None

    # -- backend: connections, transactions, clock --------------------------
    def _errors(self):
        """backend: a context manager translating the database's errors to StoreErrors."""
        return contextlib.nullcontext()

    def _tx(self, *, exclusive: bool = False):
        """backend: a write transaction (a context manager giving something with
        execute(sql, args)); exclusive: no other exclusive transaction of this
        store runs at the same time, on any machine (claims decide under it)."""
        raise NotImplementedError

    def _read(self):
        """backend: something with execute(sql, args) for one-statement reads."""
        raise NotImplementedError

    def _now(self) -> float:
        """backend: now on the store's clock (epoch seconds)."""
        return time.time()

    def _to_store_time(self, t: float | None) -> float | None:
        """backend: a time of this host on the store's clock."""
        return t

    def _from_store_time(self, t: float | None) -> float | None:
        """backend: a time on the store's clock on this host's."""
        return t

    def _answer_groups(self, task_type: str, numbers: Collection[str], condition: str,
                       args: tuple) -> tuple[list[AnswerGroup], bool]:
        """backend: the answers among numbers meeting condition as (value, status,
        numbers) groups, and whether the groups hold asked numbers only (False: a
        scan, they may hold more)."""
        raise NotImplementedError

    def _save_answers(self, db, task_type: str, rows: Iterable[tuple[str, str | None, str]],
                      task_id: str | None, now: float, provider: str | None) -> None:
        """backend: store answers inside the transaction db, in a few round trips,
        each with where it came from (provider, task_id, checked_at = now).
        A stored "ok" is kept over an "unknown" (its origin too)."""
        raise NotImplementedError

    def _save_fields(self, db, task_type: str, pairs: Iterable[tuple[str, str]]) -> None:
        """Store each (number, fields as JSON text) on its "ok" answer of task_type,
        inside the transaction db (after _save_answers). A backend may do it in
        fewer round trips."""
        for number, text in pairs:
            db.execute("UPDATE answers SET fields = ? WHERE task_type = ? AND number = ? "
                       "AND status = 'ok'", (text, task_type, number))

    def import_answers(self, rows: Iterable[StoredAnswer]) -> int:
        """backend: store answers as they were (checked_at kept), keeping for each
        number the newer one (an "ok" over an "unknown" of the same age): a copy
        of another store, or what the doctor salvaged; idempotent. Returns how
        many rows were offered."""
        raise NotImplementedError

    def iter_answers(self, *, task_type: str | None = None,
                     older_than_days: float | None = None,
                     now: float | None = None) -> Iterator[StoredAnswer]:
        """backend: stored answers ordered by task type and number, read as they
        are consumed; older_than_days keeps those checked more than that many days
        before now. The query starts at the call, so an unreadable store fails
        before the caller opens its output."""
        raise NotImplementedError

    def stalest(self, task_type: str, count: int, *, exclude: Collection[str] = ()) -> list[str]:
        """backend: up to count numbers with a stored answer of task_type, least
        recently checked first, leaving out exclude (a top-up to the minimum task size)."""
        raise NotImplementedError

    def check(self) -> str:
        """backend: "ok", or what is wrong with the store (the doctor's question)."""
        raise NotImplementedError

    #: The GRANT statements this store's role lacks for a check (PostgreSQL; a
    #: SQLite file that cannot be written is StoreReadOnly instead).
    missing_grants: list[str] = []

    def require_grants(self) -> None:
        """backend: raise StoreUnreachable (exit 2) naming each missing grant when
        this store cannot keep what a check pays for; called before a paid call."""

    def wait_for_change(self, timeout: float) -> bool:
        """Block until a job of this store changes state, progress or owner, at
        most timeout seconds; whether a change woke it.

        A process following another's job (another machine's, too) calls it
        between reads of the journal. PostgreSQL wakes it at once (LISTEN/NOTIFY;
        the first call of a thread starts listening and returns False at once, so
        the caller reads the journal after it listens); SQLite simply sleeps."""
        time.sleep(max(0.0, timeout))
        return False

    def size_bytes(self) -> int:
        """backend: how much room the store takes (a file and its WAL; a schema's tables)."""
        raise NotImplementedError

    def schema_version(self) -> int:
        """backend: the version of the store's schema (forward migrations run at open)."""
        raise NotImplementedError

    def close(self) -> None:
        """backend: close this thread's connections."""

    # -- answers ---------------------------------------------------------
    @_translating
    def lookup(self, task_type: str, numbers: Collection[str], *, max_age_days: float,
               unknown_retry_hours: float, retry_unknown: bool = False,
               now: float | None = None, provider: str | None = None,
               needs_fields: bool = False) -> dict[str, tuple[str | None, str]]:
        """Fresh answers among numbers: number -> (value, status). An answer is a
        fact about the number, whoever gave it; with provider, only that
        provider's answers count (TGCHECK_SAME_PROVIDER_ONLY). needs_fields: the
        task type declares fields; an "ok" stored without them does not count."""
        return self._answers_of(task_type, numbers, *self._freshness(
            max_age_days, unknown_retry_hours, retry_unknown, now, provider, needs_fields))

    @_translating
    def lookup_groups(self, task_type: str, numbers: Collection[str], *, max_age_days: float,
                      unknown_retry_hours: float, retry_unknown: bool = False,
                      now: float | None = None, provider: str | None = None,
                      needs_fields: bool = False) -> list[AnswerGroup]:
        """lookup() without a per-number dict: (value, status, numbers) groups.

        Each fresh answer among numbers is in one group; a group may also hold
        numbers that were not asked for (a large set is matched by scanning the
        table). For callers that join by number themselves, e.g. with Arrow.
        """
        return self._answer_groups(task_type, numbers, *self._freshness(
            max_age_days, unknown_retry_hours, retry_unknown, now, provider, needs_fields))[0]

    def _freshness(self, max_age_days, unknown_retry_hours, retry_unknown, now, provider,
                   needs_fields=False):
        now = self._now() if now is None else self._to_store_time(now)
        condition, args = _fresh(max_age_days, unknown_retry_hours, retry_unknown, now)
        if needs_fields:
            # An "ok" stored without fields (before they were kept) does not answer
            # a task type that declares them: it is asked again.
            condition = f"{condition} AND (status <> 'ok' OR fields IS NOT NULL)"
        if provider is None:
            return condition, args
        # An answer of unknown origin (stored before answers recorded it) is not
        # known to be this provider's: not reused under this limit.
        return f"{condition} AND provider = ?", (*args, provider)

    @_translating
    def stored(self, task_type: str, numbers: Collection[str]) -> dict[str, tuple]:
        """Stored answers whatever their age: for a job that has just finished."""
        return self._answers_of(task_type, numbers, "TRUE", ())

    @_translating
    def stored_since(self, task_type: str, numbers: Collection[str], since: float) -> dict:
        """Answers stored at or after `since` (by a job that finished meanwhile)."""
        return self._answers_of(task_type, numbers, "checked_at >= ?",
                                (self._to_store_time(since),))

    @_translating
    def origins(self, task_type: str, numbers: Collection[str]) -> dict[str, StoredAnswer]:
        """number -> its stored answer whatever its age, with where it came from
        (provider, task id, checked_at): for `tgcheck cache show`."""
        found: dict[str, StoredAnswer] = {}
        asked = sorted(set(numbers))
        for start in range(0, len(asked), 500):  # within any backend's parameter limit
            part = asked[start:start + 500]
            rows = self._read().execute(
                f"SELECT {', '.join(ANSWER_COLUMNS)}, provider FROM answers WHERE "
                f"task_type = ? AND number IN ({', '.join('?' * len(part))})",
                (task_type, *part)).fetchall()
            for row in rows:
                answer = StoredAnswer(*row)
                found[answer.number] = answer._replace(
                    checked_at=self._from_store_time(answer.checked_at))
        return found

    @_translating
    def fields_of(self, task_type: str, numbers: Collection[str]) -> dict[str, dict]:
        """number -> its stored fields (the JSON object as stored; a face types them
        with the task type's Field.clean), for the numbers whose "ok" answer has them."""
        found: dict[str, dict] = {}
        asked = sorted(set(numbers))
        for start in range(0, len(asked), 500):  # within any backend's parameter limit
            part = asked[start:start + 500]
            rows = self._read().execute(
                "SELECT number, fields FROM answers WHERE task_type = ? AND status = 'ok' "
                f"AND fields IS NOT NULL AND number IN ({', '.join('?' * len(part))})",
                (task_type, *part)).fetchall()
            for number, text in rows:
                found[number] = json.loads(text)
        return found

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

    # -- the store as a whole: for `tgcheck cache` ------------------------
    def _answer_filter(self, task_type: str | None, older_than_days: float | None,
                       now: float | None) -> tuple[str, list]:
        where, args = [], []
        if task_type:
            where.append("task_type = ?")
            args.append(task_type)
        if older_than_days is not None:
            now = self._now() if now is None else self._to_store_time(now)
            where.append("checked_at < ?")
            args.append(now - older_than_days * 86400)
        return (" WHERE " + " AND ".join(where)) if where else "", args

    @_translating
    def answer_stats(self, *, max_age_days: float, now: float | None = None) -> list[AnswerStats]:
        """Per (task_type, status), ordered by both: how many answers, how many are
        fresh (checked within max_age_days), the oldest and newest checked_at."""
        now = self._now() if now is None else self._to_store_time(now)
        rows = self._read().execute(
            "SELECT task_type, status, COUNT(*), COUNT(*) FILTER (WHERE checked_at > ?), "
            "MIN(checked_at), MAX(checked_at) FROM answers GROUP BY 1, 2 ORDER BY 1, 2",
            (now - max_age_days * 86400,),
        ).fetchall()
        return [AnswerStats(t, s, n, fresh or 0, self._from_store_time(oldest),
                            self._from_store_time(newest))
                for t, s, n, fresh, oldest, newest in rows]

    @_translating
    def job_state_counts(self) -> dict[str, int]:
        """How many jobs the journal holds in each state, ordered by state."""
        return dict(self._read().execute(
            "SELECT state, COUNT(*) FROM jobs GROUP BY 1 ORDER BY 1", ()).fetchall())

    @_translating
    def count_answers(self, *, task_type: str | None = None,
                      older_than_days: float | None = None, now: float | None = None) -> int:
        """How many answers delete_answers with the same arguments would delete."""
        where, args = self._answer_filter(task_type, older_than_days, now)
        return self._read().execute(f"SELECT COUNT(*) FROM answers{where}", args).fetchone()[0]

    @_translating
    def delete_answers(self, *, task_type: str | None = None,
                       older_than_days: float | None = None, now: float | None = None) -> int:
        """Delete stored answers (all, or those of a task type and/or checked more than
        older_than_days before now); the journal is not touched. Returns how many."""
        where, args = self._answer_filter(task_type, older_than_days, now)
        with self._tx() as db:
            return db.execute(f"DELETE FROM answers{where}", args).rowcount

    # -- the journal -----------------------------------------------------
    def _job(self, row) -> Job:
        job = Job.from_row(row)
        for name in _JOB_TIMES:
            setattr(job, name, self._from_store_time(getattr(job, name)))
        return job

    def _one_job(self, where: str, args: tuple, db=None) -> Job | None:
        row = (db or self._read()).execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {where}", args).fetchone()
        return self._job(row) if row else None

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
        return self._one_job(f"key = ? AND state IN {_LIVE_SQL}", (key,))

    @_translating
    def jobs(self, *, states: Sequence[str] | None = None, limit: int = 1000) -> list[Job]:
        """The newest jobs first, of the given states (all when None)."""
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs"
        args: list = []
        if states:
            sql += f" WHERE state IN ({', '.join('?' * len(states))})"
            args.extend(str(s) for s in states)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [self._job(r) for r in self._read().execute(sql, args).fetchall()]

    @_translating
    def job_numbers(self, job_id: int) -> list[str]:
        row = self._read().execute("SELECT numbers FROM jobs WHERE id = ?",
                                   (job_id,)).fetchone()
        return unpack_numbers(row[0]) if row else []

    @_translating
    def job_answers(self, job_id: int) -> list[tuple[str, str | None, str]]:
        """(number, value, status) for each of a job's numbers, in the job's (sorted)
        order, from the stored answers whatever their age: a finished job's answers
        for `tgcheck export`. status is MISSING where the answer has been deleted
        since; a number answered again later has its newer answer."""
        row = self._read().execute("SELECT task_type, numbers FROM jobs WHERE id = ?",
                                   (job_id,)).fetchone()
        if row is None:
            return []
        numbers = unpack_numbers(row[1])
        stored = self.stored(row[0], numbers)
        return [(n, *stored.get(n, (None, MISSING))) for n in numbers]

    @_translating
    def iter_jobs(self) -> Iterator[StoredJob]:
        """Every journal row with its numbers, oldest first (for a copy of the store)."""
        rows = self._read().execute(
            f"SELECT {_JOB_COLUMNS}, numbers FROM jobs ORDER BY id", ()).fetchall()
        for row in rows:
            yield StoredJob(self._job(row), unpack_numbers(row["numbers"]))

    @_translating
    def import_jobs(self, jobs: Iterable[StoredJob]) -> tuple[int, int]:
        """Add journal rows from another store (a copy, or what the doctor
        salvaged), newest first so that of two live rows for one set the newer
        stays live (the older is abandoned). A row already here (same key,
        created_at within 0.1 s) is skipped: importing twice does no harm. Live rows lose their
        owner: whoever drove them drove them elsewhere; the next run takes over.
        Returns (added, of them live)."""
        added = live_added = 0
        with self._tx(exclusive=True) as db:
            for job, numbers in sorted(jobs, key=lambda j: j.job.id, reverse=True):
                created = self._to_store_time(job.created_at)
                # Within a tenth of a second: a time that went through another
                # clock (PostgreSQL's, kept in 1/64 s steps) may differ by a step.
                if db.execute("SELECT 1 FROM jobs WHERE key = ? AND created_at BETWEEN ? AND ?",
                              (job.key, created - 0.1, created + 0.1)).fetchone():
                    continue
                values = dataclasses.asdict(job)
                del values["id"]
                for name in _JOB_TIMES:
                    values[name] = self._to_store_time(values[name])
                live = job.state in LIVE_STATES
                if live and db.execute(f"SELECT 1 FROM jobs WHERE key = ? AND state IN "
                                       f"{_LIVE_SQL}", (job.key,)).fetchone():
                    values["state"], live = ABANDONED.value, False
                if live:
                    values["owner"], values["heartbeat"] = None, None
                values["numbers"] = pack_numbers(numbers)
                values["first_number"], values["last_number"] = number_range(numbers)
                db.execute(f"INSERT INTO jobs ({', '.join(values)}) "
                           f"VALUES ({', '.join('?' * len(values))})", tuple(values.values()))
                added += 1
                live_added += live
        return added, live_added

    @_translating
    def claim(
        self, key: str, provider: str, task_type: str, numbers: Sequence[str], *,
        resubmit: bool = False, since: float = 0.0,
        settled: frozenset[int] = frozenset(),
    ) -> tuple[str, Job]:
        """Decide, atomically across processes (and machines), who drives the job
        for this set.

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
        The row is written here, BEFORE any create call. A driver on another host
        is taken over only once its lease (LEASE_SECONDS on the store's clock)
        has run out.
        """
        me = this_owner()
        # Outside the exclusive section: what costs in proportion to the set.
        packed = pack_numbers(numbers)
        bounds = number_range(numbers)
        with self._tx(exclusive=True) as db:
            now = self._now()
            job = self._one_job(f"key = ? AND state IN {_LIVE_SQL}", (key,), db)
            if job is not None and job.state == STALLED:
                # Its task exists but used its status-call budget: polled again only
                # when the user asks; a resubmit gives it up and creates anew.
                if not resubmit:
                    return STALLED, job
                self._abandon(db, job, now)
                job = None
            if job is None and not resubmit:
                # The set's last task is gone at the provider: a new one is paid
                # again, so only a deliberate resubmit creates it.
                last = self._one_job("key = ? ORDER BY id DESC LIMIT 1", (key,), db)
                if last is not None and last.state == LOST:
                    return LOST, last
            if job is not None:
                alive = job.owner != me and owner_alive(job.owner, job.heartbeat, time.time())
                if job.state == UNCERTAIN or (job.state == SUBMITTING and not alive):
                    if not resubmit:
                        if job.state != UNCERTAIN:
                            self._mark_uncertain(db, job, now)
                        return UNCERTAIN, job
                    self._abandon(db, job, now)
                    job = None
                elif alive:
                    return "wait", job
                else:
                    # Ours already, or its driver is gone: take it over and go on
                    # from where it stands (new: create; open: poll).
                    self._check_account(job)
                    db.execute("UPDATE jobs SET owner=?, heartbeat=?, updated_at=? WHERE id=?",
                               (me, now, now, job.id))
                    job.owner, job.heartbeat = me, self._from_store_time(now)
                    return "drive", job
            found = self._overlapping(db, provider, task_type, numbers, bounds,
                                      self._to_store_time(since), resubmit, now, settled)
            if found is not None:
                return found
            job_id = db.execute(
                """INSERT INTO jobs (key, provider, task_type, count, numbers, state,
                                     owner, heartbeat, created_at, updated_at, account,
                                     first_number, last_number)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                (key, provider, task_type, len(numbers), packed, NEW.value, me, now, now,
                 now, self.account, *bounds),
            ).fetchone()[0]
            return "drive", self._one_job("id = ?", (job_id,), db)

    def _check_account(self, job: Job) -> None:
        """A task belongs to the account whose key created it: another account's
        key cannot poll it. Such a job is left for its member (no second task)."""
        if job.task_id and job.account and self.account and job.account != self.account:
            raise StoreError(
                f"job {job.id} for these numbers holds task {job.task_id}, created with "
                f"another API key (account {job.account}; yours is {self.account}) whose "
                "process is gone: only that key can collect it, with `tgcheck resume`; "
                f"or `tgcheck jobs abandon {job.id}` frees the numbers (a new task is paid)")

    def _overlapping(self, db, provider, task_type, numbers, bounds, since, resubmit, now,
                     settled):
        """(role, job) for a job sharing a number with ours, else None.

        A live job, or one done since the caller's lookup: paying for those
        numbers again would be paying twice ("overlap": wait, then send the
        rest). An uncertain create or a stalled job holding some of them blocks
        ("uncertain", "stalled"), a resubmit too: it gives up only the job of exactly
        its set. With resubmit, a stalled one is opened again with a new status-call
        budget ("reopened": wait for it, as for an overlap, then send the rest).

        Only jobs whose number range (bounds: our first and last) meets ours can
        share a number, and only those are read and unpacked (jobs_overlap covers
        the test): a run's own earlier chunks never are, so a claim costs the same
        whatever the run's size. A job without a range (journaled by an older
        tgcheck) may hold anything: it is always looked into.
        """
        first, last = bounds
        rows = db.execute(
            f"""SELECT {_JOB_COLUMNS}, numbers AS packed FROM jobs
                WHERE provider = ? AND task_type = ?
                  AND (state IN {_LIVE_SQL} OR (state = '{DONE}' AND updated_at >= ?))
                  AND (first_number IS NULL OR (first_number <= ? AND last_number >= ?))
                ORDER BY id""",
            (provider, task_type, since, last, first),
        ).fetchall()
        if not rows:
            return None
        ours = set(numbers)
        for row in rows:
            # settled: finished jobs the caller has already taken what it could from.
            if row["id"] in settled or ours.isdisjoint(unpack_numbers(row["packed"])):
                continue
            job = self._job(row)
            if job.state == SUBMITTING and not owner_alive(job.owner, job.heartbeat,
                                                           time.time()):
                self._mark_uncertain(db, job, now)
            if job.state == STALLED and resubmit:
                # Its task exists and is known: a resubmit of another set must not
                # throw it (and what it cost) away. Polled again with a new budget.
                db.execute(f"UPDATE jobs SET state='{OPEN}', budget_from=status_calls, "
                           "error=NULL, owner=NULL, polled_at=NULL, updated_at=? WHERE id=?",
                           (now, job.id))
                job.state, job.owner = OPEN, None
                return "reopened", job
            if job.state in (UNCERTAIN, STALLED):
                # Left alone even by a resubmit, which gives up only a job for
                # exactly the caller's set: this one may hold a paid task.
                return journal.state_of(job.state), job
            return "overlap", job
        return None

    @staticmethod
    def _mark_uncertain(db, job: Job, now: float) -> None:
        db.execute(
            f"UPDATE jobs SET state='{UNCERTAIN}', owner=NULL, updated_at=?, error=? WHERE id=?",
            (now, "the process creating this task stopped before the task id was recorded",
             job.id),
        )
        job.state = UNCERTAIN

    @staticmethod
    def _abandon(db, job: Job, now: float) -> None:
        # resubmit: the uncertain create is given up, a new one may be made.
        db.execute(f"UPDATE jobs SET state='{ABANDONED}', owner=NULL, updated_at=? WHERE id=?",
                   (now, job.id))
        job.state = ABANDONED

    _UPDATABLE = frozenset(
        {"state", "task_id", "status", "total", "success", "failure", "error", "owner",
         "budget_from", "estimated_amount", "actual_amount", "currency", "polled_at",
         "moved_at"}
    )

    @_translating
    def update_job(self, job_id: int, *, status_call: bool = False,
                   expect_state: str | tuple[str, ...] | None = None, **fields) -> bool:
        """Update a job; with expect_state, only while it is still in that state
        (or one of those states). Returns whether a row changed. Also beats the
        job's heartbeat (the caller drives it).

        A new state must be a step of the journal's transition table
        (journal.TRANSITIONS): an expected state that cannot go there raises
        IllegalTransition at once; without expect_state, a job found in a state
        that cannot go there raises it too (nothing is written).
        Callers use journal.py's named steps rather than this."""
        bad = set(fields) - self._UPDATABLE
        if bad:
            raise ValueError(f"not updatable: {bad}")
        target, guarded = None, expect_state is not None
        if "state" in fields:
            target = journal.state_of(fields["state"])
            fields["state"] = target.value  # the stored word, for either driver
            if expect_state is not None:
                for old in (expect_state,) if isinstance(expect_state, str) else expect_state:
                    journal.check(old, target, job_id)
            else:
                expect_state = journal.sources(target)
        # The journal is a file the key must never reach, and `tgcheck jobs` prints
        # these: provider text passes the redaction point on its way in.
        for name, limit in (("error", ERROR_LIMIT), ("status", 40), ("currency", 16),
                            ("estimated_amount", 40), ("actual_amount", 40)):
            if isinstance(fields.get(name), str):
                fields[name] = redact.clean(fields[name], limit)
        for name in ("polled_at", "moved_at"):
            if fields.get(name) is not None:
                fields[name] = self._to_store_time(fields[name])
        where, where_args = "id = ?", [job_id]
        if expect_state is not None:
            states = (expect_state,) if isinstance(expect_state, str) else tuple(expect_state)
            where += f" AND state IN ({', '.join('?' * len(states))})"
            where_args.extend(str(s) for s in states)
        with self._tx() as db:
            now = self._now()
            sets = [f"{k} = ?" for k in fields] + ["updated_at = ?", "heartbeat = ?"]
            if status_call:
                sets.append("status_calls = status_calls + 1")
            cur = db.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE {where}",
                             (*fields.values(), now, now, *where_args))
            if cur.rowcount > 0:
                return True
            if target is not None and not guarded:
                job = self._one_job("id = ?", (job_id,), db)
                if job is not None:
                    journal.check(job.state, target, job_id)
            return False

    # Jobs a known task id may be attached to: its create's outcome is unknown
    # or was never recorded (new: cut off before the create was journaled).
    ATTACHABLE = journal.ATTACHABLE

    @_translating
    def attach_task(self, job_id: int, task_id: str, *, given_up_by: str | None = None) -> Job:
        """Record a task created for this job whose id the journal lost (a full
        disk right after the create, a cut-off reply): the job becomes open, and
        the next run or `tgcheck resume` polls the task instead of paying again.
        given_up_by: the owner that wrote the id to the recovery file, and so
        stopped driving the job (its process may live on: Excel).
        Returns the job as it was; raises StoreError when it cannot take one."""
        with self._tx(exclusive=True) as db:
            job = self._one_job("id = ?", (job_id,), db)
            if job is None:
                raise StoreError(f"no job {job_id} in the journal")
            if job.state not in self.ATTACHABLE:
                raise StoreError(
                    f"job {job_id} is {job.state}"
                    + (f" with task {job.task_id}" if job.task_id else "")
                    + f": only {', '.join(self.ATTACHABLE)} jobs take a task id")
            if job.owner and job.owner not in (this_owner(), given_up_by) and \
                    owner_alive(job.owner, job.heartbeat, time.time()):
                raise StoreError(f"job {job_id} is being driven by {job.owner}; wait for it")
            other = db.execute("SELECT id FROM jobs WHERE task_id = ? AND id != ?",
                               (task_id, job_id)).fetchone()
            if other is not None:
                raise StoreError(f"task {task_id} already belongs to job {other[0]}")
            db.execute(f"UPDATE jobs SET state='{OPEN}', task_id=?, owner=NULL, heartbeat=NULL, "
                       "error=NULL, updated_at=? WHERE id=?", (task_id, self._now(), job_id))
            return job

    @_translating
    def reopen(self, job_id: int) -> bool:
        """A stalled job open again, with a new status-call budget (the user asked)."""
        with self._tx() as db:
            return db.execute(
                # polled_at cleared: the user asked, so the first poll is at once
                # (then the backoff goes on from how long the task has been still).
                f"UPDATE jobs SET state='{OPEN}', budget_from=status_calls, error=NULL, "
                f"polled_at=NULL, updated_at=? WHERE id=? AND state='{STALLED}'",
                (self._now(), job_id)
            ).rowcount > 0

    @_translating
    def abandon_job(self, job_id: int, reason: str) -> Job | None:
        """End a live job on purpose (`tgcheck jobs abandon`): its numbers are free
        to be sent again. Returns the job as it was, or None when it is not live."""
        with self._tx() as db:
            job = self._one_job("id = ?", (job_id,), db)
            if job is None or job.state not in journal.ABANDONABLE:
                return None
            db.execute(f"UPDATE jobs SET state='{ABANDONED}', owner=NULL, error=?, updated_at=? "
                       "WHERE id=?", (reason, self._now(), job_id))
            return job

    @_translating
    def forget_unsent(self, job_id: int) -> bool:
        """Remove a job whose create never reached anyone (the provider could not be
        connected to): no task can exist, so there is nothing to journal. Only a
        job without a task id, still being created by this process, is removed."""
        with self._tx() as db:
            return db.execute(
                "DELETE FROM jobs WHERE id = ? AND task_id IS NULL AND owner = ? "
                f"AND state IN {journal.sql_list((NEW, SUBMITTING))}",
                (job_id, this_owner())).rowcount > 0

    @_translating
    def heartbeat(self, job_id: int) -> None:
        """The driver is alive: its lease runs LEASE_SECONDS from now (store's clock)."""
        with self._tx() as db:
            db.execute("UPDATE jobs SET heartbeat = ? WHERE id = ?", (self._now(), job_id))

    @_translating
    def finish_job(
        self, job: Job, task_type: str, rows: Sequence[tuple[str, str | None, str]], *,
        provider: str | None = None, fields: Mapping[str, Mapping] | None = None,
    ) -> None:
        """Store the answers and close the job in one transaction: a crash here
        leaves the job open, to be finished by the next run, never half-stored.
        Each answer records provider (the provider's name; by default the name
        part of the job's "name:server" identity), the job's task id and when;
        fields: number -> its typed fields, kept with each "ok" answer."""
        provider = provider or job.provider.partition(":")[0] or None
        with self._tx() as db:
            now = self._now()  # inside the transaction: as close to the commit as can be
            self._save_answers(db, task_type, rows, job.task_id, now, provider)
            if fields:
                self._save_fields(db, task_type, (
                    (number, fields_json(fields[number])) for number, _, status in rows
                    if status == OK and number in fields))
            db.execute(
                f"UPDATE jobs SET state='{DONE}', owner=NULL, error=NULL, updated_at=? WHERE id=?",
                (now, job.id),
            )

    @_translating
    def release(self, job_id: int) -> None:
        """Leave a live job for another process or a later run to pick up."""
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET owner=NULL, heartbeat=NULL, updated_at=? WHERE id=? AND owner=?",
                (self._now(), job_id, this_owner()),
            )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
