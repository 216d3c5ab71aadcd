"""The money paths against the vendor platform as documented (api notes, section 7):
stuck and lost tasks, 202/402/404/413, terminal words, result sanity, minimum
task sizes, balance and cost. Real HTTP to the sandbox on 127.0.0.1, real SQLite."""

from __future__ import annotations

import dataclasses
import sqlite3
import time

import pytest

import tgcheck
from conftest import numbers
from store_helpers import store_answers
from tgcheck import Settings, plugins
from tgcheck.default_plugins.ekycpro.sandbox import Faults, simulated_answer, xlsx_file
from tgcheck.engine import CheckRequest, _Fill
from tgcheck.errors import (
    BelowMinimum,
    InsufficientBalance,
    JobStalled,
    ResultFileError,
    TaskFailed,
    TaskLost,
)
from tgcheck.sandbox import Sandbox
from tgcheck.store import Store


def make_settings(sb: Sandbox, tmp_path, **kw) -> Settings:
    base = dict(api_key=sb.api_key, base_url=sb.url, home=tmp_path / "home", poll_min=0.01,
                poll_max=0.05, timeout=30, http_timeout=5, retry_base=0.01)
    base.update(kw)
    return Settings(**base)


@pytest.fixture
def run_engine(tmp_path):
    engines = []

    def make(sb: Sandbox, **kw) -> tgcheck.Engine:
        engine = tgcheck.Engine(make_settings(sb, tmp_path, **kw))
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


# -- 1. the polling budget: stalled ---------------------------------------------
@pytest.mark.parametrize("word", ["pending", "on_hold"])
def test_a_task_that_never_moves_is_stalled_after_the_cap_and_not_polled_again(
        run_engine, word):
    # Once unstuck, the task is exported at once: the next poll collects it.
    with Sandbox(stuck=word, queue_seconds=0, export_seconds=0) as sb:
        engine = run_engine(sb, max_status_calls=4)
        values = numbers(19)
        with pytest.raises(JobStalled) as stalled:
            engine.check(values)
        assert sb.billed["status"] == 4 and sb.creates == 1
        message = str(stalled.value)
        assert "stalled" in message and "tgcheck resume" in message
        assert "jobs abandon" in message and "--resubmit" in message
        (job,) = engine.store.jobs()
        assert job.state == "stalled" and job.status_calls == 4 and job.status == word
        # A re-check neither polls nor creates: it says the job is stalled.
        with pytest.raises(JobStalled):
            engine.check(values)
        # Nor does a check of a set that shares numbers with it.
        with pytest.raises(JobStalled):
            engine.check(values[:5] + numbers(3, start=500))
        assert sb.billed["status"] == 4 and sb.creates == 1
        # resume: a new budget of 4 calls, then stalled again.
        with pytest.raises(tgcheck.TgcheckError):
            engine.resume()
        assert sb.billed["status"] == 8 and sb.creates == 1
        assert engine.store.job(job.id).state == "stalled"
        # Once the task moves, resume collects it without a new task.
        sb.unstick()
        assert engine.resume() == 1
        assert engine.store.job(job.id).state == "done" and sb.creates == 1
        answers = engine.check(values)
        assert all(a.status in ("ok", "unknown") for a in answers)
        assert sum(a.status == "ok" for a in answers) >= 15


def test_a_resubmit_gives_a_stalled_job_up_and_creates_once(run_engine):
    with Sandbox(stuck="pending", queue_seconds=0, export_seconds=0) as sb:
        engine = run_engine(sb, max_status_calls=2)
        values = numbers(5)
        with pytest.raises(JobStalled):
            engine.check(values)
        sb.unstick()
        answers = engine.check(values, resubmit=True)
        assert sb.creates == 2
        assert [j.state for j in engine.store.jobs()] == ["done", "abandoned"]
        assert all(a.status in ("ok", "unknown") for a in answers)


def test_a_resubmit_leaves_a_stalled_job_of_another_set_and_polls_it_again(run_engine):
    # --resubmit gives up only the job of exactly its set: a stalled job that
    # merely shares numbers has a paid, known task; it is polled again (new
    # budget) and only the numbers it does not hold are sent, and the user is told.
    with Sandbox(stuck="pending", queue_seconds=0, export_seconds=0, omit_rate=0.0) as sb:
        engine = run_engine(sb, max_status_calls=2)
        first = numbers(5)
        with pytest.raises(JobStalled):
            engine.check(first)
        (stalled,) = engine.store.jobs()
        sb.unstick()
        events = []
        values = first[:2] + numbers(3, start=500)
        answers = engine.check(values, resubmit=True, on_event=events.append)
        assert all(a.status == "ok" for a in answers)
        assert engine.store.job(stalled.id).state == "done"
        assert "abandoned" not in [j.state for j in engine.store.jobs()]
        assert sb.creates == 2
        assert sorted(list(sb.tasks.values())[1].numbers) == sorted(numbers(3, start=500))
        assert any(e.message and f"job {stalled.id}" in e.message and "polled again"
                   in e.message for e in events)


def test_the_cap_counts_calls_of_earlier_runs_too(run_engine):
    with Sandbox(stuck="pending") as sb:
        engine = run_engine(sb, max_status_calls=8, timeout=0.1)
        # Runs that time out add their calls up; the job never exceeds the cap.
        for _ in range(40):
            with pytest.raises(tgcheck.TgcheckError) as e:
                engine.check(numbers(3))
            if isinstance(e.value, JobStalled):
                break
        assert sb.billed["status"] == 8 and sb.creates == 1
        assert engine.store.jobs()[0].state == "stalled"


def test_billed_replies_that_cannot_be_read_count_against_the_cap(run_engine):
    # Every status reply is a 200 HTML page: paid, yet no record. Each one counts
    # in the journal as it comes, so the job stalls instead of paying forever.
    faults = Faults(rate=1.0, kinds=("nonjson",), create_kinds=(), retry_after=0.01)
    with Sandbox(stuck="pending", faults=faults) as sb:
        engine = run_engine(sb, max_status_calls=2)
        for _ in range(3):
            with pytest.raises(tgcheck.TgcheckError):
                engine.check(numbers(5))
        (job,) = engine.store.jobs()
        assert job.state == "stalled"
        assert job.status_calls == sb.calls["status"]
        assert sb.calls["status"] <= 5  # one run's retries at most, not 5 per run


def test_a_rerun_waits_out_the_backoff_of_a_task_that_has_not_moved(run_engine):
    # A job whose task has not moved for an hour, polled moments ago by an earlier
    # run: a re-run (cron, Excel) inside the backoff makes no billed call at start.
    with Sandbox(stuck="pending") as sb:
        engine = run_engine(sb, poll_max=1800, timeout=0.3)
        with pytest.raises(tgcheck.DeadlineExceeded):
            engine.check(numbers(3))
        (job,) = engine.store.jobs()
        assert job.polled_at is not None and job.moved_at is None  # never moved
        engine.store.db.execute("UPDATE jobs SET created_at = created_at - 3600")
        calls = sb.calls["status"]
        for _ in range(3):
            with pytest.raises(tgcheck.DeadlineExceeded):
                engine.check(numbers(3))
        assert sb.calls["status"] == calls
        assert engine.store.jobs()[0].state == "open"


def test_a_job_abandoned_while_it_is_polled_is_no_longer_polled(run_engine):
    with Sandbox(stuck="pending") as sb:
        engine = run_engine(sb, max_status_calls=50, timeout=5)
        other = Store(engine.settings.store_path)  # as `tgcheck jobs abandon` would

        def on_event(event):
            if event.kind == "progress" and event.status_calls == 1:
                (job,) = other.jobs()
                assert other.abandon_job(job.id, "given up by the user") is not None

        try:
            with pytest.raises(tgcheck.TgcheckError) as e:
                engine.check(numbers(3), on_event=on_event)
        finally:
            other.close()
        assert "is abandoned now (given up by the user)" in str(e.value)
        assert "no longer polled" in str(e.value)
        assert sb.billed["status"] == 1


def test_resume_of_a_stalled_job_polls_at_once(run_engine):
    # The user asked: a reopened job's first poll does not wait out the backoff
    # of a task that was still for an hour (the doubling goes on after it).
    with Sandbox(stuck="pending", queue_seconds=0, export_seconds=0) as sb:
        engine = run_engine(sb, poll_max=1800, max_status_calls=2)
        with pytest.raises(JobStalled):
            engine.check(numbers(3))
        engine.store.db.execute("UPDATE jobs SET created_at = created_at - 3600")
        sb.unstick()
        resumer = run_engine(sb, poll_max=1800, timeout=5)
        assert resumer.resume() == 1
        assert sb.creates == 1


# -- 2. creates: 200 and 202, amounts ------------------------------------------------
@pytest.mark.parametrize("shape", ["full", "short"])
def test_a_202_create_is_a_created_task_and_amounts_are_journaled(run_engine, shape):
    with Sandbox(create_code=202, price="0.002", shape=shape) as sb:
        engine = run_engine(sb)
        answers = engine.check(numbers(10))
        assert sb.creates == 1 and all(a.status in ("ok", "unknown") for a in answers)
        (job,) = engine.store.jobs()
        assert job.state == "done"
        assert job.estimated_amount == "0.0200" and job.actual_amount == "0.0200"
        assert job.currency == "USD"


def test_an_old_store_file_gains_the_new_columns_and_index(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE jobs (id INTEGER PRIMARY KEY, key TEXT NOT NULL, provider TEXT NOT NULL,
          task_type TEXT NOT NULL, count INTEGER NOT NULL, numbers BLOB NOT NULL,
          state TEXT NOT NULL, task_id TEXT, status TEXT, total INTEGER, success INTEGER,
          failure INTEGER, status_calls INTEGER NOT NULL DEFAULT 0, error TEXT, owner TEXT,
          heartbeat REAL, created_at REAL NOT NULL, updated_at REAL NOT NULL);
        CREATE UNIQUE INDEX jobs_live_key ON jobs(key)
          WHERE state IN ('new', 'submitting', 'open', 'uncertain');
        INSERT INTO jobs (key, provider, task_type, count, numbers, state, task_id,
          status_calls, created_at, updated_at)
          VALUES ('k', 'p', 'tg', 0, x'', 'open', 't1', 7, 1.0, 1.0);
    """)
    db.close()
    store = Store(path)
    job = store.jobs()[0]
    assert job.task_id == "t1" and job.status_calls == 7 and job.budget_from == 0
    assert job.budget_used == 7 and job.estimated_amount is None
    store.update_job(job.id, state="stalled")
    # A stalled job still holds its set: a second live row for the key is refused.
    with pytest.raises(sqlite3.IntegrityError):
        store.db.execute("INSERT INTO jobs (key, provider, task_type, count, numbers, state, "
                         "created_at, updated_at) VALUES ('k', 'p', 'tg', 0, x'', 'new', 1, 1)")
    store.close()
    Store(path).close()  # opening again changes nothing


def test_the_doctor_reads_the_journal_of_an_older_store_file(tmp_path):
    from tgcheck.doctor import DoctorReport, _read_jobs
    from tgcheck.store import pack_numbers

    db = sqlite3.connect(tmp_path / "old.sqlite3")
    db.executescript("""
        CREATE TABLE jobs (id INTEGER PRIMARY KEY, key TEXT NOT NULL, provider TEXT NOT NULL,
          task_type TEXT NOT NULL, count INTEGER NOT NULL, numbers BLOB NOT NULL,
          state TEXT NOT NULL, task_id TEXT, status TEXT, total INTEGER, success INTEGER,
          failure INTEGER, status_calls INTEGER NOT NULL DEFAULT 0, error TEXT, owner TEXT,
          heartbeat REAL, created_at REAL NOT NULL, updated_at REAL NOT NULL);""")
    db.execute("INSERT INTO jobs (key, provider, task_type, count, numbers, state, task_id, "
               "created_at, updated_at) VALUES ('k', 'p', 'tg', 2, ?, 'open', 't1', 1, 1)",
               (pack_numbers(numbers(2)),))
    report = DoctorReport(tmp_path / "old.sqlite3")
    (job,) = _read_jobs(db, report)
    assert job["task_id"] == "t1" and job["budget_from"] == 0 and job["currency"] is None
    assert not report.damaged_tables


# -- 3. terminal words -------------------------------------------------------------------
@pytest.mark.parametrize("word", ["failed", "cancelled"])
def test_terminal_words_end_the_job_as_failed_with_the_providers_message(run_engine, word):
    with Sandbox(stuck=word) as sb:
        engine = run_engine(sb)
        with pytest.raises(TaskFailed) as e:
            engine.check(numbers(4))
        assert repr(word) in str(e.value)
        assert sb.billed["status"] == 1
        assert engine.store.jobs()[0].state == "failed"
    with Sandbox(failed_message="number list rejected by carrier") as sb:
        engine = run_engine(sb)
        sb.fail_next("create", "task_failed")
        with pytest.raises(TaskFailed, match="rejected by carrier"):
            engine.check(numbers(4))


# -- 4. lost tasks -----------------------------------------------------------------------
def test_a_purged_task_is_lost_frees_its_numbers_and_only_resubmit_pays_again(run_engine):
    with Sandbox(stuck="pending", queue_seconds=0, export_seconds=0) as sb:
        engine = run_engine(sb, max_status_calls=2)
        values = numbers(6)
        with pytest.raises(JobStalled):
            engine.check(values)
        sb.purge()
        sb.unstick()
        with pytest.raises(tgcheck.TgcheckError, match="gone at the provider"):
            engine.resume()
        (job,) = engine.store.jobs()
        assert job.state == "lost"
        # The same set: refused with the way forward, no call made.
        calls = dict(sb.billed)
        with pytest.raises(TaskLost) as e:
            engine.check(values)
        assert "gone at the provider" in str(e.value) and "--resubmit" in str(e.value)
        assert dict(sb.billed) == calls
        # Another set holding some of its numbers is not blocked.
        engine.check(values[:2] + numbers(2, start=900))
        assert sb.creates == 2
        engine.check(values, resubmit=True)
        assert sb.creates == 3
        assert engine.store.jobs()[0].state == "done"


def test_lost_during_a_check(run_engine):
    with Sandbox(stuck="pending") as sb:
        engine = run_engine(sb)
        sb.fail_next("status", "500")  # a free retry first, then the task is gone
        import threading

        def purge_soon():
            while not sb.tasks:
                threading.Event().wait(0.005)
            sb.purge()

        threading.Thread(target=purge_soon, daemon=True).start()
        with pytest.raises(TaskLost, match="gone at the provider"):
            engine.check(numbers(3))
        assert engine.store.jobs()[0].state == "lost"


def test_abandon_ends_a_live_job_on_purpose(run_engine):
    with Sandbox(stuck="pending", queue_seconds=0, export_seconds=0) as sb:
        engine = run_engine(sb, max_status_calls=1)
        values = numbers(4)
        with pytest.raises(JobStalled):
            engine.check(values)
        job = engine.store.jobs()[0]
        before = engine.store.abandon_job(job.id, "abandoned by the user")
        assert before.state == "stalled"
        assert engine.store.abandon_job(job.id, "again") is None  # no longer live
        sb.unstick()
        engine.check(values)
        assert sb.creates == 2


# -- 5. result sanity ----------------------------------------------------------------
@pytest.mark.parametrize("rows", [
    [],  # a header and nothing else
    [("+41000000000", "yes")],  # only numbers nobody asked for
    "asked-unknown",  # our numbers, but an answer column of values the type does not know
])
def test_a_result_file_that_answers_nothing_is_a_bad_file(run_engine, rows):
    with Sandbox(omit_rate=0.0) as sb:
        values = numbers(5)
        if rows == "asked-unknown":
            rows = [(n, "maybe") for n in values]
        sb.result_override = xlsx_file(("Number", "telegram"), rows)
        engine = run_engine(sb)
        with pytest.raises(ResultFileError) as e:
            engine.check(values)
        assert "5 numbers" in str(e.value) and "stays open" in str(e.value)
        assert sb.calls["download"] == 3  # retried like other bad files
        assert engine.store.jobs()[0].state == "open"
        assert engine.store.stored("tg", values) == {}
        # A good file later: collected without a new task.
        sb.result_override = None
        answers = engine.check(values)
        assert sb.creates == 1 and all(a.status == "ok" for a in answers)


def test_a_number_answered_twice_differently_is_not_stored(run_engine):
    with Sandbox(omit_rate=0.0) as sb:
        values = numbers(4)
        rows = [(n, "yes") for n in values] + [(values[0], "no"), (values[1], "yes")]
        sb.result_override = xlsx_file(("Number", "telegram"), rows)
        events = []
        engine = run_engine(sb)
        answers = engine.check(values, on_event=events.append)
        by = {a.number: a for a in answers}
        assert by[values[0]].status == "unknown"
        assert by[values[1]].value == "yes"  # the same answer twice is one answer
        assert engine.store.stored("tg", [values[0]])[values[0]][1] == "unknown"
        done = [e for e in events if e.kind == "done"]
        assert done and "1 number was answered twice with different values" in done[0].message


# -- 6. 402 and 413 --------------------------------------------------------------------
def test_insufficient_balance_is_clear_and_leaves_no_live_job(run_engine):
    with Sandbox(price="0.01", balance="0.05") as sb:
        engine = run_engine(sb)
        with pytest.raises(InsufficientBalance, match="insufficient balance"):
            engine.check(numbers(10))
        assert [j.state for j in engine.store.jobs()] == ["failed"]
        assert sb.creates == 0
        engine.check(numbers(5))  # 0.05 is enough for 5
        assert sb.creates == 1


def test_a_413_splits_the_set_and_says_how_many_tasks_first(run_engine):
    with Sandbox(max_rows=4, omit_rate=0.0) as sb:
        engine = run_engine(sb)
        events = []
        values = numbers(10)
        answers = engine.check(values, on_event=events.append)
        assert all(a.status == "ok" for a in answers)
        assert sb.creates == 4  # 10 -> 5 + 5 -> 2 + 3 + 2 + 3
        assert all(len(t.numbers) <= 4 for t in sb.tasks.values())
        notes = [e.message for e in events if e.message and "sending them as" in e.message]
        assert notes[0].endswith("sending them as 2 tasks of up to 5")
        assert "refused 10 numbers as too large" in notes[0]
        states = sorted(j.state for j in engine.store.jobs())
        assert states.count("done") == 4 and "open" not in states
        # 10 -> 413 -> 5 + 5; the first 5 -> 413 -> 3 + 2; the other 5 is split to 3 + 2
        # up front, at the size just learned, with no 413 of its own.
        assert sb.calls["create"] - sb.creates == 2
        # The engine remembers: the next set is split up front, no 413 again.
        refused = sb.calls["create"] - sb.creates
        engine.check(numbers(6, start=100))
        assert sb.calls["create"] - sb.creates == refused
        assert all(len(t.numbers) <= 3 for t in list(sb.tasks.values())[4:])


# -- 7. minimum task size ---------------------------------------------------------------
def test_below_the_minimum_is_refused_before_any_call(run_engine):
    with Sandbox(min_rows={"tg": 50}) as sb:
        engine = run_engine(sb, min_task_size=50)
        with pytest.raises(BelowMinimum) as e:
            engine.check(numbers(19))
        assert str(e.value).startswith("19 new numbers; tg tasks take at least 50: add 31")
        assert "--top-up" in str(e.value)
        assert sum(sb.calls.values()) == 0
        assert engine.store.jobs() == []


def test_the_vendors_minimum_refusal_is_shown_as_it_is(run_engine):
    with Sandbox(min_rows={"tg": 50}) as sb:
        engine = run_engine(sb)
        with pytest.raises(tgcheck.TgcheckError, match="below the minimum of 50"):
            engine.check(numbers(19))
        assert engine.store.jobs()[0].state == "failed"


def test_top_up_fills_the_task_with_the_stalest_answers_and_refreshes_them(run_engine):
    with Sandbox(min_rows={"tg": 10}, omit_rate=0.0) as sb:
        engine = run_engine(sb, min_task_size=10)
        old = numbers(20, start=100)
        store_answers(engine.store, "tg", [(n, "no", "ok") for n in old], "old-task")
        # Make the first eight the stalest.
        engine.store.db.execute(
            "UPDATE answers SET checked_at = checked_at - 86400 WHERE number IN "
            f"({','.join('?' * 8)})", old[:8])
        new = numbers(2, start=900)
        with pytest.raises(BelowMinimum):
            engine.check(new)
        topped = tgcheck.Engine(dataclasses.replace(engine.settings, top_up=True))
        try:
            answers = topped.check(new)
        finally:
            topped.close()
        assert [a.number for a in answers] == new and all(a.status == "ok" for a in answers)
        (task,) = sb.tasks.values()
        assert sorted(task.numbers) == sorted(new + old[:8])
        refreshed = engine.store.stored("tg", old[:8])
        assert all(v == (sb.expected(n), "ok") for n, v in refreshed.items())


def test_a_413_half_below_the_minimum_is_refused_before_its_create(run_engine):
    # 80 numbers are too many (60 at most), and halves of 40 too few (50 at least):
    # refused here, not sent to the vendor's "below the minimum".
    with Sandbox(min_rows={"tg": 50}, max_rows=60) as sb:
        engine = run_engine(sb, min_task_size=50)
        with pytest.raises(BelowMinimum, match="40 new numbers; tg tasks take at least 50"):
            engine.check(numbers(80))
        assert sb.calls["create"] == 1 and sb.creates == 0  # the 413 only


def test_413_halves_are_topped_up_each_with_their_own_fillers(run_engine):
    with Sandbox(min_rows={"tg": 50}, max_rows=60, omit_rate=0.0) as sb:
        engine = run_engine(sb, min_task_size=50, top_up=True)
        old = numbers(30, start=5000)
        store_answers(engine.store, "tg", [(n, "no", "ok") for n in old], "old-task")
        answers = engine.check(numbers(80))
        assert all(a.status == "ok" for a in answers)
        tasks = list(sb.tasks.values())
        assert len(tasks) == 2 and all(50 <= len(t.numbers) <= 60 for t in tasks)
        assert set(tasks[0].numbers).isdisjoint(tasks[1].numbers)


def test_chunks_are_equal_so_no_remainder_falls_below_the_minimum(run_engine):
    # 65 numbers in tasks of at most 60: 33 + 32, not 60 + a refused 5.
    with Sandbox(min_rows={"tg": 10}, omit_rate=0.0) as sb:
        engine = run_engine(sb, min_task_size=10, max_task_size=60)
        answers = engine.check(numbers(65))
        assert all(a.status == "ok" for a in answers)
        assert sorted(len(t.numbers) for t in sb.tasks.values()) == [32, 33]


def test_the_rest_after_an_overlap_is_held_to_the_minimum(run_engine):
    # A job holds 18 of these 20 numbers: the 2 left are fewer than the minimum,
    # refused before a create (the vendor would refuse them, or bill a tiny task).
    with Sandbox(omit_rate=0.0) as sb:
        engine = run_engine(sb, min_task_size=10)
        looked_up = time.time() - 1  # another caller's lookup, before the job below ended
        engine.check(numbers(18))
        other = run_engine(sb, min_task_size=10)
        tg = plugins.get_task_type("tg")
        sending = other.planning._send(numbers(20), CheckRequest(
            ttype=tg, since=looked_up, fill=_Fill(False, set(numbers(20)), set())))
        with pytest.raises(BelowMinimum, match="2 new numbers"):
            list(sending)
        assert sb.creates == 1


def test_a_number_left_out_of_a_new_file_keeps_its_stored_ok_answer(run_engine):
    # Top-up re-checks stored answers; a file that leaves one out (unknown) must
    # not replace the paid "ok" it had. Kept as it was, checked_at included: being
    # left out confirms nothing, so it ages as before.
    with Sandbox(min_rows={"tg": 10}, omit_rate=0.5) as sb:
        engine = run_engine(sb, min_task_size=10, top_up=True)
        old = numbers(8, start=100)
        store_answers(engine.store, "tg", [(n, "old", "ok") for n in old], "old-task")
        engine.store.db.execute("UPDATE answers SET checked_at = checked_at - 86400")
        before = {a.number: a.checked_at for a in engine.store.iter_answers()}
        left_out = [n for n in old if simulated_answer(n, "tg", 0.5) is None]
        answered = [n for n in old if n not in left_out]
        assert left_out and answered
        engine.check(numbers(2, start=900))
        stored = engine.store.stored("tg", old)
        assert all(stored[n] == ("old", "ok") for n in left_out)
        assert all(stored[n] == (sb.expected(n), "ok") for n in answered)
        after = {a.number: a.checked_at for a in engine.store.iter_answers()}
        assert all(after[n] == before[n] for n in left_out)
        # An unknown over an unknown, or an ok over anything, is stored as ever.
        store_answers(engine.store, "tg", [(numbers(1, start=900)[0], None, "unknown")], "t")
        store_answers(engine.store, "tg", [(left_out[0], "new", "ok")], "t")
        assert engine.store.stored("tg", [left_out[0]])[left_out[0]] == ("new", "ok")


def test_top_up_with_too_few_stored_answers_is_the_same_refusal(run_engine):
    with Sandbox() as sb:
        engine = run_engine(sb, min_task_size=10, top_up=True)
        store_answers(engine.store, "tg", [(n, "no", "ok") for n in numbers(3, start=100)], "t")
        with pytest.raises(BelowMinimum, match="add 9, --top-up found only 3 stored tg"):
            engine.check(numbers(1, start=900))
        assert sum(sb.calls.values()) == 0


# -- 8. balance and cost -----------------------------------------------------------------
def test_balance_is_read_from_the_provider(run_engine):
    with Sandbox(price="0.01", balance="2.50") as sb:
        engine = run_engine(sb)
        assert engine.provider.balance() == ("2.5", "USD")
        engine.check(numbers(10))
        assert engine.provider.balance() == ("2.4", "USD")


# -- 7. the minimum in SQL and Excel ------------------------------------------------------
def test_sql_below_the_minimum_is_a_clear_query_error_and_top_up_env_fills(tmp_path,
                                                                            monkeypatch):
    import duckdb

    import tgcheck_duckdb

    with Sandbox(min_rows={"tg": 5}, omit_rate=0.0) as sb:
        monkeypatch.setenv("TGCHECK_MIN_TASK_SIZE", "5")
        base = make_settings(sb, tmp_path)
        con = tgcheck_duckdb.register(duckdb.connect(), Settings.from_env(
            api_key=base.api_key, base_url=sb.url, home=base.home, poll_min=0.01,
            poll_max=0.05, retry_base=0.01))
        con.execute("CREATE TABLE t (phone VARCHAR)")
        con.executemany("INSERT INTO t VALUES (?)", [(n,) for n in numbers(6)])
        assert len(con.execute("FROM telegram_check('t', 'phone')").fetchall()) == 6
        con.execute("DELETE FROM t")
        con.executemany("INSERT INTO t VALUES (?)", [(n,) for n in numbers(2, start=50)])
        with pytest.raises(duckdb.Error, match="2 new numbers; tg tasks take at least 5"):
            con.execute("FROM telegram_check('t', 'phone')").fetchall()
        assert sb.creates == 1
        monkeypatch.setenv("TGCHECK_TOP_UP", "1")
        topped = tgcheck_duckdb.register(duckdb.connect(), Settings.from_env(
            api_key=base.api_key, base_url=sb.url, home=base.home, poll_min=0.01,
            poll_max=0.05, retry_base=0.01))
        topped.execute("CREATE TABLE t AS SELECT * FROM (VALUES (?), (?)) v(phone)",
                       numbers(2, start=50))
        rows = topped.execute("SELECT status FROM telegram_check('t', 'phone')").fetchall()
        assert rows == [("ok",), ("ok",)] and sb.creates == 2
        assert len(max(sb.tasks.values(), key=lambda t: t.created).numbers) == 5


def test_excel_below_the_minimum_is_a_cell_error(sandbox_env, monkeypatch):
    import tgcheck_udfs

    monkeypatch.setenv("TGCHECK_MIN_TASK_SIZE", "5")
    result = tgcheck_udfs.tg_check([[n] for n in numbers(2, start=70)])
    cells = [row[0] for row in result]
    assert all("2 new numbers; tg tasks take at least 5: add 3" in c for c in cells)
    assert sandbox_env.creates == 0


@pytest.mark.parametrize("record, expected", [
    ({"estimated_amount": {"amount": "1.90", "currency": "usd"}}, ("1.90", None, "USD")),
    ({"estimated_amount": 2, "actual_amount": "1E+1"}, ("2", "10", None)),
    ({"estimated_amount": {"amount": "lots"}, "actual_amount": -1}, (None, None, None)),
    ({"actual_amount": {"amount": 0.5, "currency": "EUR"}}, (None, "0.5", "EUR")),
])
def test_amounts_are_read_in_every_shape(record, expected):
    from tgcheck.default_plugins.ekycpro import parse_task

    task = parse_task({"task_id": "t", "status": "pending", **record})
    assert (task.estimated_amount, task.actual_amount, task.currency) == expected


@pytest.mark.parametrize("code, body", [(404, "not found"), (400, "Task not found"),
                                        (400, "unknown task_id 'x'")])
def test_a_task_the_provider_does_not_know_is_lost_not_a_bad_request(code, body):
    import httpx

    from tgcheck.default_plugins.ekycpro import EkycproProvider

    def reply(request):
        return httpx.Response(code, json={"message": body})

    settings = Settings(api_key="a-real-looking-key", base_url="http://127.0.0.1:9",
                        retry_base=0.01)
    provider = EkycproProvider(settings, transport=httpx.MockTransport(reply))
    with pytest.raises(TaskLost, match=f"HTTP {code}"):
        provider.get_status("x")
    provider.close()


def test_a_status_asked_by_hand_keeps_the_backoff_of_a_task_that_does_not_move(run_engine):
    # `tgcheck status` journals what it sees like a poll: two words without a state
    # (or the same word again) are no progress, so the next run keeps doubling.
    from tgcheck.models import TaskStatus

    with Sandbox(stuck="pending") as sb:
        engine = run_engine(sb, poll_max=1800, timeout=0.3)
        with pytest.raises(tgcheck.DeadlineExceeded):
            engine.check(numbers(3))
        (job,) = engine.store.jobs()
        for word in ("on_hold", "paused", "pending"):
            engine.record_status(engine.store.job(job.id), TaskStatus(job.task_id, word))
            assert engine.store.job(job.id).moved_at is None, word
        engine.record_status(engine.store.job(job.id),
                             TaskStatus(job.task_id, "processing", total=3, success=1, failure=0))
        assert engine.store.job(job.id).moved_at is not None  # real progress still counts
