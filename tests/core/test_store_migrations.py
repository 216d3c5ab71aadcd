"""One migration list for both backends (tgcheck.store.migrations): a store of
every older version, as that version left it on disk (tests/old_stores.py, the
DDL of then), is brought forward to the current one, on a SQLite file and on a
real PostgreSQL server; a new store's schema is the one version 5 always made
(tests/data/store_schema_v5.json, recorded before the migration list was one);
a store made by a newer tgcheck is refused, on both."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from old_stores import postgres_store_at, sqlite_store_at
from paths import DATA
from tgcheck.errors import StoreError
from tgcheck.store import Store, StoredAnswer, migrations, open_store

EXPECTED = json.loads((DATA / "store_schema_v5.json").read_text())
FRESH = dict(max_age_days=30, unknown_retry_hours=24)


def _normal(sql: str | None) -> str | None:
    return " ".join(sql.split()) if sql else sql


def sqlite_schema(path) -> dict:
    """A SQLite store's schema as tests/data/store_schema_v5.json holds it."""
    db = sqlite3.connect(path)
    try:
        return {
            "user_version": db.execute("PRAGMA user_version").fetchone()[0],
            "objects": sorted([kind, name, table, _normal(sql)] for kind, name, table, sql in
                              db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")),
            "columns": {t: [list(r) for r in db.execute(f"PRAGMA table_info('{t}')")]
                        for t in ("answers", "jobs")},
        }
    finally:
        db.close()


def postgres_schema(url: str, schema: str = "tgcheck") -> dict:
    """A PostgreSQL store's schema, from the catalog, as the JSON file holds it."""
    import psycopg

    def rows(sql):
        return [list(r) for r in conn.execute(sql, (schema,)).fetchall()]

    with psycopg.connect(url) as conn:
        return {
            "columns": rows(
                "SELECT table_name, column_name, ordinal_position, data_type, collation_name, "
                "is_nullable, column_default, is_identity, identity_generation "
                "FROM information_schema.columns WHERE table_schema = %s ORDER BY 1, 3"),
            "indexes": rows("SELECT tablename, indexname, indexdef FROM pg_indexes "
                            "WHERE schemaname = %s ORDER BY 1, 2"),
            "triggers": rows(
                "SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = %s AND NOT t.tgisinternal "
                "ORDER BY 1"),
            "functions": rows(
                "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n "
                "ON n.oid = p.pronamespace WHERE n.nspname = %s ORDER BY 1"),
            "meta": rows(f"SELECT key, value FROM {schema}.meta "
                         "WHERE %s::text IS NOT NULL ORDER BY 1"),
        }


def test_the_list_runs_in_order_and_shares_the_text_where_the_dialects_agree():
    assert [s.version for s in migrations.STEPS] == list(range(1, migrations.CURRENT + 1))
    assert migrations.CURRENT == 5
    shared = [s for step in migrations.STEPS for s in step.statements if isinstance(s, str)]
    assert len(shared) >= 6  # indexes and added columns: written once for both
    for step in migrations.STEPS[1:]:
        assert step.sql("sqlite") and step.sql("postgresql")


def test_a_new_sqlite_store_has_the_schema_version_5_always_had(tmp_path):
    Store(tmp_path / "s.sqlite3").close()
    assert sqlite_schema(tmp_path / "s.sqlite3") == EXPECTED["sqlite"]


def test_a_new_postgresql_store_has_the_schema_version_5_always_had(postgres_url):
    open_store(postgres_url).close()
    assert postgres_schema(postgres_url) == EXPECTED["postgresql"]


@pytest.mark.parametrize("version", [0, 1, 2, 3, 4])
def test_an_older_sqlite_store_is_brought_forward(tmp_path, version):
    path = tmp_path / f"v{version}.sqlite3"
    sqlite_store_at(path, version)
    db = sqlite3.connect(path)
    db.execute("INSERT INTO jobs (key, provider, task_type, count, numbers, state, task_id, "
               "status_calls, created_at, updated_at) "
               "VALUES ('k', 'p', 'tg', 0, x'', 'open', 'T', 7, 1, 1)")
    db.execute("INSERT INTO answers (task_type, number, value, status, checked_at, task_id) "
               "VALUES ('tg', '+41790000001', 'yes', 'ok', ?, 'T0')", (time.time(),))
    db.commit()
    db.close()
    store = open_store(str(path))
    assert store.schema_version() == migrations.CURRENT
    _kept_and_usable(store)
    store.close()
    found = sqlite_schema(path)
    # The same columns and indexes as a new store's (a file from before versions
    # keeps its own CREATE TABLE text, with the columns added at its end).
    assert found["columns"] == EXPECTED["sqlite"]["columns"]
    assert found["user_version"] == migrations.CURRENT
    indexes = [o for o in found["objects"] if o[0] == "index"]
    assert indexes == [o for o in EXPECTED["sqlite"]["objects"] if o[0] == "index"]
    if version:
        assert found == EXPECTED["sqlite"]  # byte for byte, as a new store
    Store(path).close()  # opening again changes nothing
    assert sqlite_schema(path) == found


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_an_older_postgresql_store_is_brought_forward(postgres_url, version):
    import psycopg

    postgres_store_at(postgres_url, version)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO tgcheck.jobs (key, provider, task_type, count, numbers, state, "
                     "task_id, status_calls, created_at, updated_at) "
                     "VALUES ('k', 'p', 'tg', 0, '', 'open', 'T', 7, 1, 1)")
        conn.execute("INSERT INTO tgcheck.answers (task_type, number, value, status, "
                     "checked_at, task_id) VALUES ('tg', '+41790000001', 'yes', 'ok', %s, 'T0')",
                     (time.time(),))
    store = open_store(postgres_url)
    assert store.schema_version() == migrations.CURRENT
    assert store.check() == "ok"
    _kept_and_usable(store)
    store.close()
    assert postgres_schema(postgres_url) == EXPECTED["postgresql"]


def _kept_and_usable(store) -> None:
    """The rows an older version stored, read and used by today's store."""
    job = store.job_by_key("k")
    assert (job.state, job.task_id, job.status_calls, job.budget_used) == ("open", "T", 7, 7)
    assert job.account is None  # unknown: made before jobs carried it
    [answer] = store.iter_answers()
    assert (answer.value, answer.task_id, answer.provider, answer.fields) == (
        "yes", "T0", None, None)
    assert store.lookup("tg", ["+41790000001"], **FRESH) == {"+41790000001": ("yes", "ok")}
    # The live-set index holds with today's states: a claim of the set takes the
    # job over where it stood (no second row), and a stalled job still holds it.
    role, taken = store.claim("k", "p", "tg", [])
    assert (role, taken.id) == ("drive", job.id)
    store.update_job(job.id, state="stalled")
    assert store.claim("k", "p", "tg", [])[0] == "stalled"
    store.import_answers([StoredAnswer("tg", "+41790000002", "no", "ok", time.time(), "T1",
                                       "p", '{"x": 1}')])
    assert store.fields_of("tg", ["+41790000002"]) == {"+41790000002": {"x": 1}}


def test_a_sqlite_store_made_by_a_newer_tgcheck_is_refused(tmp_path):
    path = tmp_path / "newer.sqlite3"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {migrations.CURRENT + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="made by a newer tgcheck.*upgrade tgcheck"):
        Store(path)
    assert sqlite_schema(path)["user_version"] == migrations.CURRENT + 1  # left as it is


def test_a_postgresql_store_made_by_a_newer_tgcheck_is_refused(postgres_url):
    import psycopg

    open_store(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE tgcheck.meta SET value = %s WHERE key = 'schema_version'",
                     (str(migrations.CURRENT + 1),))
    with pytest.raises(StoreError, match="made by a newer tgcheck.*upgrade tgcheck"):
        open_store(postgres_url)
