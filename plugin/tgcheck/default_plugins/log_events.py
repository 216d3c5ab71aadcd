"""Job events to the `tgcheck` logger, so that unattended runs leave a trace."""

import logging

from .. import redact
from ..hookspecs import hookimpl

log = logging.getLogger("tgcheck.jobs")


@hookimpl
def tgcheck_job_event(event):
    level = logging.WARNING if event.kind == "failed" else logging.INFO
    # Only what is known: a create that failed has no task, status or counts yet
    # (not "task=None status=None None/None").
    fields = [f"task={redact.clean(event.task_id, 200)}" if event.task_id else "no task",
              f"status={redact.clean(event.status, 40)}" if event.status else "",
              f"{event.processed}/{event.total}" if event.total is not None else "",
              f"status_calls={event.status_calls}",
              f"driven by {redact.clean(event.driven_by, 200)}" if event.driven_by else ""]
    log.log(
        level,
        "job %s %s: %s%s",
        event.job_key[:12],
        event.kind,
        " ".join(f for f in fields if f),
        f" ({redact.clean(event.message, None)})" if event.message else "",
    )
