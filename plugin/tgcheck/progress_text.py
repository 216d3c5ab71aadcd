"""The words for how far a check is, shared by the faces.

The CLI shows one line per task (tgcheck.progress); `tgcheck sql` one line per
check (check_line, on a terminal or in the log); Excel one short cell text per
check (check_cell). All count the same way: processed/total with thousands
separators, summed over a check's tasks by CheckProgress.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # progress.py itself uses count()
    from .models import JobEvent
    from .progress import CheckProgress


def count(done: int, total: int) -> str:
    """"6,724/20,000". A provider may report more processed than its total (ekycpro's
    success can exceed it, as the sandbox's quirks do): never shown past the total."""
    return f"{min(done, total) if total else done:,}/{total:,}"


def whose_task(owner: str | None) -> str:
    """The process that drives (and pays for) a job another one waits for, from its
    journal owner (host:pid): "host-b's task", or on this machine "another
    process's task (pid 4242)"."""
    from .store import HOST  # the store's idea of this machine (TGCHECK_HOST_NAME)

    host, _, pid = (owner or "").rpartition(":")
    if not host:
        return "another process's task"
    if host == HOST:
        return f"another process's task (pid {pid})"
    return f"{host}'s task"


def waited_note(event: JobEvent, billed_there: int) -> str:
    """What a process that only waited paid: "waited for host-b's task; 0 calls here
    (6 billed to host-b's run)"."""
    return (f"waited for {whose_task(event.driven_by)}; 0 calls here "
            f"({billed_there} billed to that run)")


def check_line(event: JobEvent, check: CheckProgress) -> str:
    """One check's line; event is the latest, check sums all its tasks:
    "tgcheck: 20,000 numbers, task t1, running, 6,724/20,000 (34%), 3 status calls"."""
    parts = [f"tgcheck: {check.numbers:,} numbers"]
    if check.tasks > 1:
        # The tasks of a split check move on separately: one status would mislead.
        parts.append(f"{check.tasks} tasks")
    else:
        if event.task_id:
            parts.append(f"task {event.task_id}")
        if event.status:
            parts.append(event.status)
    if check.counted:
        done, total = check.processed, check.total
        parts.append(f"{count(done, total)} ({100 * done / total:.0f}%)")
    if event.driven_by and check.tasks == 1:
        parts.append(f"waited for {whose_task(event.driven_by)}; 0 calls here")
    else:
        parts.append(f"{check.status_calls} status calls")
    if event.simulated:
        parts.append("SIMULATED")
    if event.message:
        parts.append(event.message)
    return ", ".join(parts)


def check_cell(check: CheckProgress, *, simulated: bool = False,
               failed: str | None = None) -> str:
    """One check as a cell text while it runs: "pending 6,724/20,000 (sandbox)"."""
    label = " (sandbox)" if simulated else ""
    if failed:
        return f"failed{label}: {failed}"
    if not check.tasks:
        return f"pending{label}"
    return f"pending {count(check.processed, check.total)}{label}"
