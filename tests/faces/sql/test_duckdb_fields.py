"""Issue 24 item 3 (DuckDB): a task type's fields as typed columns after its
answer, in telegram_enrich and telegram_check; a second query costs no call."""

from __future__ import annotations

import duckdb
import pytest

import tgcheck_duckdb
from conftest import numbers


@pytest.fixture
def con(settings):
    connection = tgcheck_duckdb.register(duckdb.connect(), settings, task_type="tg_active")
    yield connection
    connection.close()


def days(sandbox, number):
    value = sandbox.expected(number, "tg_active")
    return None if value in (None, "N/A") else int(value)


def test_enrich_adds_one_typed_column_per_field(con, sandbox):
    asked = numbers(30, start=300)
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES " + ", ".join(
        f"({i}, '{n}')" for i, n in enumerate(asked)) + ") v(id, phone)")
    con.execute("INSERT INTO t VALUES (99, 'junk')")
    rel = con.sql("SELECT * FROM telegram_enrich('t', 'phone')")
    assert rel.columns == ["id", "phone", "telegram_days", "seen_within_days"]
    assert [str(t) for t in rel.types][2:] == ["VARCHAR", "BIGINT"]
    got = {phone: (value, seen) for _, phone, value, seen in rel.fetchall()}
    assert got.pop("junk") == (None, None)
    for number in asked:
        assert got[number] == (sandbox.expected(number, "tg_active"), days(sandbox, number))
    assert sandbox.creates == 1
    # The same from telegram_check, from the store: no new call.
    calls = dict(sandbox.calls)
    rel = con.sql("SELECT * FROM telegram_check('t', 'phone')")
    assert rel.columns == ["input", "number", "telegram_days", "seen_within_days", "status",
                           "reason"]
    checked = {r[0]: r[3] for r in rel.fetchall()}
    assert all(checked[n] == days(sandbox, n) for n in asked)
    assert dict(sandbox.calls) == calls


def test_a_task_type_without_fields_keeps_its_columns(settings, sandbox):
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    rel = con.sql(f"SELECT * FROM telegram_check(['{numbers(1, start=350)[0]}'])")
    assert rel.columns == ["input", "number", "telegram", "status", "reason"]
    con.close()


def test_every_field_kind_reaches_duckdb_as_its_sql_type():
    import datetime

    import pyarrow as pa

    from tgcheck.answer_column import AnswerColumn
    from tgcheck.fields import DATETIME, INTEGER, TEXT, URL, YES_NO, Field
    from tgcheck_duckdb.arrow_values import ARROW_TYPES, FIELD_PREFIX
    from tgcheck_duckdb.macros import check_type

    declared = (Field("seen", DATETIME), Field("business", YES_NO), Field("days", INTEGER),
                Field("name", TEXT), Field("avatar", URL))
    moment = datetime.datetime(2026, 11, 29, 10, tzinfo=datetime.UTC)
    fields = {"+41790000001": {"seen": moment, "business": True, "days": 7, "name": "A",
                               "avatar": "https://x.invalid/a.jpg"}}
    asked = ["+41790000001", "+41790000002"]
    answers = AnswerColumn(asked, asked, [("7", "ok", asked)], fields).to_arrow(
        declared, ARROW_TYPES, FIELD_PREFIX)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("answered", pa.table({"answers": answers}))
    member = check_type(declared).removesuffix("[]")
    row = con.sql(f"SELECT CAST(answers AS {member}) AS a FROM answered").fetchall()
    assert row[0][0] == {"number": "+41790000001", "value": "7", "status": "ok",
                         "reason": None, "field_seen": moment, "field_business": True,
                         "field_days": 7, "field_name": "A",
                         "field_avatar": "https://x.invalid/a.jpg"}
    assert set(row[1][0].values()) == {"+41790000002", "7", "ok", None}


# -- task_type := per query (issue 24 item 3's exact form) ----------------------

@pytest.fixture
def con_tg(settings):
    """Registered with the default task type (tg): task_type := picks another."""
    connection = tgcheck_duckdb.register(duckdb.connect(), settings)
    yield connection
    connection.close()


def test_task_type_argument_adds_the_chosen_type_s_typed_columns(con_tg, sandbox):
    asked = numbers(20, start=400)
    con_tg.execute("CREATE TABLE t AS SELECT * FROM (VALUES " + ", ".join(
        f"({i}, '{n}')" for i, n in enumerate(asked)) + ") v(id, phone)")
    rel = con_tg.sql("SELECT * FROM telegram_enrich('t', 'phone', task_type := 'tg_active')")
    assert rel.columns == ["id", "phone", "telegram_days", "seen_within_days"]
    assert [str(t) for t in rel.types][2:] == ["VARCHAR", "BIGINT"]
    got = {phone: (value, seen) for _, phone, value, seen in rel.fetchall()}
    assert got == {n: (sandbox.expected(n, "tg_active"), days(sandbox, n)) for n in asked}
    assert sandbox.creates == 1
    calls = dict(sandbox.calls)
    # telegram_check the same, qualified or bare, from the store: no call.
    for name in ("tg_active", "ekycpro:tg_active"):
        rel = con_tg.sql(f"SELECT * FROM telegram_check('t', 'phone', task_type := '{name}')")
        assert rel.columns == ["input", "number", "telegram_days", "seen_within_days",
                               "status", "reason"]
        assert {r[0]: r[3] for r in rel.fetchall()} == {n: days(sandbox, n) for n in asked}
    assert dict(sandbox.calls) == calls
    # Without task_type :=, the registered type's columns, exactly as before; the
    # tg_active answers stored are no tg answers: one new task.
    rel = con_tg.sql("SELECT * FROM telegram_enrich('t', 'phone')")
    assert rel.columns == ["id", "phone", "telegram"]
    assert {r[1]: r[2] for r in rel.fetchall()} == {n: sandbox.expected(n) for n in asked}
    assert sandbox.creates == 2
    rel = con_tg.sql("SELECT * FROM telegram_check('t', 'phone', region := 'CH')")
    assert rel.columns == ["input", "number", "telegram", "status", "reason"]
    rel = con_tg.sql("SELECT * FROM telegram_check('t', 'phone', region_column := 'id', "
                     "task_type := 'tg_active')")
    assert rel.columns == ["input", "region", "number", "telegram_days", "seen_within_days",
                           "status", "reason"]


def test_task_type_argument_overrides_the_registered_one(con, sandbox):
    number = numbers(1, start=450)[0]
    rel = con.sql(f"SELECT * FROM telegram_check(['{number}'])")
    assert rel.columns == ["input", "number", "telegram_days", "seen_within_days", "status",
                           "reason"]
    con.execute(f"CREATE TABLE t AS SELECT '{number}' AS phone")
    rel = con.sql("SELECT * FROM telegram_enrich('t', 'phone', task_type := 'tg')")
    assert rel.columns == ["phone", "telegram"]
    assert rel.fetchall() == [(number, sandbox.expected(number))]


def test_an_unknown_task_type_argument_fails_before_any_call(con_tg, sandbox):
    con_tg.execute(f"CREATE TABLE t AS SELECT '{numbers(1, start=460)[0]}' AS phone")
    with pytest.raises(duckdb.Error, match="unknown task type 'tg_nope'; known: .*tg_active"):
        con_tg.sql("SELECT * FROM telegram_enrich('t', 'phone', task_type := 'tg_nope')"
                   ).fetchall()
    assert sandbox.calls == {}
