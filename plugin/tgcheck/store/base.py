"""The store contract: answers already paid for, and the journal of jobs.

`BaseStore` is what the engine, the faces and the doctor use; its docstrings are
the contract both backends keep (SQLite, `sqlite.py`; PostgreSQL, `postgres.py`).
The journal's decisions (who drives a job, who waits, what is taken over) are
written once, in SQL both databases speak, in the modules BaseStore is made of:
`answers.py` (lookups, the store as a whole), `jobs.py` (the journal's rows),
`claims.py` (who drives a set's job); a backend brings its connections, its
transactions, its clock and its bulk paths for answers.

Times are epoch seconds. A backend may keep them on another clock (PostgreSQL:
the database's, shared by every machine); what it hands out and takes in is on
this host's clock, so `store.owner_alive(job.owner, job.heartbeat, time.time())`
holds on either.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Collection, Iterable, Iterator

from .answers import AnswerQueries
from .claims import Claims
from .jobs import JobRecords
from .owners import owner_alive, this_owner
from .rows import AnswerGroup, StoredAnswer
from .tuning import DEFAULT_TUNING, StoreTuning


class BaseStore(AnswerQueries, JobRecords, Claims):
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
    #: The values this store decides by (lease, owner name, lookup strategy):
    #: given to the constructor, read at each use.
    tuning: StoreTuning = DEFAULT_TUNING

    @property
    def owner(self) -> str:
        """Whom this store names as the driver of the jobs it claims: host:pid of
        this process, unless the tuning names another owner."""
        return self.tuning.owner or this_owner(self.tuning.host)

    def owner_alive(self, owner: str | None, heartbeat: float | None, now: float) -> bool:
        """owners.owner_alive with this store's lease and host."""
        return owner_alive(owner, heartbeat, now, lease_seconds=self.tuning.lease_seconds,
                           host=self.tuning.host)

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
        A stored "ok" is kept over an "unknown" (its origin too). rows may be
        rows.AnswerRows (a job's answers, grouped by answer): its `groups` are
        each answer's numbers, for a backend that inserts them so."""
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

    # -- optional: for a memo of answers already read (the SQL face's) -------
    def change_token(self) -> object | None:
        """A value that differs whenever anything was committed to the store since
        it was last taken, by any connection of any process (this one's included);
        equal values: nothing was. The default, None, says the backend cannot
        tell: nothing may then be served from a memo, and every query reads the
        store (answer_columns is only called on a store with a token)."""
        return None

    def answer_columns(self, task_type: str, numbers: Collection[str]
                       ) -> tuple[list[tuple[str | None, str, str | None, str, str]], bool]:
        """backend (with change_token): every stored answer of task_type among
        numbers, whatever its age, as (value, status, provider, numbers,
        checked_at) groups, numbers and checked_at (the store's clock) each one
        string joined by newlines, in the same order; and whether the groups hold
        asked numbers only (False: a scan, they may hold more)."""
        raise NotImplementedError

    def size_bytes(self) -> int:
        """backend: how much room the store takes (a file and its WAL; a schema's tables)."""
        raise NotImplementedError

    def schema_version(self) -> int:
        """backend: the version of the store's schema (forward migrations run at open)."""
        raise NotImplementedError

    def close(self) -> None:
        """backend: close this thread's connections."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
