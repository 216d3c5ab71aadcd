"""The job state machine: its states, its one transition table, its named steps.

Every journal state string of tgcheck is written here. A state is a `JobState`,
a `str` enum: the values are what the `jobs.state` column has always held (no
schema change), and a member equals its string, so `job.state == "done"` holds
either way. The store refuses a state change the table does not list
(`IllegalTransition`); the engine and the faces do not write states, they call
the named steps below (created, polled, lost, settled after an interrupt,
abandoned ...), each one guarded so that a job another process has moved on
meanwhile is left as it is.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..errors import StoreError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .base import BaseStore


class JobState(str, enum.Enum):  # noqa: UP042 (str() of a StrEnum differs: stored text)
    """Where a job stands, from its claim to its end."""

    NEW = "new"                # claimed; its create was never sent
    SUBMITTING = "submitting"  # its create is on its way
    OPEN = "open"              # its task exists: polled until it is ready
    STALLED = "stalled"        # its task exists but used its status-call budget
    UNCERTAIN = "uncertain"    # a create whose outcome is unknown (maybe paid)
    DONE = "done"              # answers stored
    FAILED = "failed"          # refused, or failed at the provider
    LOST = "lost"              # its task is gone at the provider
    ABANDONED = "abandoned"    # given up on purpose (or by a resubmit)

    # A member is its string everywhere: printed, formatted, hashed (a dict keyed
    # by members answers a lookup by the stored string).
    __str__ = str.__str__
    __format__ = str.__format__
    __hash__ = str.__hash__


NEW, SUBMITTING, OPEN, STALLED, UNCERTAIN, DONE, FAILED, LOST, ABANDONED = JobState

# Live jobs hold their numbers: no other task is created for them. A stalled
# job's task exists but has used its status-call budget: it is not polled until
# the user asks (`tgcheck resume`, `tgcheck status`), and still holds its numbers.
LIVE_STATES = (NEW, SUBMITTING, OPEN, STALLED, UNCERTAIN)
# Over: no task of these will answer (a lost job may still be abandoned, which
# frees its set for a new, paid task).
ENDED = (DONE, FAILED, LOST, ABANDONED)
# Jobs a known task id may be attached to: its create's outcome is unknown
# or was never recorded (new: cut off before the create was journaled).
ATTACHABLE = (NEW, SUBMITTING, UNCERTAIN)
# Jobs the user may abandon (`tgcheck jobs abandon`): the live ones, and a lost
# one (its set is not created again without a deliberate step).
ABANDONABLE = (*LIVE_STATES, LOST)

# The one transition table: each state, and where it may go from there.
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    # The create starts; or a task id found in the recovery file is attached;
    # or (the fast path) the numbers were answered one by one at once.
    NEW: frozenset({SUBMITTING, OPEN, DONE, ABANDONED}),
    # created; refused; cut off (maybe paid); stopped before a byte left.
    SUBMITTING: frozenset({OPEN, FAILED, UNCERTAIN, NEW, ABANDONED}),
    # Its create landed after all (recorded late, or attached by the user).
    UNCERTAIN: frozenset({OPEN, ABANDONED}),
    OPEN: frozenset({DONE, FAILED, LOST, STALLED, ABANDONED}),
    # Asked for again by the user (a new budget); or given up.
    # (or its task turned out gone when the user asked: `tgcheck status`)
    STALLED: frozenset({OPEN, LOST, ABANDONED}),
    LOST: frozenset({ABANDONED}),
    DONE: frozenset(),
    FAILED: frozenset(),
    ABANDONED: frozenset(),
}


class IllegalTransition(StoreError):
    """A state change the journal's transition table does not allow."""


def state_of(value: str) -> JobState:
    """The state a stored string names; IllegalTransition for any other word."""
    try:
        return JobState(value)
    except ValueError:
        raise IllegalTransition(f"{value!r} is not a journal state") from None


def allowed(old: str, new: str) -> bool:
    """Whether a job in state old may go to new (staying is always allowed)."""
    old, new = state_of(old), state_of(new)
    return old is new or new in TRANSITIONS[old]


def check(old: str, new: str, job_id: int | None = None) -> None:
    """Raise IllegalTransition unless old -> new is in the table."""
    if not allowed(old, new):
        which = f"job {job_id}" if job_id is not None else "a job"
        raise IllegalTransition(f"{which} cannot go from {old} to {new}")


def sources(new: str) -> tuple[JobState, ...]:
    """The states a job may be in to go to new (new itself included)."""
    target = state_of(new)
    return tuple(s for s in JobState if s is target or target in TRANSITIONS[s])


def sql_list(states: Iterable[str]) -> str:
    """States as an SQL list literal, "('new', 'open')": the values are this
    module's own words, never user input."""
    return "(" + ", ".join(f"'{state_of(s).value}'" for s in states) + ")"


# ---------------------------------------------------------------------------
# The named steps. Each writes through BaseStore.update_job (which beats the
# heartbeat and passes text through the redaction point) with the states it may
# start from: a job someone else moved on meanwhile (abandoned by the user, a
# resubmit) is left alone, and the step returns False.

def submitting(store: BaseStore, job_id: int) -> bool:
    """The create is about to be sent: from here on, a cut-off means uncertain."""
    return store.update_job(job_id, expect_state=(NEW, SUBMITTING), state=SUBMITTING)


def created(store: BaseStore, job_id: int, task_id: str, owner: str | None,
            **fields) -> bool:
    """The create returned a task id: the job is open, its task to be polled. From
    uncertain too: another run may have taken the create for cut off meanwhile."""
    return store.update_job(job_id, expect_state=(SUBMITTING, UNCERTAIN), state=OPEN,
                            task_id=task_id, owner=owner, error=None, **fields)


def create_uncertain(store: BaseStore, job_id: int, error: str) -> bool:
    """The create may have reached the provider (cut off, interrupted): maybe paid;
    only a deliberate resubmit creates again."""
    return store.update_job(job_id, expect_state=(SUBMITTING,), state=UNCERTAIN,
                            owner=None, error=error)


def create_refused(store: BaseStore, job_id: int, error: str) -> bool:
    """The provider refused the create, or it never reached a server: nothing exists."""
    return store.update_job(job_id, expect_state=(SUBMITTING,), state=FAILED,
                            owner=None, error=error)


def create_unsent(store: BaseStore, job_id: int) -> bool:
    """Stopped before any byte of the create left: the job is as new."""
    return store.update_job(job_id, expect_state=(SUBMITTING,), state=NEW, owner=None)


def polled(store: BaseStore, job_id: int, *, billed: bool, **fields) -> bool:
    """A status call's answer, kept like every poll (no state change)."""
    return store.update_job(job_id, status_call=billed, **fields)


def stalled(store: BaseStore, job_id: int) -> bool:
    """The status-call budget is used up: no more polls until the user asks."""
    return store.update_job(job_id, expect_state=(OPEN,), state=STALLED, owner=None)


def lost(store: BaseStore, job_id: int, error: str) -> bool:
    """The provider no longer knows the task."""
    return store.update_job(job_id, expect_state=sources(LOST), state=LOST, owner=None,
                            error=error)


def failed(store: BaseStore, job_id: int, error: str) -> bool:
    """The task failed at the provider."""
    return store.update_job(job_id, expect_state=(OPEN,), state=FAILED, owner=None,
                            error=error)


def settled_after_interrupt(store: BaseStore, job_ids: Iterable[int], error: str) -> int:
    """After Ctrl-C: jobs whose create was still on its way when the process left
    are uncertain (a task may exist, and be paid). A worker that lands its create
    now still records it (created() starts from uncertain too). Returns how many
    were marked."""
    return sum(create_uncertain(store, job_id, error) for job_id in job_ids)


def abandoned(store: BaseStore, job_id: int, reason: str):
    """End a live or lost job on purpose; see BaseStore.abandon_job."""
    return store.abandon_job(job_id, reason)


def attached(store: BaseStore, job_id: int, task_id: str, given_up_by: str | None = None):
    """A task id the journal lost, given back (`tgcheck jobs attach`, the recovery
    file): the job is open again; see BaseStore.attach_task."""
    return store.attach_task(job_id, task_id, given_up_by=given_up_by)


def reopened(store: BaseStore, job_id: int) -> bool:
    """A stalled job open again with a new status-call budget (the user asked)."""
    return store.reopen(job_id)
