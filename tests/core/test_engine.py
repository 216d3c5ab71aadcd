"""The engine end to end against the sandbox: answers right, one create per set,
uncertain creates held, leases kept alive, one caller's stop not the others'."""

import dataclasses
import threading
import time

import pytest

import tgcheck
from conftest import numbers
from tgcheck import Settings
from tgcheck.engine import Tuning, number_set_key
from tgcheck.sandbox import Sandbox


def _assert_right(answers, sandbox, task_type="tg"):
    for a in answers:
        if a.number is None:
            continue
        expected = sandbox.expected(a.number, task_type)
        if expected is None:
            assert (a.value, a.status) == (None, "unknown"), a
        else:
            assert (a.value, a.status) == (expected, "ok"), a


@pytest.mark.parametrize("result_format", ["xlsx", "zip", "zip-xlsx"])
@pytest.mark.parametrize("shape", ["full", "short"])
def test_round_trip_in_every_result_format(result_format, shape, tmp_path):
    with Sandbox(result_format=result_format, shape=shape) as sb:
        settings = Settings(api_key=sb.api_key, base_url=sb.url, home=tmp_path,
                            poll_min=0.02, poll_max=0.5)
        values = numbers(300)
        answers = tgcheck.Engine(settings).check(values)
        assert [a.input for a in answers] == values
        _assert_right(answers, sb)
        assert sb.creates == 1
        # The quirky sandbox leaves some numbers out: they are unknown, not "no".
        assert any(a.status == "unknown" for a in answers)
        assert sum(a.status == "ok" for a in answers) > 250


def test_answers_keep_input_shape_and_order(engine, sandbox):
    values = ["+41798284651", None, "", "abc", 41798284652.0, "+41798284651", "0041798284653"]
    answers = engine.check(values)
    assert [a.input for a in answers] == values
    assert [a.status for a in answers][1:4] == ["blank", "blank", "invalid"]
    assert answers[0] == answers[5]
    assert answers[4].number == "+41798284652"
    _assert_right(answers, sandbox)
    assert sandbox.creates == 1


def test_check_column_gives_what_check_gives_in_column_shape(engine, sandbox):
    """The SQL face's entry point: same answers as check(), same single payment."""
    stored_first = numbers(150)
    engine.check(stored_first)
    values = ["+41798284651", None, "", "abc", 41798284652.0, "+41798284651",
              "0041798284653", *numbers(300)]  # half stored, half to send
    column = engine.check_column(values)
    assert sandbox.creates == 2
    assert len(column.found) == len(values)
    answered = {n: (v, s) for v, s, group in column.groups for n in group}
    assert sum(len(group) for _, _, group in column.groups) == len(answered)
    expected = engine.check(values)  # everything is stored now: no call
    assert sandbox.creates == 2
    for found, want in zip(column.found, expected, strict=True):
        if type(found) is str:
            value, status = answered.get(found, (None, "unknown"))
            assert (found, value if status == "ok" else None, status) == \
                (want.number, want.value, want.status)
        else:
            assert (None, found.status) == (want.number, want.status)
    # The sandbox left a few numbers out of its file: they are unknown, not "no".
    assert any(s == "unknown" for _, s, _ in column.groups)
    _assert_right(expected, sandbox)


def test_invalid_and_blank_inputs_are_never_sent(engine, sandbox):
    answers = engine.check([None, "", "abc", "+4179", "4.17983E+10"])
    assert {a.status for a in answers} == {"blank", "invalid"}
    assert sum(sandbox.calls.values()) == 0


def test_rerun_creates_nothing_and_calls_nothing(engine, sandbox):
    values = numbers(200)
    first = engine.check(values)
    calls = sum(sandbox.calls.values())
    second = engine.check(list(reversed(values)))
    assert sum(sandbox.calls.values()) == calls
    assert second == list(reversed(first))


def test_only_missing_numbers_are_sent(engine, sandbox):
    engine.check(numbers(100))
    engine.check(numbers(150))  # 50 new ones
    task_sizes = sorted(len(t.numbers) for t in sandbox.tasks.values())
    assert task_sizes == [50, 100]


@pytest.mark.slow
def test_a_range_read_with_numbers_not_asked_sends_only_the_missing(engine, sandbox,
                                                                     monkeypatch):
    # The lookup reads the stored answers between the first and last number asked
    # (scan_min 1): those not asked come too. The join by code sends exactly the
    # numbers no group holds, and a re-run, every number stored, sends nothing and
    # answers the same (the extra numbers in no row).
    monkeypatch.setattr(engine.store, "tuning",
                        dataclasses.replace(engine.store.tuning, scan_min=1))
    every = numbers(200)
    engine.check(every[0::2])  # stored: the even ones
    asked = every[1::2] + every[0:100:2] + every[1:5:2]  # new odd ones, half the even
    first = engine.check(asked)
    task_sizes = sorted(len(t.numbers) for t in sandbox.tasks.values())
    assert task_sizes == [100, 100]
    new_task = max(sandbox.tasks.values(), key=lambda t: t.created)
    assert sorted(new_task.numbers) == every[1::2]
    _assert_right(first, sandbox)
    column = engine.check_column(asked)
    assert len(sandbox.tasks) == 2
    assert column.rows() == first
    assert [cell[0] for cell in column.cells()] == asked


def test_a_column_with_repeats_in_any_order_sends_its_new_numbers_once_sorted(engine, sandbox):
    # The task file holds each new number once, in string order (its journal key
    # is made of the same list): whether the column repeats numbers or not, and
    # whether the store answers none of them or some.
    import random

    # A German number sorts before a Russian one as text, after it as an integer
    # (it has more digits).
    russian, german = numbers(30, prefix="+7912"), numbers(30, prefix="+491512")
    first = russian[:20] + german[:20]
    column = first + first[::3]
    random.Random(7).shuffle(column)
    engine.check(column)
    engine.check(sorted(first, reverse=True))  # the same set, no repeat: nothing sent
    again = russian + german + german[25:]  # the rest new, some repeated
    random.Random(8).shuffle(again)
    answers = engine.check(again)
    tasks = sorted(sandbox.tasks.values(), key=lambda t: t.created)
    assert [t.numbers for t in tasks] == [sorted(first), sorted(russian[20:] + german[20:])]
    assert tasks[0].numbers[0] == german[0]
    assert [a.input for a in answers] == again
    _assert_right(answers, sandbox)


def test_unknown_numbers_are_not_resubmitted_within_the_retry_window(engine, sandbox):
    values = numbers(300)
    first = engine.check(values)
    unknown = [a.number for a in first if a.status == "unknown"]
    assert unknown
    engine.check(unknown)
    assert sandbox.creates == 1
    engine.check(unknown, retry_unknown=True)  # on demand
    assert sandbox.creates == 2
    assert sorted(sandbox.tasks[max(sandbox.tasks, key=lambda t: sandbox.tasks[t].created)]
                  .numbers) == sorted(unknown)


def test_distinct_numbers_are_looked_up_in_the_inputs_order(engine, sandbox, monkeypatch):
    """A column of distinct numbers is looked up as a list in its own order (the
    store's walks over it read memory in the order the strings were made, a
    sixth of the CPU of the set's hash order); with duplicates, as their set,
    unless every cell is written as E.164: then as it stands, duplicates too
    (the store takes each number once; no set is made where the store answers
    all, planning._known). The answers are the same either way."""
    values = list(reversed(numbers(300)))
    spaced = ["+41 79 000 00 01", *values]  # not written as E.164: read first
    first = engine.check(values)
    asked = []
    real = engine.store.lookup_groups

    def recorded(task_type, wanted, **kw):
        asked.append(wanted)
        return real(task_type, wanted, **kw)

    monkeypatch.setattr(engine.store, "lookup_groups", recorded)
    for scan_min in (1, 1_000_000):  # a range read, then a probe
        monkeypatch.setattr(engine.store, "tuning",
                            dataclasses.replace(engine.store.tuning, scan_min=scan_min))
        assert engine.check(values) == first
        assert asked.pop() == values
        assert engine.check(values + values[:10]) == first + first[:10]
        assert asked.pop() == values + values[:10]
        assert engine.check(spaced + values[:10])[1:] == first + first[:10]
        assert asked.pop() == set(values)
    assert len(sandbox.tasks) == 1  # nothing sent again


def test_answers_expire_after_max_age(settings, sandbox):
    import dataclasses
    import time

    engine = tgcheck.Engine(settings)
    engine.check(numbers(10))
    with engine.store._tx() as db:
        db.execute("UPDATE answers SET checked_at = ?", (time.time() - 31 * 86400,))
    engine.check(numbers(10))
    assert sandbox.creates == 2
    fresh_enough = tgcheck.Engine(dataclasses.replace(settings, max_age_days=60))
    fresh_enough.check(numbers(10))
    assert sandbox.creates == 2


def test_eight_concurrent_callers_share_one_create(settings, sandbox):
    sandbox.speed = 2000  # long enough for all eight to meet
    values = numbers(1000)
    results, errors = [None] * 8, []
    start = threading.Barrier(8)

    def call(i):
        try:
            start.wait()
            engine = tgcheck.Engine(settings)  # each caller its own engine, one process
            results[i] = engine.check(values)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sandbox.creates == 1
    assert all(r == results[0] for r in results)
    _assert_right(results[0], sandbox)


def test_large_sets_split_into_bounded_parallel_tasks(settings, sandbox):
    import dataclasses

    small = dataclasses.replace(settings, max_task_size=100, max_parallel_tasks=2)
    answers = tgcheck.Engine(small).check(numbers(450))
    assert sandbox.creates == 5
    # Equal chunks (no small remainder, which could fall below a minimum task size)
    assert sorted(len(t.numbers) for t in sandbox.tasks.values()) == [90] * 5
    _assert_right(answers, sandbox)


def test_after_one_chunk_fails_no_further_chunk_is_sent(settings, sandbox):
    """A refused create fails the check at once, without paying for the other chunks."""
    import dataclasses

    small = dataclasses.replace(settings, max_task_size=100, max_parallel_tasks=1)
    sandbox.fail_next("create", "400")
    with pytest.raises(tgcheck.BadRequest):
        tgcheck.Engine(small).check(numbers(450))
    assert sandbox.creates == 0
    assert sandbox.calls["create"] == 1
    # Nothing was lost: the next run sends every chunk, once.
    answers = tgcheck.Engine(small).check(numbers(450))
    assert sandbox.creates == 5
    _assert_right(answers, sandbox)


def test_chunks_running_when_another_fails_finish_and_are_stored(settings, sandbox):
    import dataclasses

    small = dataclasses.replace(settings, max_task_size=100, max_parallel_tasks=2)
    sandbox.fail_next("create", "task_failed")  # the first task created will fail
    with pytest.raises(tgcheck.TaskFailed):
        tgcheck.Engine(small).check(numbers(400))
    paid = sandbox.creates
    assert 1 <= paid <= 3  # the failed one, and those already running beside it
    again = tgcheck.Engine(small).check(numbers(400))
    _assert_right(again, sandbox)
    # Only the failed chunk and those never started are sent again: 4 chunks, one
    # of them failed once, make 5 creates in all.
    assert sandbox.creates == 5


def test_failed_task_is_a_clear_error_and_not_stored(engine, sandbox):
    sandbox.fail_next("create", "task_failed")
    with pytest.raises(tgcheck.TaskFailed, match="failed"):
        engine.check(numbers(20))
    assert engine.store.lookup("tg", numbers(20), max_age_days=30,
                               unknown_retry_hours=24) == {}
    # A later, deliberate run creates a new task and succeeds.
    _assert_right(engine.check(numbers(20)), sandbox)
    assert sandbox.creates == 2


def test_unknown_status_words_mean_keep_waiting(engine, sandbox, monkeypatch):
    real = sandbox.record
    seen = []

    def odd(task, created=False):
        rec = real(task, created=created)
        if not created and len(seen) < 2:
            seen.append(rec["status"])
            rec = dict(rec, status="queued_for_review")
            rec.pop("result_url", None)
        return rec

    monkeypatch.setattr(sandbox, "record", odd)
    _assert_right(engine.check(numbers(30)), sandbox)
    assert len(seen) == 2 and sandbox.creates == 1


def test_deadline_leaves_the_job_open_and_a_later_run_finishes_it(settings, sandbox):
    import dataclasses

    sandbox.speed = 1  # far too slow for the deadline
    short = dataclasses.replace(settings, timeout=0.5)
    with pytest.raises(tgcheck.DeadlineExceeded, match="stays open"):
        tgcheck.Engine(short).check(numbers(50))
    [job] = tgcheck.Engine(settings).store.jobs()
    assert job.state == "open" and job.task_id
    sandbox.speed = 1_000_000
    answers = tgcheck.Engine(settings).check(numbers(50))
    _assert_right(answers, sandbox)
    assert sandbox.creates == 1


def test_resume_finishes_open_jobs_without_creating(settings, sandbox):
    import dataclasses

    sandbox.speed = 1
    with pytest.raises(tgcheck.DeadlineExceeded):
        tgcheck.Engine(dataclasses.replace(settings, timeout=0.3)).check(numbers(40))
    sandbox.speed = 1_000_000
    engine = tgcheck.Engine(settings)
    assert engine.resume() == 1
    assert sandbox.creates == 1
    assert len(engine.store.lookup("tg", numbers(40), max_age_days=30,
                                   unknown_retry_hours=24)) == 40


def test_cancel_stops_waiting_and_the_next_call_attaches(settings, sandbox):
    sandbox.speed = 1
    cancel = threading.Event()
    events = []

    def on_event(e):
        events.append(e)
        if e.kind == "submitted":
            cancel.set()

    with pytest.raises(tgcheck.Cancelled):
        tgcheck.Engine(settings).check(numbers(40), on_event=on_event, cancel=cancel)
    sandbox.speed = 1_000_000
    _assert_right(tgcheck.Engine(settings).check(numbers(40)), sandbox)
    assert sandbox.creates == 1


def test_progress_events_report_counts(engine, sandbox):
    sandbox.speed = 3000
    events = []
    engine.check(numbers(600), on_event=events.append)
    assert events[0].kind == "submitted" and events[-1].kind == "done"
    assert events[-1].status_calls == sandbox.billed["status"]
    assert all(e.simulated for e in events)


def test_python_api_from_the_environment(sandbox_env):
    answers = tgcheck.check(["+41798284651", "0798284652", None], region="CH")
    assert [a.status for a in answers][2] == "blank"
    assert answers[1].number == "+41798284652"
    _assert_right(answers, sandbox_env)


def test_unknown_task_type_is_a_clear_error(engine):
    with pytest.raises(tgcheck.InputError, match="unknown task type 'nope'"):
        engine.check(["+41798284651"], task_type="nope")


def test_python_api_uses_the_key_from_tgcheck_config(sandbox_env, monkeypatch):
    from tgcheck import config_file

    monkeypatch.delenv("TGCHECK_API_KEY")
    config_file.set_key(sandbox_env.api_key)
    answers = tgcheck.check(["+41798284651"])
    assert answers[0].value == sandbox_env.expected("+41798284651")
    assert sandbox_env.creates == 1


def test_overlapping_sets_in_flight_pay_for_each_number_once(settings, sandbox):
    """A second caller whose set overlaps a running task waits for it, then sends
    only the numbers it did not hold: no number is paid for twice."""
    sandbox.speed = 400
    first, second = numbers(400), numbers(400, start=200)
    results = {}
    submitted = threading.Event()

    def run_first():
        results["first"] = tgcheck.Engine(settings).check(
            first, on_event=lambda e: e.kind == "submitted" and submitted.set())

    t = threading.Thread(target=run_first)
    t.start()
    assert submitted.wait(30)
    results["second"] = tgcheck.Engine(settings).check(second)
    t.join()
    sets = [set(task.numbers) for task in sandbox.tasks.values()]
    assert len(sets) == 2 and not sets[0] & sets[1]
    assert sets[1] == set(numbers(200, start=400))
    _assert_right(results["first"], sandbox)
    _assert_right(results["second"], sandbox)


def test_a_failed_overlapping_job_leaves_its_numbers_to_the_next_caller(settings, sandbox):
    sandbox.speed = 400
    sandbox.fail_next("create", "task_failed")
    submitted = threading.Event()

    def run_first():
        with pytest.raises(tgcheck.TaskFailed):
            tgcheck.Engine(settings).check(numbers(100),
                                           on_event=lambda e: e.kind == "submitted"
                                           and submitted.set())

    t = threading.Thread(target=run_first)
    t.start()
    assert submitted.wait(30)
    answers = tgcheck.Engine(settings).check(numbers(150))
    t.join()
    _assert_right(answers, sandbox)
    assert sandbox.creates == 2


def test_building_answers_leaves_the_cyclic_collector_as_it_found_it(engine, sandbox):
    """Answers are built with the collector paused (speed); the caller's setting stays."""
    import gc

    values = numbers(50)
    engine.check(values)
    assert gc.isenabled()
    gc.disable()
    try:
        assert [a.input for a in engine.check(values)] == values
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert [a.input for a in engine.check(values)] == values
    assert gc.isenabled()


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
    # UncertainCreate, not DeadlineExceeded: refused at once rather than waited on
    # until the timeout (how long it takes: benchmarks/, figure 8).
    with pytest.raises(tgcheck.UncertainCreate, match="some of these"):
        engine.check(numbers(11))  # one more row than the uncertain set
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
    from tgcheck.store import Store, StoreTuning, open_store

    lease = StoreTuning(lease_seconds=0.5)
    sandbox.faults.retry_after = 0.3
    sandbox.fail_next("create", "429", times=4)  # about 1.2 s of retries
    values = numbers(20)
    engine = tgcheck.Engine(settings, store=open_store(settings, tuning=lease),
                            tuning=Tuning(heartbeat_every=0.05))
    first = threading.Thread(target=engine.check, args=(values,))
    first.start()
    key = number_set_key(engine.provider.identity, "tg", values)
    deadline = time.monotonic() + 10
    while engine.store.live_job(key) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    # Another "process": a claim now must see a live driver, not an uncertain job.
    with Store(settings.store_path,
               tuning=dataclasses.replace(lease, owner="elsewhere:1")) as other:
        role, _ = other.claim(key, engine.provider.identity, "tg", values)
        time.sleep(0.8)  # longer than the lease: only a heartbeat keeps it alive
        role_later, _ = other.claim(key, engine.provider.identity, "tg", values)
    first.join()
    assert (role, role_later) == ("wait", "wait")
    assert sandbox.creates == 1


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


def test_a_job_s_answers_reach_the_caller_as_the_groups_they_were_stored_in(
        engine, sandbox, monkeypatch):
    """The driver hands a job's answers on grouped by answer (GroupedAnswers), as
    it stored them: the engine takes the groups as they are, and the mapping
    reads as the store does."""
    from tgcheck.engine import planning
    from tgcheck.engine.answers import GroupedAnswers, _groups_of

    seen = []
    monkeypatch.setattr(planning, "_groups_of",
                        lambda answers: seen.append(answers) or _groups_of(answers))
    values = numbers(40)
    answers = engine.check(values)
    assert [a.value for a in answers] == [sandbox.expected(n) for n in values]
    [job] = [a for a in seen if isinstance(a, GroupedAnswers)]
    assert len(job) == 40 and dict(job) == engine.store.stored("tg", values)
    assert job[values[0]] == (sandbox.expected(values[0]), "ok") and values[1] in job
    groups = _groups_of(job)
    assert {(v, s) for v, s, _ in groups} == set(job.groups)
    assert all(numbers_ is job.groups[(v, s)] for v, s, numbers_ in groups)  # not regrouped
