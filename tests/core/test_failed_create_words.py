"""A create that failed before any task existed is told as such (issue 22: "task None
failed: creating the task: ..."): a process waiting for it names the job."""

from __future__ import annotations

import threading

import pytest

import tgcheck
from conftest import numbers, wait_for
from tgcheck.engine import number_set_key


def test_a_waiter_names_the_job_when_the_create_it_waited_for_failed(engine):
    values = numbers(3, start=900)
    key = number_set_key(engine.provider.identity, "tg", values)
    engine.store.claim(key, engine.provider.identity, "tg", values)
    job = engine.store.live_job(key)
    # Another machine is creating its task (its heartbeat is fresh).
    engine.store.update_job(job.id, state="submitting")
    with engine.store._tx() as db:
        db.execute("UPDATE jobs SET owner = ? WHERE id = ?", ("host-b:4242", job.id))

    watching = threading.Event()
    caught: list[BaseException] = []

    def wait_for_it():
        try:
            engine.check(values, on_event=lambda event: watching.set())
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            caught.append(e)

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    wait_for(watching.is_set, "the check to wait for host-b's job")
    engine.store.update_job(job.id, state="failed", owner=None,
                            error="creating the task: HTTP 400 (invalid file format)")
    waiter.join(30)
    assert not waiter.is_alive()
    [error] = caught
    with pytest.raises(tgcheck.TaskFailed) as raised:
        raise error
    message = str(raised.value)
    assert f"job {job.id} (no task was created) failed: creating the task" in message
    assert "task None" not in message
