"""Answers know where they came from (issue 21 item 5): each stored answer
records its provider, its task id and when it was checked; any provider's answer
is reused by default, only the selected provider's with TGCHECK_SAME_PROVIDER_ONLY.
Store tests run on both backends (a SQLite file, PostgreSQL)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time

import pytest

import tgcheck
from conftest import numbers
from store_helpers import store_answers
from tgcheck.errors import ConfigError
from tgcheck.store import StoredAnswer, copy_store, open_store

FRESH = {"max_age_days": 30, "unknown_retry_hours": 24}


@pytest.fixture
def store(store_target):
    s = open_store(store_target)
    yield s
    s.close()


def finish(store, provider_identity, rows, task_id, **kwargs):
    role, job = store.claim(f"k-{task_id}", provider_identity, "tg",
                            [n for n, _, _ in rows], since=time.time() + 1)
    assert role == "drive"
    store.update_job(job.id, state="open", task_id=task_id)
    store.finish_job(store.job(job.id), "tg", rows, **kwargs)


def test_a_finished_job_s_answers_record_provider_task_and_time(store):
    before = time.time()
    finish(store, "ekycpro:https://api.example", [("+41790000001", "yes", "ok"),
                                                  ("+41790000002", None, "unknown")], "T1")
    finish(store, "other:https://x.example", [("+41790000003", "no", "ok")], "T2",
           provider="other-vendor")
    got = {a.number: a for a in store.iter_answers()}
    assert {n: (a.provider, a.task_id) for n, a in got.items()} == {
        "+41790000001": ("ekycpro", "T1"), "+41790000002": ("ekycpro", "T1"),
        "+41790000003": ("other-vendor", "T2")}
    assert all(before - 1 <= a.checked_at <= time.time() + 1 for a in got.values())


def test_any_provider_s_answer_is_reused_unless_limited_to_one(store):
    finish(store, "ekycpro:s", [("+41790000001", "yes", "ok")], "T1")
    finish(store, "other:s", [("+41790000002", "no", "ok")], "T2")
    asked = ["+41790000001", "+41790000002"]
    assert set(store.lookup("tg", asked, **FRESH)) == set(asked)
    assert set(store.lookup("tg", asked, provider="ekycpro", **FRESH)) == {"+41790000001"}
    groups = store.lookup_groups("tg", asked, provider="other", **FRESH)
    assert [g[2] for g in groups] == [["+41790000002"]]


def test_a_copy_keeps_where_answers_came_from(store, tmp_path):
    src = open_store(str(tmp_path / "src.sqlite3"))
    finish(src, "ekycpro:s", [("+41790000001", "yes", "ok")], "T1")
    src.import_answers([StoredAnswer("tg", "+41790000009", "no", "ok", time.time(), "T0")])
    copy_store(src, store)
    src.close()
    assert [(a.number, a.provider, a.task_id) for a in store.iter_answers()] == [
        ("+41790000001", "ekycpro", "T1"), ("+41790000009", None, "T0")]


def test_a_version_3_sqlite_store_gains_the_provider_column(tmp_path):
    from old_stores import sqlite_store_at
    from tgcheck.store import migrations

    path = tmp_path / "v3.sqlite3"
    sqlite_store_at(path, 3)  # the answers table without `provider`
    old = sqlite3.connect(path)
    old.execute("INSERT INTO answers VALUES ('tg', '+41790000001', 'yes', 'ok', ?, 'T0')",
                (time.time(),))
    old.commit()
    old.close()
    store = open_store(str(path))
    assert store.schema_version() == migrations.CURRENT == 5
    [answer] = store.iter_answers()
    assert (answer.value, answer.task_id, answer.provider) == ("yes", "T0", None)
    # Of unknown origin: reused by default, not under a one-provider limit.
    assert store.lookup("tg", ["+41790000001"], **FRESH)
    assert not store.lookup("tg", ["+41790000001"], provider="ekycpro", **FRESH)
    store.close()


def test_the_engine_reuses_another_provider_s_answers_only_by_default(settings, sandbox):
    asked = numbers(3)
    engine = tgcheck.Engine(settings)
    # Stored by a provider called "test" (store_helpers), not the sandbox's ekycpro.
    store_answers(engine.store, "tg", [(n, "yes", "ok") for n in asked])
    assert [a.value for a in engine.check(asked)] == ["yes"] * 3
    assert sandbox.creates == 0
    engine.close()
    limited = tgcheck.Engine(dataclasses.replace(settings, same_provider_only=True))
    answers = limited.check(asked)
    assert sandbox.creates == 1  # asked ekycpro itself
    assert [a.value for a in answers] == [sandbox.expected(n) for n in asked]
    answered = [n for n in asked if sandbox.expected(n) is not None]
    assert answered  # (a number the file leaves out keeps its stored "ok", and its origin)
    origin = {a.number: a.provider for a in limited.store.iter_answers()}
    assert {origin[n] for n in answered} == {"ekycpro"}
    limited.close()


def test_the_setting_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("TGCHECK_SAME_PROVIDER_ONLY", "1")
    assert tgcheck.Settings.from_env(api_key="k").same_provider_only is True
    monkeypatch.setenv("TGCHECK_SAME_PROVIDER_ONLY", "maybe")
    with pytest.raises(ConfigError, match="TGCHECK_SAME_PROVIDER_ONLY must be 1 or 0"):
        tgcheck.Settings.from_env(api_key="k")


def test_a_version_3_postgresql_schema_gains_the_provider_column(postgres_url):
    psycopg = pytest.importorskip("psycopg")
    from old_stores import postgres_store_at
    from tgcheck.store import migrations

    postgres_store_at(postgres_url, 3)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO tgcheck.answers VALUES ('tg', '+41790000001', 'yes', 'ok', "
                     "%s, 'T0')", (time.time(),))
    store = open_store(postgres_url)
    assert store.schema_version() == migrations.CURRENT == 5
    [answer] = store.iter_answers()
    assert (answer.value, answer.task_id, answer.provider) == ("yes", "T0", None)
    assert store.lookup("tg", ["+41790000001"], **FRESH)
    assert not store.lookup("tg", ["+41790000001"], provider="ekycpro", **FRESH)
    finish(store, "ekycpro:s", [("+41790000001", "no", "ok")], "T1")
    [answer] = store.iter_answers()
    assert (answer.value, answer.task_id, answer.provider) == ("no", "T1", "ekycpro")
    store.close()


def test_origins_finds_each_number_s_answer_whatever_its_age(store):
    finish(store, "ekycpro:s", [("+41790000001", "yes", "ok")], "T1")
    store.import_answers([StoredAnswer("tg", "+41790000002", "no", "ok", 1.0, "T0")])
    asked = [f"+4179{i:07d}" for i in range(1200)]  # more than one query's worth
    found = store.origins("tg", asked)
    assert sorted(found) == ["+41790000001", "+41790000002"]
    assert (found["+41790000001"].provider, found["+41790000001"].task_id) == ("ekycpro", "T1")
    assert found["+41790000002"][4:7] == (1.0, "T0", None)
    assert store.origins("ws", asked) == {}


def test_a_job_s_answers_may_each_keep_their_own_id(store):
    """finish_job(task_ids=): a synchronous check's answers each keep the vendor's
    transaction id, not the job's (which has none)."""
    finish(store, "ekycpro:s", [("+41790000001", "yes", "ok"), ("+41790000002", "no", "ok")],
           None, task_ids={"+41790000001": "chk_1"})
    got = {a.number: a.task_id for a in store.iter_answers()}
    assert got == {"+41790000001": "chk_1", "+41790000002": None}


def test_fast_path_answers_keep_the_check_s_id_in_cache_export(settings, sandbox, monkeypatch):
    """An answer of the synchronous /v1/check records its transaction id (data.id,
    "chk_..."), shown by `tgcheck cache export` as a task's answers show the task's."""
    from click.testing import CliRunner

    from tgcheck.cli import cli

    fast = dataclasses.replace(settings, sync_max=20, extra={"sync_url": sandbox.url})
    asked = numbers(8, start=6000)
    hits = [n for n in asked if sandbox.cached(n) == "hit"]
    assert hits and len(hits) < len(asked)  # some hits, some go to the task
    engine = tgcheck.Engine(fast)
    try:
        engine.check(asked)
        stored = {a.number: a for a in engine.store.iter_answers()}
    finally:
        engine.close()
    ids = {stored[n].task_id for n in hits}
    assert all(i and i.startswith("chk_") for i in ids) and len(ids) == len(hits)
    task_ids = {stored[n].task_id for n in asked if n not in hits and n in stored}
    assert task_ids and not any(i.startswith("chk_") for i in task_ids)  # the task's id
    monkeypatch.setenv("TGCHECK_SANDBOX", "1")
    out = CliRunner().invoke(cli, ["cache", "export", "-f", "json"])
    assert out.exit_code == 0, out.output
    exported = {row["number"]: row for row in map(json.loads, out.stdout.splitlines())}
    assert {exported[n]["task_id"] for n in hits} == ids
    assert {exported[n]["provider"] for n in hits} == {"ekycpro"}


@pytest.mark.parametrize("given", ["chk 1", "x" * 201, "\x1b[2J", None, 7])
def test_an_implausible_check_id_is_dropped_the_answer_kept(given):
    from tgcheck.billing import Billing
    from tgcheck.fast_path import _Asking
    from tgcheck.models import TaskType
    from tgcheck.provider import SyncReply

    asking = _Asking(None, TaskType("tg", "telegram"), None, Billing(),
                     on_billed=lambda: None)
    asking._take("+41790000001", SyncReply(value="yes", billed=True, id=given))
    assert asking.answered == {"+41790000001": "yes"} and asking.ids == {}
