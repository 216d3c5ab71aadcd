"""Regressions for what an independent review found in the engine's money paths."""

import dataclasses
import threading
import time

import pytest

import tgcheck
from conftest import numbers
from tgcheck import Settings
from tgcheck.engine import number_set_key


def _leave_submitting(engine, values, owner="otherhost:1"):
    """What a process killed mid-create on another machine leaves in the journal."""
    key = number_set_key(engine.provider.identity, "tg", values)
    engine.store.claim(key, engine.provider.identity, "tg", values)
    job = engine.store.live_job(key)
    engine.store.update_job(job.id, state="submitting")
    with engine.store._tx() as db:
        db.execute("UPDATE jobs SET owner = ?, heartbeat = 0 WHERE id = ?", (owner, job.id))
    return job


def test_a_dead_create_overlapping_a_larger_set_is_uncertain_not_a_spin(settings, sandbox):
    engine = tgcheck.Engine(dataclasses.replace(settings, timeout=5))
    _leave_submitting(engine, numbers(10))
    t0 = time.monotonic()
    with pytest.raises(tgcheck.UncertainCreate, match="some of these"):
        engine.check(numbers(11))  # one more row than the uncertain set
    assert time.monotonic() - t0 < 3
    assert sum(sandbox.calls.values()) == 0


def test_an_uncertain_create_blocks_supersets_until_resubmitted(engine, sandbox):
    sandbox.fail_next("create", "drop_after")
    with pytest.raises(tgcheck.UncertainCreate):
        engine.check(numbers(5))
    with pytest.raises(tgcheck.UncertainCreate):
        engine.check(numbers(6))  # the same five and one more: no new task
    assert sandbox.creates == 1
    # A resubmit of the larger set does not give up the job of another set...
    with pytest.raises(tgcheck.UncertainCreate, match="jobs abandon"):
        engine.check(numbers(6), resubmit=True)
    assert sandbox.creates == 1
    # ... one of exactly the uncertain set does; then the larger set is sent.
    engine.check(numbers(5), resubmit=True)
    answers = engine.check(numbers(6))
    assert sandbox.creates == 3 and len(answers) == 6


def test_one_callers_cancel_does_not_fail_the_others(settings, sandbox):
    sandbox.speed = 200
    values = numbers(100)
    cancel_a = threading.Event()
    started = threading.Event()
    outcome = {}

    def caller_a():
        def on_event(e):
            if e.kind == "submitted":
                started.set()
        try:
            tgcheck.Engine(settings).check(values, on_event=on_event, cancel=cancel_a)
        except tgcheck.Cancelled:
            outcome["a"] = "cancelled"

    def caller_b():
        outcome["b"] = tgcheck.Engine(settings).check(values)

    a = threading.Thread(target=caller_a)
    a.start()
    assert started.wait(30)
    b = threading.Thread(target=caller_b)
    b.start()
    cancel_a.set()
    a.join()
    b.join()
    assert outcome["a"] == "cancelled"
    assert [x.value for x in outcome["b"]] == [sandbox.expected(n) for n in values]
    assert sandbox.creates == 1


def test_the_lease_is_kept_alive_during_a_long_create(settings, sandbox, monkeypatch):
    """A create retried for longer than the lease must not look dead to others."""
    import tgcheck.engine as engine_module
    import tgcheck.store as store_module

    monkeypatch.setattr(store_module, "LEASE_SECONDS", 0.5)
    monkeypatch.setattr(engine_module, "HEARTBEAT_EVERY", 0.05)
    sandbox.faults.retry_after = 0.3
    sandbox.fail_next("create", "429", times=4)  # about 1.2 s of retries
    values = numbers(20)
    engine = tgcheck.Engine(settings)
    first = threading.Thread(target=engine.check, args=(values,))
    first.start()
    key = number_set_key(engine.provider.identity, "tg", values)
    deadline = time.monotonic() + 10
    while engine.store.live_job(key) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    # Another "process": a claim now must see a live driver, not an uncertain job.
    with monkeypatch.context() as m:
        m.setattr(store_module, "this_owner", lambda: "elsewhere:1")
        role, _ = engine.store.claim(key, engine.provider.identity, "tg", values)
        time.sleep(0.8)  # longer than the lease: only a heartbeat keeps it alive
        role_later, _ = engine.store.claim(key, engine.provider.identity, "tg", values)
    first.join()
    assert (role, role_later) == ("wait", "wait")
    assert sandbox.creates == 1


@pytest.mark.parametrize("key", ["abc\r\n", " abc "])
def test_keys_are_trimmed(key, tmp_path):
    assert Settings(api_key=key, home=tmp_path).require_key() == "abc"


@pytest.mark.parametrize("key", ["ab c", "ab\u00a0c", "abc\x00", "clé"])
def test_keys_that_cannot_travel_in_a_header_are_refused(key, tmp_path):
    with pytest.raises(tgcheck.ConfigError, match="copy it again") as e:
        Settings(api_key=key, home=tmp_path)
    assert key not in str(e.value)


def test_resume_goes_on_past_a_failing_job(settings, sandbox):
    sandbox.speed = 1
    short = dataclasses.replace(settings, timeout=0.3)
    sandbox.fail_next("create", "task_failed")
    for start in (0, 100):
        with pytest.raises(tgcheck.DeadlineExceeded):
            tgcheck.Engine(short).check(numbers(10, start=start))
    sandbox.speed = 1_000_000
    with pytest.raises(tgcheck.TgcheckError, match="1 open job\\(s\\) finished, 1 not"):
        tgcheck.Engine(settings).resume()
    assert sandbox.creates == 2


def test_a_repeated_row_with_a_blank_answer_keeps_the_real_one():
    from tgcheck import plugins

    data = b"Number,telegram\n+41798284651,yes\n+41798284651,\n"
    reader = next(r for r in plugins.readers() if r.accepts(data))
    assert reader.read(data, plugins.get_task_type("tg")) == {"+41798284651": "yes"}
