"""Copy one store into another: `tgcheck store migrate --to URL` moves a
team member's local store into the shared one.

Answers keep their age (checked_at); for a number both stores answer, the newer
answer stays. Journal rows already copied (same set, same creation time) are
skipped, so a second copy, or one cut off half-way and run again, does no harm.
"""

from __future__ import annotations

import dataclasses

from .base import BaseStore


@dataclasses.dataclass
class CopyReport:
    answers: int = 0        # answers read from the source (each kept if newer)
    jobs_added: int = 0     # journal rows added to the target
    jobs_skipped: int = 0   # already there from an earlier copy
    live_jobs: int = 0      # of the added, live ones (collected by `tgcheck resume`)

    def __str__(self) -> str:
        return (f"{self.answers} answers copied (the newer answer kept per number); "
                f"{self.jobs_added} journal rows added ({self.live_jobs} live), "
                f"{self.jobs_skipped} already there")


def copy_store(src: BaseStore, dst: BaseStore) -> CopyReport:
    """Copy src's answers and journal into dst; idempotent. Live jobs lose their
    owner on the way: run the copy while no tgcheck uses src, and `tgcheck
    resume` (against dst) collects them without paying again."""
    report = CopyReport()
    report.answers = dst.import_answers(src.iter_answers())
    jobs = list(src.iter_jobs())
    report.jobs_added, report.live_jobs = dst.import_jobs(jobs)
    report.jobs_skipped = len(jobs) - report.jobs_added
    return report
