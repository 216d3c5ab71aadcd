"""The PostgreSQL store under the engine: a team's members on one database
(a real server, the session's throwaway cluster), and what only PostgreSQL has:
its own schema, the database's clock, NOTIFY, the sandbox's separate schema."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time

import psycopg
import pytest

import tgcheck
from conftest import numbers
from tgcheck.errors import StoreError, StoreForeign
from tgcheck.store import StoreTuning, open_store
from tgcheck.store.postgres import PostgresStore


@pytest.fixture
def team(settings, postgres_url, tmp_path):
    """Settings for two members: their own homes, one shared database."""
    return [dataclasses.replace(settings, home=tmp_path / name, store_url=postgres_url)
            for name in ("ana", "ben")]


def test_a_second_member_pays_nothing_for_what_the_first_checked(team, sandbox):
    values = numbers(300)
    with contextlib.closing(tgcheck.Engine(team[0])) as first:
        answers = first.check(values)
    assert sandbox.creates == 1
    with contextlib.closing(tgcheck.Engine(team[1])) as second:
        again = second.check(values)
    assert sandbox.creates == 1  # one task for the whole team
    assert [(a.value, a.status) for a in again] == [(a.value, a.status) for a in answers]
    assert not (team[1].home / "tgcheck-sandbox.sqlite3").exists()  # nothing private


def test_sandbox_answers_live_in_their_own_schema(team, postgres_url, sandbox):
    with contextlib.closing(tgcheck.Engine(team[0])) as engine:
        engine.check(numbers(5))
        assert engine.store.schema == "tgcheck_sandbox"
    with psycopg.connect(postgres_url) as conn:
        schemas = {r[0] for r in conn.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'answers'")}
    assert schemas == {"tgcheck_sandbox"}  # simulated answers never reach `tgcheck`
    real = open_store(postgres_url)
    assert real.count_answers() == 0
    real.close()


def test_members_checking_one_set_at_once_create_one_task(team, sandbox):
    values = numbers(400)
    results, errors = [], []

    def member(settings):
        try:
            with contextlib.closing(tgcheck.Engine(settings)) as engine:
                results.append(engine.check(values))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=member, args=(team[i % 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(results) == 4
    assert sandbox.creates == 1
    assert len({tuple((a.value, a.status) for a in r) for r in results}) == 1


def test_the_schema_is_made_once_and_carries_its_version(postgres_url):
    first = PostgresStore(postgres_url)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT value FROM tgcheck.meta WHERE key = 'schema_version'"
                            ).fetchone()[0] == str(first.schema_version())
    # No DDL after the first run: a role that may only read and write the tables
    # opens it (CREATE on the database or schema would be needed for any DDL).
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE ROLE member LOGIN")
        conn.execute("GRANT USAGE ON SCHEMA tgcheck TO member")
        conn.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA tgcheck "
                     "TO member")
        conn.execute("GRANT USAGE ON ALL SEQUENCES IN SCHEMA tgcheck TO member")
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    member_url = postgres_url.replace("postgres@", "member@")
    member = PostgresStore(member_url)
    role, job = member.claim("k", "p", "tg", numbers(3))
    member.update_job(job.id, state="open", task_id="T")
    member.finish_job(member.job(job.id), "tg", [(n, "yes", "ok") for n in numbers(3)])
    assert first.count_answers() == 3
    member.close()
    first.close()


def test_a_schema_of_another_program_is_left_alone(postgres_url):
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA tgcheck")
        conn.execute("CREATE TABLE tgcheck.customers (id int)")
    with pytest.raises(StoreForeign, match="not tgcheck's"):
        PostgresStore(postgres_url)


def test_a_newer_schema_asks_for_a_newer_tgcheck(postgres_url):
    PostgresStore(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE tgcheck.meta SET value = '99'")
    with pytest.raises(StoreError, match="newer tgcheck"):
        PostgresStore(postgres_url)


def test_an_unreachable_database_is_a_clear_error_without_the_password(postgres_cluster):
    url = f"postgresql://ana:s3cret@127.0.0.1:{postgres_cluster.port + 1}/team"
    with pytest.raises(StoreError) as e:
        open_store(url)
    assert "cannot be reached" in str(e.value) and "s3cret" not in str(e.value)
    assert "ana:***@" in str(e.value)


def test_leases_run_on_the_database_s_clock(postgres_url, monkeypatch):
    """A host whose clock is an hour ahead still sees another host's fresh lease
    as fresh: heartbeats are written and compared on the database's clock."""
    store = PostgresStore(postgres_url)
    role, job = store.claim("k", "p", "tg", numbers(2))
    store.release(job.id)
    with PostgresStore(postgres_url, tuning=StoreTuning(owner="elsewhere:1")) as other:
        assert other.claim("k", "p", "tg", numbers(2))[0] == "drive"
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)  # this host runs ahead
    skewed = PostgresStore(postgres_url)
    role, seen = skewed.claim("k", "p", "tg", numbers(2))
    assert (role, seen.owner) == ("wait", "elsewhere:1")  # not taken for an expired lease
    assert abs(seen.heartbeat - time.time()) < 60  # handed out on this host's clock
    with psycopg.connect(postgres_url) as conn:
        beat = conn.execute("SELECT heartbeat FROM tgcheck.jobs").fetchone()[0]
    assert abs(beat - real_time()) < 60  # kept on the database's clock
    skewed.close()
    store.close()


def test_a_heartbeat_alone_wakes_no_one(postgres_url):
    driver, follower = PostgresStore(postgres_url), PostgresStore(postgres_url)
    role, job = driver.claim("k", "p", "tg", numbers(2))
    follower.wait_for_change(0)
    driver.heartbeat(job.id)
    assert follower.wait_for_change(0.2) is False
    driver.update_job(job.id, status="queued")
    assert follower.wait_for_change(30) is True
    follower.close()
    driver.close()


def test_a_follower_wakes_when_the_job_changes(postgres_url):
    driver, follower = PostgresStore(postgres_url), PostgresStore(postgres_url)
    role, job = driver.claim("k", "p", "tg", numbers(2))
    listening, woke = threading.Event(), []

    def follow():
        assert follower.wait_for_change(0) is False  # the first call starts listening
        listening.set()
        woke.append(follower.wait_for_change(120))
        follower.close()

    thread = threading.Thread(target=follow)
    thread.start()
    assert listening.wait(30)
    driver.update_job(job.id, state="open", task_id="T")
    thread.join(150)
    assert woke == [True]  # woken by the change, not by the end of its wait
    driver.close()


def test_a_version_1_schema_is_brought_forward(postgres_url):
    from old_stores import postgres_store_at
    from tgcheck.store import migrations

    postgres_store_at(postgres_url, 1)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO tgcheck.jobs (key, provider, task_type, count, numbers, "
                     "state, created_at, updated_at) VALUES ('k', 'p', 'tg', 0, '', 'open', "
                     "1, 1)")
    store = PostgresStore(postgres_url)
    assert store.schema_version() == migrations.CURRENT == 5
    assert store.job_by_key("k").account is None
    assert store.check() == "ok"
    store.close()


OTHER_HOST = """
import sys, time
from tgcheck.store import StoreTuning, open_store
store = open_store(sys.argv[1])
role, job = store.claim("k", "p", "tg", ["+41790000000", "+41790000001"])
store.update_job(job.id, state="open", task_id="T")
print(role, flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_an_owner_killed_on_another_host_is_taken_over_after_its_lease(postgres_url):
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "TGCHECK_HOST_NAME": "host-b"}
    child = subprocess.Popen([sys.executable, "-c", OTHER_HOST, postgres_url], env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "drive"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    store = PostgresStore(postgres_url)
    # Its pid means nothing here (another host): only the lease says it is dead.
    role, job = store.claim("k", "p", "tg", numbers(2))
    assert (role, job.owner) == ("wait", f"host-b:{child.pid}")
    store.tuning = StoreTuning(lease_seconds=0.0)
    role, job = store.claim("k", "p", "tg", numbers(2))
    assert (role, job.task_id) == ("drive", "T")  # polled where it stood, not created
    assert store.job_state_counts() == {"open": 1}
    store.close()


def test_an_overlapping_set_in_flight_on_another_member_sends_only_the_rest(settings,
                                                                           postgres_url,
                                                                           tmp_path):
    """Ben's set shares 50 numbers with Ana's task in flight: he waits for it
    through the shared journal (woken by NOTIFY), then pays only for his other 50."""
    from conftest import wait_for
    from tgcheck.sandbox import Sandbox

    ana_numbers, ben_numbers = numbers(100), numbers(50, start=50) + numbers(50, start=1000)
    with Sandbox(stuck="processing", omit_rate=0.0) as sb:
        ana, ben = (dataclasses.replace(settings, base_url=sb.url, api_key=sb.api_key,
                                        home=tmp_path / name, store_url=postgres_url)
                    for name in ("ana", "ben"))
        results, waiting = {}, threading.Event()

        def member(name, member_settings, values):
            def on_event(event):
                if event.message == "driven by another process":
                    waiting.set()

            with contextlib.closing(tgcheck.Engine(member_settings)) as engine:
                results[name] = engine.check(values, on_event=on_event)

        first = threading.Thread(target=member, args=("ana", ana, ana_numbers))
        first.start()
        shared = open_store(postgres_url, schema="tgcheck_sandbox")
        wait_for(lambda: any(j.task_id for j in shared.jobs()), "ana's task to be created")
        second = threading.Thread(target=member, args=("ben", ben, ben_numbers))
        second.start()
        assert waiting.wait(60), "ben never waited for ana's task"
        sb.unstick()
        first.join(120)
        second.join(120)
        shared.close()
    assert set(results) == {"ana", "ben"}
    assert all(a.status == "ok" for r in results.values() for a in r)
    sizes = sorted(len(t.numbers) for t in sb.tasks.values())
    assert sizes == [50, 100]  # ben's overlap was not paid again
    assert sorted(next(t for t in sb.tasks.values() if len(t.numbers) == 50).numbers) == \
        numbers(50, start=1000)


def test_large_sets_move_in_a_few_round_trips(postgres_url, monkeypatch):
    """Never one statement per number: 50,000 answers are stored and looked up
    with a handful of statements (COPY, one array parameter)."""
    store = PostgresStore(postgres_url)
    role, job = store.claim("k", "p", "tg", numbers(50_000))
    store.update_job(job.id, state="open", task_id="T")
    job = store.job(job.id)
    statements = []
    real_execute, real_copy = psycopg.Cursor.execute, psycopg.Cursor.copy

    def execute(self, query, *args, **kwargs):
        statements.append(query)
        return real_execute(self, query, *args, **kwargs)

    def copy(self, statement, *args, **kwargs):
        statements.append(statement)
        return real_copy(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    monkeypatch.setattr(psycopg.Cursor, "copy", copy)
    store.finish_job(job, "tg", [(n, "yes", "ok") for n in numbers(50_000)])
    assert 2 <= len(statements) <= 6, statements  # counted: COPY and the INSERT at least
    statements.clear()
    found = store.lookup("tg", numbers(60_000), max_age_days=30, unknown_retry_hours=24)
    assert len(found) == 50_000
    # The clock, the task type's size (a large share is scanned) and the lookup.
    assert 1 <= len(statements) <= 3, statements
    statements.clear()
    assert len(store.stalest("tg", 10, exclude=set(numbers(40_000)))) == 10
    assert len(statements) == 1
    store.close()


def test_a_large_share_of_the_answers_is_scanned_not_matched(postgres_url, monkeypatch):
    """A set that is most of the task type's answers reads them all (no array of a
    million numbers to plan and match): the same answers, the groups may hold
    more; a small share is matched number by number, exactly."""
    from store_helpers import store_answers

    store = PostgresStore(postgres_url)
    rows = [(f"+4179{i:07d}", ("yes", "no", None)[i % 3], "ok" if i % 3 < 2 else "unknown")
            for i in range(300)]
    store_answers(store, "tg", rows, "t1")
    wanted = {r[0] for r in rows[::2]} | {"+41000000000"}  # one never answered
    kw = dict(max_age_days=30, unknown_retry_hours=24)
    expected = {n: (v, s) for n, v, s in rows[::2]}
    statements = []
    real_execute = psycopg.Cursor.execute

    def execute(self, query, *args, **kwargs):
        statements.append(str(query))
        return real_execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    for share, exact in ((4, False), (1, True)):  # 151 of 300: a scan; then a match
        store.tuning = StoreTuning(scan_min=1, scan_share=share)
        statements.clear()
        groups = store.lookup_groups("tg", wanted, **kw)
        flat = {n: (v, s) for v, s, group in groups for n in group}
        assert {n: pair for n, pair in flat.items() if n in wanted} == expected
        assert (len(flat) == len(expected)) == exact
        assert any("string_to_array" in q for q in statements) == exact
        assert store.lookup("tg", wanted, **kw) == expected
    store.close()


def test_a_connection_the_server_dropped_while_idle_is_made_anew(postgres_url):
    store = PostgresStore(postgres_url)
    assert store.count_answers() == 0
    pid = store._conn().info.backend_pid
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
    store.tuning = StoreTuning(idle_check_seconds=0.0)  # it has been idle
    role, job = store.claim("k", "p", "tg", numbers(2))  # no error: a new connection
    assert role == "drive" and store._conn().info.backend_pid != pid
    store.close()
