"""Progress of one check as one short cell text: "pending 6,724/20,000"."""

from __future__ import annotations

import dataclasses

from tgcheck import JobEvent


@dataclasses.dataclass
class Progress:
    """Sums the progress of every task of one check (large sets become several tasks)."""

    numbers: int = 0  # distinct numbers to send, known once the first event comes
    simulated: bool = False
    failed: str | None = None
    _tasks: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)

    def update(self, event: JobEvent) -> None:
        self.simulated = event.simulated
        if event.kind == "failed":
            self.failed = event.message or "the task failed"
            return
        total = event.total or event.numbers
        done = total if event.kind == "done" else min(event.processed or 0, total)
        # success can exceed total at this provider: min() keeps "20,001/20,000" away.
        self._tasks[event.job_key] = (done, total)

    @property
    def processed(self) -> int:
        return sum(done for done, _ in self._tasks.values())

    @property
    def total(self) -> int:
        return sum(total for _, total in self._tasks.values())

    def text(self) -> str:
        label = " (sandbox)" if self.simulated else ""
        if self.failed:
            return f"failed{label}: {self.failed}"
        if not self._tasks:
            return f"pending{label}"
        return f"pending {self.processed:,}/{self.total:,}{label}"
