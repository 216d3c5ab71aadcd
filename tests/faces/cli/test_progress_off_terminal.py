"""Off a terminal, `check`, `resume` and `tgcheck sql` say at least every
TGCHECK_PROGRESS_EVERY seconds that they are still waiting; `tgcheck sql` ends on
Ctrl-C with its documented message and exit 130."""

from __future__ import annotations

import json

import pytest

from conftest import child_env, numbers
from processes import interrupt, keyless_env, read_until, started


@pytest.fixture
def slow_env(sandbox, tmp_path):
    # The first poll is a minute away; a "still waiting" line every 0.2 s.
    return child_env(sandbox, tmp_path / "home", TGCHECK_POLL_MIN="60",
                     TGCHECK_POLL_MAX="60", TGCHECK_PROGRESS_EVERY="0.2")


@pytest.fixture
def listing(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("\n".join(numbers(6, start=900)) + "\n")
    return path


def test_check_plain_says_it_is_still_waiting_between_polls(slow_env, listing):
    with started("check", str(listing), "--progress", "plain", env=slow_env) as proc:
        # (Before the task is created, the pulse says there is no news yet.)
        read_until(proc, ": submitted")
        seen = read_until(proc, "still waiting, pending")
        interrupt(proc)
    line = seen[-1]
    assert line.startswith("[") and "task cs" in line and "billed calls" in line


def test_check_json_sends_waiting_events(slow_env, listing):
    with started("check", str(listing), "--progress", "json", env=slow_env) as proc:
        read_until(proc, '"event": "submitted"')
        seen = read_until(proc, '"event": "waiting"')
        interrupt(proc)
    waiting = json.loads(seen[-1])
    assert waiting["task_id"] and waiting["numbers"] == 6


def test_resume_says_it_is_still_waiting(slow_env, listing):
    with started("check", str(listing), "--progress", "json", env=slow_env) as proc:
        read_until(proc, '"event": "submitted"')
        assert proc.poll() is None
        interrupt(proc)
    with started("resume", "--progress", "plain", env=slow_env) as proc:
        read_until(proc, "still waiting")
        err = interrupt(proc)
    assert "Traceback" not in err


def test_sql_prints_progress_off_a_terminal_and_ctrl_c_is_clean(tmp_path):
    env = keyless_env(tmp_path, TGCHECK_POLL_MIN="60", TGCHECK_POLL_MAX="60",
                      TGCHECK_PROGRESS_EVERY="0.2")
    query = "SELECT * FROM telegram_enrich('examples/customers.csv', 'phone')"
    with started("sql", "--sandbox", query, env=env) as proc:
        read_until(proc, "submitted: tgcheck:")
        read_until(proc, "still waiting: tgcheck:")
        err = interrupt(proc)
    assert proc.returncode == 130, err
    assert "query interrupted; the task runs on at the provider" in err
    assert "Traceback" not in err


def test_the_plain_display_repeats_only_unfinished_jobs():
    import io

    from tgcheck.models import JobEvent
    from tgcheck.progress import ProgressDisplay

    out = io.StringIO()
    display = ProgressDisplay(out, live=False, every=3600)
    display(JobEvent("submitted", "a", "tg", 5, task_id="t1", status="pending"))
    display(JobEvent("done", "b", "tg", 5, task_id="t2", status="exported"))
    out.truncate(0)
    display._still_waiting(60.0)
    lines = out.getvalue().strip("\0").splitlines()
    assert len(lines) == 1 and "task t1" in lines[0] and "still waiting" in lines[0]
