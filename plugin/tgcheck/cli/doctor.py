"""`tgcheck doctor`: the command; the checking and salvaging are tgcheck.doctor's."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click

from ..command_errors import handle_errors
from ..errors import TgcheckError, exit_code
from ..settings import Settings
from ..store import describe_url, is_store_url
from .app import cli


@cli.command("doctor")
@click.option("--sandbox", is_flag=True, help="The sandbox's store instead of the real one.")
@click.option("--store", "store_path",
              help="The store to check: a file, or a postgresql:// URL (default: "
                   "TGCHECK_STORE_URL, else the file under TGCHECK_HOME).")
@handle_errors
def doctor_command(sandbox: bool, store_path: str | None) -> None:
    """Check the store; if a local store file is damaged, set it aside and salvage it.

    \b
    The damaged file is kept next to the new one (*.damaged-DATE). Open jobs are
    copied into a fresh store so `tgcheck resume` collects them without paying
    again; answers that cannot be read are fetched again by the next check. A
    shared store in PostgreSQL (TGCHECK_STORE_URL) is checked, never repaired or
    deleted; on a database that has none yet, tgcheck's schema is created, as on
    any first use.

    \b
    Examples:
      tgcheck doctor
      tgcheck doctor --sandbox
      tgcheck doctor --store ~/backup/tgcheck.sqlite3
      tgcheck doctor --store postgresql://ana@db.example.com/team
    """
    if store_path is None:
        # api_key given (None): the doctor needs no key, so the key file is not read.
        settings = Settings.from_env(base_url="http://127.0.0.1:1" if sandbox else None,
                                     api_key=None, simulated=True if sandbox else None)
        store_path = settings.store_url or str(settings.store_path)
        # The sandbox's store (--sandbox, TGCHECK_SANDBOX=1): in PostgreSQL, its schema.
        sandbox = sandbox or bool(settings.store_url and settings.simulated)
    elif "://" in store_path and not is_store_url(store_path):
        # The rule open_store follows: a URL that is not PostgreSQL's is refused,
        # shown with its password masked (never taken for a file name and echoed).
        raise click.BadParameter(f"{describe_url(store_path)} is not a postgresql:// "
                                 "URL", param_hint="--store")
    elif not is_store_url(store_path) and Path(store_path).is_dir():
        raise click.BadParameter(f"{store_path} is a folder: give the store file in it, "
                                 "or a postgresql:// URL", param_hint="--store")
    try:
        # Imported when the command runs: it brings subprocess and the salvage
        # scanner, which no other command's start needs.
        from ..doctor import doctor

        report = doctor(store_path, sandbox=sandbox)
    except (OSError, sqlite3.Error) as e:
        raise TgcheckError(f"the doctor could not finish: {e}") from e
    click.echo(str(report))
    if report.problem is not None and is_store_url(str(store_path)):
        # The shared store could not be checked: exit as every command does for
        # that error (unreachable: 2, docs/cli.md); else the doctor failed (1).
        sys.exit(exit_code(report.error) if report.error is not None else 1)
