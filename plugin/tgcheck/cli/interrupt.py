"""After Ctrl-C: let creates on their way land, or settle them as uncertain."""

from __future__ import annotations

import contextlib

import click

from ..errors import TgcheckError

# After Ctrl-C, past the HTTP timeout, for a created task's id to reach the journal.
CREATE_RECORD_MARGIN = 5.0


def let_creates_land(engine) -> int:
    """After Ctrl-C: a create whose request may have left is a task that may be
    paid for. Its worker finishes that one call (bounded by the HTTP timeout) and
    journals the task id before the process exits; a second Ctrl-C leaves at once,
    the jobs of creates still on their way then marked uncertain. Returns how many
    were left so."""
    pending = engine.creates.in_flight()
    if not pending:
        return 0
    # One HTTP call (its connect and its reply may each take an http_timeout),
    # then the journal's few retries of its write.
    limit = 2 * engine.settings.http_timeout + CREATE_RECORD_MARGIN
    try:
        creates = "1 task create" if len(pending) == 1 else f"{len(pending)} task creates"
        click.echo(f"tgcheck: waiting up to {limit:.0f}s for {creates} to be recorded; "
                   "Ctrl-C again to leave now (they will be uncertain)", err=True)
        if engine.creates.wait(limit):
            return 0
    except KeyboardInterrupt:
        pass
    left = engine.creates.in_flight()
    for job_id in left:
        # A worker that lands its create now still records it (its write expects
        # submitting or uncertain); one cut off by the exit leaves this behind.
        with contextlib.suppress(TgcheckError, KeyboardInterrupt):
            engine.settle_interrupted(
                (job_id,), "left by Ctrl-C while its create was on its way")
    return len(left)


def uncertain_note(cut_off: int) -> str:
    return (f"; {cut_off} create(s) were left on their way: their jobs are uncertain "
            "(`tgcheck jobs`), look at the provider's dashboard before any --resubmit"
            if cut_off else "")
