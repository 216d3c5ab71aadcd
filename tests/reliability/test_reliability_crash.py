"""SIGKILL while downloading and while storing answers (test_crash.py covers before
the create, during it and while polling): the next run finishes with right answers
and one create in all, and the store passes SQLite's integrity check."""

from __future__ import annotations

import signal
import subprocess
import sys

import tgcheck
from conftest import child_env, numbers, wait_for
from tgcheck.store import Store


def finish_and_check(settings, sandbox, values, store_path):
    answers = tgcheck.Engine(settings).check(values)
    assert sandbox.creates == 1
    assert [a.value for a in answers] == [sandbox.expected(n) for n in values]
    store = Store(store_path)
    assert store.integrity_check() == "ok"
    assert [j.state for j in store.jobs()] == ["done"]


def test_killed_while_downloading(settings, sandbox):
    sandbox.faults.slow_seconds = 30  # the download hangs until the child is killed
    sandbox.fail_next("download", "slow")
    values = numbers(300)
    child = subprocess.Popen([sys.executable, "-c", "import sys, tgcheck; "
                              "tgcheck.check(sys.argv[1:])", *values],
                             env=child_env(sandbox, settings.home))
    try:
        wait_for(lambda: sandbox.calls["download"] == 1, "the download to start")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    store = Store(settings.store_path)
    [job] = store.jobs()
    assert job.state == "open" and job.task_id
    assert store.lookup("tg", values, max_age_days=30, unknown_retry_hours=24) == {}
    finish_and_check(settings, sandbox, values, settings.store_path)
    assert sandbox.calls["download"] == 2


STORING_CHILD = """
import os, signal, sys
import tgcheck
from tgcheck import store

real = store.Store._save_answers

def save_then_die(self, db, *args):
    db.execute("PRAGMA cache_size=4")  # a tiny cache spills the new pages into the WAL
    real(self, db, *args)  # the rows are written inside the open transaction...
    os.kill(os.getpid(), signal.SIGKILL)  # ...then the process dies before COMMIT

store.Store._save_answers = save_then_die
tgcheck.check(sys.argv[1:])
"""


def test_killed_while_storing_answers(settings, sandbox):
    values = numbers(5_000)  # enough rows to spill pages into the WAL before the kill
    child = subprocess.run([sys.executable, "-c", STORING_CHILD, *values],
                           env=child_env(sandbox, settings.home), timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert sandbox.calls["download"] == 1
    wal = settings.store_path.with_name(settings.store_path.name + "-wal")
    assert wal.stat().st_size > 100 * 4096  # uncommitted pages did reach the disk
    store = Store(settings.store_path)
    assert store.integrity_check() == "ok"
    # Nothing half-stored: not one answer of the killed transaction survived.
    assert store.db.execute("SELECT count(*) FROM answers").fetchone()[0] == 0
    [job] = store.jobs()
    assert job.state == "open" and job.task_id
    finish_and_check(settings, sandbox, values, settings.store_path)
