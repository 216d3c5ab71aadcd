"""What one check asks for, passed whole from the facade down to each job's driver.

The parts of the engine (planning, jobs, the driver) hand one CheckRequest
along, never loose arguments: a new choice of the caller is one field here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Callable, Sequence

from .. import plugins
from ..models import JobEvent, TaskType
from ..normalize import Region

EventListener = Callable[[JobEvent], None]


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


class _Fill:
    """One check's top-up setting, its numbers, and those its tasks were filled
    with (fillers are picked once, under the lock). The union is made only for a
    task below the minimum: a large check copies no set of a million numbers."""

    def __init__(self, top_up: bool | None, wanted: set[str], taken: set[str]):
        self.top_up, self.wanted, self.taken = top_up, wanted, taken
        self.lock = threading.Lock()


def tell(request: CheckRequest, event: JobEvent) -> None:
    """A job event to the plugins and to the caller's listener."""
    plugins.emit(event)
    if request.on_event is not None:
        request.on_event(event)
