"""The DuckDB face against a real DuckDB and the sandbox on loopback.

Answers are joined to expectations by number (sandbox.expected), never by position.
"""

from __future__ import annotations

import threading
import time

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import tgcheck
import tgcheck_duckdb
from conftest import compact_checks, interrupted_query, numbers
from tgcheck.sandbox import Sandbox
from tgcheck_duckdb.cli import _interruption


@pytest.fixture
def con(settings):
    connection = tgcheck_duckdb.register(duckdb.connect(), settings)
    yield connection
    connection.close()


def expected_telegram(sandbox, number):
    """What telegram_enrich shows for a normalised number (None: NULL)."""
    return None if number is None else sandbox.expected(number)


MIXED = [
    # (id, phone, its E.164 form or None)
    (1, "+41790000001", "+41790000001"),
    (2, None, None),
    (3, "", None),
    (4, "   ", None),
    (5, "not a number", None),
    (6, "+41 79 000 00 01", "+41790000001"),  # the same number, written differently
    (7, "+41790000001", "+41790000001"),  # an exact duplicate
    (8, "0041790000002", "+41790000002"),
    (9, "+4179", None),  # too short
]


@pytest.fixture
def mixed(con):
    con.execute("CREATE TABLE people (id INTEGER, phone VARCHAR, city VARCHAR)")
    con.executemany("INSERT INTO people VALUES (?, ?, ?)",
                    [(i, p, "Bern" if i % 2 else "Basel") for i, p, _ in MIXED])
    return con


# -- telegram_enrich ----------------------------------------------------------

def test_enrich_keeps_every_row_and_column_in_order(mixed, sandbox):
    result = mixed.execute("SELECT * FROM telegram_enrich('people', 'phone')")
    assert [d[0] for d in result.description] == ["id", "phone", "city", "telegram"]
    rows = result.fetchall()
    assert [r[0] for r in rows] == [i for i, _, _ in MIXED]
    for (_, phone, number), (_, got_phone, _, telegram) in zip(MIXED, rows, strict=True):
        assert got_phone == phone
        assert telegram == expected_telegram(sandbox, number), phone
    assert sandbox.billed["create"] == 1
    task = next(iter(sandbox.tasks.values()))
    assert sorted(task.numbers) == ["+41790000001", "+41790000002"]


def test_enrich_is_null_for_numbers_the_result_file_left_out(con, sandbox):
    candidates = numbers(400)
    omitted = [n for n in candidates if sandbox.expected(n) is None]
    assert omitted, "the sandbox omits ~2%: 400 numbers must include some"
    con.execute("CREATE TABLE t AS SELECT unnest($1) AS phone", [candidates])
    got = dict(con.execute("SELECT phone, telegram FROM telegram_enrich('t', 'phone')")
               .fetchall())
    assert all(got[n] is None for n in omitted)
    assert all(got[n] == sandbox.expected(n) for n in candidates)


def test_enrich_matches_answers_to_rows_at_scale(con, sandbox):
    # Many distinct numbers make DuckDB's DISTINCT lists come in varying orders:
    # a zip of answers to a second, differently ordered list would go unnoticed
    # on small inputs.
    wanted = numbers(20_000)
    con.execute("CREATE TABLE t AS SELECT i AS id, $1[i + 1] AS phone FROM range(20000) r(i)",
                [wanted])
    sandbox_fast(sandbox)
    rows = con.execute("SELECT id, phone, telegram FROM telegram_enrich('t', 'phone')").fetchall()
    assert [r[0] for r in rows] == list(range(20_000))
    wrong = [r for r in rows if r[2] != sandbox.expected(r[1])]
    assert wrong == []


def sandbox_fast(sandbox):
    """Let the sandbox's tasks finish at once (its clock runs fast)."""
    sandbox.time_scale = 1e6


def test_enrich_reads_numeric_columns_as_numbers(con, sandbox):
    con.execute("CREATE TABLE n (big BIGINT, dbl DOUBLE)")
    con.execute("INSERT INTO n VALUES (41790000003, 41790000003.0), (NULL, NULL)")
    by_big = con.execute("SELECT telegram FROM telegram_enrich('n', 'big')").fetchall()
    by_dbl = con.execute("SELECT telegram FROM telegram_enrich('n', 'dbl')").fetchall()
    assert by_big == by_dbl == [(sandbox.expected("+41790000003"),), (None,)]
    assert sandbox.billed["create"] == 1


# -- telegram_check -----------------------------------------------------------

def test_check_table_gives_one_row_per_distinct_non_null_input(mixed, sandbox):
    result = mixed.execute("SELECT * FROM telegram_check('people', 'phone')")
    assert [d[0] for d in result.description] == ["input", "number", "telegram", "status",
                                                   "reason"]
    rows = result.fetchall()
    non_null = {p for _, p, _ in MIXED if p is not None}
    assert sorted(r[0] for r in rows) == sorted(non_null)
    by_input = {r[0]: r[1:] for r in rows}
    for _, phone, number in MIXED:
        if phone is None:
            continue
        got_number, telegram, status, reason = by_input[phone]
        assert got_number == number
        assert telegram == expected_telegram(sandbox, number)
        assert (reason is None) == (status == "ok")  # every row not ok says why
    assert by_input[""][2] == by_input["   "][2] == "blank"
    assert by_input["not a number"][2] == by_input["+4179"][2] == "invalid"
    assert by_input["+4179"][3] == "too_short: too short"
    assert by_input["+41790000001"][2] == "ok"
    assert sandbox.billed["create"] == 1


def test_check_list_overload_with_a_filter_inside(mixed, sandbox):
    rows = mixed.execute("""SELECT input, number, telegram, status FROM telegram_check(
                             ARRAY(SELECT phone FROM people WHERE city = 'Bern'))""").fetchall()
    bern = {p for i, p, _ in MIXED if i % 2 and p is not None}
    assert {r[0] for r in rows} == bern
    for _, number, telegram, status in rows:
        assert telegram == expected_telegram(sandbox, number)
        if number:
            assert status in ("ok", "unknown")
    task = next(iter(sandbox.tasks.values()))
    assert task.numbers == ["+41790000001"]  # Basel's +41790000002 was never sent


def test_check_list_literal_with_nulls_and_duplicates(con, sandbox):
    rows = con.execute("SELECT * FROM telegram_check(['+41790000005', NULL, '+41790000005'])"
                       ).fetchall()
    known = sandbox.expected("+41790000005")
    assert rows == [("+41790000005", "+41790000005", known, "ok" if known else "unknown",
                     None if known else "left_out: left out of the result file")]


def test_only_nulls_make_no_call_and_no_rows(con, sandbox):
    con.execute("CREATE TABLE e (phone VARCHAR)")
    con.execute("INSERT INTO e VALUES (NULL), (NULL)")
    assert con.execute("SELECT * FROM telegram_check('e', 'phone')").fetchall() == []
    assert con.execute("SELECT * FROM telegram_enrich('e', 'phone')").fetchall() == [
        (None, None), (None, None)]
    assert sandbox.calls == {}


def test_the_udf_hands_duckdb_only_the_answers_of_the_column(con, settings, sandbox):
    # A column that is a large part of the store is looked up by scanning it:
    # the store's other answers must not go to DuckDB to be joined against.
    from tgcheck.store import StoredAnswer, StoreTuning

    SCAN_MIN, SCAN_SHARE = StoreTuning().scan_min, StoreTuning().scan_share
    stored = [f"+4179{i:07d}" for i in range(SCAN_MIN * 3 // 2)]
    assert len(stored) <= SCAN_MIN * SCAN_SHARE  # so the lookup scans
    tgcheck.get_engine(settings).store.import_answers(
        StoredAnswer("tg", n, "yes", "ok", time.time(), "t") for n in stored)
    asked = stored[:SCAN_MIN]
    con.execute("CREATE TABLE asked AS SELECT unnest(?::VARCHAR[]) AS phone", [asked])
    answered, numbers = con.execute(
        "SELECT count(*), list_sort(list(number)) FROM telegram_check('asked', 'phone')"
    ).fetchone()
    assert answered == SCAN_MIN and numbers == sorted(asked)
    assert con.execute("SELECT count(*) FILTER (telegram = 'yes'), count(*) "
                       "FROM telegram_enrich('asked', 'phone')").fetchone() == (SCAN_MIN,) * 2
    assert sandbox.calls == {}


# -- tg_normalize --------------------------------------------------------------

def test_tg_normalize_makes_no_api_call(con, sandbox):
    rows = con.execute("""SELECT tg_normalize(x) FROM (VALUES ('+41 79 828 46 51'),
                          ('0041798284651'), (NULL), (''), ('abc'), ('+4179')) v(x)""").fetchall()
    assert rows == [("+41798284651",), ("+41798284651",), (None,), (None,), (None,), (None,)]
    assert con.execute("SELECT tg_normalize(41798284651), tg_normalize(41798284651.0)"
                       ).fetchall() == [("+41798284651", "+41798284651")]
    assert sandbox.calls == {}


def test_tg_normalize_with_a_region(settings, sandbox):
    con = tgcheck_duckdb.register(duckdb.connect(), settings, region="CH")
    assert con.execute("SELECT tg_normalize('079 828 46 51')").fetchall() == [("+41798284651",)]


# -- where the table comes from -------------------------------------------------

def test_every_kind_of_source_gives_the_same_answers(con, sandbox, tmp_path):
    wanted = numbers(30)
    con.execute("CREATE TABLE base AS SELECT i AS id, $1[i + 1] AS phone FROM range(30) r(i)",
                [wanted])
    con.execute("CREATE VIEW base_view AS SELECT * FROM base")
    csv_path, parquet_path = tmp_path / "c.csv", tmp_path / "c.parquet"
    con.execute(f"COPY base TO '{csv_path}' (HEADER)")
    con.execute(f"COPY base TO '{parquet_path}' (FORMAT parquet)")
    frame = pd.DataFrame({"id": range(30), "phone": wanted})  # noqa: F841 (found by name)
    arrow_table = pa.table({"id": list(range(30)), "phone": wanted})  # noqa: F841
    polars_frame = pl.DataFrame({"id": list(range(30)), "phone": wanted})  # noqa: F841
    expected = [(i, n, sandbox.expected(n)) for i, n in enumerate(wanted)]
    queries = {
        "table": "FROM telegram_enrich('base', 'phone')",
        "view": "FROM telegram_enrich('base_view', 'phone')",
        "cte": "WITH c AS (SELECT * FROM base) FROM telegram_enrich('c', 'phone')",
        "dataframe": "FROM telegram_enrich('frame', 'phone')",
        "arrow": "FROM telegram_enrich('arrow_table', 'phone')",
        "polars": "FROM telegram_enrich('polars_frame', 'phone')",
        "csv": f"FROM telegram_enrich('{csv_path}', 'phone')",
        "parquet": f"FROM telegram_enrich('{parquet_path}', 'phone')",
    }
    for kind, query in queries.items():
        assert con.execute(query).fetchall() == expected, kind
        checked = query.replace("telegram_enrich", "telegram_check")
        assert con.execute(f"SELECT input, number, telegram, status FROM ({checked}) "
                           "ORDER BY input").fetchall() == [
            (n, n, sandbox.expected(n), "ok" if sandbox.expected(n) else "unknown")
            for n in wanted], kind
    assert sandbox.billed["create"] == 1  # the same set: stored after the first query


def test_missing_column_fails_clearly(con):
    con.execute("CREATE TABLE t (phone VARCHAR)")
    with pytest.raises(duckdb.Error, match="telephone"):
        con.execute("FROM telegram_enrich('t', 'telephone')").fetchall()


# -- billing ---------------------------------------------------------------------

def test_explain_and_prepare_create_no_task(mixed, sandbox):
    mixed.execute("EXPLAIN SELECT * FROM telegram_enrich('people', 'phone')").fetchall()
    mixed.execute("EXPLAIN SELECT * FROM telegram_check(['+41790000009'])").fetchall()
    mixed.execute("PREPARE q AS SELECT * FROM telegram_check('people', 'phone')")
    mixed.execute("PREPARE r AS SELECT * FROM telegram_check([$1])")
    assert sandbox.calls == {}
    assert len(mixed.execute("EXECUTE q").fetchall()) == 7  # distinct non-NULL inputs
    assert sandbox.billed["create"] == 1


def test_running_a_query_again_creates_no_task(mixed, sandbox, settings):
    query = "SELECT * FROM telegram_enrich('people', 'phone')"
    first = mixed.execute(query).fetchall()
    creates, statuses = sandbox.billed["create"], sandbox.billed["status"]
    assert creates == 1
    assert mixed.execute(query).fetchall() == first
    other = tgcheck_duckdb.register(duckdb.connect(), settings)  # a new session
    other.execute("CREATE TABLE people AS SELECT * FROM (VALUES ('+41 79 000 00 01')) v(phone)")
    other.execute(query).fetchall()
    assert (sandbox.billed["create"], sandbox.billed["status"]) == (creates, statuses)


def test_a_query_over_100k_rows_checks_its_numbers_once(con, sandbox, monkeypatch):
    calls = compact_checks(monkeypatch)
    distinct = numbers(2_000)
    con.execute("""CREATE TABLE big AS SELECT i AS id,
                   CASE WHEN i % 10 = 0 THEN NULL ELSE $1[i % 2000 + 1] END AS phone
                   FROM range(100000) r(i)""", [distinct])
    rows = con.execute("SELECT id, phone, telegram FROM telegram_enrich('big', 'phone')"
                       ).fetchall()
    assert len(rows) == 100_000
    # Once, with every distinct non-NULL value: the 200 numbers at i % 10 = 0 are NULL.
    assert calls == [1_800]
    assert all(t == expected_telegram(sandbox, p) for _, p, t in rows)
    assert sandbox.billed["create"] == 1


def test_answers_from_a_scan_of_a_bigger_store_add_no_rows(con, sandbox, settings,
                                                            monkeypatch):
    """A large lookup scans the store and brings back numbers the query did not
    ask for: they must neither add rows nor change answers."""
    from tgcheck.store import StoreTuning

    stored = numbers(300)
    engine = tgcheck.get_engine(settings)
    engine.check(stored)
    creates = sandbox.billed["create"]
    # Every lookup scans (the engine's store, which the DuckDB face uses).
    monkeypatch.setattr(engine.store, "tuning", StoreTuning(scan_min=1, scan_share=1_000_000))
    asked = stored[::3]
    con.execute("CREATE TABLE few AS SELECT * FROM (SELECT unnest($1) AS phone)", [asked])
    rows = con.execute("SELECT phone, telegram FROM telegram_enrich('few', 'phone')").fetchall()
    assert sorted(p for p, _ in rows) == sorted(asked)
    assert all(t == expected_telegram(sandbox, p) for p, t in rows)
    checked = con.execute("SELECT input, status FROM telegram_check('few', 'phone')").fetchall()
    assert sorted(i for i, _ in checked) == sorted(asked)
    assert sandbox.billed["create"] == creates


def test_a_failed_task_fails_the_query_clearly(mixed, sandbox):
    sandbox.fail_next("create", "task_failed")
    with pytest.raises(duckdb.Error, match=r"TaskFailed: task \w+ failed"):
        mixed.execute("SELECT * FROM telegram_enrich('people', 'phone')").fetchall()
    sandbox.fail_next("create", "task_failed")
    with pytest.raises(duckdb.Error, match="TaskFailed"):
        mixed.execute("SELECT * FROM telegram_check(['+41790000007'])").fetchall()


def test_a_refused_key_fails_the_query_clearly(sandbox, settings):
    import dataclasses

    wrong = dataclasses.replace(settings, api_key="wrong-key")
    con = tgcheck_duckdb.register(duckdb.connect(), wrong)
    with pytest.raises(duckdb.Error, match="KeyRefused") as e:
        con.execute("SELECT * FROM telegram_check(['+41790000007'])").fetchall()
    assert sandbox.billed["create"] == 0
    assert "wrong-key" not in str(e.value) and "wrong-key" not in repr(e.value)


# -- progress and interruption ------------------------------------------------------

def test_progress_events_reach_a_listener(sandbox, settings):
    kinds = []
    con = tgcheck_duckdb.register(duckdb.connect(), settings, on_event=lambda e: kinds.append(e))
    con.execute("SELECT * FROM telegram_check(['+41790000008'])").fetchall()
    assert [e.kind for e in kinds][0] == "submitted"
    assert [e.kind for e in kinds][-1] == "done"
    assert kinds[-1].status_calls == sandbox.billed["status"]


@pytest.fixture
def slow_sandbox():
    """A sandbox whose tasks take minutes, until the test speeds its clock up."""
    with Sandbox(speed=0.01) as sb:
        yield sb


def slow_settings(sb, tmp_path):
    return tgcheck.Settings(api_key=sb.api_key, base_url=sb.url, home=tmp_path / "home",
                            poll_min=0.02, poll_max=0.5, timeout=60, http_timeout=5)


def test_interrupt_stops_the_wait_and_the_next_query_attaches(slow_sandbox, tmp_path):
    settings = slow_settings(slow_sandbox, tmp_path)
    submitted = threading.Event()
    con = tgcheck_duckdb.register(
        duckdb.connect(), settings,
        on_event=lambda e: e.kind == "submitted" and submitted.set())
    query = "SELECT number, telegram FROM telegram_check(['+41790000011', '+41790000012'])"
    outcome = interrupted_query(con, query, submitted)
    assert "rows" not in outcome
    # Cancelled's text, or DuckDB's own InterruptException ("Interrupted!") when
    # the query's thread sees the flag first: a race; `tgcheck sql` reads both.
    assert _interruption(outcome["error"]), outcome
    assert slow_sandbox.billed["create"] == 1

    sandbox_fast(slow_sandbox)  # the task finishes at the provider meanwhile
    rows = dict(con.execute(query).fetchall())
    assert rows == {n: slow_sandbox.expected(n) for n in ("+41790000011", "+41790000012")}
    assert slow_sandbox.billed["create"] == 1  # attached to the same task


# -- column names (docs/sql.md) ----------------------------------------------------

def test_a_table_with_a_telegram_column_gets_telegram_1(con, sandbox):
    number = numbers(1, start=900)[0]
    con.execute(f"CREATE TABLE t AS SELECT '{number}' AS phone, 'old' AS telegram")
    result = con.execute("FROM telegram_enrich('t', 'phone')")
    assert [d[0] for d in result.description] == ["phone", "telegram", "telegram_1"]
    assert result.fetchall() == [(number, "old", sandbox.expected(number))]


@pytest.mark.parametrize("columns, names", [
    ("'old' AS Telegram", ["phone", "Telegram", "telegram_1"]),  # any letter case
    ("'old' AS telegram, 'x' AS telegram_1", ["phone", "telegram", "telegram_1", "telegram_2"]),
])
def test_the_answer_column_takes_the_first_free_suffix(con, sandbox, columns, names):
    number = numbers(1, start=910)[0]
    con.execute(f"CREATE TABLE t AS SELECT '{number}' AS phone, {columns}")
    for query in ("FROM telegram_enrich('t', 'phone')",
                  "FROM telegram_enrich('t', 'phone', region := 'CH')"):
        result = con.execute(query)
        assert [d[0] for d in result.description] == names
        assert result.fetchall()[0][-1] == sandbox.expected(number)
    # The names hold in a table made from it, too.
    con.execute("CREATE TABLE e AS FROM telegram_enrich('t', 'phone')")
    assert [r[0] for r in con.execute("DESCRIBE e").fetchall()] == names


def test_another_task_type_names_the_answer_column_after_the_type(settings, sandbox):
    con = tgcheck_duckdb.register(duckdb.connect(), settings, task_type="ws")
    con.execute("CREATE TABLE t AS SELECT '+41790000901' AS phone")
    enriched = con.execute("FROM telegram_enrich('t', 'phone')")
    assert [d[0] for d in enriched.description] == ["phone", "whatsapp"]
    checked = con.execute("FROM telegram_check('t', 'phone')")
    assert [d[0] for d in checked.description] == ["input", "number", "whatsapp", "status",
                                                   "reason"]


def test_a_table_without_its_column_fails_as_documented(con, sandbox):
    con.execute("CREATE TABLE t (phone VARCHAR)")
    with pytest.raises(duckdb.Error, match="must be a list"):
        con.execute("FROM telegram_check('t')").fetchall()
    assert sandbox.calls == {}
