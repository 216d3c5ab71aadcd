"""The DuckDB face across processes: Ctrl-C, and two sessions sharing one task.

The sandbox runs in the test process; the sessions are real `python` processes
pointed at it and at the test's store through the environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import numbers
from tgcheck.sandbox import Sandbox


def session_env(sb, home) -> dict:
    env = dict(os.environ)
    env.update(TGCHECK_API_KEY=sb.api_key, TGCHECK_BASE_URL=sb.url, TGCHECK_HOME=str(home),
               TGCHECK_POLL_MIN="0.02", TGCHECK_POLL_MAX="0.2", TGCHECK_TIMEOUT="60",
               TGCHECK_LOAD_PLUGINS="")
    return env


CHECK_CSV = textwrap.dedent("""
    import json, sys, duckdb, tgcheck_duckdb
    con = tgcheck_duckdb.register(duckdb.connect())
    con.execute("SET enable_progress_bar = false")  # DuckDB's bar writes to stdout
    rows = con.execute("SELECT number, telegram, status FROM telegram_check(?, 'phone')",
                       [sys.argv[1]]).fetchall()
    print(json.dumps(sorted(rows)))
""")


@pytest.mark.slow
def test_two_processes_querying_the_same_column_make_one_task(tmp_path):
    wanted = numbers(3_000)
    csv_path = tmp_path / "phones.csv"
    csv_path.write_text("phone\n" + "\n".join(wanted) + "\n")
    # 3,000 numbers at 2,000 a second: the first session's task is still running
    # when the second starts, unless the second starts late, when it finds the
    # answers stored. Either way: one task.
    with Sandbox(speed=2_000) as sb:
        env = session_env(sb, tmp_path / "home")
        sessions = [subprocess.Popen([sys.executable, "-c", CHECK_CSV, str(csv_path)], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for _ in range(2)]
        outputs = [s.communicate(timeout=60) for s in sessions]
        for session, (_, err) in zip(sessions, outputs, strict=True):
            assert session.returncode == 0, err
        first, second = (json.loads(out) for out, _ in outputs)
        assert first == second
        assert {number: telegram for number, telegram, _ in first} == {
            n: sb.expected(n) for n in wanted}
        assert sb.billed["create"] == 1


CTRL_C = textwrap.dedent("""
    import json, os, signal, time, duckdb, tgcheck_duckdb
    fired = {}
    def on_event(event):
        if event.kind == "submitted" and not fired:
            fired["at"] = time.monotonic()
            os.kill(os.getpid(), signal.SIGINT)
    con = tgcheck_duckdb.register(duckdb.connect(), on_event=on_event)
    try:
        con.execute("SELECT * FROM telegram_check(['+41790000021'])").fetchall()
        outcome = "finished"
    except KeyboardInterrupt:
        outcome = "KeyboardInterrupt"
    except Exception as e:
        outcome = type(e).__name__ + ": " + str(e)
    print(json.dumps({"outcome": outcome, "seconds": time.monotonic() - fired["at"]}))
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to oneself is POSIX")
def test_ctrl_c_stops_the_wait_promptly(tmp_path):
    with Sandbox(speed=0.01) as sb:  # the task would take minutes
        done = subprocess.run([sys.executable, "-c", CTRL_C], env=session_env(sb, tmp_path),
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["outcome"] != "finished"
        assert "nterrupt" in result["outcome"]  # at once: the task would take minutes
        assert sb.billed["create"] == 1
