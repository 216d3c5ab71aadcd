"""Issue 24 item 2: the store keeps all fields of an answer (schema v5, both
backends); an answer stored without them (an older row) is no answer to a task
type that declares fields. Store tests run on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import contextlib
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
    from old_stores import sqlite_store_at
    from tgcheck.store import migrations

    path = tmp_path / "v4.sqlite3"
    sqlite_store_at(path, 4)
    old = sqlite3.connect(path)
    old.execute("INSERT INTO answers VALUES ('tg_active', '+41790000001', '7', 'ok', ?, 'T0', "
                "'ekycpro')", (time.time(),))
    old.commit()
    old.close()
    store = open_store(str(path))
    assert store.schema_version() == migrations.CURRENT == 5
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
    from old_stores import postgres_store_at
    from tgcheck.store import migrations

    postgres_store_at(postgres_url, 4)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
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


# -- the engine and the sandbox: tg_active and tg_avatar end to end -----------------

def _expected_days(sandbox, number):
    value = sandbox.expected(number, "tg_active")
    return None if value in (None, "N/A") else int(value)


def test_a_tg_active_check_gives_typed_fields_and_a_rerun_costs_nothing(settings, sandbox):
    import tgcheck
    from conftest import numbers

    asked = numbers(40)
    with contextlib.closing(tgcheck.Engine(settings)) as engine:
        answers = engine.check(asked, task_type="tg_active")
    assert sandbox.creates == 1
    for a in answers:
        if a.status == "ok":
            assert a.value == sandbox.expected(a.number, "tg_active")
            assert a.fields == {"seen_within_days": _expected_days(sandbox, a.number)}
        else:
            assert a.fields is None
    assert {type(a.fields["seen_within_days"]) for a in answers if a.status == "ok"} == {
        int, type(None)}
    calls = dict(sandbox.calls)
    with contextlib.closing(tgcheck.Engine(settings)) as engine:
        again = engine.check(asked, task_type="tg_active")
    assert again == answers and dict(sandbox.calls) == calls  # 0 calls, same typed fields


def test_a_tg_avatar_check_gives_the_picture_s_url(settings, sandbox):
    import tgcheck
    from conftest import numbers

    asked = numbers(40)
    with contextlib.closing(tgcheck.Engine(settings)) as engine:
        answers = engine.check(asked, task_type="tg_avatar")
    urls = [a.fields["avatar_url"] for a in answers if a.status == "ok"]
    assert any(u and u.startswith("https://avatars.invalid/tg/") for u in urls)
    assert None in urls  # N/A: the headline says so, the URL field is empty
    assert all(a.value == sandbox.expected(a.number, "tg_avatar") for a in answers
               if a.status == "ok")


def test_a_tg_answer_or_an_old_tg_active_row_without_fields_is_never_taken(settings, sandbox):
    import tgcheck
    from conftest import numbers
    from store_helpers import store_answers

    asked = numbers(6)
    with contextlib.closing(tgcheck.Engine(settings)) as engine:
        store_answers(engine.store, "tg", [(n, "yes", "ok") for n in asked])
        # An ok tg_active row stored without fields, as before schema v5.
        store_answers(engine.store, "tg_active", [(n, "7", "ok") for n in asked[:3]])
        answers = engine.check(asked, task_type="tg_active")
    assert sandbox.creates == 1
    [task] = sandbox.tasks.values()
    assert task.task_type == "tg_active" and sorted(task.numbers) == sorted(asked)
    assert all(a.value == sandbox.expected(a.number, "tg_active") for a in answers
               if a.status == "ok")
    assert all(a.fields is not None for a in answers if a.status == "ok")


def test_a_copy_of_the_store_keeps_the_fields(store, tmp_path):
    from tgcheck.store import copy_store

    src = open_store(str(tmp_path / "src.sqlite3"))
    finish(src, "tg_active", [("+41790000001", "7", "ok")], "T1",
           fields={"+41790000001": {"seen_within_days": 7}})
    copy_store(src, store)
    src.close()
    assert store.fields_of("tg_active", ["+41790000001"]) == {
        "+41790000001": {"seen_within_days": 7}}
    # Copied with its fields: still the answer to tg_active, nothing to pay again.
    assert store.lookup("tg_active", ["+41790000001"], needs_fields=True, **FRESH)


def test_a_fast_path_answer_of_a_task_type_with_fields_is_not_paid_again(settings, sandbox):
    import dataclasses

    import tgcheck
    from conftest import numbers
    from tgcheck import plugins
    from tgcheck.fields import YES_NO, Field
    from tgcheck.models import TaskType

    class RichTg:  # `tg` as if ekycpro's answers carried a field
        @tgcheck.hookimpl(trylast=True)  # called last: its `tg` replaces the built-in one
        def tgcheck_register_task_types(self, register):
            register(TaskType("tg", "telegram", frozenset({"yes", "no"}), provider="ekycpro",
                              fields=(Field("premium", YES_NO),)))

    plugins.pm.register(RichTg(), "test-rich-tg")
    try:
        fast = dataclasses.replace(settings, sync_max=20, extra={"sync_url": sandbox.url})
        asked = numbers(10, start=800)
        with contextlib.closing(tgcheck.Engine(fast)) as engine:
            first = engine.check(asked)
            # Every ok answer, the synchronous ones too, is an answer with its fields
            # (all unknown): a later check (once the journal's recent set is past)
            # does not pay for it again.
            fresh = engine.store.lookup("tg", asked, needs_fields=True, **FRESH)
        assert set(fresh) == set(asked)
        assert plugins.get_task_type("tg").field_names == ("premium",)
        assert sandbox.calls.get("check"), "the fast path was not taken"
        calls = dict(sandbox.calls)
        # Another set (not the same journal entry): each answer comes from the store.
        with contextlib.closing(tgcheck.Engine(fast)) as engine:
            again = engine.check(asked[:7])
        assert dict(sandbox.calls) == calls  # 0 calls: no sync check, no task
        assert again == first[:7]
        assert all(a.fields == {"premium": None} for a in again if a.status == "ok")
    finally:
        plugins.pm.unregister(name="test-rich-tg")


def test_tgcheck_check_gives_answer_fields(sandbox_env):
    import tgcheck
    from conftest import numbers

    asked = numbers(8, start=880)
    answers = tgcheck.check(asked, task_type="tg_active")
    assert [a.fields for a in answers if a.status == "ok"] == [
        {"seen_within_days": _expected_days(sandbox_env, a.number)}
        for a in answers if a.status == "ok"]
