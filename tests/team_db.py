"""Fixtures for the team's shared store, on top of the PostgreSQL test cluster
(postgres_cluster.py): a fresh database per test, and an analyst's login that
needs a password, as a team's database server would ask for one.

The cluster itself trusts every local connection (it is a throwaway); a login
with a password is made by putting a scram-sha-256 line for that one role first
in pg_hba.conf and reloading: the first matching line wins.
"""

from __future__ import annotations

import itertools
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from conftest import wait_for

try:
    import psycopg
except ImportError:  # the [postgres] extra is not installed
    psycopg = None

# Without PostgreSQL's binaries the cluster fixture skips, loudly; without psycopg
# (the [postgres] extra) nothing can talk to it.
skip_without_postgres = pytest.mark.skipif(
    psycopg is None, reason="psycopg is missing: pip install -e '.[postgres]'")

_roles = itertools.count(1)


def with_user(url: str, user: str, password: str | None = None) -> str:
    parts = urlsplit(url)
    login = user if password is None else f"{user}:{password}"
    return urlunsplit(parts._replace(netloc=f"{login}@{parts.hostname}:{parts.port}"))


def password_login(admin_url: str, *, owner: bool = True) -> tuple[str, str]:
    """A role that must give a password to reach admin_url's database: its owner
    (it may create tgcheck's schema), or with owner=False a role with no grant
    at all beyond PostgreSQL's defaults. Returns (its URL without the password,
    the password)."""
    role = f"analyst{next(_roles)}_{secrets.token_hex(3)}"
    password = f"pw-{secrets.token_hex(8)}"
    database = urlsplit(admin_url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        if owner:
            admin.execute(f'ALTER DATABASE "{database}" OWNER TO {role}')
        hba = Path(admin.execute("SHOW hba_file").fetchone()[0])
        hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        admin.execute("SELECT pg_reload_conf()")
    url = with_user(admin_url, role)
    # The reload is asynchronous: wait until the server asks this role for its password.
    wait_for(lambda: _refused_without_password(url), "the server to ask for a password")
    return url, password


def _refused_without_password(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError:
        return True
    return False
