"""Claims: who drives the job for a number set, decided atomically across
processes and machines, and the overlap test against other sets' jobs.

A part of BaseStore (base.py), written once in SQL both backends speak, under
the backend's exclusive transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: an
advisory lock).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..errors import StoreError
from . import journal
from .journal import ABANDONED, DONE, LIVE_STATES, LOST, NEW, OPEN, STALLED, SUBMITTING, UNCERTAIN
from .packing import number_range, pack_numbers, unpack_numbers
from .rows import _JOB_COLUMNS, Job
from .translating import _translating

# The journal's states as SQL list literals (journal.py's own words).
_LIVE_SQL = journal.sql_list(LIVE_STATES)


class Claims:
    """BaseStore's claim and its helpers (a part of BaseStore, not used alone)."""

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
        is taken over only once its lease (tuning.lease_seconds, on the store's clock)
        has run out.
        """
        me = self.owner
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
                alive = job.owner != me and self.owner_alive(job.owner, job.heartbeat, time.time())
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
            if job.state == SUBMITTING and not self.owner_alive(job.owner, job.heartbeat,
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
