"""The store contract (tgcheck.store.base.BaseStore), on both backends: a SQLite
file and a real PostgreSQL server (the session's throwaway cluster)."""

from __future__ import annotations

import time

import pytest

from tgcheck.errors import ConfigError, StoreError
from tgcheck.store import (
    MISSING,
    AnswerRows,
    StoredAnswer,
    StoreTuning,
    account_of,
    copy_store,
    describe_url,
    open_store,
    owner_alive,
)

DAY = 86400.0


def numbers(n: int, start: int = 0) -> list[str]:
    return [f"+4179{i:07d}" for i in range(start, start + n)]


def finish(store, key, task_type, rows, *, task_id="t1", provider="p"):
    """Answers stored the way a real job stores them: claim, then finish_job."""
    # since: looked up after every earlier job finished (they answered none of these).
    role, job = store.claim(key, provider, task_type, [n for n, _, _ in rows],
                            since=time.time() + 1)
    assert role == "drive"
    store.update_job(job.id, state="open", task_id=task_id)
    store.finish_job(store.job(job.id), task_type, rows)
    return store.job(job.id)


def test_a_new_store_carries_the_current_schema_version(any_store, store_target):
    assert any_store.schema_version() >= 1
    assert any_store.check() == "ok"
    again = open_store(store_target)  # a second open finds it made: same version
    assert again.schema_version() == any_store.schema_version()
    again.close()


def test_a_store_knows_its_size(any_store):
    empty = any_store.size_bytes()
    assert empty > 0
    finish(any_store, "k", "tg", [(n, "yes", "ok") for n in numbers(5000)])
    assert any_store.size_bytes() > empty


def test_claim_roles_for_one_set(any_store):
    role, job = any_store.claim("k", "p", "tg", numbers(3))
    assert (role, job.state, job.count) == ("drive", "new", 3)
    # The same process claims again: it drives it still (no second row).
    role, again = any_store.claim("k", "p", "tg", numbers(3))
    assert (role, again.id) == ("drive", job.id)
    # Another set holding one of these numbers overlaps: wait, then send the rest.
    role, other = any_store.claim("k2", "p", "tg", numbers(2, start=2))
    assert (role, other.id) == ("overlap", job.id)
    assert any_store.live_job("k").id == job.id
    assert any_store.jobs(states=("new",))[0].id == job.id


def elsewhere(store_target, owner="elsewhere:1"):
    """The same store as a process on another host sees it."""
    return open_store(store_target, tuning=StoreTuning(owner=owner))


def test_an_owner_on_another_host_is_taken_over_only_after_its_lease(any_store, store_target):
    role, job = any_store.claim("k", "p", "tg", numbers(2))
    any_store.update_job(job.id, state="open", task_id="T")
    any_store.release(job.id)  # left for anyone: a process on another host picks it up
    with elsewhere(store_target) as other:
        role, job = other.claim("k", "p", "tg", numbers(2))
        assert role == "drive" and job.owner == "elsewhere:1"
    # That other host beats its heartbeat: within the lease it is alive.
    role, seen = any_store.claim("k", "p", "tg", numbers(2))
    assert (role, seen.owner) == ("wait", "elsewhere:1")
    assert owner_alive(seen.owner, seen.heartbeat, time.time())
    assert any_store.owner_alive(seen.owner, seen.heartbeat, time.time())
    # The lease has run out (for a store that grants none).
    with open_store(store_target, tuning=StoreTuning(lease_seconds=0.0)) as expired:
        assert not expired.owner_alive(seen.owner, seen.heartbeat, time.time())
        role, taken = expired.claim("k", "p", "tg", numbers(2))
        assert role == "drive" and taken.owner == expired.owner == any_store.owner
    assert taken.task_id == "T"  # taken over where it stood: polled, not created again


def test_a_create_cut_off_on_a_dead_host_is_uncertain_not_recreated(any_store, store_target):
    role, job = any_store.claim("k", "p", "tg", numbers(2))
    any_store.release(job.id)
    with elsewhere(store_target) as other:
        assert other.claim("k", "p", "tg", numbers(2))[0] == "drive"
        other.update_job(job.id, state="submitting")
    any_store.tuning = StoreTuning(lease_seconds=0.0)  # the lease has run out
    role, job = any_store.claim("k", "p", "tg", numbers(2))
    assert (role, job.state) == ("uncertain", "uncertain")
    role, fresh = any_store.claim("k", "p", "tg", numbers(2), resubmit=True)
    assert role == "drive" and fresh.id != job.id
    assert any_store.job(job.id).state == "abandoned"


def test_finished_answers_and_freshness(any_store):
    rows = [(n, "yes" if i % 2 else "no", "ok") for i, n in enumerate(numbers(4))]
    rows.append((numbers(1, start=9)[0], None, "unknown"))
    job = finish(any_store, "k", "tg", rows)
    assert job.state == "done" and job.owner is None
    wanted = [n for n, _, _ in rows] + ["+41000000000"]
    found = any_store.lookup("tg", wanted, max_age_days=30, unknown_retry_hours=24)
    assert found == {n: (v, s) for n, v, s in rows}
    retried = any_store.lookup("tg", wanted, max_age_days=30, unknown_retry_hours=24,
                               retry_unknown=True)
    assert numbers(1, start=9)[0] not in retried and len(retried) == 4
    later = any_store.lookup("tg", wanted, max_age_days=30, unknown_retry_hours=24,
                             now=time.time() + 31 * DAY)
    assert later == {}
    groups = any_store.lookup_groups("tg", wanted, max_age_days=30, unknown_retry_hours=24)
    assert {n for _, _, g in groups for n in g} >= set(found)
    assert any_store.job_answers(job.id)[0] == (numbers(1)[0], "no", "ok")


def test_answers_handed_over_grouped_are_stored_as_their_rows(any_store):
    """finish_job takes a job's answers as AnswerRows (each answer's numbers, as the
    driver finds them) like rows: every number stored with its answer, an ok not
    replaced by an unknown, the fields of the ok ones kept."""
    n = numbers(7)
    finish(any_store, "k0", "tg", [(n[6], "yes", "ok")])
    rows = AnswerRows({("yes", "ok"): [n[0], n[3]], ("no", "ok"): [n[1], n[4]],
                       (None, "unknown"): [n[2], n[5], n[6]]})
    assert len(rows) == 7 and rows[0] == (n[0], "yes", "ok") and rows[-1][0] == n[6]
    assert sorted(rows) == sorted(list(rows))
    role, job = any_store.claim("k", "p", "tg", n[:6], since=time.time() + 1)
    any_store.update_job(job.id, state="open", task_id="t1")
    any_store.finish_job(any_store.job(job.id), "tg", rows,
                         fields={n[0]: {"days": 1}, n[3]: {"days": 2}})
    assert any_store.job(job.id).state == "done"
    assert any_store.stored("tg", n) == {
        n[0]: ("yes", "ok"), n[1]: ("no", "ok"), n[2]: (None, "unknown"),
        n[3]: ("yes", "ok"), n[4]: ("no", "ok"), n[5]: (None, "unknown"),
        n[6]: ("yes", "ok")}  # kept: an unknown never replaces an ok
    kept = {a.number: a.fields for a in any_store.iter_answers(task_type="tg")}
    assert kept[n[0]] == '{"days":1}' and kept[n[3]] == '{"days":2}' and kept[n[1]] is None


def _stored_pattern(store, count: int) -> dict[str, tuple]:
    """count answers of "tg" (yes, no, unknown in turn), checked now, and a few
    of another task type among them: number -> (value, status)."""
    now = time.time()
    rows = {n: (("yes", "no", None)[i % 3], "ok" if i % 3 < 2 else "unknown")
            for i, n in enumerate(numbers(count))}
    store.import_answers(StoredAnswer("tg", n, v, s, now, "t1") for n, (v, s) in rows.items())
    store.import_answers(StoredAnswer("ws", n, "yes", "ok", now, "t2")
                         for n in numbers(count)[::7])
    return rows


def test_lookup_range_reads_the_answers_between_two_numbers(any_store):
    """The range read a chunked check's large lookups make (through lookup_groups):
    every fresh answer of the task type from first to last, both included, each in
    one group; nothing outside the range, nothing stale, nothing of another task
    type."""
    rows = _stored_pattern(any_store, 300)
    every = numbers(300)
    stale = every[150] + "5"  # sorts between every[150] and every[151]
    any_store.import_answers([StoredAnswer("tg", stale, "yes", "ok", time.time() - 40 * DAY,
                                           "t0")])
    kw = dict(max_age_days=30, unknown_retry_hours=24)
    groups = any_store.lookup_range("tg", every[100], every[199], **kw)
    flat = [(n, (v, s)) for v, s, group in groups for n in group]
    assert len(flat) == len({n for n, _ in flat})  # each number in one group
    assert dict(flat) == {n: rows[n] for n in every[100:200] if n in rows}
    retried = any_store.lookup_range("tg", every[100], every[199], retry_unknown=True, **kw)
    assert {s for _, s, _ in retried} == {"ok"}
    old = any_store.lookup_range("tg", every[100], every[199],
                                 now=time.time() + 31 * DAY, **kw)
    assert old == []
    assert any_store.lookup_range("tg", every[199], every[100], **kw) == []  # first > last
    assert any_store.lookup_range("tg", "+1", "+2", **kw) == []  # nothing stored there


def test_a_large_lookup_reads_its_own_range_and_no_further(any_store):
    """A large set that fills most of the range between its first and last number
    is read as that range (the caller drops what it did not ask for): never the
    whole task type, so what a lookup returns follows the set, not the store.
    A set spread thinly over many stored answers is probed: exactly its own."""
    rows = _stored_pattern(any_store, 1000)
    every = numbers(1000)
    any_store.tuning = StoreTuning(scan_min=1)  # the default share rule, small sets
    kw = dict(max_age_days=30, unknown_retry_hours=24)
    dense = every[200:600:2]  # 200 numbers, 399 stored from first to last
    sparse = every[::5]  # 200 numbers, 996 stored from first to last
    for asked in (dense, set(dense), sparse, set(sparse)):
        expected = {n: rows[n] for n in asked}
        assert any_store.lookup("tg", asked, **kw) == expected
        flat = {n: (v, s) for v, s, group in
                any_store.lookup_groups("tg", asked, **kw) for n in group}
        assert {n: pair for n, pair in flat.items() if n in asked} == expected
        assert all(min(asked) <= n <= max(asked) for n in flat)
        if asked in (sparse, set(sparse)):
            assert len(flat) == len(expected)  # probed
        else:
            assert len(flat) == len(every[200:599])  # the range came along


def test_an_unknown_never_replaces_a_stored_ok(any_store):
    n = numbers(1)[0]
    finish(any_store, "k1", "tg", [(n, "yes", "ok")])
    finish(any_store, "k2", "tg", [(n, None, "unknown")], task_id="t2")
    assert any_store.stored("tg", [n]) == {n: ("yes", "ok")}


def test_cache_queries_and_delete(any_store):
    finish(any_store, "k", "tg", [(n, "yes", "ok") for n in numbers(5)])
    stats = any_store.answer_stats(max_age_days=30)
    assert [(s.task_type, s.status, s.count, s.fresh) for s in stats] == [("tg", "ok", 5, 5)]
    assert abs(stats[0].newest - time.time()) < 60  # on this host's clock
    assert any_store.job_state_counts() == {"done": 1}
    assert [a.number for a in any_store.iter_answers()] == numbers(5)
    assert any_store.stalest("tg", 2, exclude={numbers(1)[0]}) == numbers(2, start=1)
    assert any_store.count_answers(task_type="tg") == 5
    assert any_store.count_answers(older_than_days=1) == 0
    assert any_store.delete_answers(task_type="tg") == 5
    job = any_store.jobs()[0]
    assert any_store.job_answers(job.id)[0] == (numbers(1)[0], None, MISSING)


def test_update_job_redacts_and_checks_its_state(any_store):
    role, job = any_store.claim("k", "p", "tg", numbers(1))
    assert not any_store.update_job(job.id, expect_state="open", state="done")
    assert any_store.update_job(job.id, expect_state=("new",), state="open", status_call=True,
                                error="x" * 5000)
    stored = any_store.job(job.id)
    assert stored.state == "open" and stored.status_calls == 1 and len(stored.error) <= 2000
    with pytest.raises(ValueError):
        any_store.update_job(job.id, key="other")


def test_attach_reopen_abandon_release(any_store):
    role, job = any_store.claim("k", "p", "tg", numbers(1))
    any_store.update_job(job.id, state="submitting")
    any_store.update_job(job.id, state="uncertain", owner=None)
    any_store.attach_task(job.id, "T9")
    assert any_store.job_by_task_id("T9").state == "open"
    with pytest.raises(StoreError, match="only new"):
        any_store.attach_task(job.id, "T10")
    any_store.update_job(job.id, state="stalled")
    assert any_store.reopen(job.id) and any_store.job(job.id).state == "open"
    any_store.release(job.id)
    assert any_store.abandon_job(job.id, "by hand").state == "open"
    assert any_store.job(job.id).state == "abandoned"
    assert any_store.abandon_job(job.id, "again") is None


def test_a_create_that_reached_no_one_leaves_no_job(any_store):
    """forget_unsent: only this process's job still being created, without a task id."""
    _, job = any_store.claim("k", "p", "tg", numbers(2))
    any_store.update_job(job.id, state="submitting")
    assert any_store.forget_unsent(job.id) and any_store.job(job.id) is None
    _, paid = any_store.claim("k2", "p", "tg", numbers(2, start=5))
    any_store.update_job(paid.id, state="open", task_id="T1")
    assert not any_store.forget_unsent(paid.id)  # a task exists: kept
    assert any_store.job(paid.id).task_id == "T1"


def test_copy_store_twice_does_no_harm(any_store, tmp_path):
    src = open_store(str(tmp_path / "src.sqlite3"))
    finish(src, "k", "tg", [(n, "yes", "ok") for n in numbers(3)])
    src.claim("live", "p", "tg", numbers(2, start=10))
    first = copy_store(src, any_store)
    assert (first.answers, first.jobs_added, first.live_jobs) == (3, 2, 1)
    second = copy_store(src, any_store)
    assert (second.jobs_added, second.jobs_skipped) == (0, 2)
    assert any_store.count_answers() == 3
    assert len(any_store.jobs()) == 2
    live = any_store.live_job("live")
    assert live is not None and live.owner is None  # the next run takes it over
    assert any_store.job_numbers(live.id) == numbers(2, start=10)
    src.close()


def test_import_answers_keeps_the_newer(any_store):
    n = numbers(1)[0]
    now = time.time()
    any_store.import_answers([StoredAnswer("tg", n, "old", "ok", now - DAY, "t0")])
    any_store.import_answers([StoredAnswer("tg", n, "new", "ok", now, "t1"),
                              StoredAnswer("tg", n, "older", "ok", now - 2 * DAY, "t")])
    any_store.import_answers([StoredAnswer("tg", n, "ancient", "ok", now - 3 * DAY, "t")])
    assert any_store.stored("tg", [n]) == {n: ("new", "ok")}


def test_describe_url_masks_the_password():
    assert describe_url("postgresql://ana:s3cret@db.example.com:5432/team") == \
        "postgresql://ana:***@db.example.com:5432/team"
    assert describe_url("postgresql://ana@db/team?password=s3cret&sslmode=require") == \
        "postgresql://ana@db/team?password=***&sslmode=require"
    assert "s3cret" not in describe_url("postgres://:s3cret@db/team")


def test_a_url_that_is_not_postgresql_is_refused():
    with pytest.raises(ConfigError, match="postgresql://"):
        open_store("mysql://ana:s3cret@db/team")


def test_a_task_of_another_account_is_not_taken_over(any_store, store_target):
    """Members with different API keys share answers and jobs (one task per set
    for the team); a dead member's task is left for its own key to collect."""
    any_store.account = account_of("ana-key")
    role, job = any_store.claim("k", "p", "tg", numbers(2))
    assert any_store.job(job.id).account == any_store.account
    any_store.update_job(job.id, state="open", task_id="T")
    any_store.release(job.id)  # ana's process is gone
    ben = elsewhere(store_target)
    ben.account = account_of("ben-key")
    with pytest.raises(StoreError, match="another API key") as e:
        ben.claim("k", "p", "tg", numbers(2))
    assert "ana-key" not in str(e.value) and "ben-key" not in str(e.value)
    assert any_store.live_job("k").task_id == "T"  # still held: nobody pays again
    with elsewhere(store_target, "elsewhere:2") as ana_again:
        ana_again.account = any_store.account
        assert ana_again.claim("k", "p", "tg", numbers(2))[0] == "drive"  # ana's key: yes
    ben.close()


def test_an_answer_is_shared_whatever_key_paid_for_it(any_store, store_target):
    any_store.account = account_of("ana-key")
    finish(any_store, "k", "tg", [(n, "yes", "ok") for n in numbers(2)])
    ben = open_store(store_target)
    ben.account = account_of("ben-key")
    assert ben.lookup("tg", numbers(2), max_age_days=30, unknown_retry_hours=24) == \
        {n: ("yes", "ok") for n in numbers(2)}
    ben.close()


def test_the_account_is_a_fingerprint_not_the_key():
    assert account_of("k" * 40) == account_of("k" * 40)
    assert account_of("k" * 40) != account_of("k" * 39 + "j")
    assert "k" not in account_of("k" * 40)


def test_a_store_opened_from_settings_carries_the_key_s_account(settings, engine):
    assert engine.store.account == account_of(settings.api_key.reveal())


def test_a_version_1_sqlite_store_is_brought_forward(tmp_path):
    import sqlite3

    from old_stores import sqlite_store_at
    from tgcheck.store import migrations

    path = tmp_path / "v1.sqlite3"
    sqlite_store_at(path, 1)  # version 1's tables: no `account` column
    old = sqlite3.connect(path)
    assert "account" not in {r[1] for r in old.execute("PRAGMA table_info(jobs)")}
    old.execute("INSERT INTO jobs (key, provider, task_type, count, numbers, state, "
                "created_at, updated_at) VALUES ('k', 'p', 'tg', 0, x'', 'open', 1, 1)")
    old.commit()
    old.close()
    store = open_store(str(path))
    assert store.schema_version() == migrations.CURRENT == 5
    assert store.job_by_key("k").account is None  # kept, with the new column
    store.close()


def test_settings_read_the_store_url_and_never_show_it(monkeypatch, tmp_path):
    from tgcheck import Settings

    monkeypatch.setenv("TGCHECK_STORE_URL", " postgresql://ana:s3cret@db/team ")
    settings = Settings.from_env(api_key="k")
    assert settings.store_url == "postgresql://ana:s3cret@db/team"
    assert "s3cret" not in repr(settings)
    monkeypatch.setenv("TGCHECK_STORE_URL", "")
    unset = Settings.from_env(api_key="k", home=tmp_path)
    assert unset.store_url is None
    store = open_store(unset)  # unset: the SQLite file under TGCHECK_HOME, as ever
    assert store.backend == "sqlite" and store.path == (tmp_path / "tgcheck.sqlite3").resolve()
    store.close()
