"""Ctrl-C on a real `tgcheck check` process with several tasks in flight."""

from __future__ import annotations

import contextlib
import json
import signal
import threading

from conftest import child_env, numbers, wait_for
from processes import finished, interrupt, journal, read_until, run, started


def test_ctrl_c_with_several_tasks_in_flight_stops_at_once_and_a_rerun_attaches(
        sandbox, tmp_path):
    values = numbers(40, start=7000)
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(values) + "\n")
    # 8 tasks of 5, 4 in flight at a time; the sandbox's tasks never finish.
    env = child_env(sandbox, tmp_path / "home", TGCHECK_MAX_TASK_SIZE="5",
                    TGCHECK_TIMEOUT="120")
    sandbox.time_scale = 0.0
    with started("check", str(listing), "--progress", "json", env=env) as proc:
        read_until(proc, '"event": "submitted"', count=4)
        # Before, the process waited for every task in flight: here, forever.
        err = interrupt(proc)
    assert proc.returncode == 130, err
    assert "answers are stored" in err and "attaches" in err
    assert "Traceback" not in err
    creates = sandbox.creates
    assert creates == 4

    # The jobs stayed open (not uncertain): the re-run attaches to them and
    # creates only the 4 tasks never started.
    sandbox.time_scale = 1.0
    again = run("check", str(listing), "--progress", "json", env=env)
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
    with started("check", str(listing), "--progress", "json", env=env) as proc:
        read_until(proc, '"event": "done"')
        err = interrupt(proc)
    assert proc.returncode == 130, err
    assert "6 answers are stored (1 of 2 task(s) finished)" in err
    states = sorted(j["state"] for j in journal(env))
    assert states == ["done", "open"]


@contextlib.contextmanager
def _interrupted_during_creates(sandbox, tmp_path, count: int):
    """A check of `count` numbers in tasks of 5 whose creates the sandbox holds;
    SIGINT once 4 creates (as many as run at a time) have reached it. Gives the
    process, its env, its listing and the stderr lines read up to the "waiting"
    note."""
    values = numbers(count, start=7200)
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(values) + "\n")
    env = child_env(sandbox, tmp_path / "home", TGCHECK_MAX_TASK_SIZE="5")
    sandbox.hold_creates = threading.Event()
    with started("check", str(listing), "--progress", "json", "-o", str(tmp_path / "out.csv"),
                 env=env) as proc:
        wait_for(lambda: sandbox.calls["create"] >= 4, "the creates to be sent")
        proc.send_signal(signal.SIGINT)
        yield proc, env, listing, read_until(proc, "waiting up to")


def test_ctrl_c_during_creates_lets_them_be_journaled_and_a_rerun_creates_nothing(
        sandbox, tmp_path):
    # The review's case: every create on its way when Ctrl-C comes. Before, the
    # process left at once, the 4 paid tasks orphaned ("submitting", no task id),
    # and the re-run asked for --resubmit, which paid for them again.
    with _interrupted_during_creates(sandbox, tmp_path, 20) as (proc, env, listing, seen):
        assert "for 4 task creates to be recorded" in seen[-1]
        assert "Ctrl-C again to leave now" in seen[-1]
        sandbox.hold_creates.set()  # the provider answers the creates
        err = "".join(seen) + finished(proc, timeout=60)
    assert proc.returncode == 130, err
    assert "4 task(s) created by this run" in err
    assert "attaches" in err and "no --resubmit needed" in err
    assert "Traceback" not in err
    jobs = journal(env)
    assert sandbox.creates == 4
    assert sorted(j["task_id"] for j in jobs) == sorted(sandbox.tasks)
    assert {j["state"] for j in jobs} == {"open"}

    again = run("check", str(listing), "--progress", "json", env=env)
    assert again.returncode == 0, again.stderr
    assert sandbox.creates == 4  # attached, nothing paid twice
    assert len(again.stdout.strip().splitlines()) == 21


def test_ctrl_c_starts_no_create_after_it_and_a_rerun_creates_only_the_rest(
        sandbox, tmp_path):
    # 8 tasks, 4 at a time: the 4 on their way are journaled, the 4 not yet
    # sending never start.
    with _interrupted_during_creates(sandbox, tmp_path, 40) as (proc, env, listing, seen):
        assert "for 4 task creates to be recorded" in seen[-1]
        sandbox.hold_creates.set()
        err = "".join(seen) + finished(proc, timeout=60)
    assert proc.returncode == 130, err
    assert "4 task(s) created by this run" in err
    assert sandbox.calls["create"] == 4 and sandbox.creates == 4
    jobs = journal(env)
    assert sorted(j["task_id"] for j in jobs if j["task_id"]) == sorted(sandbox.tasks)
    assert {j["state"] for j in jobs} <= {"open", "new"}

    again = run("check", str(listing), "--progress", "json", env=env)
    assert again.returncode == 0, again.stderr
    assert sandbox.creates == 8  # the 4 never sent, once each
    assert len(again.stdout.strip().splitlines()) == 41


def test_a_second_ctrl_c_leaves_at_once_and_the_creates_on_their_way_are_uncertain(
        sandbox, tmp_path):
    with _interrupted_during_creates(sandbox, tmp_path, 40) as (proc, env, listing, seen):
        try:
            # The creates are still held: the process leaves without their answers.
            err = "".join(seen) + interrupt(proc, timeout=20)
        finally:
            sandbox.hold_creates.set()
    assert proc.returncode == 130, err
    assert "4 create(s) were left on their way: their jobs are uncertain" in err
    jobs = journal(env)
    assert [j["state"] for j in jobs] == ["uncertain"] * 4
    # The provider made them after all (the test held them until the process was
    # gone): uncertain, so a re-run pays for none of them again unasked.
    wait_for(lambda: sandbox.creates == 4, "the held creates to land")
    again = run("check", str(listing), "-q", env=env)
    assert again.returncode != 0
    assert "--resubmit" in again.stderr
    assert sandbox.creates == 4


def test_ctrl_c_during_a_resume_create_lets_it_be_journaled(sandbox, tmp_path):
    # A job left new (its create never sent: a stop before it) is created by
    # `tgcheck resume`; Ctrl-C while that create is on its way must not leave it
    # submitting with no task id.
    from tgcheck.engine import Engine, number_set_key
    from tgcheck.settings import Settings

    values = numbers(5, start=7400)
    settings = Settings(api_key=sandbox.api_key, base_url=sandbox.url, home=tmp_path / "home",
                        simulated=True)  # the store `resume` (child_env) uses
    engine = Engine(settings)
    try:
        identity = engine.provider.identity
        key = number_set_key(identity, "tg", values)
        role, job = engine.store.claim(key, identity, "tg", values)
        assert role == "drive" and job.state == "new"
        engine.store.release(job.id)
    finally:
        engine.close()
    env = child_env(sandbox, tmp_path / "home")
    sandbox.hold_creates = threading.Event()
    with started("resume", "--progress", "json", env=env) as proc:
        wait_for(lambda: sandbox.calls["create"] >= 1, "the create to be sent")
        proc.send_signal(signal.SIGINT)
        seen = read_until(proc, "waiting up to")
        assert "for 1 task create to be recorded" in seen[-1], "".join(seen)
        sandbox.hold_creates.set()
        err = "".join(seen) + finished(proc, timeout=60)
    assert proc.returncode == 130, err
    assert "1 task(s) created by this run" in err
    jobs = journal(env)
    assert [(j["state"], j["task_id"]) for j in jobs] == [("open", *sandbox.tasks)]

    again = run("resume", "-q", env=env)
    assert again.returncode == 0, again.stderr
    assert sandbox.creates == 1
    assert [j["state"] for j in journal(env)] == ["done"]


def test_ctrl_c_while_a_create_waits_to_retry_a_429_sends_nothing_more(sandbox, tmp_path):
    # A 429 creates nothing; the create's wait before trying again (Retry-After:
    # 30 s) ends on Ctrl-C, and no second request is sent: the job stays new.
    from tgcheck.sandbox import Faults

    values = numbers(5, start=7500)
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(values) + "\n")
    env = child_env(sandbox, tmp_path / "home", TGCHECK_TIMEOUT="120")
    sandbox.faults = Faults(retry_after=30.0)
    sandbox.fail_next("create", "429")
    with started("check", str(listing), "--progress", "json", env=env) as proc:
        wait_for(lambda: sandbox.calls["create"] >= 1, "the first create")
        err = interrupt(proc, timeout=20)  # well before the Retry-After is over
    assert proc.returncode == 130, err
    assert sandbox.calls["create"] == 1 and sandbox.creates == 0
    assert [j["state"] for j in journal(env)] == ["new"]

    sandbox.faults = Faults()
    again = run("check", str(listing), "-q", env=env)
    assert again.returncode == 0, again.stderr
    assert sandbox.creates == 1
