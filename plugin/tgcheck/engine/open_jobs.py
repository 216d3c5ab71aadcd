"""The journal's open jobs outside a check: resume them, attach recovered task
ids, ask for one task's status by hand (`tgcheck resume`, `tgcheck status`).

What a crash, a timeout or a full disk left behind is finished here by the same
jobs and driver a check uses, so a resumed job pays nothing a check would not.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from .. import plugins
from ..billing import billing_of
from ..errors import StoreError, TaskLost, TgcheckError
from ..models import TaskStatus
from ..models import processed as processed_of
from ..polling import shows_progress
from ..provider import QUEUED, STATES
from ..settings import is_loopback
from ..store import Job, journal
from ..store.journal import LIVE_STATES, STALLED, SUBMITTING, UNCERTAIN
from .cancel import Cancelled, _on_main_thread, _Stop, _wait_future
from .messages import lost_message
from .part import EnginePart
from .request import CheckRequest

log = logging.getLogger("tgcheck.engine")


class PolledTask(NamedTuple):
    """What Engine.poll_once saw and kept."""

    record: TaskStatus
    job: Job | None  # this server's job of the task, as it is now
    reopened: bool  # a stalled job, opened again with a new status-call budget
    other: Job | None  # another server's job with this task id: left as it is


class OpenJobs(EnginePart):
    """Open jobs by name or all at once, outside a check; one per Engine."""

    def resume(self, *, on_event=None, cancel=None,
               skipped: list[tuple[Job, str]] | None = None) -> int:
        """Finish this server's open jobs (left by a crash or a timeout), and stalled
        ones with a new status-call budget; uncertain ones are left alone, they need
        a deliberate resubmit. Returns how many.

        skipped, when given, receives (job, why) for each live job left alone."""
        finished, errors = 0, []
        jobs, planning = self.engine.jobs, self.engine.planning
        self.attach_recovered()
        for job in self.store.jobs(states=LIVE_STATES):
            why = self._resume_skip_reason(job)
            if why is not None:
                if skipped is not None:
                    skipped.append((job, why))
                continue
            # Before its first paid call, as a check (outside the per-job errors: a
            # setting to fix, exit 2, the same for every job).
            self.store.require_grants()
            if job.state == STALLED:
                journal.reopened(self.store, job.id)
            # The task type as the job's own provider reads it ("name:server").
            ttype = plugins.get_task_type(
                job.task_type, job.provider.partition(":")[0] or self.settings.provider)
            request = CheckRequest(job.task_type, on_event=on_event, ttype=ttype)
            numbers = self.store.job_numbers(job.id)
            try:
                self._on_worker(cancel, lambda stop, request=request, numbers=numbers:
                                jobs._shared_job(numbers, request.with_(
                                    cancel=stop, since=planning._answered_since(time.time()))))
            except (Cancelled, KeyboardInterrupt):
                raise
            except TgcheckError as e:  # one bad job must not keep the others waiting
                errors.append(f"job {job.id}: {e}")
                continue
            finished += 1
        if errors:
            raise TgcheckError(f"{finished} open job(s) finished, {len(errors)} not: "
                               + "; ".join(errors))
        return finished

    def attach_recovered(self) -> int:
        """Attach the paid tasks the journal could not record (kept in the recovery
        file) to their jobs, now that the store may be writable again: they are
        collected, never paid for again. Returns how many were attached."""
        if self.recovery is None:
            return 0
        attached = 0
        for entry in self.recovery.pending():
            job_id, task_id = entry.get("job"), entry.get("task")
            try:
                job = self.store.job(job_id) if isinstance(job_id, int) else None
            except StoreError as e:  # the check itself says what is wrong with the store
                log.warning("paid task %s not attached to job %s yet: %s", task_id, job_id, e)
                break
            if job is not None and job.task_id == task_id:
                self.recovery.attached(task_id)  # recorded meanwhile (jobs attach)
                continue
            if job is None or job.state not in self.store.ATTACHABLE or \
                    job.key != entry.get("key", job.key):
                # Abandoned (a deliberate resubmit), gone, or another set's job (a
                # store made anew): never attached; said once, in the log, and
                # kept in the file, with its id.
                why = (f"job {job_id} is " + ("not in the journal" if job is None else
                       job.state if job.key == entry.get("key", job.key) else
                       "another set's now"))
                log.warning("paid task %s cannot be attached (%s); `tgcheck status %s` "
                            "shows it", task_id, why, task_id)
                self.recovery.unattachable(task_id, why)
                continue
            try:
                journal.attached(self.store, job.id, task_id, entry.get("owner"))
            except StoreError as e:
                # Not writable yet, or its job is driven elsewhere: left for later.
                log.warning("paid task %s not attached to job %s yet: %s", task_id, job_id, e)
                break
            self.recovery.attached(task_id)
            attached += 1
        return attached

    def abandon(self, job_id: int, reason: str) -> Job | None:
        """End a live or lost job on purpose (`tgcheck jobs abandon`): its numbers
        are free again. Returns the job as it was, None when its state cannot be
        abandoned."""
        return journal.abandoned(self.store, job_id, reason)

    def attach(self, job_id: int, task_id: str) -> Job:
        """Give a job the task id the journal lost (`tgcheck jobs attach`): the job
        is open again, and the id, if the recovery file holds it, is settled there
        too, so no run attaches it again. Returns the job as it was."""
        recovery = self.recovery
        # A process that wrote this id down gave the job up, though it may live on.
        was = journal.attached(self.store, job_id, task_id,
                               recovery and recovery.given_up_by(task_id))
        if recovery is not None:
            recovery.attached(task_id)
        return was

    def settle_interrupted(self, job_ids, why: str) -> int:
        """After Ctrl-C: jobs whose create was still on its way when the process
        leaves are uncertain (a task may exist, and be paid). Returns how many."""
        return journal.settled_after_interrupt(self.store, job_ids, why)

    def _on_worker(self, cancel, fn):
        """fn(stop) on a worker thread, waited for here: as in _send, Ctrl-C (this
        thread only) never cuts a create mid-request; on it, the stop is set and
        the worker not waited for (the caller waits for self.creates)."""
        if not _on_main_thread():
            return fn(cancel)  # no Ctrl-C can reach this thread
        stop = _Stop(cancel)
        pool = ThreadPoolExecutor(1, thread_name_prefix="tgcheck-job")
        try:
            return _wait_future(pool.submit(fn, stop), None)
        except KeyboardInterrupt:
            self.creates.in_flight(stop)  # stop set under the gate's lock
            raise
        finally:
            pool.shutdown(wait=False)

    def poll_once(self, task_id: str) -> PolledTask:
        """Ask the provider once for a task's record (`tgcheck status`), and keep it in
        the journal like the driver's own polls: a task the provider no longer knows
        makes its live job lost (TaskLost is raised); a stalled job is opened again
        with a new status-call budget (the user asked). Only a job made against this
        server is touched.

        Returns the record, the job as it is now, whether it was reopened, and a
        job of another server holding this task id (left alone)."""
        job = self.store.job_by_task_id(task_id)
        other = None
        if job is not None and job.provider != self.provider.identity:
            # Another server's task id: what this server says (a 404) is not
            # about that job, which is left as it is.
            other, job = job, None
        try:
            record = self.provider.get_status(task_id)
        except TaskLost:
            if job is not None and job.state in LIVE_STATES:
                journal.lost(self.store, job.id, "the provider does not know the task (status)")
                raise TaskLost(lost_message(self.store.job(job.id))) from None
            raise
        if job is None:
            return PolledTask(record, None, False, other)
        self.record_status(job, record)
        reopened = job.state == STALLED and journal.reopened(self.store, job.id)
        return PolledTask(record, self.store.job(job.id), reopened, None)

    def record_status(self, job: Job, record: TaskStatus) -> None:
        """A status seen outside the driver (asked by hand), kept like a poll's: a
        later run's first wait counts from this call, and only progress seen here
        (the task moved, or is exported) ends the backoff."""
        from .driver import _amounts  # not imported by a check that drives no job

        now = time.time()
        if record.state not in STATES:
            record = dataclasses.replace(record, state=self.provider.state_of(record.status))
        fields = {"status": record.status, "total": record.total, "success": record.success,
                  "failure": record.failure, **_amounts(record)}
        # What was seen, as the driver's schedule restores it (a word without a state
        # counts as queued): only a live state or count beyond it is progress.
        seen = (self.provider.state_of(job.status) or QUEUED,
                processed_of(job.success, job.failure) or 0)
        if shows_progress(seen, record):
            fields["moved_at"] = now
        journal.polled(self.store, job.id, billed=billing_of(self.provider).status,
                       polled_at=now, **{k: v for k, v in fields.items() if v is not None})

    def _resume_skip_reason(self, job: Job) -> str | None:
        """Why resume leaves this live job alone, or None to finish it."""
        if job.provider != self.provider.identity:
            server = job.provider.partition(":")[2] or job.provider
            if server == "sandbox":
                return "made by `check --sandbox`: run `tgcheck resume --sandbox`"
            if is_loopback(server):
                # A sandbox, a relay or a tunnel: the address alone cannot tell.
                return (f"made against the local server at {server}: while it runs, `tgcheck "
                        "resume` with TGCHECK_BASE_URL set to it collects it")
            return f"made for another server ({server})"
        if job.state == UNCERTAIN:
            return ("its create may have reached the provider (uncertain): check the "
                    "dashboard, then `tgcheck check ... --resubmit` to create it again")
        if job.state == SUBMITTING and self.store.owner_alive(job.owner, job.heartbeat,
                                                              time.time()):
            return "another process is creating its task now"
        if job.state == SUBMITTING:
            return ("its create was cut off (its outcome is unknown): the next check of "
                    "these numbers says how to resubmit")
        return None
