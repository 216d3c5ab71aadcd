"""A process killed with SIGKILL (before the create, during it, while polling, while
downloading, while storing answers) is finished by the next run, with right answers
and one create in all, and the store passes SQLite's integrity check."""

import signal
import subprocess
import sys

import pytest

import tgcheck
from conftest import child_env, numbers, wait_for
from tgcheck.store import Store

CHILD = """
import sys, tgcheck
tgcheck.check(sys.argv[2:], task_type=sys.argv[1])
"""


def _open_task_polled(store_path, status_calls):
    """A condition: the store shows an open task, and the vendor was asked about it
    at least once (status_calls: the vendor's count; a shape whose status calls are
    free leaves the journal's count at 0)."""
    store = None

    def polled():
        nonlocal store
        if store is None:
            if not store_path.exists():
                return None
            store = Store(store_path)
        return status_calls() >= 1 and any(j.state == "open" and j.task_id
                                           for j in store.jobs(states=None))

    return polled


def test_killed_while_waiting_then_finished_by_the_next_run(provider_shape, tmp_path):
    """On every provider shape (tests/shapes.py)."""
    shape = provider_shape
    settings = shape.settings(tmp_path / "home")
    shape.hold_tasks(True)  # the task outlives the child
    values = numbers(200)
    child = subprocess.Popen([sys.executable, "-c", CHILD, shape.task_type, *values],
                             env=shape.env(settings.home))
    try:
        wait_for(_open_task_polled(settings.store_path, lambda: shape.calls["status"]),
                 "the child to be polling an open task")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert shape.creates == 1

    shape.hold_tasks(False)
    engine = tgcheck.Engine(settings)
    try:
        answers = engine.check(values, task_type=shape.task_type)
    finally:
        engine.close()
    assert shape.creates == 1
    assert [a.value for a in answers] == [shape.expected(n) for n in values]
    assert Store(settings.store_path).integrity_check() == "ok"


def test_killed_after_the_journal_row_before_the_create(settings, sandbox):
    """Crash just before the create: the row says 'new', so the next run creates once."""
    engine = tgcheck.Engine(settings)
    values = numbers(30)
    key = tgcheck.engine.number_set_key(engine.provider.identity, "tg", values)
    # What a process killed right after writing its journal row leaves behind:
    child = subprocess.Popen([sys.executable, "-c", (
        "import sys, os, signal, tgcheck\n"
        "from tgcheck.store import Store\n"
        "s = Store(sys.argv[1])\n"
        "s.claim(sys.argv[2], sys.argv[3], 'tg', sys.argv[4:])\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"),
        str(settings.store_path), key, engine.provider.identity, *values],
        env=child_env(sandbox, settings.home))
    child.wait()
    assert engine.store.live_job(key).state == "new"
    answers = engine.check(values)
    assert sandbox.creates == 1
    assert all(a.status in ("ok", "unknown") for a in answers)


KILLED_BEFORE_CREATE = """
import os, signal, sys, tgcheck
from tgcheck.store import Store
real = Store.update_job
def update_job(self, job_id, **fields):
    if fields.get("state") == "submitting":  # the journal row is written; no request yet
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, job_id, **fields)
Store.update_job = update_job
tgcheck.check(sys.argv[2:], task_type=sys.argv[1])
"""


def _task_jobs(store):
    """The journal's task jobs (a fast path's own job aside)."""
    return [j for j in store.jobs(states=None) if j.status != "sync"]


def test_the_real_engine_killed_between_its_journal_row_and_the_create(provider_shape,
                                                                        tmp_path):
    """The same crash as above, in the engine's own path, on every provider shape:
    the next run creates once."""
    shape = provider_shape
    settings = shape.settings(tmp_path / "home")
    values = numbers(30)
    child = subprocess.run([sys.executable, "-c", KILLED_BEFORE_CREATE, shape.task_type,
                            *values], env=shape.env(settings.home), timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert shape.calls["create"] == 0
    store = Store(settings.store_path)
    [job] = _task_jobs(store)
    assert job.state == "new"
    engine = tgcheck.Engine(settings)
    try:
        answers = engine.check(values, task_type=shape.task_type)
    finally:
        engine.close()
    assert shape.creates == 1
    assert [a.value for a in answers] == [shape.expected(n) for n in values]
    assert store.integrity_check() == "ok"


def test_killed_during_the_create_is_uncertain_not_resubmitted(provider_shape, tmp_path):
    """Crash after the create was sent, before its task id was recorded, on every
    provider shape."""
    shape = provider_shape
    settings = shape.settings(tmp_path / "home")
    shape.fault("create", "slow")
    shape.slow_seconds(30)  # the child is killed while waiting for the reply
    values = numbers(30)
    child = subprocess.Popen([sys.executable, "-c", CHILD, shape.task_type, *values],
                             env=shape.env(settings.home))
    try:
        wait_for(lambda: shape.calls["create"] == 1, "the create request to arrive")
        wait_for(lambda: settings.store_path.exists(), "the store")
        store = Store(settings.store_path)
        wait_for(lambda: [j.state for j in _task_jobs(store)] == ["submitting"],
                 "the journal to say submitting")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    engine = tgcheck.Engine(settings)
    try:
        with pytest.raises(tgcheck.UncertainCreate, match="resubmit"):
            engine.check(values, task_type=shape.task_type)
    finally:
        engine.close()
    assert shape.calls["create"] == 1
    assert store.integrity_check() == "ok"


def finish_and_check(settings, sandbox, values, store_path):
    answers = tgcheck.Engine(settings).check(values)
    assert sandbox.creates == 1
    assert [a.value for a in answers] == [sandbox.expected(n) for n in values]
    store = Store(store_path)
    assert store.integrity_check() == "ok"
    assert [j.state for j in store.jobs()] == ["done"]


def test_killed_while_downloading(provider_shape, tmp_path):
    """On every provider shape: the paid task stays open, nothing of it stored, and
    the next run downloads it again without a second create."""
    shape = provider_shape
    settings = shape.settings(tmp_path / "home")
    shape.slow_seconds(30)  # the download hangs until the child is killed
    shape.fault("download", "slow")
    values = numbers(300)
    child = subprocess.Popen([sys.executable, "-c", CHILD, shape.task_type, *values],
                             env=shape.env(settings.home))
    try:
        wait_for(lambda: shape.calls["download"] == 1, "the download to start")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    store = Store(settings.store_path)
    [job] = _task_jobs(store)
    assert job.state == "open" and job.task_id
    [task] = shape.tasks
    assert store.lookup(shape.task_type, task, max_age_days=30, unknown_retry_hours=24) == {}
    engine = tgcheck.Engine(settings)
    try:
        answers = engine.check(values, task_type=shape.task_type)
    finally:
        engine.close()
    assert shape.creates == 1 and shape.calls["download"] == 2
    assert [a.value for a in answers] == [shape.expected(n) for n in values]
    assert store.integrity_check() == "ok"
    assert {j.state for j in store.jobs(states=None)} == {"done"}


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
