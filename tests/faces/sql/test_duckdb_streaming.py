"""Issue 25 item 2 (DuckDB): the macros hand Python the column a vector at a time
(streamed_check.py), the engine checks its numbers once as compact keys, and
the answers, columns, reasons and rows are those of one check of the column.

Memory figures belong in benchmarks/bench_duckdb.py (--peak-rss), not here.
"""

from __future__ import annotations

import csv
import dataclasses
import threading

import duckdb
import pytest

import tgcheck
import tgcheck_duckdb
from conftest import interrupted_query, numbers
from paths import DATA
from tgcheck.engine.planning import Planning
from tgcheck.sandbox import Sandbox
from tgcheck_duckdb import streamed_check

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
        assert "interrupted" in str(outcome["error"]) and "rows" not in outcome
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
