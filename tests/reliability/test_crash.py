"""A process killed with SIGKILL is finished by the next run, with one create in all."""

import signal
import subprocess
import sys

import pytest

import tgcheck
from conftest import child_env, numbers, wait_for
from tgcheck.store import Store

CHILD = """
import sys, tgcheck
tgcheck.check(sys.argv[1:])
"""


def test_killed_while_waiting_then_finished_by_the_next_run(settings, sandbox):
    sandbox.speed = 5  # the task outlives the child
    values = numbers(200)
    child = subprocess.Popen([sys.executable, "-c", CHILD, *values],
                             env=child_env(sandbox, settings.home))
    store = Store(settings.store_path) if settings.store_path.parent.exists() else None

    def polling():
        nonlocal store
        if store is None:
            if not settings.store_path.exists():
                return None
            store = Store(settings.store_path)
        jobs = store.jobs()
        return jobs and jobs[0].state == "open" and jobs[0].status_calls >= 1

    wait_for(polling, "the child to be polling an open task")
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert sandbox.creates == 1

    sandbox.speed = 1_000_000
    answers = tgcheck.Engine(settings).check(values)
    assert sandbox.creates == 1
    assert all(a.value == sandbox.expected(a.number) for a in answers)
    assert store.integrity_check() == "ok"


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
tgcheck.check(sys.argv[1:])
"""


def test_the_real_engine_killed_between_its_journal_row_and_the_create(settings, sandbox):
    """The same crash as above, in the engine's own path: the next run creates once."""
    values = numbers(30)
    child = subprocess.run([sys.executable, "-c", KILLED_BEFORE_CREATE, *values],
                           env=child_env(sandbox, settings.home), timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert sandbox.calls["create"] == 0
    store = Store(settings.store_path)
    [job] = store.jobs()
    assert job.state == "new"
    answers = tgcheck.Engine(settings).check(values)
    assert sandbox.creates == 1
    assert [a.value for a in answers] == [sandbox.expected(n) for n in values]
    assert store.integrity_check() == "ok"


def test_killed_during_the_create_is_uncertain_not_resubmitted(settings, sandbox):
    """Crash after the create was sent, before its task id was recorded."""
    sandbox.fail_next("create", "slow")
    sandbox.faults.slow_seconds = 30  # the child is killed while waiting for the reply
    values = numbers(30)
    child = subprocess.Popen([sys.executable, "-c", CHILD, *values],
                             env=child_env(sandbox, settings.home))
    wait_for(lambda: sandbox.calls["create"] == 1, "the create request to arrive")
    wait_for(lambda: settings.store_path.exists(), "the store")
    store = Store(settings.store_path)
    wait_for(lambda: store.jobs() and store.jobs()[0].state == "submitting",
              "the journal to say submitting")
    child.send_signal(signal.SIGKILL)
    child.wait()
    with pytest.raises(tgcheck.UncertainCreate, match="resubmit"):
        tgcheck.Engine(settings).check(values)
    assert sandbox.calls["create"] == 1
    assert store.integrity_check() == "ok"
