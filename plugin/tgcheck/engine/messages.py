"""What the engine tells a user about a job it cannot finish: the way out, in words.

Said alike by the jobs that meet such a job in the journal, the driver that
makes it so, and `tgcheck status`: one wording, kept here.
"""

from __future__ import annotations

from ..store import Job

RESUBMIT_HINT = (
    "Check the provider's dashboard: if the task is there, wait and run again later; "
    "to create it again deliberately (and possibly pay twice), run "
    "`tgcheck check ... --resubmit` or call tgcheck.check(..., resubmit=True)."
)


def stalled_message(job: Job, limit: int) -> str:
    return (
        f"task {job.task_id} (job {job.id}) is stalled: it used its budget of {limit} "
        f"billed status calls (TGCHECK_MAX_STATUS_CALLS) without finishing (last status: "
        f"{job.status or 'none'}), and is no longer polled. `tgcheck resume` polls it "
        f"again with a new budget; `tgcheck status {job.task_id}` asks once; "
        f"`tgcheck jobs abandon {job.id}` gives it up (the task may still run, and be "
        "paid, at the provider), after which a check creates a new, paid task, as "
        "`check --resubmit` does in one step."
    )


def lost_message(job: Job) -> str:
    return (
        f"task {job.task_id} (job {job.id}) is gone at the provider (it answers that it "
        f"does not know it): its {job.count} numbers have no answers. "
        "`tgcheck check ... --resubmit` (Python: resubmit=True) creates a new task for "
        f"them, paid again; `tgcheck jobs abandon {job.id}` lets any check do so."
    )
