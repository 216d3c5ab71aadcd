"""The CLI's store commands on a shared PostgreSQL store (TGCHECK_STORE_URL): a
check, then `cache stats`, `jobs` and `doctor` read the same shared store, and
none of them shows the URL's password."""

from __future__ import annotations

import psycopg

from conftest import numbers
from processes import cli_env, run


def test_store_commands_on_a_shared_store(sandbox, tmp_path, postgres_cluster):
    url = postgres_cluster.create_database("cli_store")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER ROLE postgres PASSWORD 's3cret'")  # trust auth: never asked
    env = dict(cli_env(sandbox, tmp_path),
               TGCHECK_STORE_URL=url.replace("postgres@", "postgres:s3cret@"))
    listing = tmp_path / "numbers.txt"
    listing.write_text("\n".join(numbers(6)) + "\n")
    checked = run("check", str(listing), "-q", env=env)
    assert checked.returncode == 0, checked.stderr
    stats = run("cache", "stats", env=env)
    assert stats.returncode == 0, stats.stderr
    assert "postgres:***@127.0.0.1" in stats.stdout and "(schema tgcheck_sandbox)" in stats.stdout
    assert "1 done" in stats.stdout
    assert run("jobs", "--all", env=env).returncode == 0
    doctor = run("doctor", "--sandbox", env=env)
    assert "6 answers stored; jobs: 1 done" in doctor.stdout
    for result in (checked, stats, doctor):
        assert "s3cret" not in result.stdout + result.stderr
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").glob("*.sqlite3"))
    assert sandbox.creates == 1
