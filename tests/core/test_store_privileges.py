"""A store that cannot keep answers is found before paying (issue 20, item 6).

A PostgreSQL role that may write jobs but not answers used to get one paid
create, then "permission denied", and every later run paid a status call and a
download and stored nothing, while `tgcheck doctor` said "ok". The privileges a
check needs are asked once per store open; a check without them stops before
any call to the provider (exit 2, naming each missing GRANT), and the doctor
reports them. Real PostgreSQL roles on the session's cluster (trust auth).
"""

from __future__ import annotations

import secrets

import psycopg
import pytest
from click.testing import CliRunner

import tgcheck
from conftest import numbers
from tgcheck.cli import cli
from tgcheck.doctor import doctor
from tgcheck.errors import StoreUnreachable
from tgcheck.store import open_store

SCHEMA = "tgcheck_sandbox"  # the sandbox's answers are simulated: their own schema


def _member(url: str, *grants: str) -> str:
    """A new role given only grants (written for `member`); its URL."""
    role = f"member_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        for grant in grants:
            conn.execute(grant.replace(" member", f" {role}"))
    return url.replace("postgres@", f"{role}@"), role


def _team_store(settings, postgres_url):
    """The team's schema made by its owner (postgres here): settings for it."""
    import dataclasses

    owner = dataclasses.replace(settings, store_url=postgres_url)
    open_store(owner).close()
    return owner


FULL = (f"GRANT USAGE ON SCHEMA {SCHEMA} TO member",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {SCHEMA} TO member",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO member")


def test_a_role_that_may_write_jobs_but_not_answers_pays_nothing(
        sandbox, settings, postgres_url, monkeypatch):
    import dataclasses

    _team_store(settings, postgres_url)
    url, role = _member(postgres_url, FULL[0], FULL[2],
                        f"GRANT SELECT, INSERT, UPDATE ON {SCHEMA}.jobs TO member",
                        f"GRANT SELECT ON {SCHEMA}.meta, {SCHEMA}.answers TO member")
    member = dataclasses.replace(settings, store_url=url)
    engine = tgcheck.Engine(member)
    with pytest.raises(StoreUnreachable) as e:
        engine.check(numbers(5))
    message = str(e.value)
    assert f"GRANT INSERT, UPDATE ON {SCHEMA}.answers TO {role};" in message
    assert "jobs" not in message.partition("Missing:")[2]  # only what is missing
    assert sum(sandbox.calls.values()) == 0  # nothing paid, nothing asked
    assert engine.store.jobs(states=None) == []  # not even a journal row
    engine.close()

    # Through the CLI: exit 2, a setting to fix.
    monkeypatch.setenv("TGCHECK_API_KEY", sandbox.api_key)
    monkeypatch.setenv("TGCHECK_BASE_URL", sandbox.url)
    monkeypatch.setenv("TGCHECK_STORE_URL", url)
    monkeypatch.setenv("TGCHECK_SANDBOX", "1")  # the sandbox's schema, as the engine's above
    done = CliRunner().invoke(cli, ["check", "-", "--progress", "none"],
                              input="\n".join(numbers(5)) + "\n")
    assert done.exit_code == 2, done.output
    assert f"GRANT INSERT, UPDATE ON {SCHEMA}.answers TO {role};" in done.stderr
    assert sum(sandbox.calls.values()) == 0


def test_the_doctor_names_the_missing_grants_and_exits_2(settings, postgres_url):
    _team_store(settings, postgres_url)
    url, role = _member(postgres_url, *FULL)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"REVOKE UPDATE ON {SCHEMA}.answers FROM {role}")
        conn.execute(f"REVOKE USAGE ON ALL SEQUENCES IN SCHEMA {SCHEMA} FROM {role}")
    report = doctor(url, sandbox=True)
    assert not report.healthy and report.error is not None
    text = str(report)
    assert "lacks grants a check needs" in text and "ok (PostgreSQL" not in text
    assert f"GRANT UPDATE ON {SCHEMA}.answers TO {role};" in text
    assert f"GRANT USAGE ON SEQUENCE {SCHEMA}.jobs_id_seq TO {role};" in text
    assert tgcheck.errors.exit_code(report.error) == 2

    done = CliRunner().invoke(cli, ["doctor", "--sandbox", "--store", url])
    assert done.exit_code == 2, done.output


def test_the_documented_grants_are_enough_and_the_doctor_says_so(settings, postgres_url):
    _team_store(settings, postgres_url)
    url, _ = _member(postgres_url, *FULL)
    store = open_store(url, schema=SCHEMA)
    assert store.missing_grants == []
    store.require_grants()
    store.close()
    report = doctor(url, sandbox=True)
    assert report.healthy
    assert "this role has every grant a check needs" in str(report)


def test_a_database_without_temporary_tables_is_named(settings, postgres_url):
    # Answers are stored through a temporary table (COPY): PUBLIC may have lost
    # TEMPORARY on a hardened server.
    _team_store(settings, postgres_url)
    url, role = _member(postgres_url, *FULL)
    database = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"REVOKE TEMPORARY ON DATABASE {database} FROM PUBLIC")
    store = open_store(url, schema=SCHEMA)
    assert store.missing_grants == [f"GRANT TEMPORARY ON DATABASE {database} TO {role};"]
    store.close()


def test_a_sqlite_store_needs_no_grants(settings):
    store = open_store(settings)
    assert store.missing_grants == []
    store.require_grants()
    store.close()


def test_resume_without_the_grants_stops_before_polling_with_exit_2(
        sandbox, settings, postgres_url, monkeypatch):
    import dataclasses

    owner = _team_store(settings, postgres_url)
    tgcheck.Engine(owner).check(numbers(3))  # the owner's job, done
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        # An open job left by a crash, for `resume` to finish.
        conn.execute(f"UPDATE {SCHEMA}.jobs SET state = 'open', owner = NULL")
    calls = sum(sandbox.calls.values())
    url, role = _member(postgres_url, FULL[0], FULL[2],
                        f"GRANT SELECT, INSERT, UPDATE ON {SCHEMA}.jobs TO member",
                        f"GRANT SELECT ON {SCHEMA}.meta, {SCHEMA}.answers TO member")
    engine = tgcheck.Engine(dataclasses.replace(settings, store_url=url))
    with pytest.raises(StoreUnreachable) as e:
        engine.resume()
    assert f"GRANT INSERT, UPDATE ON {SCHEMA}.answers TO {role};" in str(e.value)
    assert tgcheck.errors.exit_code(e.value) == 2
    assert sum(sandbox.calls.values()) == calls  # no status call, no download
    engine.close()
