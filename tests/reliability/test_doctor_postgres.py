"""`tgcheck doctor` on a shared PostgreSQL store: it checks through the store's
public API, changes nothing, and never shows the URL's password."""

from __future__ import annotations

import psycopg
from click.testing import CliRunner

from conftest import numbers
from tgcheck.cli.doctor import doctor_command
from tgcheck.doctor import doctor
from tgcheck.store import open_store


def test_the_doctor_describes_a_healthy_shared_store(postgres_url):
    store = open_store(postgres_url)
    store.claim("k", "p", "tg", numbers(3))
    store.close()
    report = doctor(postgres_url)
    assert report.healthy and not report.repaired
    text = str(report)
    assert "ok (PostgreSQL, schema tgcheck at version 5)" in text
    assert "0 answers stored; jobs: 1 new" in text
    assert "tgcheck resume" in text


def test_the_doctor_takes_the_url_from_the_environment_and_masks_it(postgres_cluster,
                                                                    monkeypatch):
    url = postgres_cluster.create_database("doctor_env")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER ROLE postgres PASSWORD 's3cret'")  # trust auth: not asked
    secret_url = url.replace("postgres@", "postgres:s3cret@")
    monkeypatch.setenv("TGCHECK_STORE_URL", secret_url)
    result = CliRunner().invoke(doctor_command, [])
    assert result.exit_code == 0, result.output
    assert "postgres:***@" in result.output and "s3cret" not in result.output
    assert "ok (PostgreSQL" in result.output


def test_the_doctor_on_an_unreachable_server_changes_nothing(postgres_cluster):
    url = f"postgresql://ana:s3cret@127.0.0.1:{postgres_cluster.port + 1}/team"
    report = doctor(url)
    assert not report.healthy and not report.repaired
    assert "cannot be reached" in str(report) and "s3cret" not in str(report)


def test_the_doctor_of_the_sandbox_looks_at_the_sandbox_schema(postgres_url):
    store = open_store(postgres_url, schema="tgcheck_sandbox")
    store.close()
    report = doctor(postgres_url, sandbox=True)
    assert "schema tgcheck_sandbox" in str(report)


def test_the_doctor_refuses_a_folder_for_a_store(tmp_path):
    result = CliRunner().invoke(doctor_command, ["--store", str(tmp_path)])
    assert result.exit_code == 2 and "is a folder" in result.output


def test_the_doctor_refuses_a_url_that_is_not_postgresql_without_its_password():
    for url in ("postgresql+psycopg://ana:PW5ecret@db/x", "mysql://ana:PW5ecret@db/x"):
        result = CliRunner().invoke(doctor_command, ["--store", url])
        assert result.exit_code == 2, result.output
        assert "ana:***@db/x" in result.output and "PW5ecret" not in result.output


def test_the_doctor_masks_a_password_libpq_quotes_back(postgres_cluster):
    # libpq quotes a password it cannot decode ("invalid percent-encoded token");
    # given only as --store (no Settings), it must be masked all the same.
    for url in (f"postgresql://ana:Ab%zzTopSecretX@127.0.0.1:{postgres_cluster.port}/team",
                f"postgresql://ana@127.0.0.1:{postgres_cluster.port}/team?password=Ab%zzTopSecretX"):
        result = CliRunner().invoke(doctor_command, ["--store", url])
        assert result.exit_code != 0, result.output
        assert "TopSecret" not in result.output, result.output


def test_the_doctor_says_an_unreadable_store_url_is_one(postgres_cluster):
    result = CliRunner().invoke(doctor_command, ["--store", "postgresql://ana:Pw9x@[::1/team"])
    assert result.exit_code == 2, result.output
    assert "cannot be read as a URL" in result.output and "Pw9x" not in result.output
