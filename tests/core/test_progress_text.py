"""tgcheck.progress_text: one count for the SQL line, the Excel cell and the CLI."""

import io

from tgcheck.models import JobEvent
from tgcheck.progress import CheckProgress, ProgressDisplay
from tgcheck.progress_text import check_cell, check_line, count


def _event(**fields):
    return JobEvent(kind="progress", job_key="k" * 64, task_type="tg", numbers=20_000,
                    task_id="t1", status="processing", total=20_000, processed=6_724,
                    status_calls=3, **fields)


def test_the_faces_count_alike():
    check = CheckProgress()
    event = _event(simulated=True)
    check.update(event)
    assert count(6_724, 20_000) == "6,724/20,000"
    assert check_line(event, check) == ("tgcheck: 20,000 numbers, task t1, processing, "
                                        "6,724/20,000 (34%), 3 status calls, SIMULATED")
    assert check_cell(check, simulated=True) == "pending 6,724/20,000 (sandbox)"
    assert check_cell(CheckProgress()) == "pending"
    assert check_cell(check, failed="the task failed") == "failed: the task failed"
    stream = io.StringIO()
    with ProgressDisplay(stream, live=False) as display:
        display(_event())
    assert " 6,724/20,000, " in stream.getvalue()


def test_the_sql_line_of_a_check_that_waits_for_another_hosts_task():
    # Issue 22: the waiter's line counted the driver's status calls as its own.
    check = CheckProgress()
    event = _event(driven_by="host-b:4242")
    check.update(event)
    line = check_line(event, check)
    assert "waited for host-b's task; 0 calls here" in line
    assert "3 status calls" not in line and check.status_calls == 0
