"""The Store's public queries for the journal and the store as a whole (what
`tgcheck status`, `export` and `cache` use), on a real SQLite file and on a real
PostgreSQL server (the `store` fixture runs each test once per backend); the
SQLite file's own ways (damage, locks, its scan) at the end."""

from __future__ import annotations

import sqlite3
import time

import pytest

from store_helpers import store_answers
from tgcheck.errors import StoreError, StoreLocked
from tgcheck.store import (
    MISSING,
    AnswerStats,
    Store,
    StoredAnswer,
    StoreTuning,
    _translating,
    open_store,
)

DAY = 86400.0
NOW = 1_700_000_000.0


@pytest.fixture
def store(store_target):
    """A fresh store, once per backend (SQLite, PostgreSQL)."""
    s = open_store(store_target)
    yield s
    s.close()


def put(store: Store, task_type: str, rows, *, age_days: float, task_id: str = "t1") -> None:
    """Answers as if checked age_days before NOW (the store's import: it keeps their age)."""
    store.import_answers(StoredAnswer(task_type, n, v, s, NOW - age_days * DAY, task_id)
                         for n, v, s in rows)


@pytest.fixture
def filled(store):
    put(store, "tg", [("+41790000002", "yes", "ok"), ("+41790000001", "no", "ok")],
        age_days=1, task_id="a")
    put(store, "tg", [("+41790000003", None, "unknown")], age_days=40, task_id="b")
    put(store, "ws", [("+41790000001", "yes", "ok")], age_days=100, task_id="c")
    return store


def new_job(store: Store, key: str, numbers, *, settled=frozenset()):
    role, job = store.claim(key, "ekycpro", "tg", numbers, settled=settled)
    assert role == "drive"
    return job


# -- the journal --------------------------------------------------------------------
def test_job_by_key_is_the_newest_job_for_the_key_in_any_state(store):
    assert store.job_by_key("k") is None
    first = new_job(store, "k", ["+41790000001"])
    assert store.update_job(first.id, state="done", task_id="t-1")
    second = new_job(store, "k", ["+41790000001"], settled=frozenset({first.id}))
    new_job(store, "other", ["+41790000009"])
    assert second.id > first.id
    assert store.job_by_key("k").id == second.id
    store.update_job(second.id, state="submitting")
    assert store.update_job(second.id, state="failed")
    found = store.job_by_key("k")  # not live any more: still found
    assert found.id == second.id and found.state == "failed"
    assert store.live_job("k") is None


def test_job_by_task_id_is_the_newest_holder_of_the_task_id(store):
    assert store.job_by_task_id("t-1") is None
    first = new_job(store, "k1", ["+41790000001"])
    store.update_job(first.id, state="done", task_id="t-1")
    second = new_job(store, "k2", ["+41790000002"])
    store.update_job(second.id, state="open", task_id="t-1", status="processing")
    found = store.job_by_task_id("t-1")
    assert (found.id, found.state, found.status) == (second.id, "open", "processing")
    assert found == store.job(second.id)
    assert store.job_by_task_id(str(first.id)) is None  # a job number is not a task id


def test_job_state_counts_are_ordered_by_state(store):
    assert store.job_state_counts() == {}
    for i, state in enumerate(["open", "done", "done", "failed"]):
        job = new_job(store, f"k{i}", [f"+4179000000{i}"])
        store.update_job(job.id, state="open")  # a task exists, then it ends
        store.update_job(job.id, state=state)
    counts = store.job_state_counts()
    assert counts == {"done": 2, "failed": 1, "open": 1}
    assert list(counts) == ["done", "failed", "open"]


# -- answers as a whole -------------------------------------------------------------
def test_answer_stats_per_task_type_and_status(filled):
    stats = filled.answer_stats(max_age_days=30, now=NOW)
    assert stats == [
        AnswerStats("tg", "ok", 2, 2, NOW - DAY, NOW - DAY),
        AnswerStats("tg", "unknown", 1, 0, NOW - 40 * DAY, NOW - 40 * DAY),
        AnswerStats("ws", "ok", 1, 0, NOW - 100 * DAY, NOW - 100 * DAY),
    ]
    assert [s.fresh for s in filled.answer_stats(max_age_days=365, now=NOW)] == [2, 1, 1]
    assert [s.fresh for s in filled.answer_stats(max_age_days=0.5, now=NOW)] == [0, 0, 0]


def test_answer_stats_of_an_empty_store(store):
    assert store.answer_stats(max_age_days=30) == []


def test_iter_answers_in_task_type_and_number_order(filled):
    rows = list(filled.iter_answers())
    assert rows == [
        StoredAnswer("tg", "+41790000001", "no", "ok", NOW - DAY, "a"),
        StoredAnswer("tg", "+41790000002", "yes", "ok", NOW - DAY, "a"),
        StoredAnswer("tg", "+41790000003", None, "unknown", NOW - 40 * DAY, "b"),
        StoredAnswer("ws", "+41790000001", "yes", "ok", NOW - 100 * DAY, "c"),
    ]
    # Plain tuples to unpack, as a table writer does.
    t, n, v, s, c, task, provider, fields = rows[0]
    assert (t, n, task, provider, fields) == ("tg", "+41790000001", "a", None, None)


def test_iter_answers_filters(filled):
    def numbers(**which):
        return [(a.task_type, a.number) for a in filled.iter_answers(now=NOW, **which)]

    assert numbers(task_type="ws") == [("ws", "+41790000001")]
    assert numbers(task_type="none") == []
    assert numbers(older_than_days=30) == [("tg", "+41790000003"), ("ws", "+41790000001")]
    assert numbers(task_type="tg", older_than_days=30) == [("tg", "+41790000003")]
    assert numbers(older_than_days=365) == []
    # strictly older: an answer exactly at the cutoff stays out
    assert numbers(older_than_days=40) == [("ws", "+41790000001")]


def test_iter_answers_starts_its_query_at_once(filled, store_target):
    rows = filled.iter_answers()
    other = open_store(store_target)  # another process clears the store meanwhile
    try:
        assert other.delete_answers() == 4
    finally:
        other.close()
    assert len(list(rows)) == 4  # the query had begun: its snapshot is kept
    assert list(filled.iter_answers()) == []


def test_count_then_delete_answers_agree(filled):
    def which(**kw):
        return {"now": NOW, **kw}

    assert filled.count_answers(**which(older_than_days=1000)) == 0
    assert filled.delete_answers(**which(older_than_days=1000)) == 0
    assert filled.count_answers(**which(task_type="tg", older_than_days=30)) == 1
    assert filled.delete_answers(**which(task_type="tg", older_than_days=30)) == 1
    assert [a.number for a in filled.iter_answers(task_type="tg")] == [
        "+41790000001", "+41790000002"]
    assert filled.count_answers(**which(task_type="ws")) == 1
    assert filled.delete_answers(**which(task_type="ws")) == 1
    assert filled.count_answers() == 2
    assert filled.delete_answers() == 2
    assert filled.count_answers() == 0 and list(filled.iter_answers()) == []


def test_delete_answers_keeps_the_journal(filled):
    job = new_job(filled, "k", ["+41790000001"])
    assert filled.delete_answers() == 4
    assert filled.job(job.id) == job
    assert filled.job_state_counts() == {"new": 1}


def test_delete_answers_uses_now_when_not_given(store):
    store_answers(store, "tg", [("+41790000001", "yes", "ok")], "t")
    assert store.count_answers(older_than_days=1) == 0
    assert store.delete_answers(older_than_days=1) == 0
    time.sleep(0.01)
    assert store.count_answers(older_than_days=0) == 1
    assert store.delete_answers(older_than_days=0) == 1


def test_the_new_queries_see_another_process_s_writes(store_target):
    """Two Store objects on one store, as the CLI and Excel's Python are."""
    a, b = open_store(store_target), open_store(store_target)
    try:
        store_answers(a, "tg", [("+41790000001", "yes", "ok")], "t")
        assert b.count_answers() == 1
        assert b.delete_answers() == 1
        assert a.count_answers() == 0
    finally:
        a.close()
        b.close()


# -- damage is a StoreError, in a generator too ---------------------------------------
def _damage() -> sqlite3.DatabaseError:
    e = sqlite3.DatabaseError("database disk image is malformed")
    e.sqlite_errorcode = 11  # SQLITE_CORRUPT
    return e


class _Damaged(Store):
    @_translating
    def rows(self):
        yield 1
        raise _damage()

    @_translating
    def locked(self):
        yield 1
        e = sqlite3.OperationalError("database is locked")
        e.sqlite_errorcode = 5  # SQLITE_BUSY
        raise e


def test_damage_met_while_a_generator_reads_is_a_store_error(tmp_path):
    store = _Damaged(tmp_path / "s.sqlite3")
    rows = store.rows()
    assert next(rows) == 1
    with pytest.raises(StoreError, match="tgcheck doctor"):
        next(rows)
    locked = store.locked()
    next(locked)
    # Issue 12: a lock is told apart from damage (its own error, no doctor advice).
    with pytest.raises(StoreLocked, match="locked") as e:
        next(locked)
    assert "doctor" not in str(e.value)
    store.close()


def test_lookup_scans_or_probes_with_the_same_answers(tmp_path):
    """Large sets scan the table, small ones probe the index: same answers either way."""
    store = Store(tmp_path / "s.sqlite3")
    rows = [(f"+4179{i:07d}", ("yes", "no", None)[i % 3], "ok" if i % 3 < 2 else "unknown")
            for i in range(300)]
    store_answers(store, "tg", rows, "t1")
    wanted = [r[0] for r in rows[::2]] + ["+41000000000"]  # one never answered
    expected = {n: (v, s) for n, v, s in rows[::2]}
    kw = dict(max_age_days=30, unknown_retry_hours=24)
    for share in (1_000_000, 1):  # scan, then probe
        store.tuning = StoreTuning(scan_min=1, scan_share=share)
        assert store.lookup("tg", wanted, **kw) == expected
        assert store.lookup("tg", set(wanted), **kw) == expected
    assert store.lookup("ws", wanted, **kw) == {}


def test_lookup_groups_hold_what_lookup_finds_each_number_once(tmp_path):
    """The column-shaped lookup: each fresh answer of the set in exactly one group;
    a scan may add numbers not asked for, a probe never does."""
    store = Store(tmp_path / "s.sqlite3")
    rows = [(f"+4179{i:07d}", ("yes", "no", None)[i % 3], "ok" if i % 3 < 2 else "unknown")
            for i in range(300)]
    store_answers(store, "tg", rows, "t1")
    wanted = {r[0] for r in rows[::2]} | {"+41000000000"}  # one never answered
    for retry_hours in (24, 0):  # with unknowns still fresh, then all of them stale
        kw = dict(max_age_days=30, unknown_retry_hours=retry_hours)
        for share, exact in ((1_000_000, False), (1, True)):  # scan, then probe
            store.tuning = StoreTuning(scan_min=1, scan_share=share)
            groups = store.lookup_groups("tg", wanted, **kw)
            assert not store.db.in_transaction  # the read snapshot was closed
            flat = [(n, (v, s)) for v, s, group in groups for n in group]
            assert len({n for n, _ in flat}) == len(flat)  # each number in one group
            asked = {n: pair for n, pair in flat if n in wanted}
            assert asked == store.lookup("tg", wanted, **kw)
            if exact:
                assert len(asked) == len(flat)
            else:
                assert len(flat) > len(asked)  # the whole table came along
            statuses = {s for _, (_, s) in flat}
            assert statuses == ({"ok", "unknown"} if retry_hours else {"ok"})
    assert store.lookup_groups("ws", wanted, max_age_days=30, unknown_retry_hours=24) == []
    assert store.lookup_groups("tg", set(), max_age_days=30, unknown_retry_hours=24) == []


def test_a_scan_over_free_form_values_groups_them(tmp_path):
    """A task type whose values are free-form (URLs): more distinct answers than
    SQLite allows result columns, so the scan groups instead of one column each."""
    store = Store(tmp_path / "s.sqlite3")
    rows = [(f"+4179{i:07d}", f"https://t.me/i/{i}.jpg", "ok") for i in range(2_100)]
    store_answers(store, "photo", rows, "t1")
    wanted = [r[0] for r in rows]
    expected = {n: (v, s) for n, v, s in rows}
    kw = dict(max_age_days=30, unknown_retry_hours=24)
    store.tuning = StoreTuning(scan_min=1, scan_share=1_000_000)  # scan
    assert store.lookup("photo", wanted, **kw) == expected
    groups = store.lookup_groups("photo", wanted, **kw)
    assert {n: (v, s) for v, s, group in groups for n in group} == expected


def test_a_scan_takes_its_pairs_from_a_sample_and_reads_them_all_only_when_needed(tmp_path):
    """A range read learns its (value, status) pairs from the range's first
    pair_sample rows, without a pass over the range for them; a fresh answer of a
    pair the sample lacks (here after the first 50 rows: "no", an unknown; a pair
    whose answers are all stale) makes it read every pair, with the same groups."""
    store = Store(tmp_path / "s.sqlite3")
    yes = [(f"+4179{i:07d}", "yes", "ok") for i in range(50)]
    store_answers(store, "tg", yes, "t1")
    kw = dict(max_age_days=30, unknown_retry_hours=24)
    wanted = [n for n, _, _ in yes]
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    full_read = "SELECT DISTINCT value, status FROM answers WHERE"
    for sample in (1, 1000):
        store.tuning = StoreTuning(scan_min=1, scan_share=1_000_000, pair_sample=sample)
        statements.clear()
        assert store.lookup_groups("tg", wanted, **kw) == [("yes", "ok", wanted)]
        assert not any(full_read in s for s in statements)  # one pass, no pairs' pass
    later = [(f"+4179{i:07d}", ("no", None)[i % 2], ("ok", "unknown")[i % 2])
             for i in range(50, 60)]
    store_answers(store, "tg", later, "t2")
    store_answers(store, "tg", [("+41799999999", "stale", "ok")], "t0")
    with store._tx() as db:
        db.execute("UPDATE answers SET checked_at = checked_at - 40 * 86400 "
                   "WHERE number = '+41799999999'")
    wanted += [n for n, _, _ in later] + ["+41799999999"]
    expected = {n: (v, s) for n, v, s in yes + later}
    for sample, full in ((1, True), (1000, False)):
        store.tuning = StoreTuning(scan_min=1, scan_share=1_000_000, pair_sample=sample)
        statements.clear()
        groups = store.lookup_groups("tg", wanted, **kw)
        assert any(full_read in s for s in statements) == full
        assert {n: (v, s) for v, s, group in groups for n in group} == expected
        assert store.lookup("tg", wanted, **kw) == expected
    # More pairs than columns past the sample: grouped, the same answers.
    many = [(f"+4179{i:07d}", f"v{i}", "ok") for i in range(60, 90)]
    store_answers(store, "tg", many, "t3")
    expected.update({n: (v, s) for n, v, s in many})
    store.tuning = StoreTuning(scan_min=1, scan_share=1_000_000, pair_sample=1,
                               filter_pairs_max=4)
    assert store.lookup("tg", wanted + [n for n, _, _ in many], **kw) == expected
    with pytest.raises(ValueError, match="pair_sample"):
        StoreTuning(pair_sample=0)
    store.close()


def test_a_lookup_inside_a_transaction_leaves_it_open(tmp_path):
    store = Store(tmp_path / "s.sqlite3")
    store_answers(store, "tg", [("+41790000001", "yes", "ok")], "t1")
    for share in (1_000_000, 1):  # scan, then probe
        store.tuning = StoreTuning(scan_min=1, scan_share=share)
        with store._tx() as db:
            groups = store.lookup_groups("tg", {"+41790000001"}, max_age_days=30,
                                         unknown_retry_hours=24)
            assert db.in_transaction
            db.execute("INSERT OR REPLACE INTO answers (task_type, number, value, status, "
                       "checked_at, task_id) VALUES ('tg', '+41790000002', 'no', 'ok', 0, NULL)")
        assert groups == [("yes", "ok", ["+41790000001"])]
    assert store.db.execute("SELECT count(*) FROM answers").fetchone()[0] == 2


def _open_after(path, barrier, results):
    barrier.wait()
    try:
        Store(path).lookup("tg", ["+41790000000"], max_age_days=30, unknown_retry_hours=24)
        results.put(None)
    except Exception as e:  # reported to the parent, asserted there
        results.put(repr(e))


@pytest.mark.slow
def test_many_processes_opening_a_new_store_never_see_database_is_locked(tmp_path):
    """Found by CI: processes opening a brand-new store at once raced on the switch
    to WAL, and one got "database is locked" dressed as an unreadable store."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")  # children start at once, already imported
    errors = []
    for round_ in range(30):
        path = tmp_path / f"new-{round_}.sqlite3"
        barrier, results = ctx.Barrier(8), ctx.Queue()
        children = [ctx.Process(target=_open_after, args=(path, barrier, results))
                    for _ in range(8)]
        for child in children:
            child.start()
        errors += [e for e in (results.get(timeout=60) for _ in children) if e]
        for child in children:
            child.join()
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert errors == []


def test_job_answers_are_the_job_s_numbers_with_their_stored_answers(store):
    numbers = ["+41790000001", "+41790000002", "+41790000003"]
    job = new_job(store, "k", numbers)
    store.finish_job(job, "tg", [("+41790000001", "yes", "ok"), ("+41790000002", "no", "ok"),
                                 ("+41790000003", None, "unknown")])
    put(store, "ws", [("+41790000002", "yes", "ok")], age_days=1)  # another task type
    put(store, "tg", [("+41790000009", "yes", "ok")], age_days=1)  # not the job's
    assert store.job_answers(job.id) == [("+41790000001", "yes", "ok"),
                                         ("+41790000002", "no", "ok"),
                                         ("+41790000003", None, "unknown")]
    # Old answers are still the job's; a deleted one is MISSING, in its place.
    with store._tx() as db:  # the store's own SQL, on either backend
        db.execute("UPDATE answers SET checked_at = 0")
        db.execute("DELETE FROM answers WHERE task_type = 'tg' AND number = '+41790000002'")
    assert store.job_answers(job.id) == [("+41790000001", "yes", "ok"),
                                         ("+41790000002", None, MISSING),
                                         ("+41790000003", None, "unknown")]
    assert MISSING == "missing"  # the word `tgcheck export` writes (docs/cli.md)
    assert store.job_answers(job.id + 1) == []


def test_two_spellings_of_one_store_have_one_path(tmp_path, monkeypatch):
    """The engine keys the jobs a process drives by str(store.path): a relative and
    an absolute spelling of one file must not look like two stores."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    relative = Store("sub/../store.sqlite3")
    absolute = Store(tmp_path / "store.sqlite3")
    try:
        assert relative.path == absolute.path
        assert str(relative.path) == str(absolute.path)
        assert relative.path.is_absolute()
        store_answers(relative, "tg", [("+41790000001", "yes", "ok")], "t1")
        assert absolute.stored("tg", ["+41790000001"]) == {"+41790000001": ("yes", "ok")}
    finally:
        relative.close()
        absolute.close()


def test_resubmit_leaves_an_uncertain_job_that_overlaps_alone(store):
    """An uncertain create holding some of our numbers blocks a new claim, a
    resubmit's too: it gives up only the job of exactly its set (the other may
    hold a paid task); once that job is abandoned on purpose, the claim drives."""
    first = new_job(store, "a", ["+41790000001", "+41790000002"])
    store.update_job(first.id, state="submitting")
    assert store.update_job(first.id, state="uncertain")
    role, job = store.claim("b", "ekycpro", "tg", ["+41790000002", "+41790000003"])
    assert role == "uncertain" and job.id == first.id
    role, job = store.claim("b", "ekycpro", "tg", ["+41790000002", "+41790000003"],
                            resubmit=True)
    assert role == "uncertain" and job.id == first.id
    assert store.job(first.id).state == "uncertain"
    assert store.abandon_job(first.id, "gone") is not None
    role, job = store.claim("b", "ekycpro", "tg", ["+41790000002", "+41790000003"],
                            resubmit=True)
    assert role == "drive" and job.id != first.id
    assert store.job(first.id).owner is None


def test_importing_the_store_swaps_no_module_class():
    """Tuning values are parameters (StoreTuning), not module names set in place:
    importing the package changes nothing outside it (no module class swapped)."""
    import types

    import tgcheck.store

    assert type(tgcheck.store) is types.ModuleType
    with pytest.raises(ValueError, match="lease_seconds"):
        StoreTuning(lease_seconds=-1)
