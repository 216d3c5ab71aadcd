"""The driver: one job's paid task from its create to its stored answers.

Create once (journaled before and after, Ctrl-C safe through the create gate),
poll by the schedule within the status-call cap, collect the result (a file or
pages of records) and store it joined by number. Every error after a create
names its task: a paid task's id is never only in a scrolled-away line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
import threading
import time
from collections.abc import Mapping

from .. import billed_calls, connect, plugins, redact
from ..answer_column import ANSWERED_UNKNOWN, number_of
from ..billing import billing_of
from ..create_gate import CreateGate
from ..errors import (
    ApiError,
    DeadlineExceeded,
    JobStalled,
    ResultFileError,
    StoreError,
    TaskFailed,
    TaskLost,
    TaskTooLarge,
    TgcheckError,
    UncertainCreate,
)
from ..models import OK, UNKNOWN, TaskStatus
from ..models import processed as processed_of
from ..normalize import resolve_all
from ..polling import STUCK_EXPORT, PollSchedule
from ..provider import FAILED, LOST, READY, STATES, CallContext, Provider, created_record
from ..result_size import budget as result_size_budget
from ..result_size import result_budget
from ..settings import Settings
from ..store import AnswerRows, BaseStore, Job, journal
from ..store.journal import DONE, NEW, OPEN
from ..store.recovery import RecoveryFile
from .answers import GroupedAnswers
from .cancel import Cancelled, _sleep
from .messages import RESUBMIT_HINT, lost_message, stalled_message
from .request import CheckRequest
from .tuning import Tuning

log = logging.getLogger("tgcheck.engine")

# Result files that could not be fetched or read before the job is left open.
# _store_found's key of an explicit unknown (a real answer may be any text).
_SAID_UNKNOWN = object()
MAX_BAD_FILES = 3
# Records a provider's result pages may hold per number sent (repeats allowed).
MAX_RECORDS_PER_NUMBER = 4


def _amounts(status: TaskStatus) -> dict:
    """The journal's amount columns a status reports (none: leave them as they are)."""
    fields = {"estimated_amount": status.estimated_amount,
              "actual_amount": status.actual_amount, "currency": status.currency}
    return {k: v for k, v in fields.items() if v is not None}


class _Driver:
    """Drives one journal entry to its end: create (if new), poll, download, store.

    Its collaborators are handed to it: the store, the provider, the settings,
    emit(request, job, kind, count, processed=, message=) for job events, and the
    create gate; the request says what was asked (task type, listener, stop,
    deadline). It reads the provider's records by their normalised state only.
    """

    def __init__(self, store: BaseStore, provider: Provider, settings: Settings, emit,
                 creates: CreateGate, job: Job, numbers, request: CheckRequest,
                 recovery: RecoveryFile | None = None, tuning: Tuning | None = None):
        self.store, self.provider, self.settings = store, provider, settings
        self.recovery, self.tuning = recovery, tuning or Tuning()
        self._emit, self.creates = emit, creates
        self.job, self.numbers, self.request = job, numbers, request
        self.ttype, self.deadline, self.cancel = request.ttype, request.deadline, request.cancel
        # The id of a task this driver created: in memory first, before the journal.
        self.created: str | None = None

    def emit(self, kind, status: TaskStatus | None = None, message=None):
        self._emit(self.request, self.store.job(self.job.id), kind, len(self.numbers),
                   processed=status.processed if status else None, message=message)

    def _beat_until(self, stop: threading.Event) -> None:
        # The lease must outlive slow calls too (a create retried for minutes,
        # a long download), not only the sleeps between polls.
        while not stop.wait(self.tuning.heartbeat_every):
            try:
                self.store.heartbeat(self.job.id)
            except TgcheckError:  # pragma: no cover - a damaged store shows elsewhere
                return

    def run(self) -> Mapping[str, tuple]:
        stop = threading.Event()
        beating = threading.Thread(target=self._beat_until, args=(stop,), daemon=True,
                                   name="tgcheck-heartbeat")
        beating.start()
        try:
            return self._run()
        except connect.NotSent:
            raise Cancelled("stopped waiting; the next call attaches") from None
        finally:
            stop.set()

    def _retrying(self, message: str) -> None:
        self.emit("retry", message=message)

    def _context(self, on_billed=None) -> CallContext:
        """One provider call's context: the job's deadline, the caller's stop
        (heard between retries), its billed replies counted, its retries told as
        job events (stderr, JSON progress)."""
        return CallContext(deadline=self.deadline, cancel=self.cancel, on_billed=on_billed,
                           on_retry=self._retrying)

    def _run(self) -> Mapping[str, tuple]:
        try:
            try:
                if self.job.state == NEW:
                    self._create()
                return self._follow()
            except TgcheckError as e:
                # After a create, every error names its task: a paid task whose id
                # is only in a scrolled-away line is as good as orphaned.
                task_id = self.created or self.job.task_id
                if task_id and task_id not in str(e):
                    e.args = (f"{e} (task {task_id}, job {self.job.id})", *e.args[1:])
                raise
        except UncertainCreate:
            raise
        except (DeadlineExceeded, Cancelled, KeyboardInterrupt, connect.NotSent) as e:
            # The task runs on at the provider: leave the job open for the next run.
            self._release()
            if isinstance(e, DeadlineExceeded) and self.job.task_id:
                self.emit("failed", message="timeout; the job stays open")
                raise DeadlineExceeded(
                    f"task {self.job.task_id} is not finished after "
                    f"{self.settings.timeout:.0f}s; it stays open: run the same check again "
                    "or `tgcheck resume` to collect it without paying for a new task"
                ) from None
            raise
        except BaseException as e:
            self._release()
            if isinstance(e, TaskFailed):
                self.emit("failed", message=str(e))
            raise

    def _release(self) -> None:
        """Let go of the job on the way out of an error. A store that cannot be
        written now (the very failure being raised, often) must not replace that
        error, which may name a paid task: the lease runs out by itself."""
        try:
            self.store.release(self.job.id)
        except TgcheckError as e:
            log.warning("job %s not released: %s", self.job.id, e)

    def _journal(self, step, *args) -> None:
        """A journal step on a path that is raising already: as _release, a store
        failure here must not hide the error on its way (a job left submitting
        by a gone process is taken for uncertain by the next claim)."""
        try:
            step(self.store, self.job.id, *args)
        except TgcheckError as e:
            log.warning("job %s not updated (%s): %s", self.job.id, step.__name__, e)

    def _create(self) -> None:
        gate = self.creates
        # After a stop, no create starts; one that started is journaled (task id,
        # or why not) before it counts as landed: see CreateGate.
        if not gate.enter(self.job.id, getattr(self.cancel, "interrupted", None)):
            raise Cancelled("stopped before the task was created; the next call creates it")
        try:
            self._create_recorded()
        finally:
            gate.leave(self.job.id)

    def _create_recorded(self) -> None:
        store, job = self.store, self.job
        journal.submitting(store, job.id)
        if self.recovery is not None:
            self.recovery.prepare()  # room for the task id, should the disk fill up
        context = self._context()
        try:
            record = created_record(self.provider.create_task(self.numbers, self.ttype.name,
                                                              context=context))
        except UncertainCreate as e:
            self._journal(journal.create_uncertain, str(e))
            self.emit("failed", message=str(e))
            raise UncertainCreate(f"{e}. {RESUBMIT_HINT}") from None
        except connect.Unreachable as e:
            # The create reached no one (DNS, refused, TLS): no task can exist, and
            # the journal keeps no job of it (`jobs --all` lists none per attempt).
            self.emit("failed", message=str(e))
            if not store.forget_unsent(job.id):
                journal.create_refused(store, job.id, str(e))
            raise
        except TgcheckError as e:
            # Refused or never reached the server: nothing was created.
            self._journal(journal.create_refused, str(e))
            if not isinstance(e, TaskTooLarge):  # not a failure: the set is split and sent
                self.emit("failed", message=str(e))
            raise
        except BaseException as e:
            if isinstance(e, connect.NotSent) or not context.request_sent:
                # Stopped before any byte of the create left: nothing can exist.
                # The job is as new; the next run (or `tgcheck resume`) creates it.
                self._journal(journal.create_unsent)
                raise
            # Interrupted mid-request: the create may have landed.
            self._journal(journal.create_uncertain,
                          f"interrupted while creating ({type(e).__name__})")
            raise
        self.created = record.task_id  # kept before anything else can fail
        recorded = self._record(record)
        if recorded:
            self.creates.count_recorded()
        if not recorded:
            # Someone took the job for dead and abandoned it (a deliberate
            # resubmit). The paid task must not vanish: say its id.
            raise ApiError(
                f"task {record.task_id} was created, but its job {job.id} was abandoned "
                "meanwhile (a resubmit); that task is paid for: note its id, and "
                f"`tgcheck status {record.task_id}` shows it")
        self.job = store.job(job.id)
        self.emit("submitted", record)

    def _record(self, record: TaskStatus) -> bool:
        """Journal a created task's id, retried: the task is paid for, and a store
        that is full or locked for a moment must not throw its id away. Uncertain
        too: another run may have taken this create for cut off meanwhile (only a
        deliberate resubmit, which abandons the job, makes it not ours).

        When the tries are used up, the id goes to the recovery file, which a
        store failure cannot take: the next run attaches it by itself. Only then
        (this driver has given the job up: no run attaches it while it retries)."""
        job, tries = self.job, self.tuning.record_tries
        for attempt in range(1, tries + 1):
            try:
                return journal.created(
                    self.store, job.id, record.task_id, self.store.owner, status=record.status,
                    total=record.total, success=record.success, failure=record.failure,
                    **_amounts(record))
            except StoreError as e:
                if attempt == tries:
                    kept = self._keep(record.task_id)
                    raise type(e)(self._unrecorded(record.task_id, e, kept)) from None
                time.sleep(self.tuning.record_step * attempt)
        raise AssertionError("unreachable")

    def _keep(self, task_id: str) -> bool:
        """The task id in the recovery file; else, as a last resort, on stderr
        (a face's message may be a cell, a log no one reads)."""
        if self.recovery is not None and self.recovery.note(
                self.job.id, self.job.key, task_id, self.provider.identity, self.store.owner):
            return True
        with contextlib.suppress(Exception):
            print(f"tgcheck: paid task {task_id} of job {self.job.id} is not in the journal: "
                  f"`tgcheck jobs attach {self.job.id} {task_id}` records it", file=sys.stderr)
        return False

    def _unrecorded(self, task_id: str, error: StoreError, kept: bool) -> str:
        """The message of a paid task the journal could not record: its id, where
        it is kept, and the command that attaches it."""
        attach = f"`tgcheck jobs attach {self.job.id} {task_id}`"
        where = (f"Its id is kept in {self.recovery.path}: the next run that can write the "
                 "store attaches it by itself and collects its answers, with no new task; "
                 f"or, once the store is writable, {attach} records it"
                 if kept else
                 f"Note the task id; once the store is writable, {attach} records it")
        return (f"task {task_id} was created (and is paid for), but the journal could not "
                f"record it: {error}. {where}, and `tgcheck resume` collects its answers")

    def _follow(self) -> Mapping[str, tuple]:
        store, job = self.store, self.job
        # The journal's start time anchors the rate estimate, also after a restart.
        started = time.monotonic() - max(0.0, time.time() - job.created_at)
        # The set's size gives the schedule a prior for the task's length.
        schedule = PollSchedule(self.settings.poll_min, self.settings.poll_max, started,
                                numbers=len(self.numbers),
                                typical_rate=self.provider.typical_rate)
        bad_files = 0
        limit = self.settings.max_status_calls
        _sleep(self._first_wait(schedule, started), self.deadline, self.cancel)
        while True:
            current = store.job(job.id)
            if current.state == DONE:  # finished by another run meanwhile: take it
                return self.store.stored(self.ttype.name, self.numbers)
            if current.state != OPEN:
                # Abandoned (or ended) by the user while we waited: no more billed
                # calls for it.
                message = (f"job {job.id} (task {job.task_id}) is {current.state} now"
                           + (f" ({current.error})" if current.error else "")
                           + ": it is no longer polled, and this check has no answers "
                           "from it")
                self.emit("failed", message=message)
                raise TgcheckError(message)
            status_billed = billing_of(self.provider).status
            if current.budget_used >= limit and status_billed:
                # The hard cap: whatever the schedule says, no more billed calls
                # until the user asks for them. (Free status calls have none: the
                # widening schedule and TGCHECK_TIMEOUT bound them.)
                journal.stalled(store, job.id)
                message = stalled_message(store.job(job.id), limit)
                self.emit("failed", message=message)
                raise JobStalled(message)
            billed = [0]

            def count_billed(billed=billed):
                # Each paid reply counts at once, also those the provider then
                # retries or refuses (unreadable, another task's): the cap holds.
                billed[0] += 1
                journal.polled(store, job.id, billed=True, polled_at=time.time())

            # spent(): asked by the provider before it retries a paid reply it
            # could not use (cut short, trickling, oversize): the cap holds there too.
            on_billed = billed_calls.BilledCalls(
                count_billed, lambda: store.job(job.id).budget_used >= limit)
            if not status_billed:
                on_billed = None  # free: nothing to count, no budget to hold
            try:
                status = self._get_status(job.task_id, on_billed)
            except billed_calls.BudgetSpent:
                continue  # stalled at the top of the loop, as any spent budget
            except TaskLost as e:
                journal.lost(store, job.id, str(e))
                message = lost_message(store.job(job.id))
                self.emit("failed", message=message)
                raise TaskLost(message) from None
            # A provider that reports no billed reply: its answer is one (unless it
            # declares its status calls free).
            journal.polled(store, job.id, billed=status_billed and not billed[0],
                           polled_at=time.time(), status=status.status, total=status.total,
                           success=status.success, failure=status.failure, **_amounts(status))
            self.emit("progress", status)
            if status.state == LOST:  # said in a record rather than by TaskLost
                journal.lost(store, job.id,
                             status.message or f"the provider reported {status.status}")
                message = lost_message(store.job(job.id))
                self.emit("failed", message=message)
                raise TaskLost(message)
            if status.state == FAILED:
                journal.failed(store, job.id,
                               status.message or f"the provider reported {status.status}")
                raise TaskFailed(
                    f"task {job.task_id} failed at the provider ({status.status!r})"
                    + (f": {status.message}" if status.message else "")
                    + "; its numbers have no answers (a new check creates a new, paid task)"
                )
            if status.state == READY and (status.result_url
                                          or self.provider.results is not None):
                try:
                    return self._collect(status)
                except ResultFileError as e:
                    # An expired presigned link, an error page served as 200: ask
                    # for a fresh link a few times, then leave the job open.
                    bad_files += 1
                    if bad_files >= MAX_BAD_FILES:
                        store.update_job(job.id, error=str(e))
                        raise
                    _sleep(self.settings.poll_min * bad_files, self.deadline, self.cancel)
                    continue
            delay = schedule.next_delay(status, time.monotonic())
            if schedule.moved_at > started:  # kept, for a later run's first wait
                store.update_job(job.id, moved_at=time.time() - (time.monotonic()
                                                                 - schedule.moved_at))
            _sleep(delay, self.deadline, self.cancel)

    def _first_wait(self, schedule: PollSchedule, started: float) -> float:
        """poll_min after a create; for a job polled by an earlier run (a re-run from
        cron or Excel), what that run's schedule would have waited from its last
        status call: as long as the task had not moved, so the doubling holds
        across runs instead of each run paying for a poll at its start."""
        job = self.store.job(self.job.id)
        if job.polled_at is None:
            return self.settings.poll_min
        moved = job.moved_at if job.moved_at is not None else job.created_at
        state = self.provider.state_of(job.status)
        schedule.restore(state, processed_of(job.success, job.failure),
                         started + (moved - job.created_at))
        still = job.polled_at - moved
        if state == READY:  # a file being written is given its time first
            still -= STUCK_EXPORT
        due = job.polled_at + min(self.settings.poll_max, max(self.settings.poll_min, still))
        return max(self.settings.poll_min, due - time.time())

    def _get_status(self, task_id: str, on_billed) -> TaskStatus:
        """The provider's get_status, told of each billed reply through its call
        context, its record in a normalised state."""
        status = self.provider.get_status(task_id, context=self._context(on_billed))
        # A record without a state, or with one outside the contract's (a provider's
        # own word or a typo there), is read by its word: a state the engine does not
        # know would never finish and be polled to the cap.
        if status.state not in STATES:
            status = dataclasses.replace(status, state=self.provider.state_of(status.status))
        return status

    def _results_billed(self):
        """on_billed of a download or result page: each billed reply counted in the
        journal, as a status reply is (Billing.results); None when they are free.
        No budget is held mid-download: the pages already paid would be lost."""
        if not billing_of(self.provider).results:
            return None
        return lambda: self.store.update_job(self.job.id, status_call=True)

    def _collect(self, status: TaskStatus) -> Mapping[str, tuple]:
        if self.provider.results is not None:
            found, unknowns = self._paged(status)
            self._sane(found, explicit=True)
            return self._store_found(status, found, unknowns)
        found = self._read_file(status)
        self._sane(found)
        return self._store_found(status, found)

    def _paged(self, status: TaskStatus):
        """(number -> cleaned answer, the numbers the vendor answered as unknown)
        from the provider's pages of records (None: the vendor said it cannot
        tell), read as a file's rows are (tgcheck.readers), at most
        MAX_RECORDS_PER_NUMBER records a number sent: a vendor that pages on
        forever is a bad result, not a full memory."""
        from ..readers import reading_for, record_rows, rows_to_answers  # with the first result

        limit = MAX_RECORDS_PER_NUMBER * len(self.numbers)
        pages = self.provider.results(status, context=self._context(self._results_billed()))
        said_unknown = []  # the records' numbers as the vendor wrote them

        def records():
            # Header first (count 0); a record may carry its fields (record_rows).
            for count, row in enumerate(record_rows(pages, self.ttype)):
                if count > limit:
                    raise ResultFileError(
                        f"the results of task {self.job.task_id} hold more than {limit:,} "
                        f"records for {len(self.numbers):,} numbers; the job stays open")
                if count and row[1] is None:
                    said_unknown.append(row[0])
                yield row

        with result_size_budget(len(self.numbers)), reading_for(self.numbers):
            found = rows_to_answers(records(), self.ttype)
        # An explicit unknown, unlike a number left out, is stored as one (the
        # answer column's answered_unknown); a number also answered, or answered
        # twice differently, is not one.
        unknowns = {n for n in map(number_of, resolve_all(said_unknown))
                    if n in found and found[n] is None and n not in found.conflicts}
        return found, unknowns

    def _read_file(self, status: TaskStatus):
        # Bounded by what the numbers sent can take: a bomb stops at the download.
        data = self.provider.download(status.result_url,
                                      context=self._context(self._results_billed()),
                                      max_bytes=result_budget(len(self.numbers)))
        reader = next((r for r in plugins.readers(self.provider) if r.accepts(data)), None)
        if reader is None:
            head = data[:40].decode("latin-1", "replace")
            raise ResultFileError(
                f"the result file of task {self.job.task_id} is in no known format "
                f"(it starts with {head!r}); the job stays open"
            )
        from ..readers import reading_for  # loaded with the provider's readers

        # The numbers sent are E.164 already: a file's cell equal to one is not
        # normalised again (only those that differ are).
        with result_size_budget(len(self.numbers)), reading_for(self.numbers):
            found = reader.read(data, self.ttype)
        del data  # the file is parsed: its bytes need not outlive the parse
        return found

    def _store_found(self, status: TaskStatus, found,
                     unknowns: set[str] = frozenset()) -> Mapping[str, tuple]:
        # Two different answers for one number are none: the reader sets them to None.
        # A plain mapping (a third-party reader's) has no conflicts.
        twice = len(set(getattr(found, "conflicts", ())).intersection(self.numbers))
        # Joined by number: the file's order, extras and gaps do not matter. A
        # number the file left out is unknown, never "no". Grouped by answer as
        # found: the store inserts each answer's numbers at once (AnswerRows), and
        # one (value, status) tuple is shared by all its numbers.
        by_value: dict = {}
        for number, value in zip(self.numbers, map(found.get, self.numbers), strict=True):
            if value is None and number in unknowns:
                value = _SAID_UNKNOWN
            try:
                by_value[value].append(number)
            except KeyError:
                by_value[value] = [number]
        groups: dict[tuple, list[str]] = {}
        for value, numbers in by_value.items():
            # A free-form answer is the provider's text: it passes the redaction
            # point before the store (once per distinct answer).
            shown = value if value is None else redact.clean(value, None)
            pair = ((ANSWERED_UNKNOWN, UNKNOWN) if value is _SAID_UNKNOWN else
                    (shown, OK if value is not None else UNKNOWN))
            if pair in groups:  # two texts that read the same once redacted
                groups[pair].extend(numbers)
            else:
                groups[pair] = numbers
        self.store.finish_job(self.job, self.ttype.name, AnswerRows(groups),
                              provider=self.provider.name,
                              fields=self._fields_of(found, groups))
        self.emit("done", status, message=(
            f"{twice} number{' was' if twice == 1 else 's were'} answered twice with "
            "different values: not stored, unknown" if twice else None))
        return GroupedAnswers(groups)

    def _fields_of(self, found, groups: dict[tuple, list[str]]) -> dict[str, dict] | None:
        """number -> the typed fields of each "ok" answer, for a task type that
        declares fields (None: it declares none). A reader that kept no fields (a
        plain mapping) answered them unknown: all None, so the paid answer is
        not asked again for want of them."""
        if not self.ttype.fields:
            return None
        kept = getattr(found, "fields", None) or {}
        empty = dict.fromkeys(self.ttype.field_names)
        return {number: kept.get(number) or empty
                for (_, status), numbers in groups.items() if status == OK for number in numbers}

    def _sane(self, found, *, explicit: bool = False) -> None:
        """A file that answers none of the task's numbers is a bad file, not a set
        of unknowns: believing it would make the answers cost a new task. explicit:
        records (Provider.results) that name a number answer it, an explicit unknown
        too."""
        if any(found.get(n) is not None for n in self.numbers):
            return
        if explicit and any(n in found for n in self.numbers):
            return
        if not getattr(found, "conflicts", set()).isdisjoint(self.numbers):
            return  # it did answer, only twice over: counted, not a bad file
        earlier = self.store.stored(self.ttype.name, self.numbers)
        if len(earlier) == len(self.numbers) and all(
                status == UNKNOWN for _, status in earlier.values()):
            return  # numbers an earlier file left out, sent again (retry_unknown): left
            # out again is an answer a provider does give, not a broken file
        asked = sum(n in found for n in self.numbers)
        count = len(self.numbers)
        what = (f"has no {self.ttype.column!r} value tgcheck knows for any of its "
                f"{count} numbers" if asked else
                f"answers none of its {count} numbers ({len(found)} rows of other numbers)")
        raise ResultFileError(f"the result file of task {self.job.task_id} {what}; nothing "
                              "was stored and the job stays open: run the same check again "
                              "later to fetch the file again")
