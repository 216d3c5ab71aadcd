"""The rows a store hands out: a journal row (Job), a stored answer, their columns."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import NamedTuple

# job_answers' status for a job's number whose answer was deleted since (cache clear).
MISSING = "missing"


@dataclasses.dataclass
class Job:
    """One row of the journal: a task for one number set, from claim to its end."""

    id: int
    key: str
    provider: str
    task_type: str
    count: int
    state: str
    task_id: str | None
    status: str | None
    total: int | None
    success: int | None
    failure: int | None
    status_calls: int
    error: str | None
    owner: str | None
    heartbeat: float | None
    created_at: float
    updated_at: float
    budget_from: int = 0
    estimated_amount: str | None = None
    actual_amount: str | None = None
    currency: str | None = None
    polled_at: float | None = None
    moved_at: float | None = None
    # account_of() the API key that created (or will create) its task; None: unknown.
    account: str | None = None

    @property
    def budget_used(self) -> int:
        """Status calls made since the poll budget last began (job start or a resume)."""
        return self.status_calls - (self.budget_from or 0)

    @classmethod
    def from_row(cls, row) -> Job:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})


# The journal's columns as the Job has them; a stored job also has its `numbers`.
JOB_COLUMNS = tuple(f.name for f in dataclasses.fields(Job))
_JOB_COLUMNS = ", ".join(JOB_COLUMNS)
# Job times kept on the store's clock.
_JOB_TIMES = ("heartbeat", "created_at", "updated_at", "polled_at", "moved_at")
ANSWER_COLUMNS = ("task_type", "number", "value", "status", "checked_at", "task_id")


class AnswerStats(NamedTuple):
    """One (task_type, status) group of stored answers."""

    task_type: str
    status: str
    count: int
    fresh: int
    oldest: float
    newest: float


class StoredAnswer(NamedTuple):
    """One row of the answers table."""

    task_type: str
    number: str
    value: str | None
    status: str
    checked_at: float
    task_id: str | None
    # The provider that answered (its name, e.g. "ekycpro"); None: stored by a
    # tgcheck that did not record it (schema version 3 and before).
    provider: str | None = None
    # Its typed fields as the store keeps them (JSON text, tgcheck.fields.fields_json);
    # None: its task type has none, or stored before schema version 5.
    fields: str | None = None


class StoredJob(NamedTuple):
    """A journal row with its numbers: what a copy of the store carries over."""

    job: Job
    numbers: list[str]


# (value, status, numbers): the answers of a lookup, grouped as the database hands them over.
AnswerGroup = tuple[str | None, str, list[str]]


class AnswerRows(Sequence):
    """finish_job's rows, (number, value, status), held as their groups: each
    distinct (value, status) and its numbers. A job's answers are found grouped;
    a store that inserts an answer's numbers at once (SQLite's one statement per
    answer) takes `groups` as they are, any other reads the rows (made as read):
    no tuple per number is built to be taken apart again (0.03 s per 100,000)."""

    __slots__ = ("groups", "_count", "_rows")

    def __init__(self, groups: dict[tuple[str | None, str], list[str]]):
        self.groups = groups
        self._count = sum(map(len, groups.values()))
        self._rows: list[tuple] | None = None

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[tuple[str, str | None, str]]:
        for (value, status), numbers in self.groups.items():
            for number in numbers:
                yield number, value, status

    def __getitem__(self, index):
        if self._rows is None:
            self._rows = list(self)
        return self._rows[index]
