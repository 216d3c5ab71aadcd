"""Ctrl-C on a real `tgcheck check` process with several tasks in flight."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from conftest import child_env, numbers

ROOT = Path(__file__).resolve().parent.parent


def _submitted(proc, count: int) -> list[str]:
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if sum('"event": "submitted"' in s for s in seen) >= count:
            return seen
    raise AssertionError("the check ended before its tasks were created: " + "".join(seen))


def test_ctrl_c_with_several_tasks_in_flight_stops_at_once_and_a_rerun_attaches(
        sandbox, tmp_path):
    values = numbers(40, start=7000)
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(values) + "\n")
    # 8 tasks of 5, 4 in flight at a time; the sandbox's tasks never finish.
    env = child_env(sandbox, tmp_path / "home", TGCHECK_MAX_TASK_SIZE="5",
                    TGCHECK_TIMEOUT="120")
    sandbox.time_scale = 0.0
    proc = subprocess.Popen(
        [sys.executable, "-m", "tgcheck", "check", str(listing), "--progress", "json"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _submitted(proc, 4)
        proc.send_signal(signal.SIGINT)
        # Before, the process waited for every task in flight: here, forever.
        proc.wait(timeout=15)
    finally:
        proc.kill()
    err = proc.stderr.read()
    assert proc.returncode == 130, err
    assert "answers are stored" in err and "attaches" in err
    assert "Traceback" not in err
    creates = sandbox.creates
    assert creates == 4

    # The jobs stayed open (not uncertain): the re-run attaches to them and
    # creates only the 4 tasks never started.
    sandbox.time_scale = 1.0
    again = subprocess.run(
        [sys.executable, "-m", "tgcheck", "check", str(listing), "--progress", "json"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert sandbox.creates == 8
    assert len(again.stdout.strip().splitlines()) == 41
    events = [json.loads(line) for line in again.stderr.splitlines() if line.startswith("{")]
    assert sum(e["event"] == "submitted" for e in events) == 4


def test_ctrl_c_after_some_tasks_finished_says_how_many_answers_are_stored(
        sandbox, tmp_path):
    values = numbers(12, start=7100)
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(values) + "\n")
    env = child_env(sandbox, tmp_path / "home", TGCHECK_MAX_TASK_SIZE="6")
    # The first task (the lower numbers) finishes; the second never does.
    stuck = set(values[6:])
    real_record = sandbox.record

    def record(task, *, created=False):
        if not created and stuck & set(task.numbers):
            return real_record(task, created=True)  # pending for ever
        return real_record(task, created=created)

    sandbox.record = record
    proc = subprocess.Popen(
        [sys.executable, "-m", "tgcheck", "check", str(listing), "--progress", "json"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if '"event": "done"' in line:
                break
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
    finally:
        proc.kill()
    err = proc.stderr.read()
    assert proc.returncode == 130, err
    assert "6 answers are stored (1 of 2 task(s) finished)" in err
    jobs = subprocess.run([sys.executable, "-m", "tgcheck", "jobs", "--all", "--json"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    states = sorted(json.loads(line)["state"] for line in jobs.stdout.splitlines())
    assert states == ["done", "open"]
