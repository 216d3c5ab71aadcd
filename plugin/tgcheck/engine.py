"""The one path every face takes: normalise, dedupe, store, journal, task, answers."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import NamedTuple

from . import billed_calls, connect, fast_path, plugins, redact
from .answer_column import ANSWERED_UNKNOWN, AnswerColumn, number_of, sent_numbers
from .create_gate import CreateGate
from .errors import (
    ApiError,
    BelowMinimum,
    ConfigError,
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
from .fields import typed
from .models import (
    BLANK,
    INVALID,
    OK,
    UNKNOWN,
    Answer,
    JobEvent,
    TaskStatus,
    TaskType,
)
from .models import processed as processed_of
from .normalize import Region, resolve_all
from .polling import STUCK_EXPORT, PollSchedule, shows_progress
from .provider import FAILED, LOST, QUEUED, READY, STATES, CallContext, Provider
from .reasons import reason_breakdown
from .result_size import budget as result_size_budget
from .result_size import result_budget
from .settings import Settings, is_loopback
from .store import AnswerGroup, BaseStore, Job, journal, open_store, owner_alive, this_owner
from .store.journal import DONE, ENDED, LIVE_STATES, NEW, OPEN, STALLED, SUBMITTING, UNCERTAIN
from .store.journal import FAILED as JOB_FAILED
from .store.journal import LOST as JOB_LOST
from .store.recovery import RecoveryFile, recovery_path

# While a job is driven, a thread refreshes its lease this often.
HEARTBEAT_EVERY = 10.0
# Seconds by which "stored since my lookup" reaches back (see _answered_since).
CLOCK_MARGIN = 60.0
# Result files that could not be fetched or read before the job is left open.
MAX_BAD_FILES = 3
# Records a provider's result pages may hold per number sent (repeats allowed).
MAX_RECORDS_PER_NUMBER = 4
# A process waiting on another's job reads the local journal this often (free).
WATCH_EVERY = 0.25
# The same with a store that announces changes: the wait ends at once on a change.
WATCH_NOTIFIED = 2.0
# Tries at journaling a created task's id (a full disk, a locked store) before
# the error that names the task; seconds between them grow by this step.
RECORD_TRIES = 3
RECORD_STEP = 0.5

EventListener = Callable[[JobEvent], None]

log = logging.getLogger("tgcheck.engine")


class Cancelled(TgcheckError):
    """The caller stopped waiting; the task runs on and the next call attaches to it."""


RESUBMIT_HINT = (
    "Check the provider's dashboard: if the task is there, wait and run again later; "
    "to create it again deliberately (and possibly pay twice), run "
    "`tgcheck check ... --resubmit` or call tgcheck.check(..., resubmit=True)."
)


def stalled_message(job: Job, limit: int) -> str:
    return (
        f"task {job.task_id} (job {job.id}) is stalled: it used its budget of {limit} "
        f"billed status calls (TGCHECK_MAX_STATUS_CALLS) without finishing (last status: "
        f"{job.status or 'none'}), and is no longer polled. `tgcheck resume` polls it "
        f"again with a new budget; `tgcheck status {job.task_id}` asks once; "
        f"`tgcheck jobs abandon {job.id}` gives it up (the task may still run, and be "
        "paid, at the provider), after which a check creates a new, paid task, as "
        "`check --resubmit` does in one step."
    )


def lost_message(job: Job) -> str:
    return (
        f"task {job.task_id} (job {job.id}) is gone at the provider (it answers that it "
        f"does not know it): its {job.count} numbers have no answers. "
        "`tgcheck check ... --resubmit` (Python: resubmit=True) creates a new task for "
        f"them, paid again; `tgcheck jobs abandon {job.id}` lets any check do so."
    )


# In-flight jobs of this process, shared by every Engine: the journal's lease is
# per process, so threads of one process must meet here, not in SQLite.
_inflight: dict[tuple[str, str], Future] = {}
_inflight_lock = threading.Lock()


def number_set_key(identity: str, task_type: str, numbers: Sequence[str]) -> str:
    """The journal's key of a set of numbers: one job (one task) per provider
    server, task type and set; `numbers` sorted."""
    h = hashlib.sha256()
    h.update(f"{identity}\0{task_type}\0".encode())
    h.update("\n".join(numbers).encode())
    return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class CheckRequest:
    """What one check asks for, passed whole from check() down to each job's driver.

    The caller's choices come first; the engine fills in the rest on the way
    (dataclasses.replace: a request is never changed in place, so threads share it
    safely): the task type found, the time stored answers count from, the
    top-up state shared by the check's tasks, the job's own stop and deadline.
    """

    task_type: str = "tg"
    region: Region = None
    retry_unknown: bool = False
    resubmit: bool = False
    on_event: EventListener | None = None
    # Stop waiting (the task runs on); a worker's request holds its _Stop instead.
    cancel: threading.Event | None = None
    top_up: bool | None = None
    # -- filled in by the engine ------------------------------------------------
    ttype: TaskType | None = None
    # Answers stored after this were not seen by the check's lookup (_answered_since).
    since: float = 0.0
    fill: _Fill | None = None
    # time.monotonic() by which the job gives up (set by _run_job, per job).
    deadline: float | None = None
    # Journal jobs this check has taken its answers from (its fast path's).
    settled: frozenset = frozenset()

    def with_(self, **changes) -> CheckRequest:
        return dataclasses.replace(self, **changes)


# _store_found's key of an explicit unknown (a real answer may be any text).
_SAID_UNKNOWN = object()
# What check_column() returns (tgcheck.answer_column); its former name, kept.
ColumnAnswers = AnswerColumn


def _groups_of(answers: dict[str, tuple]) -> list[AnswerGroup]:
    """number -> (value, status) as answer groups, one per distinct answer."""
    by_answer: dict[tuple, list[str]] = {}
    for number, pair in answers.items():
        by_answer.setdefault(pair, []).append(number)
    return [(value, status, group) for (value, status), group in by_answer.items()]


def _equal_parts(numbers: list, size: int) -> list[list]:
    """numbers in the fewest parts of at most size, equal in size (they differ by one
    at most)."""
    count = -(-len(numbers) // size)
    return [numbers[i * len(numbers) // count:(i + 1) * len(numbers) // count]
            for i in range(count)]


class Engine:
    def __init__(self, settings: Settings | None = None, *, provider=None,
                 store: BaseStore | None = None):
        self.settings = settings or Settings.from_env()
        self._provider = provider
        self._provider_lock = threading.Lock()
        self.store = store or open_store(self.settings)
        # Where a paid task's id goes when the journal cannot take it (a full
        # disk, a stopped server); the next check attaches what it holds.
        where = recovery_path(self.store, getattr(self.settings, "home", None))
        self.recovery = RecoveryFile(where, str(self.store.path)) if where else None
        # The largest task the provider has accepted after refusing a larger one
        # as too large (413): later sets are split to it up front.
        self._size_cap: int | None = None
        # Creates on their way: after Ctrl-C, the caller lets them be journaled.
        self.creates = CreateGate()

    def __repr__(self) -> str:
        return (f"<Engine {redact.url_without_userinfo(self.settings.base_url)} "
                f"store={self.store.path}>")

    @property
    def provider(self):
        with self._provider_lock:
            if self._provider is None:
                factory = plugins.get_provider_factory(self.settings.provider)
                made = factory(self.settings)
                # The engine reads states, rates and billing through the contract: a
                # provider outside it would never be seen to finish and be polled to
                # the status-call cap, paying for every call. Refused before any call.
                if not isinstance(made, Provider):
                    raise ConfigError(
                        f"the provider {self.settings.provider!r} does not subclass "
                        "tgcheck.Provider (see docs/plugins.md); update or uninstall its plugin")
                self._provider = made
            return self._provider

    def close(self) -> None:
        if self._provider is not None:
            self._provider.close()
        self.store.close()

    # -- the public path -------------------------------------------------
    def check(
        self,
        values: Iterable[object],
        *,
        task_type: str = "tg",
        region: Region = None,
        retry_unknown: bool = False,
        resubmit: bool = False,
        on_event: EventListener | None = None,
        cancel: threading.Event | None = None,
        top_up: bool | None = None,
    ) -> list[Answer]:
        values = values if isinstance(values, list) else list(values)
        return self.check_column(values, task_type=task_type, region=region,
                                 retry_unknown=retry_unknown, resubmit=resubmit,
                                 on_event=on_event, cancel=cancel, top_up=top_up).rows()

    def fields_of(self, task_type: str, known: dict[str, tuple]) -> dict[str, dict] | None:
        """number -> the typed fields of each ok answer among known (number ->
        (value, status)), for a task type that declares fields; None when it
        declares none. An ok answer whose fields were not kept (a synchronous
        check's) has every field None: unknown, never a guess."""
        ttype = plugins.get_task_type(task_type, self.settings.provider)
        if not ttype.fields:
            return None
        ok = [n for n, (_, status) in known.items() if status == OK]
        stored = self.store.fields_of(ttype.name, ok)
        return {n: typed(ttype.fields, stored.get(n, {})) for n in ok}

    def check_column(
        self,
        values: Iterable[object],
        *,
        task_type: str = "tg",
        region: Region = None,
        retry_unknown: bool = False,
        resubmit: bool = False,
        on_event: EventListener | None = None,
        cancel: threading.Event | None = None,
        top_up: bool | None = None,
    ) -> AnswerColumn:
        """check()'s answers as one AnswerColumn (tgcheck.answer_column), for faces
        that read them as columns (the CLI's tables, SQL in Arrow, Excel's cells).
        Same calls, same guarantees; no Answer is built per value unless asked
        (AnswerColumn.rows), which is most of check()'s time on a million stored
        answers.
        """
        values = values if isinstance(values, list) else list(values)
        found, wanted, groups = self._grouped(values, CheckRequest(
            task_type, region, retry_unknown, resubmit, on_event, cancel, top_up))
        column = AnswerColumn(values, found, groups, wanted=wanted)
        if plugins.get_task_type(task_type, self.settings.provider).fields:
            column.fields_by_number = self.fields_of(task_type, column.answered())
        return column

    def _grouped(self, values, request: CheckRequest
                 ) -> tuple[list, set[str], list[AnswerGroup]]:
        """The path of check() and check_column(): per value its E.164 string or
        its problem, the distinct numbers, and their answers as groups (stored
        ones, then those of the tasks sent for the rest)."""
        ttype = plugins.get_task_type(request.task_type, self.settings.provider)
        self.attach_recovered()
        found = resolve_all(values, request.region)  # E.164 str, or a Normalised problem
        wanted = set(sent_numbers(found))
        since = self._answered_since(time.time(), request.retry_unknown)
        groups = self.store.lookup_groups(ttype.name, wanted,
                                          **self._freshness(request.retry_unknown, ttype))
        # Sorted: a set's journal key and its task file must not depend on order.
        missing = sorted(wanted.difference(*(group for _, _, group in groups)))
        if 0 < len(missing) <= self.settings.sync_max and fast_path.applies(
                self.settings, self.provider, ttype, missing):
            # A few new numbers: asked one by one first; the rest go to one task.
            # The set's own journal key: a fast path cut off by a crash is a job
            # like any other, which `resume` or the next check finishes as a task.
            key = number_set_key(self.provider.identity, ttype.name, missing)
            answered, missing, job_id = fast_path.run(
                self, missing, request.with_(ttype=ttype, since=since), key)
            groups.extend(_groups_of(answered))
            if job_id is not None:
                request = request.with_(settled=frozenset({job_id}))
        sent = self._at_least_minimum(ttype, missing, wanted, request.top_up)
        if len(sent) > len(missing):
            # Topped up: the stored answers added are to be checked again, even those a
            # job stored moments ago (which would otherwise count as "just answered").
            since = time.time()
        # Each task (a chunk, a 413 half, the rest after an overlap) is checked
        # against the minimum again before its create; fillers are taken once.
        fill = _Fill(request.top_up, wanted, set(sent).difference(wanted))
        request = request.with_(ttype=ttype, since=since, fill=fill)
        for result in self._send(sent, request):
            groups.extend(_groups_of(result))
        return found, wanted, groups

    def minimum(self, ttype: TaskType) -> int | None:
        """Fewest numbers a task of this type may hold (TGCHECK_MIN_TASK_SIZE, else the
        task type's own), None when there is no minimum."""
        least = self.settings.min_task_size
        if least is None:
            least = ttype.min_task_size
        return least or None

    def _at_least_minimum(self, ttype, missing: list[str], wanted: set[str],
                          top_up: bool | None) -> list[str]:
        """The numbers to send, refused before any call when they are fewer than the
        minimum task size, or filled up to it with the stalest stored answers of the
        type (top-up: those are checked again and their answers refreshed)."""
        least = self.minimum(ttype)
        if not least or not missing or len(missing) >= least:
            return missing
        short = least - len(missing)
        top_up = self.settings.top_up if top_up is None else top_up
        filler = self.store.stalest(ttype.name, short, exclude=wanted) if top_up else []
        if len(filler) >= short:
            return sorted(missing + filler)
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        how = (f"--top-up found only {len(filler)} stored {ttype.name} answers to check "
               "again" if top_up else
               "or use --top-up (Python: top_up=True; SQL and Excel: TGCHECK_TOP_UP=1) to "
               f"fill the task with the {short} stalest stored answers, checked again")
        raise BelowMinimum(
            f"{len(missing)} new number{'s' if len(missing) != 1 else ''}; {ttype.name} tasks "
            f"take at least {least}: add {short}, {how}. New: {shown}")

    def plan(self, values: Iterable[object], *, task_type: str = "tg",
             region: Region = None, retry_unknown: bool = False,
             top_up: bool | None = None) -> dict[str, object]:
        """What a check would do, without any API call (the CLI's --dry-run): counts,
        and under "reasons" each reason code's count and a few example inputs. With
        top-up (top_up, else the settings'), "topped_up": the stored answers a task
        below the minimum would be filled with (checked again, so billed too)."""
        ttype = plugins.get_task_type(task_type, self.settings.provider)
        values = values if isinstance(values, list) else list(values)
        found = resolve_all(values, region)
        numbers = sent_numbers(found)
        distinct = set(numbers)
        known = self.store.lookup(ttype.name, distinct, **self._freshness(retry_unknown, ttype))
        problems = [f.status for f in found if type(f) is not str and f.status != OK]
        to_send = len(distinct) - len(known)
        least = self.minimum(ttype)
        top_up = self.settings.top_up if top_up is None else top_up
        topped = {}
        if top_up and least and 0 < to_send < least:
            filler = self.store.stalest(ttype.name, least - to_send, exclude=distinct)
            if len(filler) >= least - to_send:  # else the check refuses, as it would
                topped = {"topped_up": len(filler)}
        return {
            "inputs": len(found),
            "valid": len(numbers),
            "invalid": problems.count(INVALID),
            "blank": problems.count(BLANK),
            "duplicates": len(numbers) - len(distinct),
            "already_answered": len(known),
            "to_send": to_send,
            **topped,
            **self._fast_path_plan(ttype, distinct.difference(known)),
            # code -> (count, a few examples): the rows not sent, and the noted ones.
            "reasons": reason_breakdown(values, found),
        }

    def _fast_path_plan(self, ttype: TaskType, new: set[str]) -> dict[str, int]:
        """plan()'s "fast_path": how many of the numbers to send would be asked one
        by one first (their misses then go to the task); none said without a
        provider to ask (a dry run without a key)."""
        if not 0 < len(new) <= self.settings.sync_max:
            return {}
        try:
            provider = self.provider
        except ConfigError:
            return {}
        return {"fast_path": len(new)} if fast_path.applies(
            self.settings, provider, ttype, new) else {}

    def _freshness(self, retry_unknown: bool, ttype: TaskType) -> dict:
        return {"max_age_days": self.settings.max_age_days,
                # An answer stored without the fields its task type declares
                # (before they were kept) is no answer to it.
                "needs_fields": bool(ttype.fields),
                "unknown_retry_hours": self.settings.unknown_retry_hours,
                "retry_unknown": retry_unknown,
                # An answer is a fact about the number, whoever gave it; this
                # setting reuses only the selected provider's.
                "provider": self.settings.provider if self.settings.same_provider_only
                else None}

    def _send(self, missing: list[str], request: CheckRequest
              ) -> Iterator[dict[str, tuple]]:
        """Answers for the numbers the store lacks (sorted): one job per chunk, run
        in parallel; each chunk's answers are handed over as soon as its job is
        done, not all held until the last one is.

        After a chunk fails, chunks not yet started are not sent: the caller
        gets the error without paying for more tasks first. Chunks already
        running finish, and their answers are stored for the next run.
        """
        if not missing:
            return
        size = min(self.settings.max_task_size, self._size_cap or self.settings.max_task_size)
        # Equal chunks (sizes differ by one at most), not full ones and a remainder:
        # 100,020 numbers are two tasks of 50,010, not 100,000 and a 20 below the
        # minimum task size.
        chunks = _equal_parts(missing, size)
        if len(chunks) == 1 and not _on_main_thread():
            # No Ctrl-C can reach this thread (SQL's and Excel's helper threads):
            # the job runs here, its waits woken by the caller's cancel at once.
            yield self._sized_job(chunks[0], request)
            return
        failed = threading.Event()

        def run(chunk):
            if failed.is_set():
                return None  # another chunk failed: the caller gets its error
            if stop.interrupted():
                raise Cancelled("stopped before the task was created; the next call creates it")
            try:
                return self._sized_job(chunk, request.with_(cancel=stop))
            except BaseException:
                failed.set()  # set before this future completes: no later chunk starts
                raise

        workers = min(self.settings.max_parallel_tasks, len(chunks))
        # Ctrl-C reaches only the main thread, so there even one chunk's job runs
        # on a worker: an interrupt never cuts a create mid-request. The workers
        # are told through `stop`, and not waited for, so that an interrupt ends
        # the check at once however many tasks are in flight: each releases its
        # job (it stays open: the next run attaches) at its next wait, and none
        # starts a create after the stop. A create already on its way finishes and
        # is journaled: the caller waits for those (self.creates) before it exits.
        stop = _Stop(request.cancel)
        pool = ThreadPoolExecutor(workers, thread_name_prefix="tgcheck-job")
        interrupted = False
        futures = [pool.submit(run, chunk) for chunk in chunks]
        try:
            for future in as_completed(futures):
                result = future.result()
                if result is not None:
                    yield result
        except KeyboardInterrupt:
            interrupted = True
            self.creates.in_flight(stop)  # stop set under the gate's lock
            raise
        finally:
            for future in futures:
                future.cancel()  # those not started yet, if the caller stops early
            pool.shutdown(wait=not interrupted, cancel_futures=True)

    def _sized_job(self, numbers, request: CheckRequest) -> dict[str, tuple]:
        """_shared_job, and when the provider refuses the file as too large (413,
        nothing created), the set split in halves, each its own task, as often as
        needed. The count of tasks is told (an event) before they are created.
        With fill, a task below the minimum size is topped up or refused first."""
        cap = self._size_cap
        if cap and len(numbers) > cap:
            # A 413 taught a smaller size since this set was cut (the other half
            # of a refused set, a chunk cut before): split now, not after a 413.
            parts = _equal_parts(numbers, cap)
            self._notify(request, len(numbers),
                         f"sending {len(numbers):,} numbers as {len(parts)} tasks of up to "
                         f"{cap:,}: the provider refused larger ones as too large")
            return self._sized_parts(parts, request)
        ttype, fill = request.ttype, request.fill
        least = self.minimum(ttype)
        if fill is not None and least and len(numbers) < least:
            with fill.lock:
                sent = self._at_least_minimum(ttype, numbers, fill.wanted | fill.taken,
                                              fill.top_up)
                fill.taken.update(sent)  # two tasks never top up with the same numbers
            if len(sent) > len(numbers):
                # The fillers are to be checked again (see _grouped).
                request = request.with_(since=time.time())
            numbers = sent
        try:
            return self._shared_job(numbers, request)
        except TaskTooLarge as e:
            if len(numbers) < 2:
                raise
            half = (len(numbers) + 1) // 2
            self._size_cap = size = min(self._size_cap or half, half)
            parts = _equal_parts(numbers, size)
            self._notify(request, len(numbers),
                         f"the provider refused {len(numbers)} numbers as too large ({e}); "
                         f"sending them as {len(parts)} tasks of up to {size:,}")
        return self._sized_parts(parts, request)

    def _sized_parts(self, parts, request: CheckRequest) -> dict[str, tuple]:
        found: dict[str, tuple] = {}
        for part in parts:
            found.update(self._sized_job(part, request))
        return found

    def _notify(self, request: CheckRequest, count: int, message: str) -> None:
        """A note about no one job (a split): a progress event without a task."""
        self._tell(request, JobEvent(kind="progress", job_key="",
                                     task_type=request.ttype.name, numbers=count,
                                     message=message, simulated=self.settings.simulated))

    @staticmethod
    def _tell(request: CheckRequest, event: JobEvent) -> None:
        plugins.emit(event)
        if request.on_event is not None:
            request.on_event(event)

    def resume(self, *, on_event=None, cancel=None,
               skipped: list[tuple[Job, str]] | None = None) -> int:
        """Finish this server's open jobs (left by a crash or a timeout), and stalled
        ones with a new status-call budget; uncertain ones are left alone, they need
        a deliberate resubmit. Returns how many.

        skipped, when given, receives (job, why) for each live job left alone."""
        finished, errors = 0, []
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
                                self._shared_job(numbers, request.with_(
                                    cancel=stop, since=self._answered_since(time.time()))))
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

    def _on_worker(self, cancel, fn):
        """fn(stop) on a worker thread, waited for here: as in _send, Ctrl-C (this
        thread only) never cuts a create mid-request; on it, the stop is set and
        the worker not waited for (the caller waits for self.creates)."""
        if not _on_main_thread():
            return fn(cancel)  # no Ctrl-C can reach this thread
        stop = _Stop(cancel)
        pool = ThreadPoolExecutor(1, thread_name_prefix="tgcheck-job")
        try:
            return pool.submit(fn, stop).result()
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
        journal.polled(self.store, job.id, billed=True, polled_at=now,
                       **{k: v for k, v in fields.items() if v is not None})

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
        if job.state == SUBMITTING and owner_alive(job.owner, job.heartbeat, time.time()):
            return "another process is creating its task now"
        if job.state == SUBMITTING:
            return ("its create was cut off (its outcome is unknown): the next check of "
                    "these numbers says how to resubmit")
        return None

    def _answered_since(self, looked_up_at: float, retry_unknown: bool = False) -> float:
        """Answers stored after this were not seen by a lookup at looked_up_at.

        A margin for the writer whose clock read came a little before its
        commit (it waited for the lock, wrote many rows); never older than
        the freshness limit, so `--max-age 0` still checks again, and none
        when the caller asked to resend what a recent job left unknown.
        """
        if retry_unknown:
            return looked_up_at
        return max(looked_up_at - CLOCK_MARGIN,
                   looked_up_at - self.settings.max_age_days * 86400)

    # -- one job per number set, shared by threads and processes -----------
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
                self._notify(request, len(numbers), (
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
                        found.update(self._sized_job(rest, request))
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
                return _Driver(self.store, self.provider, self.settings, self._emit,
                               self.creates, job, numbers, request,
                               recovery=self.recovery).run()
            if self._watch(job, numbers, request):
                found = self.store.stored(ttype.name, numbers)
                rest = [n for n in numbers if n not in found]
                if rest:
                    # A fast path's job (tgcheck.fast_path) stores only what it
                    # answered; what it left went to a task of its own: find it.
                    found.update(self._sized_job(rest, request.with_(
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
                    resubmit=False, since=self._answered_since(time.time()), fill=None))
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
            if not owner_alive(current.owner, current.heartbeat, time.time()):
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
        self._tell(request, JobEvent(
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
        return self.provider.billed_calls(job.status_calls, bool(job.task_id))


def _on_main_thread() -> bool:
    """Whether a Ctrl-C (KeyboardInterrupt) can reach this thread."""
    return threading.current_thread() is threading.main_thread()


class _Fill:
    """One check's top-up setting, its numbers, and those its tasks were filled
    with (fillers are picked once, under the lock). The union is made only for a
    task below the minimum: a large check copies no set of a million numbers."""

    def __init__(self, top_up: bool | None, wanted: set[str], taken: set[str]):
        self.top_up, self.wanted, self.taken = top_up, wanted, taken
        self.lock = threading.Lock()


class _Stop:
    """The caller's cancel event, or an interrupt seen by the thread that started
    the workers: whichever comes first. Quacks like the threading.Event it wraps."""

    def __init__(self, cancel: threading.Event | None):
        self._cancel = cancel
        self._own = threading.Event()

    def set(self) -> None:
        self._own.set()

    def interrupted(self) -> bool:
        """The interrupt (not the caller's cancel, which means "stop waiting": a
        create it comes before still goes ahead, and the next call attaches)."""
        return self._own.is_set()

    def is_set(self) -> bool:
        return self._own.is_set() or (self._cancel is not None and self._cancel.is_set())

    def wait(self, timeout: float | None = None) -> bool:
        if self._cancel is None:
            return self._own.wait(timeout)
        end = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = 0.1 if end is None else min(0.1, end - time.monotonic())
            if left <= 0:
                return False
            self._own.wait(left)
        return True


def _wait_future(future: Future, cancel: threading.Event | None):
    while True:
        try:
            return future.result(timeout=0.5)
        except TimeoutError:
            if cancel is not None and cancel.is_set():
                raise Cancelled("stopped waiting; the job goes on") from None


def _sleep(seconds: float, deadline: float, cancel: threading.Event | None) -> None:
    """Sleep, honouring cancel and the deadline."""
    left = min(time.monotonic() + seconds, deadline) - time.monotonic()
    if left > 0:
        if cancel is not None:
            if cancel.wait(left):
                raise Cancelled("stopped waiting; the task runs on and the next call attaches")
        else:
            time.sleep(left)
    if time.monotonic() >= deadline:
        raise DeadlineExceeded("waited longer than the timeout")


def _await_change(store, deadline: float, cancel: threading.Event | None) -> None:
    """Between reads of a job another process drives: woken by the store's own
    announcement where it has one (PostgreSQL's NOTIFY, across machines), the
    driver's lease still looked at every WATCH_NOTIFIED seconds; else WATCH_EVERY."""
    if not getattr(store, "notifies", False) or cancel is not None:
        return _sleep(WATCH_EVERY, deadline, cancel)
    left = deadline - time.monotonic()
    if left > 0:
        store.wait_for_change(min(left, WATCH_NOTIFIED))
    if time.monotonic() >= deadline:
        raise DeadlineExceeded("waited longer than the timeout")


class PolledTask(NamedTuple):
    """What Engine.poll_once saw and kept."""

    record: TaskStatus
    job: Job | None  # this server's job of the task, as it is now
    reopened: bool  # a stalled job, opened again with a new status-call budget
    other: Job | None  # another server's job with this task id: left as it is


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
                 recovery: RecoveryFile | None = None):
        self.store, self.provider, self.settings = store, provider, settings
        self.recovery = recovery
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
        while not stop.wait(HEARTBEAT_EVERY):
            try:
                self.store.heartbeat(self.job.id)
            except TgcheckError:  # pragma: no cover - a damaged store shows elsewhere
                return

    def run(self) -> dict[str, tuple]:
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

    def _run(self) -> dict[str, tuple]:
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
            record = self.provider.create_task(self.numbers, self.ttype.name,
                                               context=context)
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
        job = self.job
        for attempt in range(1, RECORD_TRIES + 1):
            try:
                return journal.created(
                    self.store, job.id, record.task_id, this_owner(), status=record.status,
                    total=record.total, success=record.success, failure=record.failure,
                    **_amounts(record))
            except StoreError as e:
                if attempt == RECORD_TRIES:
                    kept = self._keep(record.task_id)
                    raise type(e)(self._unrecorded(record.task_id, e, kept)) from None
                time.sleep(RECORD_STEP * attempt)
        raise AssertionError("unreachable")

    def _keep(self, task_id: str) -> bool:
        """The task id in the recovery file; else, as a last resort, on stderr
        (a face's message may be a cell, a log no one reads)."""
        if self.recovery is not None and self.recovery.note(
                self.job.id, self.job.key, task_id, self.provider.identity, this_owner()):
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

    def _follow(self) -> dict[str, tuple]:
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
            if current.budget_used >= limit and self.provider.status_is_billed:
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
            if not self.provider.status_is_billed:
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
            journal.polled(store, job.id, billed=self.provider.status_is_billed and not billed[0],
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

    def _collect(self, status: TaskStatus) -> dict[str, tuple]:
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
        from .readers import rows_to_answers  # with the first result, not at start

        limit = MAX_RECORDS_PER_NUMBER * len(self.numbers)
        pages = self.provider.results(status, context=self._context())
        said_unknown = []  # the records' numbers as the vendor wrote them

        def records():
            yield ["number", self.ttype.column]
            for count, (number, value) in enumerate(
                    (pair for page in pages for pair in page), 1):
                if count > limit:
                    raise ResultFileError(
                        f"the results of task {self.job.task_id} hold more than {limit:,} "
                        f"records for {len(self.numbers):,} numbers; the job stays open")
                if value is None:
                    said_unknown.append(number)
                yield [number, value]

        with result_size_budget(len(self.numbers)):
            found = rows_to_answers(records(), self.ttype)
        # An explicit unknown, unlike a number left out, is stored as one (the
        # answer column's answered_unknown); a number also answered, or answered
        # twice differently, is not one.
        unknowns = {n for n in map(number_of, resolve_all(said_unknown))
                    if n in found and found[n] is None and n not in found.conflicts}
        return found, unknowns

    def _read_file(self, status: TaskStatus):
        # Bounded by what the numbers sent can take: a bomb stops at the download.
        data = self.provider.download(status.result_url, context=self._context(),
                                      max_bytes=result_budget(len(self.numbers)))
        reader = next((r for r in plugins.readers(self.provider) if r.accepts(data)), None)
        if reader is None:
            head = data[:40].decode("latin-1", "replace")
            raise ResultFileError(
                f"the result file of task {self.job.task_id} is in no known format "
                f"(it starts with {head!r}); the job stays open"
            )
        with result_size_budget(len(self.numbers)):
            found = reader.read(data, self.ttype)
        del data  # the file is parsed: its bytes need not outlive the parse
        return found

    def _store_found(self, status: TaskStatus, found,
                     unknowns: set[str] = frozenset()) -> dict[str, tuple]:
        # Two different answers for one number are none: the reader sets them to None.
        # A plain mapping (a third-party reader's) has no conflicts.
        twice = len(set(getattr(found, "conflicts", ())).intersection(self.numbers))
        # Joined by number: the file's order, extras and gaps do not matter. A
        # number the file left out is unknown, never "no".
        rows, answered, pairs = [], {}, {}
        for number in self.numbers:
            value = found.get(number)
            if value is None and number in unknowns:
                value = _SAID_UNKNOWN
            pair = pairs.get(value)
            if pair is None:  # one (value, status) tuple per answer, not per number
                # A free-form answer is the provider's text: it passes the
                # redaction point before the store (once per distinct answer).
                shown = value if value is None else redact.clean(value, None)
                pair = pairs[value] = (
                    (ANSWERED_UNKNOWN, UNKNOWN) if value is _SAID_UNKNOWN else
                    (shown, OK if value is not None else UNKNOWN))
            rows.append((number, *pair))
            answered[number] = pair
        self.store.finish_job(self.job, self.ttype.name, rows, provider=self.provider.name,
                              fields=self._fields_of(found, answered))
        self.emit("done", status, message=(
            f"{twice} number{' was' if twice == 1 else 's were'} answered twice with "
            "different values: not stored, unknown" if twice else None))
        return answered

    def _fields_of(self, found, answered: dict[str, tuple]) -> dict[str, dict] | None:
        """number -> the typed fields of each "ok" answer, for a task type that
        declares fields (None: it declares none). A reader that kept no fields (a
        plain mapping) answered them unknown: all None, so the paid answer is
        not asked again for want of them."""
        if not self.ttype.fields:
            return None
        kept = getattr(found, "fields", None) or {}
        empty = dict.fromkeys(self.ttype.field_names)
        return {number: kept.get(number) or empty
                for number, (_, status) in answered.items() if status == OK}

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
