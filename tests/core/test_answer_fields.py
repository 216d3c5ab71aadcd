"""Issue 24 item 2: the store keeps all fields of an answer (schema v5, both
backends); an answer stored without them (an older row) is no answer to a task
type that declares fields. Store tests run on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import datetime
import sqlite3
import time

import pytest

from tgcheck.fields import fields_json, typed
from tgcheck.store import open_store

FRESH = {"max_age_days": 30, "unknown_retry_hours": 24}
UTC = datetime.UTC


@pytest.fixture
def store(store_target):
    s = open_store(store_target)
    yield s
    s.close()


def finish(store, task_type, rows, task_id, fields=None):
    role, job = store.claim(f"k-{task_id}", "ekycpro:s", task_type,
                            [n for n, _, _ in rows], since=time.time() + 1)
    assert role == "drive"
    store.update_job(job.id, state="open", task_id=task_id)
    store.finish_job(store.job(job.id), task_type, rows, fields=fields)


def test_a_finished_job_keeps_each_ok_answer_s_fields(store):
    seen = datetime.datetime(2026, 11, 29, 10, tzinfo=UTC)
    finish(store, "ws_active", [("+41790000001", "7", "ok"), ("+41790000002", None, "unknown")],
           "T1", fields={"+41790000001": {"activedays": 7, "activetime": seen,
                                          "business": True}})
    stored = store.fields_of("ws_active", ["+41790000001", "+41790000002"])
    assert stored == {"+41790000001": {"activedays": 7, "activetime": "2026-11-29T10:00:00+00:00",
                                       "business": True}}
    from tgcheck.fields import DATETIME, INTEGER, YES_NO, Field

    declared = (Field("activetime", DATETIME), Field("activedays", INTEGER),
                Field("business", YES_NO))
    assert typed(declared, stored["+41790000001"]) == {
        "activetime": seen, "activedays": 7, "business": True}
    # Needed and present: a fresh answer.
    assert store.lookup("ws_active", ["+41790000001"], needs_fields=True, **FRESH)


def test_an_answer_without_fields_is_no_answer_to_a_task_type_that_needs_them(store):
    finish(store, "tg_active", [("+41790000001", "7", "ok"), ("+41790000002", None, "unknown")],
           "T1")  # stored without fields, as before schema v5
    asked = ["+41790000001", "+41790000002"]
    assert set(store.lookup("tg_active", asked, **FRESH)) == set(asked)
    # The ok without fields is asked again; an unknown needs no fields to be one.
    assert set(store.lookup("tg_active", asked, needs_fields=True, **FRESH)) == {"+41790000002"}
    assert [g[2] for g in store.lookup_groups("tg_active", asked, needs_fields=True,
                                              **FRESH)] == [["+41790000002"]]


def test_a_later_unknown_keeps_the_stored_ok_and_its_fields(store):
    finish(store, "tg_active", [("+41790000001", "7", "ok")], "T1",
           fields={"+41790000001": {"seen_within_days": 7}})
    finish(store, "tg_active", [("+41790000001", None, "unknown")], "T2", fields={})
    assert store.fields_of("tg_active", ["+41790000001"]) == {
        "+41790000001": {"seen_within_days": 7}}
    assert store.lookup("tg_active", ["+41790000001"], needs_fields=True, **FRESH) == {
        "+41790000001": ("7", "ok")}


def test_fields_json_writes_times_as_iso_text():
    assert fields_json({"b": None, "a": datetime.datetime(2026, 1, 2, tzinfo=UTC)}) == (
        '{"a":"2026-01-02T00:00:00+00:00","b":null}')


def test_a_version_4_sqlite_store_gains_the_fields_column(tmp_path):
    from tgcheck.store.sqlite import SCHEMA, SCHEMA_VERSION

    path = tmp_path / "v4.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(SCHEMA)
    old.execute("ALTER TABLE answers ADD COLUMN provider TEXT")  # version 4's answers
    old.execute("INSERT INTO answers VALUES ('tg_active', '+41790000001', '7', 'ok', ?, 'T0', "
                "'ekycpro')", (time.time(),))
    old.execute("PRAGMA user_version = 4")
    old.commit()
    old.close()
    store = open_store(str(path))
    assert store.schema_version() == SCHEMA_VERSION == 5
    # The old row stays, is reused where no fields are needed, and is asked again
    # where they are.
    assert store.lookup("tg_active", ["+41790000001"], **FRESH)
    assert not store.lookup("tg_active", ["+41790000001"], needs_fields=True, **FRESH)
    finish(store, "tg_active", [("+41790000001", "30", "ok")], "T1",
           fields={"+41790000001": {"seen_within_days": 30}})
    assert store.fields_of("tg_active", ["+41790000001"]) == {
        "+41790000001": {"seen_within_days": 30}}
    store.close()


def test_a_version_4_postgresql_schema_gains_the_fields_column(postgres_url):
    psycopg = pytest.importorskip("psycopg")
    from tgcheck.store import migrations

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA tgcheck")
        live = "('new', 'submitting', 'open', 'stalled', 'uncertain')"
        for step in migrations.STEPS[:4]:
            conn.execute(step.format(schema="tgcheck", live=live))
        conn.execute("INSERT INTO tgcheck.meta VALUES ('schema_version', '4')")
        conn.execute("INSERT INTO tgcheck.answers VALUES ('tg_active', '+41790000001', '7', "
                     "'ok', %s, 'T0', 'ekycpro')", (time.time(),))
    store = open_store(postgres_url)
    assert store.schema_version() == migrations.CURRENT == 5
    assert store.lookup("tg_active", ["+41790000001"], **FRESH)
    assert not store.lookup("tg_active", ["+41790000001"], needs_fields=True, **FRESH)
    finish(store, "tg_active", [("+41790000001", "30", "ok")], "T1",
           fields={"+41790000001": {"seen_within_days": 30}})
    assert store.lookup("tg_active", ["+41790000001"], needs_fields=True, **FRESH) == {
        "+41790000001": ("30", "ok")}
    assert store.fields_of("tg_active", ["+41790000001"]) == {
        "+41790000001": {"seen_within_days": 30}}
    store.close()
