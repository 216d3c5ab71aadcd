"""The SQL face's memo of answers already read (sql/tgcheck_duckdb/answer_memo.py):
the same answers as the engine's path, and never one the store would not give now.

Each test fills the memo with a first query and shows what a later query must see
on both store backends: another connection's write, an answer grown stale, a row
with a region of its own, a misspelled `region :=` or `task_type :=`, a query of
another task type.
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import sys
import time

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

import tgcheck
import tgcheck_duckdb
from conftest import compact_checks, numbers
from tgcheck.engine.planning import Planning
from tgcheck.errors import ConfigError
from tgcheck.plugins import get_task_type
from tgcheck.reasons import LEFT_OUT_REASON
from tgcheck.store import StoredAnswer, open_store
from tgcheck_duckdb import answer_memo, registration
from tgcheck_duckdb.answer_memo import AnswerMemo, MemoSnapshot

TG = get_task_type("tg")

ENRICH = "SELECT phone, telegram FROM telegram_enrich('t', 'phone')"
CHECK = "SELECT * FROM telegram_check('t', 'phone') ORDER BY input"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, settings):
    """Settings on each backend, and a second store object on the same store: its
    own connections, as another process has."""
    if request.param == "postgresql":
        settings = dataclasses.replace(settings, store_url=request.getfixturevalue(
            "postgres_url"))
    other = tgcheck.Engine(settings)
    yield settings, other.store
    other.close()


def connect(settings, phones):
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    con.execute("CREATE TABLE t AS SELECT unnest($1) AS phone", [phones])
    return con


def memoised(con, sandbox) -> dict:
    """Two queries: the first pays for the numbers and fills the memo, the second is
    answered from it (no call) and must agree."""
    first = con.execute(CHECK).fetchall()
    enriched = dict(con.execute(ENRICH).fetchall())
    assert con.execute(CHECK).fetchall() == first
    assert dict(con.execute(ENRICH).fetchall()) == enriched
    assert sandbox.billed["create"] == 1
    return enriched


def test_the_memo_answers_as_the_engine_does(backend, sandbox):
    settings, _ = backend
    phones = numbers(300)  # the sandbox leaves ~2% out: stored as unknown
    con = connect(settings, phones)
    got = memoised(con, sandbox)
    assert got == {n: sandbox.expected(n) for n in phones}
    rows = {r[0]: r for r in con.execute(CHECK).fetchall()}
    left_out = [n for n in phones if sandbox.expected(n) is None]
    assert left_out and all(rows[n][3:] == ("unknown", LEFT_OUT_REASON)
                            for n in left_out)
    assert sandbox.billed["create"] == 1


def test_another_connections_write_is_seen_at_the_next_query(backend, sandbox):
    settings, other = backend
    phones = numbers(30)
    con = connect(settings, phones)
    before = memoised(con, sandbox)
    flip = next(n for n in phones if before[n] is not None)
    other.import_answers([StoredAnswer("tg", flip, "no" if before[flip] == "yes" else "yes",
                                       "ok", time.time() + 1, "elsewhere")])
    after = dict(con.execute(ENRICH).fetchall())
    assert after[flip] != before[flip]
    assert {n: v for n, v in after.items() if n != flip} == \
        {n: v for n, v in before.items() if n != flip}
    assert sandbox.billed["create"] == 1


def test_answers_deleted_elsewhere_are_paid_for_again(backend, sandbox):
    settings, other = backend
    phones = numbers(30)
    con = connect(settings, phones)
    memoised(con, sandbox)
    other.delete_answers(task_type="tg")
    assert dict(con.execute(ENRICH).fetchall()) == {n: sandbox.expected(n) for n in phones}
    assert sandbox.billed["create"] == 2


def test_another_process_write_is_seen(settings, sandbox):
    # SQLite's data_version counts another process's commit like another connection's.
    phones = numbers(30)
    con = connect(settings, phones)
    before = memoised(con, sandbox)
    flip = next(n for n in phones if before[n] is not None)
    value = "no" if before[flip] == "yes" else "yes"
    path = tgcheck.Engine(settings).store.path
    subprocess.run([sys.executable, "-c", (
        "import sys, time; from tgcheck.store import open_store, StoredAnswer; "
        "s = open_store(sys.argv[1]); "
        "s.import_answers([StoredAnswer('tg', sys.argv[2], sys.argv[3], 'ok', "
        "time.time() + 1, 'child')]); s.close()"), str(path), flip, value],
        check=True, timeout=120)
    assert dict(con.execute(ENRICH).fetchall())[flip] == value


@pytest.mark.parametrize("days, kept", [(0, "all"), (1.1, "ok"), (31, "none")])
def test_answers_that_grew_stale_are_not_served(backend, monkeypatch, days, kept):
    # No commit, only time: the store's clock moves on. Past
    # TGCHECK_UNKNOWN_RETRY_HOURS (24) an unknown answer is stale, past
    # TGCHECK_MAX_AGE_DAYS (30) every answer; the engine then asks again.
    settings, _ = backend
    engine = tgcheck.get_engine(settings)
    phones = numbers(4)
    now = engine.store._now()
    engine.store.import_answers(
        [StoredAnswer("tg", phones[0], "yes", "ok", now - 3600, "t"),
         StoredAnswer("tg", phones[1], "no", "ok", now - 3600, "t"),
         StoredAnswer("tg", phones[2], None, "unknown", now - 3600, "t")])
    memo = AnswerMemo()
    memo.answers(engine, TG)  # takes the store's token
    memo.remember(engine, TG, pa.array(phones))
    # Served at first (all fresh), then the same memo as time goes by.
    assert sorted(memo.answers(engine, TG).field("number").to_pylist()) == phones[:3]
    clock = engine.store._now
    monkeypatch.setattr(engine.store, "_now", lambda: clock() + days * 86400)
    served = sorted(memo.answers(engine, TG).field("number").to_pylist())
    assert served == {"all": phones[:3], "ok": phones[:2], "none": []}[kept]
    # What the engine's own lookup keeps at that moment: the same.
    assert sorted(engine.store.lookup("tg", phones, **engine.planning.freshness(
        False, tgcheck.plugins.get_task_type("tg")))) == served


def test_a_row_with_a_region_of_its_own_is_read_with_it(settings, sandbox):
    phones = numbers(10)
    con = connect(settings, phones)
    memoised(con, sandbox)
    con.execute("CREATE TABLE r AS SELECT phone, CASE WHEN phone = $1 THEN 'Narnia' "
                "ELSE NULL END AS country FROM t", [phones[0]])
    rows = {r[0]: r for r in con.execute(
        "SELECT input, status, reason FROM telegram_check('r', 'phone', "
        "region_column := 'country')").fetchall()}
    # Read with its region (the engine's note says it was not needed), not as a
    # cell the memo knows.
    assert rows[phones[0]][1] == "ok" and rows[phones[0]][2].startswith("region_ignored")
    assert all(rows[n][1] in ("ok", "unknown") for n in phones[1:])


def test_a_misspelled_region_fails_on_a_table_already_answered(settings, sandbox):
    con = connect(settings, numbers(10))
    memoised(con, sandbox)
    with pytest.raises(duckdb.Error, match="Narnia"):
        con.execute("SELECT * FROM telegram_enrich('t', 'phone', region := 'Narnia')")
    with pytest.raises(duckdb.Error, match="Narnia"):
        con.execute("SELECT * FROM telegram_check('t', 'phone', region := 'Narnia')")


def test_only_the_selected_providers_answers_when_asked(settings):
    # TGCHECK_SAME_PROVIDER_ONLY: another provider's stored answer is not served.
    engine = tgcheck.Engine(dataclasses.replace(settings, same_provider_only=True))
    phones = numbers(4)
    engine.store.import_answers(
        [StoredAnswer("tg", n, "yes", "ok", time.time(), "t", "someone-else")
         for n in phones[:2]]
        + [StoredAnswer("tg", n, "no", "ok", time.time(), "t", settings.provider)
           for n in phones[2:]])
    memo = AnswerMemo()
    memo.answers(engine, TG)  # takes the store's token
    memo.remember(engine, TG, pa.array(phones))
    assert sorted(memo.answers(engine, TG).field("number").to_pylist()) == phones[2:]
    engine.close()


def _answered_engine(settings, count: int) -> tuple[tgcheck.Engine, list[str]]:
    """An engine whose store holds a fresh "yes" for each of count numbers."""
    engine = tgcheck.Engine(settings)
    phones = numbers(count)
    engine.store.import_answers([StoredAnswer("tg", n, "yes", "ok", time.time(), "t")
                                 for n in phones])
    return engine, phones


def test_a_memo_is_emptied_by_any_commit(settings):
    engine, phones = _answered_engine(settings, 3)
    memo = AnswerMemo()
    memo.remember(engine, TG, pa.array(phones))
    memo.remember(engine, TG, pa.array(phones[1:]))  # twice: still one entry each
    assert len(memo.answers(engine, TG)) == 3
    memo.remember(engine, TG, pa.array(phones))
    assert len(memo.answers(engine, TG)) == 3
    engine.store.import_answers([StoredAnswer("tg", "+41790009999", "no", "ok",
                                              time.time(), "t")])
    assert len(memo.answers(engine, TG)) == 0
    engine.close()


def test_a_memo_holds_at_most_its_size(settings):
    engine, phones = _answered_engine(settings, 5)
    memo = AnswerMemo(max_entries=4)
    memo.remember(engine, TG, pa.array(phones[:3]))
    memo.remember(engine, TG, pa.array(phones[3:]))  # would make 5: not remembered
    assert sorted(memo.answers(engine, TG).field("number").to_pylist()) == phones[:3]
    engine.close()


def test_a_task_type_with_fields_is_not_memoised(settings):
    assert not AnswerMemo().usable(tgcheck.Engine(settings), get_task_type("tg_active"))


def test_each_store_tells_a_change(any_store):
    # What the memo rests on: a commit by another connection changes the token.
    before = any_store.change_token()
    assert any_store.change_token() == before
    other = open_store(str(any_store.path) if any_store.backend == "sqlite"
                       else any_store.url)
    try:
        other.import_answers([StoredAnswer("tg", "+41790000001", "yes", "ok", time.time(),
                                           "t")])
    finally:
        other.close()
    assert any_store.change_token() != before



def test_a_sqlite_store_moved_or_replaced_is_a_change(tmp_path):
    # Its connections keep reading the old file; the token follows the path.
    from tgcheck.store.sqlite import Store

    path = tmp_path / "s.sqlite3"
    store = Store(path)
    before = store.change_token()
    path.rename(tmp_path / "moved.sqlite3")
    gone = store.change_token()  # no file at the path: no error, a change
    assert gone != before
    Store(path).close()  # another file where it was
    assert store.change_token() not in (before, gone)
    store.close()


def test_telegram_check_from_the_memo_gives_each_cell_once(settings, sandbox, monkeypatch):
    # telegram_check answers each "+digits" integer at its first row: those the
    # memo answers are marked by their place in it, the others by their
    # position among the integers collected. Repeats across vectors, numbers
    # the memo answers beside new ones, in random order: the rows are those of
    # a connection with no memo, one per distinct cell.
    looked_up = []
    look_up = MemoSnapshot.look_up

    def counted(self, digits):
        looked_up.append(len(digits))
        return look_up(self, digits)

    monkeypatch.setattr(MemoSnapshot, "look_up", counted)
    rng = np.random.default_rng(3)
    # Random numbers: a run of consecutive ones would all be at home in the
    # memo's table, and its second level and sorted rest never reached.
    drawn = [f"+4179{s:07d}" for s in rng.choice(10 ** 7, 5000, replace=False).tolist()]
    old, new = drawn[:3000], drawn[3000:]
    con = connect(settings, list(rng.permutation(old + old[:700])))
    first = con.execute(CHECK).fetchall()
    assert [r[0] for r in first] == sorted(old) and not looked_up  # no memo yet
    con.execute("INSERT INTO t SELECT unnest($1)",
                [list(rng.permutation(new + new[::3] + old[::2]))])
    for _ in range(2):  # the old numbers from the memo; then all of them
        rows = con.execute(CHECK).fetchall()
        fresh = connect(settings, [r[0] for r in con.execute("FROM t").fetchall()])
        assert rows == fresh.execute(CHECK).fetchall()
        assert [r[0] for r in rows] == sorted(old + new)
        assert looked_up
        looked_up.clear()
    assert sandbox.billed["create"] == 2


@pytest.fixture
def memo_look_ups(monkeypatch) -> list[int]:
    """The length of each vector looked up in a memo's snapshot (look_up and
    codes1_of), as it happens."""
    looked_up: list[int] = []

    def counting(real):
        def counted(self, digits):
            looked_up.append(len(digits))
            return real(self, digits)
        return counted

    for name in ("look_up", "codes1_of"):
        monkeypatch.setattr(MemoSnapshot, name, counting(getattr(MemoSnapshot, name)))
    return looked_up


@pytest.mark.parametrize("odd", [False, True])
@pytest.mark.parametrize("query", [ENRICH, CHECK,
                                   "SELECT * FROM telegram_check(['+41790000001'])"])
def test_the_second_pass_takes_the_first_passs_look_ups_back(settings, sandbox, memo_look_ups,
                                                               query, odd):
    # The first pass holds its vectors' keys and FINISH looks them all up at
    # once (VectorLookUps.hold, look_up_held); the second pass reads the table
    # in the same vectors and takes each one's result back rather than looking
    # up again, and answers as the first query did. Every row is looked up
    # once, in one call. odd: a "+digits" cell not read as itself, which sends
    # telegram_check's rows through answer_first (its places taken back too).
    looked_up = memo_look_ups
    rng = np.random.default_rng(5)
    phones = [f"+4179{s:07d}" for s in rng.choice(10 ** 7, 9000, replace=False).tolist()]
    cells = phones + phones[:1000] + (["+4179"] if odd else [])
    con = connect(settings, cells)
    rows = 1 if "[" in query else len(cells)  # the list form's one cell
    first = con.execute(query).fetchall()  # pays: no memo yet
    assert not looked_up
    for _ in range(2):
        assert con.execute(query).fetchall() == first
        assert looked_up == [rows]
        looked_up.clear()
    assert sandbox.billed["create"] == 1


UNION = ("SELECT phone, telegram FROM telegram_enrich('t', 'phone') UNION ALL "
         "SELECT phone, telegram FROM telegram_enrich('t', 'phone') ORDER BY ALL")


@pytest.mark.parametrize("budget_rows", [None, 3 * 2048, 0])
@pytest.mark.parametrize("query", [ENRICH, CHECK, UNION])
def test_the_numbers_the_memo_lacks_are_checked_beside_those_it_answers(
        settings, sandbox, monkeypatch, budget_rows, query):
    # New numbers among remembered ones, in random order: the first pass holds
    # the vectors (all of them, the first three, or none past a budget of that
    # many rows), FINISH looks them up and checks what the memo lacks, once;
    # the rows are a fresh connection's (no memo), every new number answered.
    from tgcheck_duckdb import streamed_check, vector_look_ups

    budgets = []
    if budget_rows is not None:
        def budget():
            budgets.append(vector_look_ups.Budget(budget_rows * 14))  # telegram_check's
            return budgets[-1]
        monkeypatch.setattr(streamed_check, "Budget", budget)
    rng = np.random.default_rng(7)
    drawn = [f"+4179{s:07d}" for s in rng.choice(10 ** 7, 12000, replace=False).tolist()]
    old, new = drawn[:8000], drawn[8000:]
    con = connect(settings, list(rng.permutation(old + old[:500])) + [None, "+", "+4179", "x"])
    con.execute(query).fetchall()  # pays for the old numbers; the memo reads them next
    con.execute("INSERT INTO t SELECT unnest($1)",
                [list(rng.permutation(new + new[::3] + old[::2])) + [None]])
    got = con.execute(query).fetchall()
    assert sandbox.billed["create"] == 2  # the new numbers, in one task
    fresh = connect(settings, [r[0] for r in con.execute("FROM t").fetchall()])
    assert got == fresh.execute(query).fetchall()
    valued = {r[0] for r in got if r[0] in set(new) and r[-3 if query == CHECK else 1]}
    assert len(valued) > 0.9 * len(new)  # the sandbox leaves about 2% out
    assert con.execute(query).fetchall() == got  # from the memo now
    assert sandbox.billed["create"] == 2
    assert all(b.used == 0 for b in budgets)  # every call's look-ups given back


def test_a_limit_preview_leaves_the_next_query_its_look_ups(settings, sandbox, monkeypatch,
                                                             memo_look_ups):
    # A query stopped early (LIMIT) kept its first pass's look-ups for a second
    # pass that does not come: the next query drops them, and keeps its own
    # within the connection's budget (here one query's worth).
    from tgcheck_duckdb import streamed_check, vector_look_ups

    looked_up = memo_look_ups
    rows = 5 * 2048
    monkeypatch.setattr(streamed_check, "Budget",
                        lambda: vector_look_ups.Budget(int(1.5 * rows * 10)))
    con = connect(settings, numbers(rows, start=70_000))
    full = con.execute(ENRICH).fetchall()  # pays; the memo reads them at the next query
    con.execute("SELECT * FROM telegram_enrich('t', 'phone') LIMIT 3").fetchall()
    looked_up.clear()
    assert con.execute(ENRICH).fetchall() == full
    assert sum(looked_up) == rows  # the first pass's look-ups only
    assert sandbox.billed["create"] == 1


def test_telegram_check_of_a_sampling_view_fails_with_the_memo_too(settings, sandbox):
    # The numbers the memo answers are marked by their place in it: one the
    # first pass did not mark (the view gave the second pass other rows) fails
    # the call as without the memo.
    con = connect(settings, numbers(8192, start=60_000))
    con.execute(CHECK).fetchall()  # pays, and the memo reads them at the next query
    con.execute(CHECK).fetchall()
    con.execute("CREATE VIEW v AS SELECT * FROM t WHERE random() < 0.5")
    with pytest.raises(duckdb.Error, match="store the rows first"):
        con.execute("SELECT * FROM telegram_check('v', 'phone')").fetchall()
    assert sandbox.billed["create"] == 1


def test_mixed_cells_give_the_same_rows_from_the_memo(settings, sandbox):
    # Blank, invalid, spaced, 00-prefixed, duplicated and NULL cells beside clean
    # ones: the second query (clean cells from the memo, the rest through the
    # engine) gives the first one's rows, in the same order.
    from test_duckdb import MIXED

    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    con.execute("CREATE TABLE people (id INTEGER, phone VARCHAR)")
    con.executemany("INSERT INTO people VALUES (?, ?)", [(i, p) for i, p, _ in MIXED])
    queries = ("SELECT * FROM telegram_enrich('people', 'phone')",
               "SELECT * FROM telegram_check('people', 'phone') ORDER BY input")
    first = [con.execute(q).fetchall() for q in queries]
    assert [con.execute(q).fetchall() for q in queries] == first
    assert [r[0] for r in first[0]] == [i for i, _, _ in MIXED]
    assert sandbox.billed["create"] == 1


# -- task_type := and the memo (the memo serves the registered type only) -------

@pytest.fixture
def engine_calls(monkeypatch):
    """How many times the SQL face ran the engine's check of a column."""
    calls = []
    check_column = tgcheck.Engine.check_column
    check_compact = Planning.check_compact

    def counted(self, values, **kwargs):
        calls.append(kwargs.get("task_type"))
        return check_column(self, values, **kwargs)

    def counted_compact(self, answers, request, lookup_size):
        # The face's usual path: the column's numbers as compact keys.
        calls.append(request.task_type)
        return check_compact(self, answers, request, lookup_size)

    monkeypatch.setattr(tgcheck.Engine, "check_column", counted)
    monkeypatch.setattr(Planning, "check_compact", counted_compact)
    return calls


def test_task_type_argument_gives_the_same_columns_and_rows_from_the_memo(
        backend, sandbox, engine_calls):
    settings, _ = backend
    phones = numbers(40, start=600)
    con = connect(settings, phones)
    query = {
        "enrich": "SELECT * FROM telegram_enrich('t', 'phone'{})",
        "check": "SELECT * FROM telegram_check('t', 'phone'{}) ORDER BY input",
        "regions": "SELECT * FROM telegram_check('t', 'phone', region_column := 'phone'{}) "
                   "ORDER BY input",
    }
    for arg in ("", ", task_type := 'tg'", ", task_type := 'ekycpro:tg'",
                ", task_type := 'tg_active'"):
        for name, sql in query.items():
            first = con.sql(sql.format(arg))
            shape, rows = (first.columns, first.types), first.fetchall()
            again = con.sql(sql.format(arg))
            assert (again.columns, again.types) == shape, (arg, name)
            assert again.fetchall() == rows, (arg, name)
    # The registered type, named or not, from the memo once read: the engine ran
    # for the first query only, and for each query of rows with a region of their
    # own (never memoised). tg_active declares fields: never memoised, every query
    # through the engine.
    assert engine_calls == ["tg"] + ["tg"] * 2 + ["tg"] * 2 + ["ekycpro:tg"] * 2 \
        + ["tg_active"] * 6
    assert sandbox.creates == 2
    enriched = con.sql("SELECT * FROM telegram_enrich('t', 'phone', task_type := 'tg')")
    assert enriched.columns == ["phone", "telegram"]
    assert dict(enriched.fetchall()) == {n: sandbox.expected(n) for n in phones}
    # Every cell in memory: a misspelled task_type := still fails the query.
    with pytest.raises(duckdb.Error, match="unknown task type 'tg_nope'"):
        con.execute(query["enrich"].format(", task_type := 'tg_nope'")).fetchall()


def test_the_memo_tells_an_explicit_unknown_from_a_number_left_out(backend, sandbox):
    # Both stored as unknown: the reason says which, from the memo as from the engine.
    from tgcheck.answer_column import ANSWERED_UNKNOWN
    from tgcheck.reasons import ANSWERED_UNKNOWN_REASON

    settings, _ = backend
    engine = tgcheck.get_engine(settings)
    phones = numbers(3, start=700)
    now = engine.store._now()
    engine.store.import_answers(
        [StoredAnswer("tg", phones[0], ANSWERED_UNKNOWN, "unknown", now, "t"),
         StoredAnswer("tg", phones[1], None, "unknown", now, "t"),
         StoredAnswer("tg", phones[2], "yes", "ok", now, "t")])
    con = connect(settings, phones)
    first = con.execute(CHECK).fetchall()
    assert [r[2:] for r in first] == [(None, "unknown", ANSWERED_UNKNOWN_REASON),
                                      (None, "unknown", LEFT_OUT_REASON),
                                      ("yes", "ok", None)]
    assert con.execute(CHECK).fetchall() == first
    assert sandbox.calls == {}


def test_a_store_that_cannot_tell_a_change_is_not_memoised(settings, sandbox, monkeypatch,
                                                           engine_calls):
    # BaseStore.change_token's default (None): every query reads the store.
    engine = tgcheck.get_engine(settings)
    monkeypatch.setattr(engine.store, "change_token", lambda: None)
    assert not AnswerMemo().usable(engine, TG)
    con = connect(settings, numbers(5, start=720))
    assert con.execute(ENRICH).fetchall() == con.execute(ENRICH).fetchall()
    assert engine_calls == ["tg", "tg"]


# -- how DuckDB reads the memo (answer_memo.MemoView) ------------------------------

@pytest.fixture
def memo_reads(monkeypatch):
    """How many times a query took the memo's entries (each time: a change-token check)."""
    reads = []
    answers = AnswerMemo.answers

    def counted(self, engine, ttype):
        reads.append(ttype.name)
        return answers(self, engine, ttype)

    monkeypatch.setattr(AnswerMemo, "answers", counted)
    return reads


def test_each_query_reads_the_memo_once_and_planning_never(backend, sandbox, memo_reads):
    # One read per query: the rows that hit and the cells sent as misses come from
    # one state of the store. EXPLAIN (planning only) reads nothing.
    settings, _ = backend
    con = connect(settings, numbers(20, start=740))
    memoised(con, sandbox)
    del memo_reads[:]
    for sql in (ENRICH, CHECK, "SELECT * FROM telegram_enrich('t', 'phone', task_type := 'tg')"):
        con.execute(sql).fetchall()
        assert memo_reads == ["tg"], sql
        del memo_reads[:]
    con.execute(f"EXPLAIN {ENRICH}").fetchall()
    con.execute(f"EXPLAIN {CHECK}").fetchall()
    assert memo_reads == []


def test_a_query_of_another_task_type_does_not_read_the_memo(settings, sandbox, memo_reads):
    # Its plan drops the memo's scan (a filter folded to false while planning).
    con = connect(settings, numbers(10, start=760))
    memoised(con, sandbox)
    del memo_reads[:]
    for sql in ("SELECT * FROM telegram_enrich('t', 'phone', task_type := 'tg_active')",
                "SELECT * FROM telegram_check('t', 'phone', task_type := 'tg_active')"):
        con.execute(sql).fetchall()
    assert memo_reads == []


def test_a_failing_store_fails_the_query_without_the_key(settings, sandbox, monkeypatch):
    # The memo's read raises inside DuckDB's scan: the query fails with the store's
    # error, and the API key appears nowhere in it, though the error names the
    # engine's settings and store (their reprs must hide it).
    con = connect(settings, numbers(10, start=780))
    memoised(con, sandbox)

    def broken(self, engine, ttype):
        raise tgcheck.StoreError(f"the store is gone: {engine.settings!r}, {engine.store!r}")

    monkeypatch.setattr(AnswerMemo, "answers", broken)
    with pytest.raises(duckdb.Error, match="the store is gone: Settings") as failed:
        con.execute(ENRICH).fetchall()
    assert settings.api_key not in str(failed.value)


def test_the_memo_is_a_view_of_the_connection(settings, sandbox):
    # DuckDB scans it as an Arrow table: the fresh entries, each number once, as shown.
    phones = numbers(30, start=800)
    con = connect(settings, phones)
    memoised(con, sandbox)
    rows = {r[0]: r[1:] for r in con.execute(
        f"SELECT * FROM {answer_memo.MEMO_VIEW}").fetchall()}
    assert sorted(rows) == sorted(phones)
    checked = {r[0]: r[2:] for r in con.execute(CHECK).fetchall()}
    assert rows == checked
    other = con.cursor()  # another connection to the same database has none
    assert answer_memo.MEMO_VIEW not in {r[0] for r in other.execute("SHOW TABLES").fetchall()}


@pytest.mark.parametrize("version", ["1.4.4", "1.1.3", "0.10.0"])
def test_an_older_duckdb_is_refused_with_the_fix(settings, monkeypatch, version):
    # 1.4 asks for the memo view's stream once, at registration: its second query
    # would fail with an Arrow error that names no cause. register() names it.
    monkeypatch.setattr(duckdb, "__version__", version)
    with pytest.raises(ConfigError, match=r"duckdb>=1\.5") as refused:
        tgcheck_duckdb.register(duckdb.connect(), settings)
    assert version in str(refused.value)


def test_the_installed_duckdb_is_accepted():
    registration._supported(duckdb.__version__)
    registration._supported("1.5.0")
    registration._supported("2.0.1")


@hyp_settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.integers(1, 10 ** 15 - 1), st.sampled_from(["yes", "no", None]),
                       max_size=300),
       st.lists(st.one_of(st.just(-1), st.integers(1, 10 ** 15 - 1)), max_size=100))
def test_a_memo_snapshot_finds_each_number_and_only_those(entries, asked):
    # MemoSnapshot's hash table against a dict: every entry found with its answer
    # as shown, any other number (and -1, a row without digits) not. (0 is no
    # cell's digits: the first digit is not 0.)
    numbers = list(entries)
    snapshot = MemoSnapshot(pa.StructArray.from_arrays(
        [pa.array([f"+{n}" for n in numbers], pa.string()),
         pa.array(list(entries.values()), pa.string()),
         pa.array(["ok" if v else "unknown" for v in entries.values()], pa.string()),
         pa.nulls(len(numbers), pa.string())], names=["number", "value", "status", "reason"]))
    keys = np.array(numbers + asked, np.int64)
    got = [snapshot.outcomes[c - 1][0] if c else "missing"
           for c in snapshot.codes1_of(keys).tolist()]
    assert got == [entries.get(k, "missing") for k in keys.tolist()]


def _snapshot_of(values: list[str]) -> MemoSnapshot:
    return MemoSnapshot(pa.StructArray.from_arrays(
        [pa.array([f"+4179{i:07d}" for i in range(len(values))], pa.string()),
         pa.array(values, pa.string()), pa.array(["ok"] * len(values), pa.string()),
         pa.nulls(len(values), pa.string())], names=["number", "value", "status", "reason"]))


def test_a_snapshot_of_more_answers_than_its_slots_code_is_not_used():
    # A slot packs its number and its answer's code into one int64: with more
    # distinct answers (a free-form task type) than the code's bits hold, the
    # snapshot says so, and the memo serves none (the engine's path answers).
    most = MemoSnapshot.MAX_OUTCOMES
    fits = _snapshot_of([f"v{i}" for i in range(most)])
    assert fits.usable
    keys = np.array([int(f"4179{i:07d}") for i in range(most)], np.int64)
    assert [fits.outcomes[c - 1][0] for c in fits.codes1_of(keys).tolist()] \
        == [f"v{i}" for i in range(most)]
    assert not _snapshot_of([f"v{i}" for i in range(most + 1)]).usable


def test_an_unusable_snapshot_leaves_the_answers_to_the_engine(settings, sandbox, monkeypatch):
    monkeypatch.setattr(MemoSnapshot, "MAX_OUTCOMES", 1)  # "yes" and "no": too many
    looked_up = compact_checks(monkeypatch)
    reads = []
    read = answer_memo._read

    def counted_read(*args):
        reads.append(1)
        return read(*args)

    monkeypatch.setattr(answer_memo, "_read", counted_read)
    phones = numbers(40, start=500)
    con = connect(settings, phones)
    got = memoised(con, sandbox)  # one task, answers agree
    assert got == {n: sandbox.expected(n) for n in phones}
    # Every query looked its numbers up in the store (a usable memo: the first only).
    assert looked_up == [len(phones)] * 4
    # The memo read its numbers' answers once, found they do not fit, and forgot
    # them: no later query reads them again for nothing...
    assert reads == [1]
    # ...until the store changes: then it remembers and reads them again.
    with contextlib.closing(tgcheck.Engine(settings)) as other:
        other.store.import_answers([StoredAnswer("tg", numbers(1, start=999)[0], "yes", "ok",
                                                 time.time(), "elsewhere")])
    assert dict(con.execute(ENRICH).fetchall()) == got
    assert dict(con.execute(ENRICH).fetchall()) == got
    assert reads == [1, 1]
