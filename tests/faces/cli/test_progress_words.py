"""The progress display's words (issue 22): counts never past the total, the bar's
counts whole on an 80-column terminal, and a create that failed named as such."""

from __future__ import annotations

import io
import json

from tgcheck.models import JobEvent
from tgcheck.progress import JsonProgress, ProgressDisplay


def past_the_total() -> JobEvent:
    # ekycpro's success can exceed total (the sandbox's quirks do it too).
    return JobEvent("progress", "k", "tg", 45, task_id="t1", status="exported", total=45,
                    processed=46, status_calls=2, billed_calls=3)


def test_plain_and_json_progress_never_count_past_the_total():
    out = io.StringIO()
    with ProgressDisplay(out, live=False, every=3600) as display:
        display(past_the_total())
    assert "45/45" in out.getvalue() and "46/45" not in out.getvalue()

    out = io.StringIO()
    with JsonProgress(out, every=3600) as progress:
        progress(past_the_total())
    record = json.loads(out.getvalue())
    assert (record["processed"], record["total"]) == (45, 45)


def live_line(width: int, event: JobEvent) -> str:
    out = io.StringIO()
    display = ProgressDisplay(out, live=True, every=3600)
    with display:
        # A fixed-width console: the terminal the bar is drawn on.
        display._progress.console.width = width
        display(event)
    return out.getvalue()


def test_the_bar_keeps_its_counts_whole_on_80_columns():
    event = JobEvent("progress", "k", "tg", 100_000, task_id="cs9viu7i61pkfs4oavvg",
                     status="processing", total=100_000, processed=54_321, status_calls=3,
                     simulated=True, billed_calls=4)
    text = live_line(80, event)
    lines = [line for line in text.splitlines() if line.strip()]
    assert all(len(line) <= 80 for line in lines), text
    assert "54321/100000" in text and "4 billed calls" in text, text
    assert len(lines) == 1, text  # one line: the label is cut (…), not wrapped
    wide = live_line(160, event)
    assert "[simulated] processing" in wide, wide  # plain text, not rich markup


def test_a_create_that_failed_says_so_without_task_none():
    out = io.StringIO()
    with ProgressDisplay(out, live=False, every=3600) as display:
        display(JobEvent("failed", "k", "tg", 5, message="creating the task: HTTP 400",
                         billed_calls=0))
    line = out.getvalue()
    assert "task (none created): failed, 0 billed calls (creating the task" in line, line
    assert "None" not in line and "failed ," not in line


def test_the_log_line_of_a_failed_create_says_no_task(caplog):
    """The job log (--debug, a caller's logging) said "task=None status=None
    None/None" for a create that failed before any task existed."""
    import logging

    from tgcheck import plugins

    caplog.set_level(logging.INFO, logger="tgcheck.jobs")
    plugins.emit(JobEvent("failed", "k" * 16, "tg", 5, message="creating the task: HTTP 400"))
    plugins.emit(JobEvent("progress", "j" * 16, "tg", 5, task_id="t9", status="processing",
                          total=5, processed=2, status_calls=1, driven_by="host-b:7"))
    failed, watched = caplog.messages[-2:]
    assert "None" not in failed and "no task" in failed and "HTTP 400" in failed
    assert "task=t9 status=processing 2/5 status_calls=1 driven by host-b:7" in watched
