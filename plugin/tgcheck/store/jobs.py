"""The journal's rows: reading jobs, importing them from another store, and the
updates a job's life makes (state steps go through journal.py's named steps).

A part of BaseStore (base.py), written once in SQL both backends speak.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence

from .. import redact
from ..errors import StoreError
from ..fields import fields_json
from ..models import OK
from . import journal
from .journal import ABANDONED, DONE, LIVE_STATES, NEW, OPEN, STALLED, SUBMITTING
from .packing import number_range, pack_numbers, unpack_numbers
from .rows import _JOB_COLUMNS, _JOB_TIMES, MISSING, Job, StoredJob
from .translating import _translating

# The journal's states as SQL list literals (journal.py's own words).
_LIVE_SQL = journal.sql_list(LIVE_STATES)
# A job's error text is bounded: it quotes the provider.
ERROR_LIMIT = 2000


class JobRecords:
    """BaseStore's journal rows (a part of BaseStore, not used alone)."""

    @_translating
    def job_state_counts(self) -> dict[str, int]:
        """How many jobs the journal holds in each state, ordered by state."""
        return dict(self._read().execute(
            "SELECT state, COUNT(*) FROM jobs GROUP BY 1 ORDER BY 1", ()).fetchall())


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
            if job.owner and job.owner not in (self.owner, given_up_by) and \
                    self.owner_alive(job.owner, job.heartbeat, time.time()):
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
                (job_id, self.owner)).rowcount > 0

    @_translating
    def heartbeat(self, job_id: int) -> None:
        """The driver is alive: its lease runs tuning.lease_seconds from now (store's clock)."""
        with self._tx() as db:
            db.execute("UPDATE jobs SET heartbeat = ? WHERE id = ?", (self._now(), job_id))

    @_translating
    def finish_job(
        self, job: Job, task_type: str, rows: Sequence[tuple[str, str | None, str]], *,
        provider: str | None = None, fields: Mapping[str, Mapping] | None = None,
        task_ids: Mapping[str, str] | None = None,
    ) -> None:
        """Store the answers and close the job in one transaction: a crash here
        leaves the job open, to be finished by the next run, never half-stored.
        Each answer records provider (the provider's name; by default the name
        part of the job's "name:server" identity), the job's task id and when;
        fields: number -> its typed fields, kept with each "ok" answer;
        task_ids: number -> its own id instead of the job's (a synchronous
        check's transaction: the fast path, a few numbers)."""
        provider = provider or job.provider.partition(":")[0] or None
        with self._tx() as db:
            now = self._now()  # inside the transaction: as close to the commit as can be
            self._save_answers(db, task_type, rows, job.task_id, now, provider)
            if fields:
                self._save_fields(db, task_type, (
                    (number, fields_json(fields[number])) for number, _, status in rows
                    if status == OK and number in fields))
            for number, task_id in (task_ids or {}).items():
                db.execute("UPDATE answers SET task_id = ? WHERE task_type = ? AND number = ? "
                           "AND status = 'ok'", (task_id, task_type, number))
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
                (self._now(), job_id, self.owner),
            )
