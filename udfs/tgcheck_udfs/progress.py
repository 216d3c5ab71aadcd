"""Progress of one check as one short cell text: "pending 6,724/20,000"."""

from __future__ import annotations

import dataclasses

from tgcheck import JobEvent
from tgcheck.progress import CheckProgress
from tgcheck.progress_text import check_cell


@dataclasses.dataclass
class Progress:
    """Sums the progress of every task of one check (large sets become several tasks)."""

    simulated: bool = False
    failed: str | None = None
    _check: CheckProgress = dataclasses.field(default_factory=CheckProgress)

    def update(self, event: JobEvent) -> None:
        self.simulated = event.simulated
        if event.kind == "failed":
            self.failed = event.message or "the task failed"
            return
        self._check.update(event)

    @property
    def processed(self) -> int:
        return self._check.processed

    @property
    def total(self) -> int:
        return self._check.total

    def text(self) -> str:
        return check_cell(self._check, simulated=self.simulated, failed=self.failed)
