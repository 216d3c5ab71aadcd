"""The one path every face takes: normalise, dedupe, store, journal, task, answers.

Engine is a small facade over the parts, each a module along the flow:

    planning.py   normalise, look up, the fast path, the minimum, chunks
    jobs.py       one job per set: in-process dedupe, claim roles, watching others
    driver.py     one job's task: create, poll, collect, store
    open_jobs.py  resume, recovered task ids, one status asked by hand
    cancel.py     the caller's cancel, Ctrl-C and deadlines in every wait
    answers.py    the answer column (tgcheck.answer_column) a check returns
    request.py    CheckRequest, the one object passed between the parts
    messages.py   the way out of a stalled, lost or uncertain job, in words
    tuning.py     Tuning: how often and how long, passed to an Engine

The names faces, tests and docs import from `tgcheck.engine` are re-exported here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .. import plugins, redact
from ..create_gate import CreateGate
from ..errors import Cancelled
from ..fields import typed
from ..models import OK, Answer, JobEvent, TaskStatus, TaskType
from ..normalize import Region, resolve_all
from ..provider import make_provider
from ..settings import Settings
from ..store import BaseStore, Job, open_store
from ..store.recovery import RecoveryFile, recovery_path

# Private names some tests import from here (the top-up state): re-exported as
# they were before the split.
from .answers import AnswerColumn, ColumnAnswers, StoredColumn, sent_numbers
from .jobs import Jobs, driving
from .messages import RESUBMIT_HINT, lost_message, stalled_message
from .open_jobs import OpenJobs, PolledTask
from .planning import Planning
from .request import CheckRequest, EventListener, number_set_key, tell
from .request import _Fill as _Fill
from .tuning import Tuning

__all__ = [
    "RESUBMIT_HINT",
    "Cancelled",
    "CheckRequest",
    "ColumnAnswers",
    "Engine",
    "EventListener",
    "PolledTask",
    "StoredColumn",
    "Tuning",
    "lost_message",
    "number_set_key",
    "sent_numbers",
    "stalled_message",
]


class Engine:
    """The API of a check (check, check_column, plan) and of open jobs (resume,
    attach_recovered, poll_once); the work is done by its parts."""

    def __init__(self, settings: Settings | None = None, *, provider=None,
                 store: BaseStore | None = None, tuning: Tuning | None = None):
        self.settings = settings or Settings.from_env()
        self.tuning = tuning or Tuning()
        self._provider = provider
        self._provider_lock = threading.Lock()
        self.store = store or open_store(self.settings)
        # Where a paid task's id goes when the journal cannot take it (a full
        # disk, a stopped server); the next check attaches what it holds.
        where = recovery_path(self.store, getattr(self.settings, "home", None))
        self.recovery = RecoveryFile(where, str(self.store.path)) if where else None
        # Creates on their way: after Ctrl-C, the caller lets them be journaled.
        self.creates = CreateGate()
        self.planning = Planning(self)
        self.jobs = Jobs(self)
        self.open_jobs = OpenJobs(self)

    def __repr__(self) -> str:
        return (f"<Engine {redact.url_without_userinfo(self.settings.base_url)} "
                f"store={self.store.path}>")

    @property
    def provider(self):
        with self._provider_lock:
            if self._provider is None:
                self._provider = make_provider(self.settings)
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
        found, wanted, groups, codes = self.planning._grouped(values, CheckRequest(
            task_type, region, retry_unknown, resubmit, on_event, cancel, top_up))
        column = AnswerColumn(values, found, groups, wanted=wanted, codes=codes)
        if plugins.get_task_type(task_type, self.settings.provider).fields:
            column.fields_by_number = self.fields_of(task_type, column.answered())
        return column

    def plan(self, values: Iterable[object], *, task_type: str = "tg",
             region: Region = None, retry_unknown: bool = False,
             top_up: bool | None = None) -> dict[str, object]:
        """What a check would do, without any API call (the CLI's --dry-run): see
        Planning.plan."""
        return self.planning.plan(values, task_type=task_type, region=region,
                                  retry_unknown=retry_unknown, top_up=top_up)

    def minimum(self, ttype: TaskType) -> int | None:
        """Fewest numbers a task of this type may hold; None when there is no minimum."""
        return self.planning.minimum(ttype)

    # -- open jobs (OpenJobs) ---------------------------------------------------
    def resume(self, *, on_event=None, cancel=None,
               skipped: list[tuple[Job, str]] | None = None) -> int:
        """Finish this server's open and stalled jobs: see OpenJobs.resume."""
        return self.open_jobs.resume(on_event=on_event, cancel=cancel, skipped=skipped)

    def attach_recovered(self) -> int:
        """Attach the paid tasks the journal could not record: see
        OpenJobs.attach_recovered."""
        return self.open_jobs.attach_recovered()

    def poll_once(self, task_id: str) -> PolledTask:
        """Ask the provider once for a task's record (`tgcheck status`): see
        OpenJobs.poll_once."""
        return self.open_jobs.poll_once(task_id)

    def record_status(self, job: Job, record: TaskStatus) -> None:
        """A status seen outside the driver, kept like a poll's: see
        OpenJobs.record_status."""
        self.open_jobs.record_status(job, record)

    def abandon(self, job_id: int, reason: str) -> Job | None:
        """End a live or lost job on purpose: see OpenJobs.abandon."""
        return self.open_jobs.abandon(job_id, reason)

    def attach(self, job_id: int, task_id: str) -> Job:
        """Give a job the task id the journal lost: see OpenJobs.attach."""
        return self.open_jobs.attach(job_id, task_id)

    def settle_interrupted(self, job_ids: Iterable[int], why: str) -> int:
        """Creates cut off by Ctrl-C left uncertain: see OpenJobs.settle_interrupted."""
        return self.open_jobs.settle_interrupted(job_ids, why)

    # -- the store's answers outside a check -------------------------------------
    def stored_answers(self, values: Iterable[object], *, task_type: str = "tg",
                       region: Region = None) -> StoredColumn:
        """The stored answers of values, whatever their age, each with where it came
        from (`tgcheck cache show`): normalised as a check does, joined by the
        answer column; no API call."""
        values = values if isinstance(values, list) else list(values)
        found = resolve_all(values, region)
        return StoredColumn(values, found, self.store.origins(task_type, sent_numbers(found)))

    def forget_answers(self, *, task_type: str | None = None,
                       older_than_days: float | None = None, now: float | None = None) -> int:
        """Delete stored answers (`tgcheck cache clear`): checking those numbers
        again is paid again; the journal is kept. Returns how many."""
        return self.store.delete_answers(task_type=task_type, older_than_days=older_than_days,
                                         now=now)

    # -- for the fast path (tgcheck.fast_path), handed this engine ---------------
    @staticmethod
    def _tell(request: CheckRequest, event: JobEvent) -> None:
        tell(request, event)

    def driving(self, key: str) -> bool:
        """Whether a thread of this process drives the job of this set now."""
        return driving(self.store, key)
