"""Plain data passed between the engine, the plugins and the faces."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import NamedTuple, Protocol

from .fields import Field

# Answer.status values
OK = "ok"
INVALID = "invalid"
BLANK = "blank"
UNKNOWN = "unknown"


class Answer(NamedTuple):
    """One input's answer, in the caller's order.

    value is the task type's answer (`yes`/`no` for `tg`) when status is ok, else None.
    fields: the typed fields its task type declares (tgcheck.fields; every declared
    name, None where unknown) when status is ok and the task type declares some,
    else None.
    A NamedTuple, not a dataclass: a million of them are built per large check.
    """

    input: object
    number: str | None
    value: str | None
    status: str
    reason: str | None = None
    fields: Mapping[str, object] | None = None


@dataclasses.dataclass(frozen=True)
class TaskType:
    """A kind of check the provider runs: its name, result column and allowed values.

    values=None accepts any non-empty cell (e.g. a profile-picture URL).
    `column` is the headline: the one answer every face shows (`telegram` for `tg`);
    `fields` are the typed values kept beside it (tgcheck.fields), each read from
    its own result column (an undeclared column is ignored).
    """

    name: str
    column: str
    values: frozenset[str] | None = None
    description: str = ""
    # Fewest numbers the provider accepts in one task of this type (None: no
    # minimum known); TGCHECK_MIN_TASK_SIZE overrides it.
    min_task_size: int | None = None
    fields: tuple[Field, ...] = ()
    # The provider whose task type this is (its registered name, e.g. "ekycpro"):
    # two providers may both declare `ws`; the selected provider decides what a
    # bare name means (plugins.get_task_type). None: any provider's.
    provider: str | None = None

    def __post_init__(self):
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"task type {self.name!r} declares a field twice: {names}")

    @property
    def headline(self) -> str:
        """The headline answer's name: its result column (`telegram` for `tg`)."""
        return self.column

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def qualified_name(self) -> str:
        """"provider:name" (the name alone for a task type of any provider): the
        name that means this task type whichever provider is selected."""
        return f"{self.provider}:{self.name}" if self.provider else self.name

    def clean(self, raw: object) -> str | None:
        """The canonical value for a result cell, or None when it is no answer."""
        if raw is None:
            return None
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)  # a spreadsheet's number cell: 7.0 is the vendor's "7"
        text = str(raw).strip()
        if not text:
            return None
        if self.values is None:
            return text
        return self._canonical.get(" ".join(text.lower().split()))

    @functools.cached_property
    def _canonical(self) -> dict[str, str]:
        # Result files write "Yes", " YES ", "N/A": match case- and space-insensitively.
        return {" ".join(v.lower().split()): v for v in self.values or ()}


def processed(success: int | None, failure: int | None) -> int | None:
    """Numbers the provider has processed, from its counts (None: not reported)."""
    if success is None and failure is None:
        return None
    return (success or 0) + (failure or 0)


@dataclasses.dataclass(frozen=True)
class TaskStatus:
    """The provider's task record, whatever shape it came in.

    state is the normalised state (`tgcheck.provider`: queued, running, ready,
    failed, lost), the only thing the engine and the polling policy read; status
    is the provider's own word, kept as text for people. A provider sets state;
    None is a word it does not know (polled as queued, never progress).
    """

    task_id: str
    status: str
    total: int | None = None
    success: int | None = None
    failure: int | None = None
    result_url: str | None = None
    message: str | None = None
    created_at: str | None = None
    # What the provider says the task costs: decimal text, e.g. "1.90", and its
    # currency; estimated at create, actual when finished (None: not reported).
    estimated_amount: str | None = None
    actual_amount: str | None = None
    currency: str | None = None
    state: str | None = None

    @property
    def processed(self) -> int | None:
        return processed(self.success, self.failure)


class Reader(Protocol):
    """What a reader plugin registers."""

    name: str

    def accepts(self, data: bytes) -> bool: ...

    def read(self, data: bytes, task_type: TaskType) -> Mapping[str, str | None]:
        """Map each E.164 number in the file to its cleaned value (None: no answer)."""
        ...


@dataclasses.dataclass(frozen=True)
class JobEvent:
    """Something happened to a job. kind: submitted, progress, done, failed, retry
    (the provider could not be reached; message says why and when the next try is)."""

    kind: str
    job_key: str
    task_type: str
    numbers: int
    task_id: str | None = None
    status: str | None = None
    total: int | None = None
    processed: int | None = None
    status_calls: int = 0
    message: str | None = None
    simulated: bool = False
    # Billed calls of the job so far, by its provider's rule (Provider.billed_calls);
    # None: not counted (an event built outside the engine).
    billed_calls: int | None = None
    # The process (host:pid) that drives the job and pays its calls, when this one
    # only waits for it; None: this process drives it.
    driven_by: str | None = None

    @property
    def progress(self) -> Mapping[str, object]:
        """The event as a plain dict (for JSON progress lines and logging)."""
        return dataclasses.asdict(self)
