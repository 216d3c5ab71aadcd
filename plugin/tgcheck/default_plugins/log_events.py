"""Job events to the `tgcheck` logger, so that unattended runs leave a trace."""

import logging

from .. import redact
from ..hookspecs import hookimpl

log = logging.getLogger("tgcheck.jobs")


@hookimpl
def tgcheck_job_event(event):
    level = logging.WARNING if event.kind == "failed" else logging.INFO
    log.log(
        level,
        "job %s %s: task=%s status=%s %s/%s status_calls=%d%s",
        event.job_key[:12],
        event.kind,
        redact.clean_optional(event.task_id, 200),
        redact.clean_optional(event.status, 40),
        event.processed,
        event.total,
        event.status_calls,
        f" ({redact.clean(event.message, None)})" if event.message else "",
    )
