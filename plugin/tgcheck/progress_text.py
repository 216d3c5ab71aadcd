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
