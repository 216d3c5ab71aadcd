"""The fast path: a check with few new numbers asks them one by one first.

Where the provider has a synchronous check (Provider.sync, e.g. ekycpro's
/v1/check) and a check's new numbers are at most TGCHECK_SYNC_MAX, each is asked
once, a few at a time, before any task: an answer comes in about a second
instead of a task's minutes. A number the check does not answer (a miss in the
vendor's cache, an undetermined answer, a 5xx, a timeout, a rate limit that does
not end) is never asked again in this check: it goes into the check's one bulk
task. The money rules hold as for a task:

- the set is claimed in the journal first (one job, its numbers), so two
  processes with the same check never both pay for it; a set another job holds
  goes to the bulk path, which waits for that job;
- each billed reply (the reply's word, else the provider's Billing.sync: billed
  only when determined) is counted in the job's status_calls (the journal), told
  as a job event (the closing line, --progress json) and the answers are
  stored with the job: a re-run costs nothing;
- 401 and 402 stop the check (what was answered is stored first); 429 is
  waited out (Retry-After) by every worker, not only the one that got it.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .billing import billing_of
from .errors import Cancelled, ConfigError, NoApiKey
from .main_waits import completed
from .models import OK, JobEvent
from .provider import CallContext, SyncReply, make_provider, plausible_id
from .store.journal import NEW

# Calls in flight at once: few, so a vendor's rate limit is rarely met.
WORKERS = 4
# How long the fast path may take before its unasked numbers go to the task.
FAST_PATH_SECONDS = 60.0
# 429s for one number before it goes to the task instead.
MAX_RATE_LIMITED = 5

# The fast paths running in this process, by (store, set key).
_running: dict[tuple[str, str], threading.Event] = {}
_running_lock = threading.Lock()


def applies(settings, provider, ttype, missing) -> bool:
    """Whether this check's new numbers take the fast path."""
    sync = getattr(provider, "sync", None)
    return bool(missing) and sync is not None and len(missing) <= settings.sync_max \
        and ttype.name in getattr(sync, "task_types", ())


# The key a dry run's provider is built with when none is set: never sent (a
# dry run makes no call), only there because a provider asks for one when built.
_STAND_IN_KEY = "tgcheck-dry-run-stand-in-key"


def planned(engine, ttype, new) -> bool:
    """Whether a check would ask these new numbers one by one first (a dry run's
    "fast path"), with no call and whether or not a key is set: the provider's
    declaration decides (Provider.sync, its task_types, what its settings make of
    it), never the key's value. Without a key, a provider is built for the
    question with a stand-in key, asked and closed; a provider that cannot be
    built so (it refuses the stand-in, another setting is wrong) takes no fast
    path in the plan, as a check without a working provider would take none."""
    settings = engine.settings
    if not 0 < len(new) <= settings.sync_max:
        return False
    try:
        return applies(settings, engine.provider, ttype, new)
    except NoApiKey:
        pass
    except ConfigError:  # a check would stop on it before any call: no path to tell
        return False
    try:
        provider = make_provider(dataclasses.replace(settings, api_key=_STAND_IN_KEY))
    except ConfigError:
        return False
    try:
        return applies(settings, provider, ttype, new)
    finally:
        provider.close()


def run(engine, numbers: list[str], request, key: str) -> tuple[dict[str, tuple], list[str],
                                                                 int | None]:
    """(answers by number, the numbers left for the task, the journal job's id or
    None when the set is not ours to ask: another job holds some of it)."""
    store, ttype = engine.store, request.ttype
    # Threads of one process share the journal's owner (its claim says "drive" to
    # each): they meet here instead, and the later ones take what the first stored.
    slot = (str(store.path), key)
    with _running_lock:
        first = _running.get(slot)
        if first is None:
            mine = _running[slot] = threading.Event()
    if first is not None:
        _wait(first, request.cancel)
        found = store.stored_since(ttype.name, numbers, request.since)
        answered = {n: pair for n, pair in found.items() if pair[1] == OK}
        return answered, [n for n in numbers if n not in answered], None
    try:
        return _run(engine, numbers, request, key)
    finally:
        with _running_lock:
            _running.pop(slot, None)
        mine.set()


def _wait(event: threading.Event, cancel) -> None:
    """Until another thread's fast path of this set has ended (or the caller stops)."""
    while not event.wait(0.1):
        if cancel is not None and cancel.is_set():
            raise Cancelled("stopped waiting; the numbers asked meanwhile are stored")


def _run(engine, numbers: list[str], request, key: str):
    store, provider, ttype = engine.store, engine.provider, request.ttype
    if engine.driving(key):  # this set's task, on another thread
        return {}, numbers, None
    checker = provider.sync()  # made before the claim: a bad setting leaves no job
    role, job = store.claim(key, provider.identity, ttype.name, numbers, since=request.since)
    if role != "drive" or job.state != NEW or job.task_id:
        # Another job holds some of these, or this set already has a task (one a
        # timeout left open): the bulk path waits for it or polls it.
        if role == "drive":
            store.release(job.id)
        checker.close()
        return {}, numbers, None
    asked = _Asking(checker, ttype, request.cancel, billing_of(provider),
                    on_billed=lambda: store.update_job(job.id, status_call=True))
    engine._tell(request, _event(engine, job, request, "submitted", len(numbers),
                                 message=f"asking {len(numbers)} numbers one by one"))
    try:
        # Within the check's TGCHECK_TIMEOUT too: a vendor that never answers holds
        # a 3-second check for no longer than that (then the numbers go to the task).
        asked.run(numbers, min(FAST_PATH_SECONDS, engine.settings.timeout))
    finally:
        # Stored whatever happened (a 402 after some answers, Ctrl-C): they are paid.
        answered = asked.answered
        store.update_job(job.id, status="sync", total=len(numbers), success=len(answered),
                         failure=len(numbers) - len(answered))
        # A task type with fields: a synchronous answer brings none, so each is
        # unknown (all None) rather than missing, which would pay for it again.
        store.finish_job(store.job(job.id), ttype.name,
                         [(n, value, OK) for n, value in answered.items()],
                         fields={n: dict.fromkeys(ttype.field_names) for n in answered}
                         if ttype.fields else None,
                         # Each answer's own id (the vendor's transaction), as a
                         # task's answers keep the task's.
                         task_ids={n: asked.ids[n] for n in answered if n in asked.ids})
    rest = [n for n in numbers if n not in answered]
    engine._tell(request, _event(engine, job, request, "done", len(numbers), message=(
        f"{len(answered)} answered at once, {asked.billed} billed; "
        f"{len(rest)} go to a task" if rest else
        f"{len(answered)} answered at once, {asked.billed} billed")))
    return {n: (value, OK) for n, value in answered.items()}, rest, job.id


def _event(engine, job, request, kind, count, *, message) -> JobEvent:
    current = engine.store.job(job.id)
    # Its own key in events: the task for what it leaves may hold the same set,
    # and a face that keeps each job's last event (the closing line) counts both.
    return JobEvent(kind=kind, job_key=f"{job.key}:sync", task_type=request.ttype.name,
                    numbers=count,
                    status="sync", total=current.total, processed=current.success,
                    status_calls=current.status_calls, message=message,
                    simulated=engine.settings.simulated,
                    billed_calls=current.status_calls)


class _Asking:
    """One fast path's calls: WORKERS threads take numbers off one queue."""

    def __init__(self, sync, ttype, cancel, billing, *, on_billed):
        self.sync, self.ttype, self.cancel, self.on_billed = sync, ttype, cancel, on_billed
        self.billing = billing
        self.answered: dict[str, str] = {}
        self.ids: dict[str, str] = {}  # number -> the vendor's id of its answer
        self.billed = 0
        self._queue: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._not_before = 0.0  # a 429's Retry-After holds every worker
        self._limited: collections.Counter = collections.Counter()
        self._error: BaseException | None = None
        self._stop = threading.Event()

    def run(self, numbers: list[str], seconds: float = FAST_PATH_SECONDS) -> None:
        self._queue.extend(numbers)
        self._deadline = time.monotonic() + seconds
        workers = min(WORKERS, len(numbers))
        pool = ThreadPoolExecutor(workers, thread_name_prefix="tgcheck-sync")
        try:
            futures = [pool.submit(self._work) for _ in range(workers)]
            for future in completed(futures):  # Ctrl-C heard, whichever thread took it
                future.result()
        except BaseException:
            self._stop.set()  # Ctrl-C: no new call starts; those on their way end
            raise
        finally:
            pool.shutdown(wait=True)  # their answers are paid: stored by the caller
            self.sync.close()
        if self._error is not None:
            raise self._error

    def _next(self) -> str | None:
        with self._lock:
            stopped = self._stop.is_set() or self._error is not None or (
                self.cancel is not None and self.cancel.is_set())
            if stopped or not self._queue:
                return None
            return self._queue.popleft()

    def _work(self) -> None:
        # Here, not at the top: the wire brings httpx, which `import tgcheck` and a
        # cached run leave out (tests/faces/cli/test_cached_run_imports.py).
        from .wire import NoAnswer

        while (number := self._next()) is not None:
            wait = self._not_before - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                return
            if time.monotonic() >= self._deadline:
                continue  # out of time: left for the task
            try:
                reply = self.sync.check(number, self.ttype.name, context=CallContext(
                    deadline=self._deadline, cancel=self.cancel))
            except NoAnswer as e:
                reply = _no_answer(e)
            except BaseException as e:  # 401, 402: the check stops; so does any other
                with self._lock:
                    self._error = self._error or e
                return
            self._take(number, reply)

    def _take(self, number: str, reply: SyncReply) -> None:
        # The reply's own word, else the provider's rule: an undetermined answer
        # (no value) is free under Billing.sync's "determined".
        if self.billing.sync_billed(reply.value, reply.billed):
            with self._lock:
                self.billed += 1
            self.on_billed()
        if reply.retry_after is not None:
            with self._lock:
                self._limited[number] += 1
                if self._limited[number] <= MAX_RATE_LIMITED:
                    self._not_before = max(self._not_before,
                                           time.monotonic() + reply.retry_after)
                    self._queue.append(number)  # not answered: asked again, after the wait
            return
        value = self.ttype.clean(reply.value)
        if value is not None:
            with self._lock:
                self.answered[number] = value
                if plausible_id(reply.id):
                    self.ids[number] = reply.id


def _no_answer(e) -> SyncReply:
    """A synchronous check the wire got no answer to (Wire.once's NoAnswer), as a
    reply: a 429 is asked again after its wait; a timeout, a drop or a 5xx billed
    nothing and leaves the number to the task (never asked here twice); a 2xx cut
    short may have been a determined, billed answer: counted, as a 2xx that cannot
    be read is (the journal never counts less than was paid). The core's rule, so
    that a provider's SyncCheck maps no status code itself."""
    if e.status == 429:
        return SyncReply(retry_after=e.retry_after or 1.0)
    return SyncReply(billed=e.status is not None and 200 <= e.status < 300)
