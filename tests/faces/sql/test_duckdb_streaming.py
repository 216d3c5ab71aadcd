"""Issue 25 item 2 (DuckDB): the macros hand Python the column a vector at a time
(streamed_check.py), the engine checks its numbers once as compact keys, and
the answers, columns, reasons and rows are those of one check of the column.

Memory figures belong in benchmarks/bench_duckdb.py (--peak-rss), not here.
"""

from __future__ import annotations

import csv
import dataclasses
import re
import threading
import time

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

import tgcheck
import tgcheck_duckdb
from conftest import interrupted_query, numbers
from paths import DATA
from tgcheck.compact_answers import DIGITS, as_array, keys_of_digits
from tgcheck.engine.planning import Planning
from tgcheck.sandbox import Sandbox
from tgcheck_duckdb import macros, streamed_check
from tgcheck_duckdb.cli import _interruption

CORPUS = DATA / "crm_mixed.csv"
# DuckDB's vector: the most rows a UDF call gets.
VECTOR = 2048
CHECK = ("SELECT input, region, number, telegram, status, reason FROM "
         "telegram_check('crm', 'phone', region_column := 'country', region := 'CH') "
         "ORDER BY input, region")
ENRICH = ("SELECT * FROM telegram_enrich('crm', 'phone', region_column := 'country', "
          "region := 'CH')")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_settings(request, settings):
    if request.param == "postgresql":
        return dataclasses.replace(settings, store_url=request.getfixturevalue("postgres_url"))
    return settings


@pytest.fixture
def watched(monkeypatch):
    """The sizes of the cell lists made Python values, and the engine's checks."""
    seen = {"values": [], "compact": [], "column": []}
    real_values = streamed_check.python_values

    def values(array):
        seen["values"].append(len(array))
        return real_values(array)

    monkeypatch.setattr(streamed_check, "python_values", values)
    check_compact, check_column = Planning.check_compact, tgcheck.Engine.check_column

    def compact(self, answers, request, lookup_size):
        seen["compact"].append(len(answers))
        return check_compact(self, answers, request, lookup_size)

    def column(self, values, **kwargs):
        seen["column"].append(len(values))
        return check_column(self, values, **kwargs)

    monkeypatch.setattr(Planning, "check_compact", compact)
    monkeypatch.setattr(tgcheck.Engine, "check_column", column)
    return seen


def corpus(settings) -> duckdb.DuckDBPyConnection:
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    con.execute(f"CREATE TABLE crm AS FROM read_csv('{CORPUS}', all_varchar := true)")
    # Each row twice more, once as its E.164 number: repeats across batches.
    con.execute("INSERT INTO crm SELECT * FROM crm WHERE id::INTEGER % 3 = 0")
    con.execute("INSERT INTO crm SELECT * REPLACE (expected AS phone) FROM crm "
                "WHERE expected_reason = 'ok' AND id::INTEGER % 2 = 0")
    return con


def test_the_column_reaches_python_by_vectors_and_the_engine_as_keys(
        backend_settings, sandbox, watched):
    con = corpus(backend_settings)
    checked = con.execute(CHECK).fetchall()
    # No list of every cell: Python values are made a vector at a time, of the
    # cells that are not "+" and digits (those reach Python as integers).
    assert watched["values"] and max(watched["values"]) <= VECTOR
    # One check of the distinct numbers as compact keys; the whole-list path unused.
    sent = {r[2] for r in checked if r[2] is not None}
    assert watched["compact"] == [len(sent)] and watched["column"] == []
    # One task, holding exactly the valid numbers: invalid cells are never sent.
    assert sandbox.billed["create"] == 1
    task = next(iter(sandbox.tasks.values()))
    assert sorted(task.numbers) == sorted(sent)
    # Every row of the corpus read as the CLI's expectations say.
    got = {(r[0], r[1]): r[2:] for r in checked}
    for e in csv.DictReader(CORPUS.open(encoding="utf-8")):
        if not e["phone"]:
            continue
        number, telegram, status, reason = got[(e["phone"], e["country"] or None)]
        if e["expected_reason"] == "ok":
            assert number == e["expected"] and telegram == sandbox.expected(number), e
        else:
            assert number is None and reason.startswith(e["expected_reason"] + ":"), e


def test_fields_are_joined_in_every_vector(settings, sandbox, watched):
    con = tgcheck_duckdb.register(duckdb.connect(), settings, task_type="tg_active")
    phones = numbers(2 * VECTOR + 7, start=900)
    con.execute("CREATE TABLE t AS SELECT range AS id, $1[range % $2 + 1] AS phone "
                "FROM range(2 * $2)", [phones, len(phones)])
    rel = con.sql("SELECT id, phone, telegram_days, seen_within_days "
                  "FROM telegram_enrich('t', 'phone')")
    rows = rel.fetchall()
    assert [r[0] for r in rows] == list(range(2 * len(phones)))
    for _, phone, value, seen in rows:
        expected = sandbox.expected(phone, "tg_active")
        assert value == expected
        assert seen == (None if expected in (None, "N/A") else int(expected))
    assert watched["compact"] == [len(phones)]
    assert sandbox.billed["create"] == 1


def test_a_numeric_column_is_read_as_numbers(settings, sandbox, watched):
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    phones = numbers(2 * VECTOR + 3, start=1300)
    con.execute("CREATE TABLE n AS SELECT CAST(substr(p, 2) AS BIGINT) AS big, "
                "CAST(substr(p, 2) AS DOUBLE) AS dbl FROM unnest($1) u(p)", [phones])
    by_big = con.execute("SELECT telegram FROM telegram_enrich('n', 'big')").fetchall()
    by_dbl = con.execute("SELECT telegram FROM telegram_enrich('n', 'dbl')").fetchall()
    assert by_big == by_dbl == [(sandbox.expected(p),) for p in phones]
    assert watched["compact"] == [len(phones)] * 2 and watched["column"] == []
    assert sandbox.billed["create"] == 1


@pytest.mark.parametrize("name", ["q", "done"])
def test_a_table_named_like_a_common_cte_is_checked(settings, sandbox, name):
    # The macros' own CTEs carry the internal prefix: query_table('q') reads the
    # user's table, not the call's state row.
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    phones = numbers(3, start=1400)
    con.execute(f"CREATE TABLE {name} AS SELECT unnest($1) AS phone", [phones])
    enriched = con.execute(f"SELECT phone, telegram FROM telegram_enrich('{name}', 'phone')"
                           ).fetchall()
    checked = con.execute(f"SELECT input, telegram FROM telegram_check('{name}', 'phone') "
                          "ORDER BY input").fetchall()
    assert enriched == [(p, sandbox.expected(p)) for p in phones]
    assert checked == sorted(enriched)


def test_progress_and_interrupt_reach_the_streamed_check(tmp_path, watched):
    with Sandbox(speed=0.01) as slow:  # tasks take minutes until its clock speeds up
        settings = tgcheck.Settings(api_key=slow.api_key, base_url=slow.url,
                                    home=tmp_path / "home", poll_min=0.02, poll_max=0.5,
                                    timeout=60, http_timeout=5)
        events, submitted = [], threading.Event()

        def listen(event):
            events.append(event.kind)
            if event.kind == "submitted":
                submitted.set()

        con = tgcheck_duckdb.register(duckdb.connect(), settings, on_event=listen)
        phones = numbers(3 * VECTOR, start=1400)
        con.execute("CREATE TABLE t AS SELECT unnest($1) AS phone", [phones])
        query = "SELECT phone, telegram FROM telegram_enrich('t', 'phone')"
        outcome = interrupted_query(con, query, submitted)
        # Failed as interrupted, in either of the two ways a race decides (on a
        # loaded machine 3 runs in 40 got DuckDB's own InterruptException,
        # "Interrupted!", when the query's thread saw the flag before the UDF's
        # Cancelled came from a worker): both are what `tgcheck sql` reads as one.
        assert "rows" not in outcome and _interruption(outcome["error"]), outcome
        assert watched["compact"] == [len(phones)] and slow.billed["create"] == 1

        slow.time_scale = 1e6  # the task finishes at the provider meanwhile
        rows = dict(con.execute(query).fetchall())
        assert rows == {n: slow.expected(n) for n in phones}
        assert slow.billed["create"] == 1  # attached to the same task
        assert events[-1] == "done"


def test_a_column_in_e164_makes_no_python_value_of_its_cells(settings, sandbox, watched):
    # Its cells reach Python as the integers SQL read from them (macros.DIGITS_OF).
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    phones = numbers(VECTOR + 100, start=1200)
    con.execute("CREATE TABLE t AS SELECT range AS id, $1[range % $2 + 1] AS phone "
                "FROM range(2 * $2)", [phones, len(phones)])
    rows = con.execute("SELECT id, phone, telegram FROM telegram_enrich('t', 'phone')"
                       ).fetchall()
    assert [r[0] for r in rows] == list(range(2 * len(phones)))
    assert all(telegram == sandbox.expected(phone) for _, phone, telegram in rows)
    assert watched["values"] == []
    assert watched["compact"] == [len(phones)] and sandbox.billed["create"] == 1


# -- rows in order, each vector answered once, states dropped -------------------

# Three of DuckDB's row groups (122,880 rows each) and more: several threads
# scan them, and the answers must still come out beside their rows.
ORDER_ROWS = 300_000


def _answer(i: int) -> str:
    return "yes" if i % 2 else "no"


@pytest.fixture
def ordered(settings):
    """A connection on 4 threads with a table of ORDER_ROWS rows (id, phone): E.164
    numbers, spaced 00-prefixed ones, invalid and NULL cells; every number
    stored (no call)."""
    from tgcheck.store import StoredAnswer

    engine = tgcheck.get_engine(settings)
    engine.store.import_answers(StoredAnswer("tg", f"+4179{i:07d}", _answer(i), "ok",
                                             time.time(), "t") for i in range(ORDER_ROWS))
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    con.execute("SET threads = 4")
    con.execute(f"""CREATE TABLE big AS SELECT i AS id, CASE
        WHEN i % 11 = 0 THEN NULL WHEN i % 13 = 0 THEN 'abc'
        WHEN i % 7 = 0 THEN '0041 79 ' || lpad(i::VARCHAR, 7, '0')
        ELSE '+4179' || lpad(i::VARCHAR, 7, '0') END AS phone
        FROM range({ORDER_ROWS}) r(i)""")
    return con


def _expected(i: int) -> str | None:
    return None if i % 11 == 0 or i % 13 == 0 else _answer(i)


def test_rows_come_out_in_the_tables_order_on_several_threads(ordered, tmp_path, sandbox):
    # No row number, no ORDER BY: the macros rely on DuckDB keeping insertion
    # order through the cross join with the one-row CTE (docs/sql.md).
    parquet = tmp_path / "big.parquet"
    ordered.execute(f"COPY big TO '{parquet}' (FORMAT parquet, ROW_GROUP_SIZE 5000)")
    ordered.execute(f"CREATE VIEW from_parquet AS SELECT * FROM read_parquet('{parquet}')")
    wanted = [(i, _expected(i)) for i in range(ORDER_ROWS)]
    for table in ("big", "from_parquet", "big"):  # the second "big": from the memo
        rows = ordered.execute(f"SELECT id, telegram FROM telegram_enrich('{table}', 'phone')"
                               ).fetchall()
        assert rows == wanted, table
    assert sandbox.calls == {}


def test_each_vector_is_answered_once_whatever_the_columns_taken(settings, sandbox,
                                                                 monkeypatch):
    # DuckDB calls a UDF once per vector, however many members of its struct the
    # query takes, and only one of CODE and ANSWER (the choice is folded), or,
    # for telegram_check, of FIRST_CODE and FIRST (answer_first calls answer).
    calls = {"value_codes": [], "answer": [], "first_codes": []}
    for name in calls:
        real = getattr(streamed_check.QueryState, name)

        def counted(self, digits, *rest, real=real, name=name):
            calls[name].append(len(digits))
            return real(self, digits, *rest)

        monkeypatch.setattr(streamed_check.QueryState, name, counted)
    rows = 3 * VECTOR + 11
    phones = numbers(rows, start=2000)
    for task_type, used in (("tg", "value_codes"), ("tg_active", "answer")):
        con = tgcheck_duckdb.register(duckdb.connect(), settings, task_type=task_type)
        con.execute("CREATE TABLE t AS SELECT unnest($1) AS phone", [phones])
        con.execute("SELECT * FROM telegram_enrich('t', 'phone')").fetchall()
        assert sum(calls[used]) == rows and max(calls[used]) <= VECTOR, task_type
        assert sum(map(sum, calls.values())) == rows, task_type
        for seen in calls.values():
            seen.clear()
        con.execute("SELECT * FROM telegram_check('t', 'phone')").fetchall()
        used = "first_codes" if used == "value_codes" else used
        assert sum(calls[used]) == rows and max(calls[used]) <= VECTOR, task_type
        assert sum(map(sum, calls.values())) == rows, task_type
        for seen in calls.values():
            seen.clear()


@pytest.fixture
def open_states(monkeypatch):
    """Every connection's QueryStates, as registered."""
    made = []
    init = streamed_check.QueryStates.__init__

    def recorded(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(streamed_check.QueryStates, "__init__", recorded)
    return made


def test_a_calls_state_is_dropped_with_its_last_row(settings, sandbox, open_states):
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    states, = open_states
    con.execute("CREATE TABLE t AS SELECT range AS id, $1[range % 50 + 1] AS phone "
                "FROM range(3 * 2048)", [numbers(50, start=3000)])
    con.execute("CREATE TABLE nothing (phone VARCHAR)")
    for sql in ("SELECT * FROM telegram_enrich('t', 'phone')",
                "SELECT * FROM telegram_check('t', 'phone')",
                f"SELECT * FROM telegram_check({numbers(3, start=3000)})",
                "SELECT * FROM telegram_enrich('nothing', 'phone')",
                "SELECT * FROM telegram_enrich('t', 'phone', task_type := 'tg_active')",
                "SELECT count(e.telegram), count(c.status) FROM telegram_enrich('t', 'phone') e "
                "JOIN telegram_check('t', 'phone') c ON e.phone = c.input"):
        con.execute(sql).fetchall()
        assert len(states) == 0, sql
    with pytest.raises(duckdb.Error, match="Narnia"):  # fails before a state is opened
        con.execute("SELECT * FROM telegram_enrich('t', 'phone', region := 'Narnia')")
    assert len(states) == 0
    # A query that takes no answer (count(*)), or has no distinct cell: DuckDB
    # skips ANSWER, or the rest of the call once BEGIN ran; such a state then
    # waits among the bounded ones (MAX_OPEN, below).
    assert con.execute("SELECT * FROM telegram_check('nothing', 'phone')").fetchall() == []
    assert con.execute("SELECT count(*) FROM telegram_enrich('t', 'phone')").fetchall() \
        == [(3 * 2048,)]
    assert len(states) <= 2


def test_queries_stopped_early_keep_a_bounded_number_of_states(settings, sandbox,
                                                               open_states):
    # A LIMIT stops the answer pass before the last row: its state stays until
    # MAX_OPEN later calls have opened theirs, never more.
    from tgcheck.store import StoredAnswer

    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    states, = open_states
    phones = numbers(12 * VECTOR, start=4000)
    tgcheck.get_engine(settings).store.import_answers(
        StoredAnswer("tg", n, "yes", "ok", time.time(), "t") for n in phones)
    con.execute("CREATE TABLE t AS SELECT unnest($1) AS phone", [phones])
    assert con.execute("SELECT * FROM telegram_enrich('t', 'phone') LIMIT 3").fetchall()
    assert len(states) == 1
    for _ in range(3 * streamed_check.MAX_OPEN):
        assert len(con.execute("SELECT * FROM telegram_enrich('t', 'phone') LIMIT 3"
                               ).fetchall()) == 3
        assert len(states) <= streamed_check.MAX_OPEN
    assert len(states) == streamed_check.MAX_OPEN
    # A whole query still drops its own (having pushed out the oldest to open it).
    assert len(con.execute("SELECT * FROM telegram_enrich('t', 'phone')").fetchall()) \
        == len(phones)
    assert len(states) == streamed_check.MAX_OPEN - 1
    assert sandbox.calls == {}


# -- the cell's digits, read in SQL --------------------------------------------

_CANONICAL = re.compile(r"\+[1-9][0-9]{0,14}")


def _digits_in_sql(cells: list[str | None], con=duckdb) -> list[int | None]:
    rows = "SELECT unnest($1::VARCHAR[]) AS __tgcheck_cell, NULL::VARCHAR AS __tgcheck_region"
    return [r[0] for r in con.sql(
        f"SELECT __tgcheck_digits FROM ({macros.with_digits(rows)})",
        params=[cells]).fetchall()] if cells else []


_ODD_CELLS = [
    "+41798284651", "+1", "+999999999999999", "+1234567890123456", "+0041798284651",
    "+41 798284651", "+41_798284651", "+4179828465.1", "+41798284651 ", " +41798284651",
    "+4179828465e2", "+4179828465E2", "+41798284e3", "+1e2", "+12.5e3", "+0x1F", "+-41",
    "++41", "41798284651", "+", "", None, "+41798284600", "+4179828460e0", "+٤١",
    ",41798284651", "*41798284651", "＋41798284651"]


def test_sql_reads_digits_exactly_from_cells_that_are_plus_and_digits():
    want = [int(c[1:]) if c is not None and _CANONICAL.fullmatch(c) else None
            for c in _ODD_CELLS]
    assert _digits_in_sql(_ODD_CELLS) == want


@pytest.mark.parametrize("collation", ["nocase", "de", "en_us"])
def test_the_plus_is_found_whatever_the_connections_default_collation(collation):
    # The leading "+" is found by comparing bytes (COLLATE c): an ICU collation
    # orders "," and "+" otherwise, and would let other cells through or not.
    con = duckdb.connect()
    try:
        con.execute(f"SET default_collation = '{collation}'")
    except duckdb.Error:  # an ICU collation where DuckDB was built without ICU
        pytest.skip(f"no collation {collation} in this DuckDB")
    want = [int(c[1:]) if c is not None and _CANONICAL.fullmatch(c) else None
            for c in _ODD_CELLS]
    assert _digits_in_sql(_ODD_CELLS, con) == want


@settings_hypothesis(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="+-0123456789 eE._xX,", max_size=18), max_size=40))
def test_sql_digits_are_the_regex_reading(cells):
    want = [int(c[1:]) if _CANONICAL.fullmatch(c) else None for c in cells]
    assert _digits_in_sql(cells) == want


@settings_hypothesis(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10 ** DIGITS - 1), max_size=50))
def test_keys_of_digits_are_as_arrays_keys(values):
    assert keys_of_digits(np.array(values, np.int64)).tolist() == \
        as_array([f"+{v}" for v in values]).tolist()


def test_each_distinct_cell_is_read_once_per_call(settings, sandbox, monkeypatch):
    # A cell not written as E.164 is read (resolve_all) in the first pass; the
    # second finds its reading kept (streamed_check.READINGS_KEPT), and a cell
    # repeated across vectors is read once.
    read = []
    real = streamed_check.resolve_all

    def counted(values, region=None):
        read.extend(values)
        return real(values, region)

    monkeypatch.setattr(streamed_check, "resolve_all", counted)
    phones = numbers(VECTOR, start=5000)
    spaced = [f"{p[:3]} {p[3:5]} {p[5:]}" for p in phones]  # +41 79 0005000
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    con.execute("CREATE TABLE t AS SELECT range AS id, $1[range % $2 + 1] AS phone "
                "FROM range(3 * $2)", [spaced, len(spaced)])
    rows = con.execute("SELECT id, phone, telegram FROM telegram_enrich('t', 'phone')"
                       ).fetchall()
    assert [r[0] for r in rows] == list(range(3 * len(spaced)))
    assert all(r[2] == sandbox.expected(phones[r[0] % len(phones)]) for r in rows)
    assert sorted(read) == sorted(spaced)


def test_a_query_of_more_calls_than_max_open_keeps_its_own_states(settings, sandbox,
                                                                    open_states):
    # A UNION ALL of more calls than MAX_OPEN: no call's state is pushed out by
    # another of its own query (only other queries' are), so every call answers,
    # each with its one task, and a second run pays nothing.
    from tgcheck.store import StoredAnswer

    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    states, = open_states
    calls = streamed_check.MAX_OPEN + 2
    phones = numbers(calls * 300, start=6000)
    for k in range(calls):
        con.execute(f"CREATE TABLE t{k} AS SELECT unnest($1) AS phone",
                    [phones[k * 300:(k + 1) * 300]])
    # Calls stopped by a LIMIT before their last vector (stored numbers: no task).
    stored = numbers(3 * VECTOR, start=20000)
    tgcheck.get_engine(settings).store.import_answers(
        StoredAnswer("tg", n, "yes", "ok", time.time(), "t") for n in stored)
    con.execute("CREATE TABLE big AS SELECT unnest($1) AS phone", [stored])
    enrich = " UNION ALL ".join(f"SELECT phone, telegram FROM telegram_enrich('t{k}', 'phone')"
                                for k in range(calls))
    check = " UNION ALL ".join("(SELECT input, telegram FROM telegram_check('big', 'phone') "
                               "LIMIT 3)" for _ in range(calls))
    for _ in range(2):
        assert sorted(con.execute(enrich).fetchall()) == \
            sorted((p, sandbox.expected(p)) for p in phones)
        assert len(states) == 0
        assert sandbox.billed["create"] == calls
        limited = con.execute(check).fetchall()
        assert len(limited) == 3 * calls and {t for _, t in limited} == {"yes"}
        # Stopped early, every call's state waits (its query's own, none pushed out).
        assert len(states) == calls
    # Another query pushes out all but MAX_OPEN; a prepared query run again is
    # another query each time.
    # (DuckDB 1.5 gives each EXECUTE the same id: MAX_PER_QUERY bounds them.)
    bound = streamed_check.MAX_OPEN if tuple(map(int, duckdb.__version__.split(".")[:2])) \
        >= (2, 0) else streamed_check.MAX_PER_QUERY
    con.execute("PREPARE stopped AS SELECT * FROM telegram_enrich('big', 'phone') LIMIT 3")
    for _ in range(2 * bound):
        assert len(con.execute("EXECUTE stopped").fetchall()) == 3
        assert len(states) <= bound
    assert len(states) == bound
    assert sandbox.billed["create"] == calls


@pytest.mark.skipif(tuple(map(int, duckdb.__version__.split(".")[:2])) < (2, 0),
                    reason="DuckDB 1.5 takes the DISTINCT twice (docs/performance.md)")
def test_telegram_check_takes_its_distinct_once(settings):
    # COLLECT and ANSWER both read the distinct (cell, region) pairs of the
    # cells not written as E.164; DuckDB 2.0 computes that subquery once (one
    # hash aggregate in the plan, materialised and scanned twice), not once per
    # pass: a second DISTINCT over 1,000,000 rows would cost about 0.1-0.25 CPU s
    # more (docs/performance.md). The "+digits" rows are not materialised: they
    # stream, the table read once per pass, and once for the hash table.
    import json

    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    con.execute("CREATE TABLE t AS SELECT unnest($1) AS phone", [numbers(10, start=7000)])
    plan = json.loads(con.execute("EXPLAIN (FORMAT json) SELECT * FROM telegram_check('t', "
                                  "'phone')").fetchall()[0][1])

    def names(node):
        if isinstance(node, list):
            return [n for child in node for n in names(child)]
        return [node.get("name"), *names(node.get("children", []))]

    operators = names(plan)
    assert operators.count("HASH_GROUP_BY") == 1, operators
    assert operators.count("SEQ_SCAN") == 3, operators
    assert operators.count("UNION") == 2, operators  # not one materialised union


@pytest.mark.parametrize("region_column", [None, "country"])
def test_telegram_check_gives_each_distinct_cell_one_row_across_vectors(
        settings, sandbox, open_states, monkeypatch, region_column):
    # "+digits" cells repeated within and across vectors, on two threads: Python
    # answers each integer's first row only (QueryState.answer_first); other
    # cells repeated too: DuckDB's DISTINCT. With a region column every row is
    # a cell (DIGITS_OF reads none): all through the DISTINCT. Either way one
    # row per distinct (input, region), the answer of its number, one task.
    import random

    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    con.execute("SET threads = 2")
    states, = open_states
    coded = []  # first_codes' calls: none while a "+digits" cell has its own reading
    first_codes = streamed_check.QueryState.first_codes
    monkeypatch.setattr(streamed_check.QueryState, "first_codes",
                        lambda self, *a: coded.append(1) or first_codes(self, *a))
    phones = numbers(3 * VECTOR, start=20_000)
    local = ["0" + p[3:] for p in phones[:40]]  # the same numbers written locally
    # "+4179": "+" and digits, too short: read here, answered locally (its own entry
    # among the answers FIRST_CODE indexes).
    cells = phones * 3 + local * 2 + ["not a number", "+4179"] * 3 + [None] * 2
    random.Random(7).shuffle(cells)
    con.execute("CREATE TABLE t AS SELECT unnest($1) AS phone, 'CH' AS country", [cells])
    extra = f", region_column := '{region_column}'" if region_column else ""
    rows = con.execute("SELECT input, number, telegram, status FROM "
                       f"telegram_check('t', 'phone', region := 'CH'{extra})").fetchall()
    distinct_cells = {c for c in cells if c is not None}
    assert len(rows) == len(distinct_cells)
    assert {r[0] for r in rows} == distinct_cells
    for cell, number, telegram, status in rows:
        if cell in ("not a number", "+4179"):
            assert (number, telegram, status) == (None, None, "invalid")
        else:
            assert number == (cell if cell.startswith("+") else "+41" + cell[1:])
            assert telegram == sandbox.expected(number)
            assert status == ("ok" if telegram is not None else "unknown")  # left out
    assert sandbox.billed["create"] == 1
    assert len(states) == 0  # every row collected was answered: the state is dropped
    assert coded == []  # "+4179" is read here: the E.164 rows took FIRST's whole answers


def test_a_number_the_first_pass_did_not_see_fails_the_call_clearly():
    # A view that gives each pass other rows (a sample): a "+digits" integer not
    # collected would mark a collected neighbour as given (or run past the end
    # of the collected ones); the call fails, saying what to do.
    from tgcheck.errors import InputError

    state = object.__new__(streamed_check.QueryState)
    state._lock = threading.Lock()
    state.snapshot = None  # no memo: every integer collected in full
    state._integers = np.array([41790000001, 41790000003], np.int64)
    state._marks = np.full(2, streamed_check.COLLECTED, streamed_check.MARK_TYPE)
    assert state._first_rows(np.array([41790000001, -1, 41790000001, 41790000003],
                                       np.int64), None).tolist() == [True, True, False, True]
    for stray in (41790000000, 41790000002, 41790000009):
        with pytest.raises(InputError, match="CREATE TABLE"):
            state._first_rows(np.array([41790000001, stray], np.int64), None)
    # Nothing marked by a failed vector.
    assert (state._marks == streamed_check.SHOWN).tolist() == [True, True]


def test_a_number_of_the_memo_the_first_pass_did_not_see_fails_the_call_clearly():
    # The same with the memo answering: its integers are marked by their place
    # in it, and one whose place the first pass did not mark fails the call.
    from tgcheck.errors import InputError
    from tgcheck_duckdb.answer_memo import MemoSnapshot

    memo = [41790000001, 41790000003, 41790000005]
    state = object.__new__(streamed_check.QueryState)
    state._lock = threading.Lock()
    state.snapshot = MemoSnapshot(pa.StructArray.from_arrays(
        [pa.array([f"+{n}" for n in memo]), pa.array(["yes"] * 3), pa.array(["ok"] * 3),
         pa.nulls(3, pa.string())], names=["number", "value", "status", "reason"]))
    state._integers = np.array([41790000002], np.int64)  # collected, not in the memo
    state._marks = np.zeros(state.snapshot.places + 1, streamed_check.MARK_TYPE)
    state._marks[state.snapshot.look_up(np.array(memo[:2]))[1]] = streamed_check.COLLECTED
    state._marks[-1] = streamed_check.COLLECTED  # 41790000002, after the memo's places

    def first_rows(keys: list[int]) -> list[bool]:
        keys = np.array(keys, np.int64)  # with their places, as the callers look them up
        return state._first_rows(keys, state.snapshot.look_up(keys)[1]).tolist()

    assert first_rows([41790000003, 41790000002, -1, 41790000003, 41790000001, 41790000002]) \
        == [True, True, True, False, True, False]
    for stray in (41790000005, 41790000004):  # in the memo, unseen; in neither
        with pytest.raises(InputError, match="CREATE TABLE"):
            first_rows([41790000001, stray])
    assert first_rows([41790000001]) == [False]


def test_first_rows_are_each_numbers_first_across_vectors_longer_than_the_claims():
    # Each row claims its number's mark with its index (CLAIMS), the least
    # claim winning: a vector longer than CLAIMS is claimed in parts, and a
    # number repeated within a part, across parts and across vectors is shown
    # at its first row only, as a dict of first occurrences says.
    rng = np.random.default_rng(7)
    numbers = rng.integers(41790000000, 41790000000 + 30_000, 2 * 70_000)
    numbers[rng.random(len(numbers)) < 0.05] = -1  # rows without digits
    state = object.__new__(streamed_check.QueryState)
    state._lock = threading.Lock()
    state.snapshot = None
    state._integers = np.unique(numbers[numbers >= 0])
    state._marks = np.full(len(state._integers), streamed_check.COLLECTED,
                           streamed_check.MARK_TYPE)
    assert len(numbers) // 2 > len(streamed_check.CLAIMS)
    shown = np.concatenate([state._first_rows(part, None)
                            for part in np.split(numbers, 2)])
    first = {}
    for row, n in enumerate(numbers.tolist()):
        first.setdefault(n, row)
    expected = [n < 0 or first[n] == row for row, n in enumerate(numbers.tolist())]
    assert shown.tolist() == expected
    assert (state._marks == streamed_check.SHOWN).all()


def test_a_long_vector_with_a_number_not_collected_in_its_last_part_marks_nothing():
    # The check that every place was collected comes before any claim: a vector
    # claimed in parts (longer than CLAIMS) whose stray is in its last part
    # fails the call with every mark as it was.
    from tgcheck.errors import InputError

    state = object.__new__(streamed_check.QueryState)
    state._lock = threading.Lock()
    state.snapshot = None
    state._integers = np.arange(41790000000, 41790000000 + 50_000, dtype=np.int64)
    state._marks = np.full(len(state._integers), streamed_check.COLLECTED,
                           streamed_check.MARK_TYPE)
    state._marks[-1] = 0  # its number is in _integers, but no row of it was collected
    vector = state._integers.copy()
    assert len(vector) - 1 > len(streamed_check.CLAIMS)  # the stray in the second part
    with pytest.raises(InputError, match="CREATE TABLE"):
        state._first_rows(vector, None)
    assert (state._marks[:-1] == streamed_check.COLLECTED).all() and state._marks[-1] == 0


def test_first_rows_on_threads_show_each_number_once():
    # DuckDB's threads answer vectors at once: numbers of the memo and of the
    # call's own integers, repeated within and across vectors answered on
    # several threads, each shown at exactly one row, no claim left in a mark.
    from concurrent.futures import ThreadPoolExecutor

    from tgcheck_duckdb.answer_memo import MemoSnapshot

    rng = np.random.default_rng(11)
    memo = np.arange(41790000000, 41790000000 + 3_000, 2, dtype=np.int64)  # even: the memo's
    own = memo + 1  # odd: collected in full
    state = object.__new__(streamed_check.QueryState)
    state._lock = threading.Lock()
    state.snapshot = MemoSnapshot(pa.StructArray.from_arrays(
        [pa.array([f"+{n}" for n in memo.tolist()]), pa.array(["yes"] * len(memo)),
         pa.array(["ok"] * len(memo)), pa.nulls(len(memo), pa.string())],
        names=["number", "value", "status", "reason"]))
    state._integers = own
    state._marks = np.zeros(state.snapshot.places + len(own), streamed_check.MARK_TYPE)
    state._marks[state.snapshot.look_up(memo)[1]] = streamed_check.COLLECTED
    state._marks[state.snapshot.places:] = streamed_check.COLLECTED
    vectors = [rng.choice(np.concatenate([memo, own, [-1]]), 2048) for _ in range(60)]

    def first_rows(keys):
        return keys, state._first_rows(keys, state.snapshot.look_up(keys)[1])

    with ThreadPoolExecutor(4) as pool:
        answered = list(pool.map(first_rows, vectors))
    shown = np.concatenate([keys[rows & (keys >= 0)] for keys, rows in answered])
    assert sorted(shown.tolist()) == sorted(set(np.concatenate(vectors).tolist()) - {-1})
    assert (state._marks >= 0).all()


def test_telegram_check_of_a_sampling_view_says_to_store_the_rows_first(settings, sandbox):
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    con.execute("CREATE TABLE t AS SELECT unnest($1) AS phone",
                [numbers(4 * VECTOR, start=30_000)])
    con.execute("CREATE VIEW v AS SELECT * FROM t WHERE random() < 0.5")
    with pytest.raises(duckdb.Error, match="store the rows first"):
        con.execute("SELECT * FROM telegram_check('v', 'phone')").fetchall()


def test_a_query_keeps_at_most_max_per_query_states():
    # Calls of one query are not pushed out by one another, up to MAX_PER_QUERY:
    # past it the oldest goes, and its query fails naming the limits.
    from tgcheck.errors import InputError

    states = streamed_check.QueryStates(max_open=2, max_per_query=3)

    def opened(query):
        state = object.__new__(streamed_check.QueryState)
        return states.open(state, query)

    other = opened("earlier query")
    own = [opened("this query") for _ in range(5)]
    assert len(states) == 3
    with pytest.raises(InputError, match=r"more than 2 .* \(MAX_OPEN\), or 3 of its own "
                                         r"\(MAX_PER_QUERY\)"):
        states.get(pa.array([own[0]]))
    with pytest.raises(InputError):
        states.get(pa.array([other]))
    assert [states.get(pa.array([i])).id for i in own[2:]] == own[2:]
