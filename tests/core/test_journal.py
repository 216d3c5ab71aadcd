"""The journal's state machine (tgcheck.store.journal): one transition table that
the store keeps, on both backends, and the named steps the engine and faces call."""

from __future__ import annotations

import pytest

from tgcheck.store import journal
from tgcheck.store.journal import IllegalTransition, JobState


def numbers(n: int, start: int = 0) -> list[str]:
    return [f"+4179{i:07d}" for i in range(start, start + n)]


def test_the_states_are_the_stored_words_and_equal_them():
    assert [s.value for s in JobState] == [
        "new", "submitting", "open", "stalled", "uncertain", "done", "failed", "lost",
        "abandoned"]
    assert JobState.DONE == "done" and f"{JobState.OPEN}" == "open"
    assert str(JobState.LOST) == "lost"
    # Keyed by members, looked up by the stored string (and back).
    assert {JobState.NEW: 1}["new"] == 1 and {"new": 1}[JobState.NEW] == 1
    assert journal.sql_list(journal.LIVE_STATES) == (
        "('new', 'submitting', 'open', 'stalled', 'uncertain')")


def test_the_table_covers_every_state_and_ended_jobs_go_nowhere():
    assert set(journal.TRANSITIONS) == set(JobState)
    for state in journal.ENDED:
        if state is not JobState.LOST:  # a lost job may still be abandoned on purpose
            assert journal.TRANSITIONS[state] == frozenset()
    assert not journal.allowed("done", "open")
    assert not journal.allowed("new", "uncertain")  # only a create on its way is
    assert journal.allowed("submitting", "uncertain") and journal.allowed("open", "open")
    assert set(journal.sources("uncertain")) == {JobState.SUBMITTING, JobState.UNCERTAIN}
    with pytest.raises(IllegalTransition, match="not a journal state"):
        journal.state_of("finished")


def test_an_illegal_transition_raises_and_writes_nothing(any_store):
    _, job = any_store.claim("k", "p", "tg", numbers(2))
    any_store.update_job(job.id, state="open", task_id="T")
    any_store.finish_job(any_store.job(job.id), "tg", [])
    with pytest.raises(IllegalTransition, match=f"job {job.id} cannot go from done to open"):
        any_store.update_job(job.id, state="open", error="x")
    after = any_store.job(job.id)
    assert after.state == "done" and after.error is None
    # An expected state that cannot go there is refused before any write.
    _, other = any_store.claim("k2", "p", "tg", numbers(2, start=10))
    with pytest.raises(IllegalTransition, match="from new to uncertain"):
        any_store.update_job(other.id, expect_state="new", state="uncertain")
    with pytest.raises(IllegalTransition):
        any_store.update_job(other.id, state="finished")
    assert any_store.job(other.id).state == "new"


def test_named_steps_leave_a_job_moved_on_meanwhile_alone(any_store):
    _, job = any_store.claim("k", "p", "tg", numbers(2))
    assert journal.submitting(any_store, job.id)
    assert journal.created(any_store, job.id, "T1", None, status="pending")
    assert any_store.job(job.id).state == "open"
    # The user abandons it while a driver polls: the driver's "lost" keeps it abandoned.
    assert journal.abandoned(any_store, job.id, "by the user").state == "open"
    assert not journal.lost(any_store, job.id, "gone")
    assert not journal.failed(any_store, job.id, "failed")
    assert any_store.job(job.id).state == "abandoned"


def test_settled_after_an_interrupt_marks_only_creates_on_their_way(any_store):
    _, cut = any_store.claim("a", "p", "tg", numbers(2))
    _, landed = any_store.claim("b", "p", "tg", numbers(2, start=10))
    journal.submitting(any_store, cut.id)
    journal.submitting(any_store, landed.id)
    journal.created(any_store, landed.id, "T2", None)
    assert journal.settled_after_interrupt(any_store, (cut.id, landed.id), "Ctrl-C") == 1
    assert any_store.job(cut.id).state == "uncertain"
    assert any_store.job(cut.id).error == "Ctrl-C"
    assert any_store.job(landed.id).state == "open"
    # A create that lands after all is still recorded (its task is paid for).
    assert journal.created(any_store, cut.id, "T3", None)
    assert any_store.job(cut.id).state == "open"


def test_a_lost_stalled_job_and_a_reopened_one(any_store):
    _, job = any_store.claim("k", "p", "tg", numbers(2))
    any_store.update_job(job.id, state="open", task_id="T")
    assert journal.stalled(any_store, job.id)
    assert journal.reopened(any_store, job.id)
    assert journal.polled(any_store, job.id, billed=True, status="processing")
    polled = any_store.job(job.id)
    assert (polled.state, polled.status_calls, polled.status) == ("open", 1, "processing")
    assert journal.stalled(any_store, job.id)
    assert journal.lost(any_store, job.id, "gone") and any_store.job(job.id).state == "lost"


def test_status_asks_the_engine_to_poll_once_and_reopen_a_stalled_job(tmp_path):
    # `tgcheck status` calls Engine.poll_once: one status call, journaled like the
    # driver's own polls; a stalled job gets a new budget (the user asked).
    import tgcheck
    from tgcheck import Settings
    from tgcheck.errors import JobStalled
    from tgcheck.sandbox import Sandbox

    with Sandbox(stuck="pending", queue_seconds=0, export_seconds=0) as sb:
        engine = tgcheck.Engine(Settings(
            api_key=sb.api_key, base_url=sb.url, home=tmp_path / "home", poll_min=0.01,
            poll_max=0.05, timeout=30, http_timeout=5, retry_base=0.01, max_status_calls=2))
        try:
            with pytest.raises(JobStalled):
                engine.check(numbers(5))
            (job,) = engine.store.jobs()
            assert (job.state, job.status_calls, sb.billed["status"]) == ("stalled", 2, 2)
            polled = engine.poll_once(job.task_id)
            assert sb.billed["status"] == 3 and sb.creates == 1
            assert polled.record.status == "pending" and polled.reopened
            assert polled.other is None
            assert (polled.job.state, polled.job.status_calls) == ("open", 3)
            # Reopened: its first poll is at once (reopen clears polled_at).
            assert polled.job.polled_at is None
        finally:
            engine.close()
