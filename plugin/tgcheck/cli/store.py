"""`tgcheck store`: moving a local store to the team's shared one; and the lines
`tgcheck config` shows about the store.

`tgcheck store migrate --to postgresql://...` copies the answers and the journal of
a local SQLite store into PostgreSQL, so that what one analyst already paid for is
shared from the first day. The copy is the store's own (store.copy_store): it can
run twice, or be cut off and run again, without harm.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import click

from ..command_errors import handle_errors
from ..errors import ConfigError, InputError
from ..settings import Settings
from .app import cli


@cli.group("store")
def store_group():
    """The store of answers and journal: local (SQLite) or shared (PostgreSQL).

    \b
    Examples:
      tgcheck store migrate --to postgresql://alice@db.example.com/tgcheck
      TGCHECK_STORE_URL=postgresql://alice@db/tgcheck tgcheck store migrate
    Team setup: docs/team.md.
    """


def store_lines(settings: Settings, sandbox_settings: Settings) -> dict[str, str]:
    """`tgcheck config`'s lines about the store: which backend, where (a URL with its
    password masked), and where the database's password comes from."""
    from ..store import describe_url
    from ..store.open import SANDBOX_SCHEMA, SCHEMA

    if not settings.store_url:
        return {"store": f"{settings.store_path} (SQLite, this machine; "
                         "TGCHECK_STORE_URL unset)",
                "sandbox store": str(sandbox_settings.store_path)}
    shown = describe_url(settings.store_url)
    schema = SANDBOX_SCHEMA if settings.simulated else SCHEMA
    return {"store": f"{shown} (PostgreSQL, shared: TGCHECK_STORE_URL; schema {schema})",
            "sandbox store": f"{shown} (schema {SANDBOX_SCHEMA})",
            "database password": password_source(settings.store_url)}


def password_source(url: str) -> str:
    """Where libpq takes the database's password from (never the password)."""
    parts = urlsplit(url)
    # password= only: sslpassword= unlocks a client key, not the database login.
    if parts.password is not None or "password" in {k.lower() for k in parse_qs(parts.query)}:
        return "in TGCHECK_STORE_URL (better: PGPASSWORD or ~/.pgpass, kept out of the URL)"
    if os.environ.get("PGPASSWORD"):
        return "environment variable PGPASSWORD"
    passfile = Path(os.environ.get("PGPASSFILE") or Path.home() / ".pgpass")
    if passfile.is_file():
        return f"password file {passfile} (if it has a line for this server)"
    return "none given (PGPASSWORD or ~/.pgpass, if the server asks for one)"


@store_group.command("migrate")
@click.option("--to", "target", metavar="URL",
              help="The shared store, postgresql://USER@HOST[:PORT]/DB (default: "
                   "TGCHECK_STORE_URL). Give the password through PGPASSWORD or ~/.pgpass.")
@click.option("--from", "source", type=click.Path(dir_okay=False), metavar="FILE",
              help="The local store to copy (default: the one under TGCHECK_HOME).")
@click.option("--sandbox", is_flag=True,
              help="Copy the sandbox's store (simulated answers) into the shared store's "
                   "sandbox schema instead.")
@handle_errors
def store_migrate(target: str | None, source: str | None, sandbox: bool) -> None:
    """Copy a local store's answers and journal into the shared PostgreSQL store.

    Answers keep their age; of two answers for one number the newer stays. Journal
    rows already copied are not copied again: running it twice, or again after an
    interruption, is harmless. Open jobs come along with their task ids, so
    `tgcheck resume` on any machine of the team collects them without paying again:
    run it while no tgcheck uses the local store. The local file is kept; with
    TGCHECK_STORE_URL set it is no longer used. Simulated answers (the sandbox's
    store, --sandbox) go only into the sandbox's own schema, never among the real ones.

    \b
    Examples:
      tgcheck store migrate --to postgresql://alice@db.example.com/tgcheck
      PGPASSWORD=... tgcheck store migrate --to postgresql://alice@db/tgcheck
      tgcheck store migrate --from ~/old/tgcheck.sqlite3 --to postgresql://alice@db/tgcheck
    """
    from ..store import copy_store, describe_url, open_store

    # No key: nothing is sent to the provider. simulated picks the sandbox's
    # store (and, in PostgreSQL, the sandbox's schema), as for every other command.
    settings = Settings.from_env(api_key=None, base_url="http://127.0.0.1" if sandbox else None,
                                 simulated=True if sandbox else None)
    if not (target or settings.store_url):
        raise ConfigError("no shared store to copy into: give --to postgresql://USER@HOST/DB "
                          "(or set TGCHECK_STORE_URL)")
    from ..store.open import check_store_url

    if target:  # checked as TGCHECK_STORE_URL is: a postgresql:// URL, its password masked
        check_store_url(target, "--to")
    shared = dataclasses.replace(settings, store_url=target or settings.store_url)
    path = Path(source) if source else settings.store_path
    if not path.is_file():
        raise InputError(f"no local store at {path}: nothing to copy (--from names another)")
    target = shared.store_url
    click.echo(f"tgcheck: copying {path} into {describe_url(target)} ...", err=True)
    with contextlib.closing(open_store(path)) as src, \
            contextlib.closing(open_store(shared)) as dst:
        report = copy_store(src, dst)
    click.echo(f"tgcheck: done: {report}", err=True)
