"""The CLI on a shared PostgreSQL store (TGCHECK_STORE_URL): `config` and `doctor`
know both backends, `store migrate` moves a local store over, a database that
cannot be used stops every command before any paid call, and the database's
password never shows (neither from the URL nor from PGPASSWORD)."""

from __future__ import annotations

import logging
import os
import sqlite3

import pytest
from click.testing import CliRunner

import tgcheck
from conftest import numbers
from team_db import password_login, skip_without_postgres, with_user
from tgcheck.cli import cli

pytestmark = skip_without_postgres


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def write_numbers(tmp_path, values, name="in.txt"):
    path = tmp_path / name
    path.write_text("\n".join(values) + "\n")
    return str(path)


def stored_answers(url: str, schema: str = "tgcheck_sandbox") -> int:
    """Answers in the shared store (the sandbox's schema: these tests check simulated numbers)."""
    from tgcheck.store import open_store

    store = open_store(url, schema=schema)
    try:
        return store.count_answers()
    finally:
        store.close()


# -- config and doctor ------------------------------------------------------------
def test_config_names_the_local_store_when_no_url_is_set(tmp_path):
    done = run("config")
    assert done.exit_code == 0, done.output
    assert "SQLite" in done.output
    assert str(tmp_path / "home" / "tgcheck.sqlite3") in done.output


def test_config_names_the_shared_store_with_its_password_masked(monkeypatch):
    monkeypatch.setenv("TGCHECK_STORE_URL", "postgresql://alice:hunter2-secret@db.example/tg")
    done = run("config")
    assert done.exit_code == 0, done.output
    assert "postgresql://alice:***@db.example/tg" in done.output
    assert "PostgreSQL" in done.output
    assert "hunter2-secret" not in done.output
    assert "database password: in TGCHECK_STORE_URL" in done.output


def test_config_says_where_the_database_password_comes_from(monkeypatch, tmp_path):
    monkeypatch.setenv("TGCHECK_STORE_URL", "postgresql://alice@db.example/tg")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert "database password: none given" in run("config").output
    (tmp_path / ".pgpass").write_text("db.example:*:tg:alice:pgpass-secret-1\n")
    assert f"database password: password file {tmp_path / '.pgpass'}" in run("config").output
    monkeypatch.setenv("PGPASSWORD", "env-secret-22")
    done = run("config")
    assert "database password: environment variable PGPASSWORD" in done.output
    assert "env-secret-22" not in done.output and "pgpass-secret-1" not in done.output
    # sslpassword= unlocks a client key: it is not the database's password.
    monkeypatch.setenv("TGCHECK_STORE_URL", "postgresql://alice@db.example/tg?sslpassword=k3y")
    done = run("config")
    assert "database password: environment variable PGPASSWORD" in done.output
    assert "k3y" not in done.output


def test_doctor_checks_the_shared_store(postgres_url, monkeypatch, sandbox_env, tmp_path):
    login, password = password_login(postgres_url)
    monkeypatch.setenv("TGCHECK_STORE_URL", with_user(login, login_user(login), password))
    assert run("check", write_numbers(tmp_path, numbers(5)), "--progress", "none").exit_code == 0
    done = run("doctor")
    assert done.exit_code == 0, done.output
    assert password not in done.output
    assert f"{login_user(login)}:***@" in done.output
    assert "5 answers" in done.output


def test_doctor_says_when_the_shared_store_cannot_be_reached(monkeypatch):
    monkeypatch.setenv("TGCHECK_STORE_URL", f"postgresql://bob:s3cret-word@127.0.0.1:{dead_port()}/tg")
    done = run("doctor")
    assert done.exit_code == 2  # like every command on an unusable store (docs/cli.md)
    assert "bob:***@127.0.0.1" in done.output
    assert "s3cret-word" not in done.output


def login_user(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).username


def dead_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


# -- migrate --------------------------------------------------------------------
def test_migrate_copies_answers_and_journal_and_can_run_twice(postgres_url, sandbox_env,
                                                              monkeypatch, tmp_path):
    sb = sandbox_env
    values = numbers(40)
    assert run("check", write_numbers(tmp_path, values), "--progress", "none").exit_code == 0
    local = tmp_path / "home" / "tgcheck-sandbox.sqlite3"  # a loopback base URL: the sandbox's
    with sqlite3.connect(local) as db:
        local_answers = db.execute("SELECT count(*) FROM answers").fetchone()[0]
    assert local_answers == 40

    first = run("store", "migrate", "--to", postgres_url)
    assert first.exit_code == 0, first.output
    assert "40" in first.output
    again = run("store", "migrate", "--to", postgres_url)
    assert again.exit_code == 0, again.output
    assert stored_answers(postgres_url) == 40

    # Another analyst on the shared store gets them without a call.
    monkeypatch.setenv("TGCHECK_HOME", str(tmp_path / "colleague"))
    monkeypatch.setenv("TGCHECK_STORE_URL", postgres_url)
    calls = sum(sb.calls.values())
    done = run("check", write_numbers(tmp_path, values), "--progress", "none")
    assert done.exit_code == 0, done.output
    assert sum(sb.calls.values()) == calls
    assert sb.creates == 1
    jobs = run("jobs", "--all")
    assert jobs.exit_code == 0 and "done" in jobs.output  # the journal came along


@pytest.mark.parametrize("args, says", [
    ((), "--to"),
    (("--to", "http://127.0.0.1/tg"), "--to must be a postgresql://"),
    (("--to", "postgresql://gil:pw-of-gil-7@[bad/tg"), "--to cannot be read as a URL"),
])
def test_migrate_refuses_a_missing_or_wrong_target(args, says, tmp_path):
    done = run("store", "migrate", *args)
    assert done.exit_code == 2, done.output
    assert says in done.output
    assert "pw-of-gil-7" not in done.output


def test_migrate_without_a_local_store_says_so(postgres_url):
    done = run("store", "migrate", "--to", postgres_url)
    assert done.exit_code == 2, done.output
    assert "no local store" in done.output


def test_migrate_to_an_unreachable_database_names_it_masked(sandbox_env, tmp_path):
    assert run("check", write_numbers(tmp_path, numbers(3)), "--progress", "none").exit_code == 0
    done = run("store", "migrate", "--to",
               f"postgresql://carol:pa55-word-x@127.0.0.1:{dead_port()}/tg")
    assert done.exit_code == 2, done.output
    assert "carol:***@127.0.0.1" in done.output
    assert "pa55-word-x" not in done.output


# -- a database that cannot be used: a clear error before any paid call --------
def unusable_urls(postgres_url):
    login, password = password_login(postgres_url)
    user = login_user(login)
    return {
        "refused": f"postgresql://{user}:{password}@127.0.0.1:{dead_port()}/tg",
        "wrong password": with_user(login, user, "not-the-password"),
        "no password": login,
        "no such database": with_user(login, user, password).rsplit("/", 1)[0] + "/nodb",
    }


def test_an_unusable_database_stops_the_check_before_any_call(postgres_url, sandbox_env,
                                                              monkeypatch, tmp_path):
    sb = sandbox_env
    source = write_numbers(tmp_path, numbers(10))
    for why, url in unusable_urls(postgres_url).items():
        monkeypatch.setenv("TGCHECK_STORE_URL", url)
        done = run("check", source, "--progress", "none")
        assert done.exit_code == 2, (why, done.output)
        assert "TGCHECK_STORE_URL" in done.output, why
        assert ":***@" in done.output or "@127.0.0.1" in done.output, why
        with pytest.raises(tgcheck.TgcheckError):
            tgcheck.check(numbers(10))
    assert sum(sb.calls.values()) == 0  # no create, no status, nothing billed
    # ...and no silent fall-back to a private store on this machine.
    assert not list((tmp_path / "home").glob("*.sqlite3"))


# -- the password: PGPASSWORD and ~/.pgpass work, and it never shows ------------
def test_pgpassword_and_pgpass_give_the_password(postgres_url, sandbox_env, monkeypatch,
                                                 tmp_path):
    login, password = password_login(postgres_url)
    monkeypatch.setenv("TGCHECK_STORE_URL", login)
    source = write_numbers(tmp_path, numbers(5))

    monkeypatch.setenv("PGPASSWORD", password)
    done = run("check", source, "--progress", "none")
    assert done.exit_code == 0, done.output
    monkeypatch.delenv("PGPASSWORD")

    home = tmp_path / "user-home"
    home.mkdir()
    pgpass = home / ".pgpass"
    pgpass.write_text(f"127.0.0.1:*:*:{login_user(login)}:{password}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TGCHECK_HOME", str(tmp_path / "second-machine"))
    calls = sum(sandbox_env.calls.values())
    done = run("check", source, "--progress", "none")
    assert done.exit_code == 0, done.output
    assert sum(sandbox_env.calls.values()) == calls  # the same store: answered from it


def test_the_password_never_shows(postgres_url, sandbox_env, monkeypatch, tmp_path, caplog):
    """In the URL or in PGPASSWORD; in output, --debug tracebacks, logs, reprs and errors."""
    login, password = password_login(postgres_url)
    user = login_user(login)
    source = write_numbers(tmp_path, numbers(5))
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    cases = [
        (with_user(login, user, password), None),  # works: the password in the URL
        (login, password),  # works: the password in PGPASSWORD
        (with_user(login, user, password).rsplit("/", 1)[0] + "/nodb", None),  # refused
        (f"postgresql://{user}:{password}@127.0.0.1:{dead_port()}/tg", password),  # refused
    ]
    for url, pgpassword in cases:
        monkeypatch.setenv("TGCHECK_STORE_URL", url)
        if pgpassword:
            monkeypatch.setenv("PGPASSWORD", pgpassword)
        else:
            monkeypatch.delenv("PGPASSWORD", raising=False)
        for command in (["check", source, "--progress", "json", "--debug"], ["config"],
                        ["doctor", "--debug"], ["jobs", "--all", "--debug"]):
            done = run(*command)
            seen.append(done.output)
            if done.exception is not None and not isinstance(done.exception, SystemExit):
                seen.append(repr(done.exception))
        settings = tgcheck.Settings.from_env()
        seen += [repr(settings), str(settings)]
        try:
            engine = tgcheck.Engine(settings)
        except tgcheck.TgcheckError as e:
            seen += [str(e), repr(e), repr(e.__cause__), repr(e.__context__)]
        else:
            seen += [repr(engine), repr(engine.store), str(engine.store)]
            engine.close()
    seen.append(caplog.text)
    assert all(password not in text for text in seen), [t for t in seen if password in t][:1]
    assert any(f"{user}:***@" in text for text in seen)
    assert os.environ.get("PGPASSWORD") in (None, password)


@pytest.mark.parametrize("url", ["postgresql://dan:pw-in-url-1@[bad/tg",
                                 "mysql://dan:pw-in-url-1@127.0.0.1/tg",
                                 "postgresql://dan:pw-in-url-1@127.0.0.1:port/tg"])
def test_a_store_url_tgcheck_cannot_use_is_a_setting_error(url, sandbox_env, monkeypatch,
                                                           tmp_path):
    monkeypatch.setenv("TGCHECK_STORE_URL", url)
    done = run("check", write_numbers(tmp_path, numbers(3)), "--progress", "none")
    assert done.exit_code == 2, done.output
    assert "TGCHECK_STORE_URL" in done.output
    assert "pw-in-url-1" not in done.output
    assert sum(sandbox_env.calls.values()) == 0


# -- least privilege: docs/team.md's grants are enough, and no more is needed ----
MEMBER_GRANTS = (
    "GRANT USAGE ON SCHEMA tgcheck TO alice;",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA tgcheck TO alice;",
    "GRANT USAGE ON ALL SEQUENCES IN SCHEMA tgcheck TO alice;",
)


def test_a_member_with_only_the_documented_grants_checks_and_migrates(postgres_url, sandbox_env,
                                                                      monkeypatch, tmp_path):
    import psycopg

    from paths import ROOT

    docs = (ROOT / "docs" / "team.md").read_text()
    assert all(grant in docs for grant in MEMBER_GRANTS)
    sb = sandbox_env
    owner, owner_password = password_login(postgres_url, owner=False)
    member, member_password = password_login(postgres_url, owner=False)
    # The administrator makes the schema for the owning role (the sandbox's here:
    # simulated numbers); the owner's first run creates the tables in it.
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA tgcheck_sandbox AUTHORIZATION {login_user(owner)}")
    assert "CREATE SCHEMA tgcheck AUTHORIZATION tgcheck_owner;" in docs
    monkeypatch.setenv("TGCHECK_STORE_URL", owner)
    monkeypatch.setenv("PGPASSWORD", owner_password)
    assert run("doctor").exit_code == 0
    with psycopg.connect(with_user(owner, login_user(owner), owner_password),
                         autocommit=True) as conn:
        for grant in MEMBER_GRANTS:
            conn.execute(grant.replace("tgcheck", "tgcheck_sandbox")
                         .replace("alice", login_user(member)))

    monkeypatch.setenv("TGCHECK_STORE_URL", member)
    monkeypatch.setenv("PGPASSWORD", member_password)
    values = numbers(20, start=700)
    done = run("check", write_numbers(tmp_path, values), "--progress", "none")
    assert done.exit_code == 0, done.output
    assert sb.creates == 1
    # A local store of the member's, moved over with the member's rights alone.
    monkeypatch.delenv("TGCHECK_STORE_URL")
    monkeypatch.setenv("TGCHECK_HOME", str(tmp_path / "member-laptop"))
    assert run("check", write_numbers(tmp_path, numbers(10, start=900)),
               "--progress", "none").exit_code == 0
    done = run("store", "migrate", "--to", member)
    assert done.exit_code == 0, done.output
    assert "10 answers copied" in done.output and "1 journal rows added" in done.output
    # ...and nothing more than rows: no DDL in tgcheck's schema.
    with psycopg.connect(with_user(member, login_user(member), member_password)) as conn, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("CREATE TABLE tgcheck_sandbox.extra (id int)")


def test_without_psycopg_a_store_url_is_a_setting_error(sandbox_env, monkeypatch, tmp_path):
    from tgcheck.store import postgres

    monkeypatch.setattr(postgres, "psycopg", None)  # the [postgres] extra not installed
    monkeypatch.setenv("TGCHECK_STORE_URL", "postgresql://frank@127.0.0.1/tg")
    done = run("check", write_numbers(tmp_path, numbers(3)), "--progress", "none")
    assert done.exit_code == 2, done.output
    assert "psycopg is not installed" in done.output
    assert sum(sandbox_env.calls.values()) == 0
    assert not list((tmp_path / "home").glob("*.sqlite3"))  # no private fall-back


def test_an_open_job_migrated_is_collected_by_resume_on_another_machine(
        postgres_url, sandbox_env, monkeypatch, tmp_path):
    """What `store migrate`'s help promises: an open job keeps its task id, and
    `tgcheck resume` against the shared store collects it without a new create."""
    import signal
    import subprocess
    import sys

    from conftest import child_env, wait_for
    from tgcheck.store import open_store

    sb = sandbox_env
    sb.speed = 5  # the task outlives the process that created it
    values = numbers(100, start=3100)
    home = tmp_path / "home"
    checker = "import sys, tgcheck; tgcheck.check(sys.argv[1:])"
    child = subprocess.Popen([sys.executable, "-c", checker, *values], env=child_env(sb, home))
    local = home / "tgcheck-sandbox.sqlite3"

    def polling():
        if not local.exists():
            return False
        store = open_store(local)
        try:
            jobs = store.jobs()
            return bool(jobs) and jobs[0].state == "open" and jobs[0].status_calls >= 1
        finally:
            store.close()

    wait_for(polling, "the first machine to be polling its open task")
    child.send_signal(signal.SIGKILL)
    child.wait()
    done = run("store", "migrate", "--to", postgres_url)
    assert done.exit_code == 0, done.output
    assert "1 journal rows added (1 live)" in done.output

    sb.speed = 1_000_000
    monkeypatch.setenv("TGCHECK_STORE_URL", postgres_url)
    monkeypatch.setenv("TGCHECK_HOME", str(tmp_path / "second-machine"))
    done = run("resume", "-q")
    assert done.exit_code == 0, done.output
    assert sb.creates == 1
    assert stored_answers(postgres_url) == 100


def test_the_journal_and_cache_commands_work_on_the_shared_store(postgres_url, sandbox_env,
                                                                 monkeypatch, tmp_path):
    login, password = password_login(postgres_url)
    monkeypatch.setenv("TGCHECK_STORE_URL", login)
    monkeypatch.setenv("PGPASSWORD", password)
    values = numbers(6, start=6100)
    outputs = {}
    for command in (["check", write_numbers(tmp_path, values), "--progress", "none"],
                    ["jobs", "--all"], ["cache", "stats"], ["cache", "export", "-f", "csv"],
                    ["export", "1"], ["resume"], ["cache", "clear", "--yes"]):
        done = run(*command)
        assert done.exit_code == 0, (command, done.output)
        assert password not in done.output
        outputs[" ".join(command[:2])] = done.output
    assert "\tdone\t" in outputs["jobs --all"]
    assert f"store:   postgresql://{login_user(login)}@127.0.0.1" in outputs["cache stats"]
    assert " MB)" in outputs["cache stats"]
    assert all(n in outputs["cache export"] and n in outputs["export 1"] for n in values)
    assert "deleted 6 answers" in outputs["cache clear"]
    assert stored_answers(with_user(login, login_user(login), password)) == 0


def test_migrate_keeps_real_and_simulated_answers_in_their_own_schemas(postgres_url,
                                                                       monkeypatch, tmp_path):
    """--from FILE into TGCHECK_STORE_URL: a real store goes to schema tgcheck; with
    --sandbox, the sandbox's store goes to tgcheck_sandbox, never among the real ones."""
    import time

    from tgcheck.store import StoredAnswer, open_store

    def local_store(path, numbers_, value):
        store = open_store(path)
        store.import_answers(StoredAnswer("tg", n, value, "ok", time.time(), "t1")
                             for n in numbers_)
        store.close()

    real, simulated = numbers(7, start=100), numbers(3, start=200)
    local_store(tmp_path / "old-real.sqlite3", real, "yes")
    local_store(tmp_path / "old-sandbox.sqlite3", simulated, "no")
    monkeypatch.setenv("TGCHECK_STORE_URL", postgres_url)  # --to's default
    done = run("store", "migrate", "--from", str(tmp_path / "old-real.sqlite3"))
    assert done.exit_code == 0, done.output
    done = run("store", "migrate", "--sandbox", "--from", str(tmp_path / "old-sandbox.sqlite3"))
    assert done.exit_code == 0, done.output
    assert stored_answers(postgres_url, schema="tgcheck") == 7
    assert stored_answers(postgres_url, schema="tgcheck_sandbox") == 3
