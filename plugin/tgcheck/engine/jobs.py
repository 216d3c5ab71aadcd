"""Jobs: one job (one paid task) per set of numbers, however many ask for it.

Threads of this process that want the same set meet in _inflight and wait for
the one driving it; processes and hosts meet in the journal (BaseStore.claim),
whose answer is a role: drive it (the driver), wait for another's job (watch
it through the journal, no API call), let an overlapping job finish first, or
stop with the way out of a stalled, lost or uncertain job.
"""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import Future

from ..errors import DeadlineExceeded, JobStalled, TaskFailed, TaskLost, UncertainCreate
from ..models import JobEvent
from ..models import processed as processed_of
from ..store import Job, journal
from ..store.journal import DONE, ENDED, NEW, OPEN, STALLED, UNCERTAIN
from ..store.journal import FAILED as JOB_FAILED
from ..store.journal import LOST as JOB_LOST
from .cancel import WATCH_EVERY, Cancelled, _await_change, _sleep, _wait_future
from .messages import RESUBMIT_HINT, lost_message, stalled_message
from .part import EnginePart
from .request import CheckRequest, number_set_key, tell

# In-flight jobs of this process, shared by every Engine: the journal's lease is
# per process, so threads of one process must meet here, not in SQLite.
_inflight: dict[tuple[str, str], Future] = {}
_inflight_lock = threading.Lock()


def driving(store, key: str) -> bool:
    """Whether a thread of this process drives the job of this set now."""
    with _inflight_lock:
        return (str(store.path), key) in _inflight


class Jobs(EnginePart):
    """One job per number set, shared by threads and processes; one per Engine."""

    def _shared_job(self, numbers, request: CheckRequest) -> dict[str, tuple]:
        cancel = request.cancel
        key = number_set_key(self.provider.identity, request.ttype.name, numbers)
        slot = (str(self.store.path), key)
        while True:
            with _inflight_lock:
                future = _inflight.get(slot)
                mine = future is None
                if mine:
                    future = _inflight[slot] = Future()
            if mine:
                break
            try:
                return _wait_future(future, cancel)
            except (Cancelled, KeyboardInterrupt):
                if cancel is not None and cancel.is_set():
                    raise
                # The thread driving it was stopped, not us: take the job over.
        try:
            result = self._run_job(key, numbers, request)
        except BaseException as e:
            future.set_exception(e)
            raise
        else:
            future.set_result(result)
            return result
        finally:
            with _inflight_lock:
                _inflight.pop(slot, None)

    def _run_job(self, key, numbers, request: CheckRequest) -> dict[str, tuple]:
        request = request.with_(deadline=time.monotonic() + self.settings.timeout)
        ttype = request.ttype
        # Before the claim and any paid call: a store that cannot keep the answers
        # would make every run pay for them again.
        self.store.require_grants()
        settled: set[int] = set(request.settled)
        for attempt in itertools.count():
            if attempt:
                # Never spin: each new claim takes the store's write lock.
                _sleep(WATCH_EVERY, request.deadline, request.cancel)
            # A caller that looked the store up just before another caller (a
            # thread or a process) stored this set must not pay for it again.
            role, job = self.store.claim(key, self.provider.identity, ttype.name, numbers,
                                         resubmit=request.resubmit, since=request.since,
                                         settled=frozenset(settled))
            if role == "reopened":
                self.engine.planning._notify(request, len(numbers), (
                    f"job {job.id} (task {job.task_id}) holds {job.count} numbers, some of "
                    "these, and was stalled: --resubmit gives up only a task for exactly "
                    "this set, so that paid task is polled again with a new budget and "
                    "only the numbers it does not hold are sent"))
                role = "overlap"
            if role == "overlap":
                found = self._after_overlap(job, numbers, request)
                if found:
                    rest = [n for n in numbers if n not in found]
                    if rest:
                        # The rest is a task of its own: sized, and held to the minimum.
                        found.update(self.engine.planning._sized_job(rest, request))
                    return found
                # It answered none of ours (it failed, or its answers were
                # cleared since): claim again, past it once it is over.
                if self.store.job(job.id).state in ENDED:
                    settled.add(job.id)
                continue
            if role == STALLED:
                raise JobStalled(stalled_message(job, self.settings.max_status_calls))
            if role == JOB_LOST:
                raise TaskLost(lost_message(job))
            if role == UNCERTAIN:
                if job.key == key:
                    raise UncertainCreate(
                        f"a task for these may already exist (job {job.id}): "
                        f"{job.error or 'the create call was cut off'}. {RESUBMIT_HINT}")
                # --resubmit gives up only a job for exactly this set: this one
                # holds other numbers too, and maybe a paid task.
                raise UncertainCreate(
                    f"a task for {job.count} numbers, some of these, may already exist "
                    f"(job {job.id}): {job.error or 'the create call was cut off'}. Check "
                    "the provider's dashboard: if the task is there, `tgcheck jobs attach "
                    f"{job.id} TASK_ID` records it; if not, `tgcheck jobs abandon {job.id}` "
                    "frees its numbers (--resubmit does not give up a job of another set)")
            if role == "drive":
                # The driver (and the HTTP error handling it brings) is imported
                # by the first job driven: a cached check drives none (0.005 s).
                from .driver import _Driver

                return _Driver(self.store, self.provider, self.settings, self._emit,
                               self.creates, job, numbers, request,
                               recovery=self.recovery, tuning=self.engine.tuning).run()
            if self._watch(job, numbers, request):
                found = self.store.stored(ttype.name, numbers)
                rest = [n for n in numbers if n not in found]
                if rest:
                    # A fast path's job (tgcheck.fast_path) stores only what it
                    # answered; what it left went to a task of its own: find it.
                    found.update(self.engine.planning._sized_job(rest, request.with_(
                        settled=request.settled | {job.id})))
                return found
            # The other driver died: claim again, and maybe take over.
        raise AssertionError("unreachable")

    def _after_overlap(self, other: Job, numbers, request: CheckRequest) -> dict[str, tuple]:
        """Let the job holding some of our numbers finish; what it answered of ours."""
        if other.state != DONE:
            try:
                finished = self._watch(other, numbers, request)
            except TaskFailed:
                finished = True  # nothing of ours was answered: the caller sends it all
            if not finished and self.store.job(other.id).state in (NEW, OPEN):
                # Its driver is gone: finish it here rather than pay for its numbers.
                self._shared_job(self.store.job_numbers(other.id), request.with_(
                    resubmit=False, since=self.engine.planning._answered_since(time.time()),
                    fill=None))
        return self.store.stored_since(request.ttype.name, numbers, request.since)

    def _watch(self, job: Job, numbers, request: CheckRequest) -> bool:
        """Follow a job driven by another process through the journal (no API calls).

        True when it is done; False when its driver is gone."""
        seen = None
        while True:
            current = self.store.job(job.id)
            if current is None:  # its create reached no one: the row was removed
                return False
            if current.state == DONE:
                return True
            if current.state == JOB_FAILED:
                # A create the provider refused has no task id: name the job then.
                what = (f"task {current.task_id}" if current.task_id
                        else f"job {current.id} (no task was created)")
                raise TaskFailed(f"{what} failed: {current.error}")
            if current.state == STALLED:
                raise JobStalled(stalled_message(current, self.settings.max_status_calls))
            if current.state in (UNCERTAIN, journal.ABANDONED, JOB_LOST):
                return False
            if not self.store.owner_alive(current.owner, current.heartbeat, time.time()):
                return False
            progress = (current.status, current.success, current.total)
            if progress != seen:
                seen = progress
                self._emit(request, current, "progress", len(numbers),
                           message="driven by another process", driven_by=current.owner)
            try:
                _await_change(self.store, request.deadline, request.cancel)
            except DeadlineExceeded:
                raise DeadlineExceeded(
                    f"task {current.task_id or '(being created)'} (job {current.id}), driven by "
                    "another process, is not finished within the timeout; run the same check "
                    "again later to collect it"
                ) from None

    def _emit(self, request: CheckRequest, job: Job, kind, count, *, processed=None,
              message=None, driven_by=None) -> None:
        """A JobEvent of this job (as the journal has it now) to the plugins and
        the caller's listener. Billed calls are counted by the provider's rule."""
        tell(request, JobEvent(
            kind=kind, job_key=job.key, task_type=request.ttype.name, numbers=count,
            task_id=job.task_id, status=job.status, total=job.total,
            processed=processed if processed is not None else processed_of(job.success,
                                                                            job.failure),
            status_calls=job.status_calls, message=message,
            simulated=self.settings.simulated,
            billed_calls=self._billed_calls(job), driven_by=driven_by,
        ))

    def _billed_calls(self, job: Job) -> int:
        """The job's billed calls by its provider's rule."""
        return self.provider.billed_calls(job.status_calls, bool(job.task_id), job.count)
