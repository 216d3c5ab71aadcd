"""A paid task's id is never lost (issue 20, item 3).

The store cannot be written while a create is in flight (the disk holding it
fills up; the PostgreSQL server stops): the vendor creates and bills the task
anyway. Its id must reach the user (the message names it and the command that
attaches it) and the next run (the recovery file beside the store, which that
run attaches by itself, with no new create).

Real parts: a real tmpfs filled to the last byte while the sandbox holds the
create, a real PostgreSQL cluster stopped with `pg_ctl stop -m immediate`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

import tgcheck
from conftest import let_go_of, numbers, wait_for
from tgcheck.engine import Tuning
from tgcheck.errors import StoreError, StoreFull

# A created task's id is journaled in quick tries here: the tests fail them all.
QUICK = Tuning(record_step=0.01)
# The store, its WAL and the recovery file fit many times over; the filler takes the rest.
DISK_SIZE = "8m"


@contextlib.contextmanager
def _mounted_tmpfs():
    """A tmpfs of DISK_SIZE on a temporary folder (root only: skipped loudly otherwise)."""
    where = Path(tempfile.mkdtemp(prefix="tgcheck-small-disk-"))
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs",
                               str(where)], capture_output=True, text=True, check=False)
        why = done.stderr.strip() if done.returncode else None
    except OSError as e:  # no mount command at all (Windows, a slim image)
        why = str(e)
    if why is not None:
        where.rmdir()
        # A loop-mounted image needs the same right to mount: there is no other
        # real small filesystem to fill without it.
        pytest.skip("CANNOT MOUNT A TMPFS HERE (not root, or mount not permitted in this "
                    f"container: {why}): the full-disk test is SKIPPED")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        with contextlib.suppress(OSError):
            where.rmdir()


def _fill(folder: Path) -> Path:
    """Fill the filesystem holding folder to its last byte; the filler file."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        for size in (1 << 20, 4096, 1):  # big steps, then what is left
            with contextlib.suppress(OSError):
                while f.write(b"\1" * size):
                    pass
    with pytest.raises(OSError) as full:
        (folder / "one-more-byte").write_bytes(b"\1")
    assert full.value.errno == errno.ENOSPC
    return filler


def _check_in_thread(engine, values):
    """engine.check(values) on a thread; (thread, outcome) where outcome gets
    "answers" or "error" when it ends."""
    outcome: dict = {}

    def run():
        try:
            outcome["answers"] = engine.check(values)
        except BaseException as e:  # noqa: BLE001 - handed to the test as it is
            outcome["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _entries(path: Path) -> list[dict]:
    text = path.read_bytes().split(b"\0", 1)[0].decode()
    return [json.loads(line) for line in text.splitlines()]


def test_a_disk_filled_during_the_create_keeps_the_task_id_and_the_next_run_attaches_it(
        sandbox, settings, monkeypatch):
    with _mounted_tmpfs() as disk:
        home = disk / "home"
        mine = dataclasses.replace(settings, home=home)
        engine = tgcheck.Engine(mine, tuning=QUICK)
        engine.check(numbers(3, start=900))  # the store exists, with room then
        before = set(sandbox.tasks)
        values = numbers(5)
        sandbox.hold_creates = threading.Event()
        thread, outcome = _check_in_thread(engine, values)
        wait_for(lambda: sandbox.calls["create"] >= 2, "the create to reach the sandbox")
        filler = _fill(disk)
        sandbox.hold_creates.set()  # the vendor creates (and bills) the task
        thread.join(60)
        assert not thread.is_alive()
        error = outcome.get("error")
        assert isinstance(error, StoreFull), outcome
        [task_id] = set(sandbox.tasks) - before
        message = str(error)
        assert task_id in message
        assert f"`tgcheck jobs attach 2 {task_id}`" in message  # job 1 was the warm-up's
        recovery = engine.recovery.path
        assert str(recovery) in message and "attaches it by itself" in message
        [entry] = _entries(recovery)
        assert entry["task"] == task_id
        assert sandbox.api_key not in recovery.read_text(errors="replace")
        engine.close()

        filler.unlink()  # the disk has room again
        again = tgcheck.Engine(mine, tuning=QUICK)
        answers = again.check(values)
        assert [a.value for a in answers] == [sandbox.expected(n) for n in values]
        assert sandbox.creates == 2  # the first check's task and this one: none twice
        assert again.recovery.pending() == []
        again.close()


def test_a_store_error_while_releasing_does_not_replace_the_one_naming_the_task(
        sandbox, settings, monkeypatch):
    engine = tgcheck.Engine(settings, tuning=QUICK)
    store = engine.store
    real_update = store.update_job

    def full(job_id, **fields):
        if "task_id" in fields:
            raise StoreFull("database or disk is full")
        return real_update(job_id, **fields)

    def release(job_id):
        raise StoreError("cannot release: the disk is still full")

    monkeypatch.setattr(store, "update_job", full)
    monkeypatch.setattr(store, "release", release)
    with pytest.raises(StoreFull) as e:
        engine.check(numbers(4))
    [task_id] = sandbox.tasks
    assert task_id in str(e.value) and "cannot release" not in str(e.value)
    engine.close()


@pytest.fixture
def own_cluster():
    """A PostgreSQL cluster of this test's own (it is stopped mid-test; the
    session's cluster must not be). Skipped, loudly, without PostgreSQL."""
    from postgres_cluster import find_bindir, running_cluster

    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL IS NOT INSTALLED: the stopped-server test is SKIPPED")
    with running_cluster(bindir) as cluster:
        yield cluster


def test_a_postgres_server_stopped_during_the_create_keeps_the_task_id_and_the_next_run_attaches_it(  # noqa: E501
        sandbox, settings, own_cluster, monkeypatch):
    url = own_cluster.create_database("team")
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        # The test clusters acknowledge commits before writing them (fast); a
        # server stopped at once would then lose the journal's rows as well,
        # which a real one, with the default, does not.
        conn.execute("ALTER DATABASE team SET synchronous_commit = on")
    team = dataclasses.replace(settings, store_url=url)
    engine = tgcheck.Engine(team, tuning=QUICK)
    values = numbers(6)
    sandbox.hold_creates = threading.Event()
    thread, outcome = _check_in_thread(engine, values)
    wait_for(lambda: sandbox.calls["create"] >= 1, "the create to reach the sandbox")
    own_cluster.halt()
    sandbox.hold_creates.set()  # the vendor creates (and bills) the task
    thread.join(60)
    assert not thread.is_alive()
    error = outcome.get("error")
    assert isinstance(error, StoreError), outcome
    [task_id] = sandbox.tasks
    message = str(error)
    assert f"tgcheck jobs attach 1 {task_id}" in message, message
    # Under TGCHECK_HOME: the database is where the failure is.
    recovery = engine.recovery.path
    assert recovery.parent == team.home and str(recovery) in message
    [entry] = _entries(recovery)
    assert (entry["job"], entry["task"]) == (1, task_id)
    assert sandbox.api_key not in recovery.read_text(errors="replace")
    engine.close()

    own_cluster.restart()
    again = tgcheck.Engine(team, tuning=QUICK)
    answers = again.check(values)
    assert [a.value for a in answers] == [sandbox.expected(n) for n in values]
    assert sandbox.creates == 1  # attached and collected: not paid twice
    assert again.store.job(1).state == "done" and again.store.job(1).task_id == task_id
    assert again.recovery.pending() == []
    again.close()


def test_jobs_attach_settles_the_recovery_entry(sandbox, settings, monkeypatch):
    from conftest import child_env
    from processes import run

    engine = tgcheck.Engine(settings, tuning=QUICK)
    store = engine.store
    real_update = store.update_job

    def full(job_id, **fields):
        if "task_id" in fields:
            raise StoreFull("database or disk is full")
        return real_update(job_id, **fields)

    monkeypatch.setattr(store, "update_job", full)
    monkeypatch.setattr(store, "release", lambda job_id: _raise(StoreFull("still full")))
    with pytest.raises(StoreFull):
        engine.check(numbers(4))
    [task_id] = sandbox.tasks
    assert [e["task"] for e in engine.recovery.pending()] == [task_id]
    engine.close()
    # The command runs in another process, while this one lives on (Excel) still
    # named as the job's owner: the id it wrote down says it gave the job up.
    done = run("jobs", "attach", "1", task_id, "--sandbox",
               env=child_env(sandbox, settings.home))
    assert done.returncode == 0, done.stderr
    assert engine.recovery.pending() == []


def test_a_task_whose_job_was_abandoned_meanwhile_stays_named_in_the_file(
        sandbox, settings, monkeypatch, caplog):
    engine = tgcheck.Engine(settings, tuning=QUICK)
    store = engine.store
    real_update = store.update_job
    monkeypatch.setattr(store, "update_job", lambda job_id, **fields: (
        _raise(StoreFull("database or disk is full")) if "task_id" in fields
        else real_update(job_id, **fields)))
    with pytest.raises(StoreFull):
        engine.check(numbers(4))
    [task_id] = sandbox.tasks
    monkeypatch.undo()
    store.abandon_job(1, "given up by the user")
    assert engine.attach_recovered() == 0
    assert engine.recovery.pending() == []  # not tried again by every run...
    assert task_id in engine.recovery.path.read_text(errors="replace")  # ...but kept
    assert f"paid task {task_id} cannot be attached (job 1 is abandoned)" in caplog.text
    engine.close()


def _raise(error):
    raise error


def test_the_command_says_the_task_and_its_attach_command_and_the_rerun_pays_nothing(
        sandbox, tmp_path):
    # The user's path: `tgcheck check` in its own process, the disk filled while
    # the create is held; what reaches the terminal, then a plain re-run.
    from conftest import child_env
    from processes import finished, run, started

    with _mounted_tmpfs() as disk:
        env = child_env(sandbox, disk / "home", TGCHECK_RETRY_BASE="0.01")
        listing = tmp_path / "in.txt"
        values = numbers(5)
        listing.write_text("\n".join(values) + "\n")
        warm = tmp_path / "warm.txt"
        warm.write_text("\n".join(numbers(3, start=900)) + "\n")
        assert run("check", str(warm), "-q", env=env).returncode == 0  # the store exists
        before = set(sandbox.tasks)
        sandbox.hold_creates = threading.Event()
        with started("check", str(listing), "-q", env=env) as proc:
            wait_for(lambda: sandbox.calls["create"] >= 2, "the create to reach the sandbox")
            filler = _fill(disk)
            sandbox.hold_creates.set()
            err = finished(proc, timeout=60)
        assert proc.returncode == 1, err
        [task_id] = set(sandbox.tasks) - before
        assert f"tgcheck jobs attach 2 {task_id}" in err
        assert "paid-tasks" in err and "Traceback" not in err and "unexpected" not in err
        filler.unlink()
        again = run("check", str(listing), env=env)
        assert again.returncode == 0, again.stderr
        assert sandbox.creates == 2  # the warm-up's task and the recovered one
        assert len(again.stdout.strip().splitlines()) == 6  # header + 5 answers


def test_a_process_that_gave_its_job_up_and_lives_on_does_not_hold_the_next_run(
        sandbox, settings, monkeypatch):
    # Excel's process met the store failure and is still running; a run of
    # another process attaches the task it wrote down, without waiting for it.
    from tgcheck.store import HOST, StoreTuning, open_store

    engine = tgcheck.Engine(settings, tuning=QUICK)
    store = engine.store
    real_update = store.update_job
    monkeypatch.setattr(store, "update_job", lambda job_id, **fields: (
        _raise(StoreFull("database or disk is full")) if "task_id" in fields
        else real_update(job_id, **fields)))
    monkeypatch.setattr(store, "release", lambda job_id: _raise(StoreFull("still full")))
    values = numbers(4)
    with pytest.raises(StoreFull):
        engine.check(values)
    [task_id] = sandbox.tasks
    assert store.job(1).owner == store.owner  # not released: still "ours"
    monkeypatch.undo()
    later = dataclasses.replace(settings, timeout=10)
    another = StoreTuning(owner=f"{HOST}:999999999")  # another process on this host
    other = tgcheck.Engine(later, store=open_store(later, tuning=another))
    answers = other.check(values)
    assert [a.value for a in answers] == [sandbox.expected(n) for n in values]
    assert sandbox.creates == 1
    other.close()
    engine.close()


def test_when_the_recovery_file_cannot_be_written_either_stderr_has_the_id(
        sandbox, settings, monkeypatch, capfd):
    engine = tgcheck.Engine(settings, tuning=QUICK)
    engine.recovery.path.mkdir(parents=True)  # a folder where the file should be
    store = engine.store
    real_update = store.update_job
    monkeypatch.setattr(store, "update_job", lambda job_id, **fields: (
        _raise(StoreFull("database or disk is full")) if "task_id" in fields
        else real_update(job_id, **fields)))
    with pytest.raises(StoreFull) as e:
        engine.check(numbers(4))
    [task_id] = sandbox.tasks
    assert "Note the task id" in str(e.value) and f"jobs attach 1 {task_id}" in str(e.value)
    err = capfd.readouterr().err
    assert f"paid task {task_id} of job 1 is not in the journal" in err
    assert f"tgcheck jobs attach 1 {task_id}" in err
    engine.close()


def test_a_store_made_anew_never_gets_the_task_on_another_sets_job(
        sandbox, settings, monkeypatch):
    # The job's id in the recovery file names another set's job in a store made
    # anew (the old file deleted or set aside): the key tells them apart.
    engine = tgcheck.Engine(settings, tuning=QUICK)
    store = engine.store
    real_update = store.update_job
    monkeypatch.setattr(store, "update_job", lambda job_id, **fields: (
        _raise(StoreFull("database or disk is full")) if "task_id" in fields
        else real_update(job_id, **fields)))
    with pytest.raises(StoreFull):
        engine.check(numbers(4))
    [task_id] = sandbox.tasks
    engine.close()
    monkeypatch.undo()
    let_go_of(settings.store_path)
    for leftover in settings.home.glob(settings.store_path.name + "-*"):
        leftover.unlink()
    settings.store_path.unlink()  # a store made anew; the recovery file stays
    fresh = tgcheck.Engine(settings)
    role, job = fresh.store.claim("another-set", "p", "tg", numbers(2, start=500))
    assert (role, job.id, job.state) == ("drive", 1, "new")
    assert fresh.attach_recovered() == 0
    assert fresh.store.job(1).task_id is None and fresh.store.job(1).state == "new"
    assert fresh.recovery.pending() == []
    assert task_id in fresh.recovery.path.read_text(errors="replace")  # still named there
    fresh.close()


def test_processes_writing_the_recovery_file_at_once_lose_no_entry(tmp_path):
    # Excel, a cron job and the CLI may all meet the same full disk: each entry
    # is written whole, none over another's (an OS file lock around each write).
    import sys

    path = tmp_path / "store.sqlite3.paid-tasks"
    script = ("import sys; from tgcheck.store.recovery import RecoveryFile\n"
              "r = RecoveryFile(sys.argv[1], 's'); r.prepare()\n"
              "for i in range(40): assert r.note(i, 'k', f'{sys.argv[2]}-{i}', 'p', 'o')\n")
    writers = [subprocess.Popen([sys.executable, "-c", script, str(path), f"w{n}"])
               for n in range(4)]
    assert [w.wait(60) for w in writers] == [0] * 4
    from tgcheck.store.recovery import RecoveryFile

    pending = RecoveryFile(path, "s").pending()
    assert sorted(e["task"] for e in pending) == sorted(
        f"w{n}-{i}" for n in range(4) for i in range(40))
    assert oct(path.stat().st_mode & 0o777) == "0o600"
