"""Issue 25 item 2 (DuckDB): the UDF's list reaches Python a batch at a time and the
engine checks its numbers as compact keys (batched_check.py), with the same
answers, columns, reasons and rows as the whole list checked at once.

The batch is made small here so that a few hundred rows span several batches;
memory figures belong in benchmarks/bench_duckdb.py (--peak-rss), not here.
"""

from __future__ import annotations

import csv
import dataclasses
import threading

import duckdb
import pyarrow as pa
import pytest

import tgcheck
import tgcheck_duckdb
from conftest import interrupted_query, numbers
from paths import DATA
from tgcheck.compact_answers import CompactAnswers, NotCompact, as_array, as_strs
from tgcheck.engine.planning import Planning
from tgcheck.plugins import get_task_type
from tgcheck.sandbox import Sandbox
from tgcheck_duckdb import batched_check, registration
from tgcheck_duckdb.arrow_values import number_keys

CORPUS = DATA / "crm_mixed.csv"
BATCH = 50
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
    for module in (batched_check, registration):
        real_values = module.python_values

        def values(array, real=real_values):
            seen["values"].append(len(array))
            return real(array)

        monkeypatch.setattr(module, "python_values", values)
    check_compact, check_column = Planning.check_compact, tgcheck.Engine.check_column

    def compact(self, answers, request, lookup_size):
        seen["compact"].append(len(answers))
        return check_compact(self, answers, request, lookup_size)

    def column(self, values, **kwargs):
        seen["column"].append(len(values))
        return check_column(self, values, **kwargs)

    monkeypatch.setattr(Planning, "check_compact", compact)
    monkeypatch.setattr(tgcheck.Engine, "check_column", column)
    monkeypatch.setenv("TGCHECK_CHECK_CHUNK_ROWS", str(BATCH))
    return seen


def corpus(settings) -> duckdb.DuckDBPyConnection:
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    con.execute(f"CREATE TABLE crm AS FROM read_csv('{CORPUS}', all_varchar := true)")
    # Each row twice more, once as its E.164 number: repeats across batches.
    con.execute("INSERT INTO crm SELECT * FROM crm WHERE id::INTEGER % 3 = 0")
    con.execute("INSERT INTO crm SELECT * REPLACE (expected AS phone) FROM crm "
                "WHERE expected_reason = 'ok' AND id::INTEGER % 2 = 0")
    return con


def test_the_list_reaches_python_in_batches_and_the_engine_as_keys(
        backend_settings, sandbox, watched):
    con = corpus(backend_settings)
    cells = con.execute("SELECT count(DISTINCT (phone, country)) FROM crm "
                        "WHERE phone IS NOT NULL").fetchone()[0]
    assert cells > 10 * BATCH
    checked = con.execute(CHECK).fetchall()
    # No list of every cell: each batch's cells once (read and normalised); the
    # join reads pass 1's reading in Arrow (a clean batch: its own buffer).
    assert watched["values"] and max(watched["values"]) <= BATCH
    assert sum(watched["values"]) == cells
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


def test_batched_and_whole_list_answers_are_the_same(backend_settings, sandbox, watched,
                                                       monkeypatch):
    batched = corpus(backend_settings)
    got = batched.execute(CHECK).fetchall(), batched.execute(ENRICH).fetchall()
    shape = batched.sql(ENRICH).columns, batched.sql(ENRICH).types
    creates = sandbox.billed["create"]
    # The same table on a new connection (no memo), every list checked whole.
    monkeypatch.setattr(batched_check.BatchedColumn, "distinct_numbers", lambda self: None)
    whole = corpus(backend_settings)
    assert (whole.execute(CHECK).fetchall(), whole.execute(ENRICH).fetchall()) == got
    assert (whole.sql(ENRICH).columns, whole.sql(ENRICH).types) == shape
    assert watched["column"] and sandbox.billed["create"] == creates  # stored: no call
    # Rows in the table's order.
    ids = [r[0] for r in got[1]]
    assert ids == [r[0] for r in batched.execute("SELECT id FROM crm").fetchall()]


def test_batches_are_joined_by_code_without_answer_groups(settings, sandbox, watched,
                                                          monkeypatch):
    # A task type without fields: each batch's answers are read from the compact
    # answers by a binary search of its keys (CompactAnswers.codes_of), not
    # re-grouped as str and hashed per batch (a first query's CPU, issue 25 item 2).
    whole = corpus(settings)
    monkeypatch.setattr(batched_check.BatchedColumn, "distinct_numbers", lambda self: None)
    expected = whole.execute(CHECK).fetchall(), whole.execute(ENRICH).fetchall()
    monkeypatch.undo()
    monkeypatch.setenv("TGCHECK_CHECK_CHUNK_ROWS", str(BATCH))

    def no_groups(self, numbers):
        raise AssertionError("a batch's answers re-grouped")

    monkeypatch.setattr(CompactAnswers, "groups_for", no_groups)
    batched = corpus(settings)
    assert (batched.execute(CHECK).fetchall(), batched.execute(ENRICH).fetchall()) == expected


def test_a_column_in_e164_reaches_python_once(settings, sandbox, watched):
    # Pass 3 reads a clean batch's keys and numbers from its Arrow buffer: the
    # cells are made Python values once (pass 1's normalising), not twice.
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    phones = numbers(3 * BATCH + 7, start=1200)
    con.execute("CREATE TABLE t AS SELECT range AS id, $1[range % $2 + 1] AS phone "
                "FROM range(2 * $2)", [phones, len(phones)])
    rows = con.execute("SELECT id, phone, telegram FROM telegram_enrich('t', 'phone')"
                       ).fetchall()
    assert [r[0] for r in rows] == list(range(2 * len(phones)))
    assert all(telegram == sandbox.expected(phone) for _, phone, telegram in rows)
    # The UDF gets the distinct cells (the macros dedupe): each once.
    assert sum(watched["values"]) == len(phones) and max(watched["values"]) <= BATCH
    assert watched["compact"] == [len(phones)] and sandbox.billed["create"] == 1


def test_a_number_without_a_compact_key_checks_the_list_whole(settings, sandbox, watched,
                                                               monkeypatch):
    def no_key(numbers):
        raise NotCompact("a number that is not + and digits")

    monkeypatch.setattr(batched_check, "as_array", no_key)
    monkeypatch.setattr(batched_check, "number_keys", no_key)  # a clean batch's keys
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    phones = numbers(3 * BATCH, start=700)
    con.execute("CREATE TABLE t AS SELECT unnest($1) AS phone", [phones])
    got = dict(con.execute("SELECT phone, telegram FROM telegram_enrich('t', 'phone')"
                           ).fetchall())
    assert watched["column"] == [len(phones)] and watched["compact"] == []
    assert all(got[n] == sandbox.expected(n) for n in phones)
    assert sandbox.billed["create"] == 1


def test_fields_are_joined_in_every_batch(settings, sandbox, watched):
    con = tgcheck_duckdb.register(duckdb.connect(), settings, task_type="tg_active")
    phones = numbers(3 * BATCH + 7, start=900)
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
    assert watched["compact"] == [len(phones)] and max(watched["values"]) <= BATCH
    assert sandbox.billed["create"] == 1


# -- the answers in Arrow, without a copy of what DuckDB handed over ----------------

def _answered(inputs: list, region=None, size: int = 3) -> tuple[pa.Array, pa.StructArray]:
    """BatchedColumn's answers for inputs (batches of size), every number answered "yes"."""
    array = pa.array(inputs, pa.string())
    column = batched_check.BatchedColumn(array, None, region, size)
    answers = column.distinct_numbers()
    answers.record([("yes", "ok", as_strs(answers.numbers))])
    return array, column.answers(None, get_task_type("tg"), answers, ())


def test_a_column_in_e164_keeps_its_own_buffer_as_the_number():
    array, answers = _answered(numbers(8, start=1000) + numbers(2, start=1000))
    # The number member is the input itself (its offsets and characters), not a copy.
    assert [b.address for b in answers.field("number").buffers()[1:]] == [
        b.address for b in array.buffers()[1:]]
    assert answers.field("value").to_pylist() == ["yes"] * 10
    assert set(answers.field("status").to_pylist()) == {"ok"}


def test_a_column_with_other_cells_gets_its_numbers_made():
    phones = numbers(3, start=1100)
    array, answers = _answered([phones[0], "079 000 11 01", "junk", None, phones[1],
                                "+41 79 000 11 02"], region="CH")
    assert answers.field("number").to_pylist() == [
        phones[0], "+41790001101", None, None, phones[1], "+41790001102"]
    assert answers.field("status").to_pylist() == ["ok", "ok", "invalid", "blank", "ok", "ok"]
    assert answers.field("number").buffers()[2].address != array.buffers()[2].address


def test_a_list_of_one_batch_is_checked_whole(settings, sandbox, watched):
    # As small either way; the whole column costs less CPU (no second pass).
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    phones = numbers(BATCH, start=1200)
    con.execute("CREATE TABLE t AS SELECT unnest($1) AS phone", [phones])
    got = dict(con.execute("SELECT phone, telegram FROM telegram_enrich('t', 'phone')"
                           ).fetchall())
    assert watched["column"] == [BATCH] and watched["compact"] == []
    assert all(got[n] == sandbox.expected(n) for n in phones)


def test_a_numeric_column_in_batches_is_read_as_numbers(settings, sandbox, watched):
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    phones = numbers(2 * BATCH + 3, start=1300)
    con.execute("CREATE TABLE n AS SELECT CAST(substr(p, 2) AS BIGINT) AS big, "
                "CAST(substr(p, 2) AS DOUBLE) AS dbl FROM unnest($1) u(p)", [phones])
    by_big = con.execute("SELECT telegram FROM telegram_enrich('n', 'big')").fetchall()
    by_dbl = con.execute("SELECT telegram FROM telegram_enrich('n', 'dbl')").fetchall()
    assert by_big == by_dbl == [(sandbox.expected(p),) for p in phones]
    assert watched["compact"] == [len(phones)] * 2 and watched["column"] == []
    assert sandbox.billed["create"] == 1


def test_progress_and_interrupt_reach_the_batched_check(tmp_path, watched):
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
        phones = numbers(3 * BATCH, start=1400)
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


def test_number_keys_read_an_arrow_slice_as_as_array_reads_its_str():
    phones = ["+41791234567", "+1", "+123456789012345678", "+447911123456", "+41"]
    array = pa.array(["skipped", *phones, "+1234567890123456789"])
    # A slice (an offset into the buffers), as a batch of the UDF's list is.
    assert number_keys(array.slice(1, len(phones))).tolist() == as_array(phones).tolist()
    assert len(number_keys(array.slice(0, 0))) == 0
    for bad in (array.slice(1, len(phones) + 1), pa.array(["+41", None]), array.slice(0, 2)):
        with pytest.raises(NotCompact):
            number_keys(bad)
