"""Where a PostgreSQL store keeps its schema version (`<schema>.meta`), how it is
migrated (one transaction under an advisory lock, so machines opening a new
store together create it once), and the doctor's check of it. The steps are
migrations.STEPS, shared with SQLite.
"""

from __future__ import annotations

import contextlib

from ..errors import StoreForeign
from . import migrations


def version(conn, schema: str) -> int:
    """The schema's version: 0 when there is no tgcheck store in it yet."""
    if conn.execute("SELECT to_regclass(%s)", (f"{schema}.meta",)).fetchone()[0] is None:
        return 0
    row = conn.execute(f"SELECT value FROM {schema}.meta WHERE key = 'schema_version'"
                       ).fetchone()
    return int(row[0]) if row else 0


def _foreign(conn, schema: str) -> str | None:
    """Why the schema holds something else than a tgcheck store, or None."""
    tables = [r[0] for r in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
        "ORDER BY 1", (schema,))]
    if tables and "meta" not in tables:
        return (f"schema {schema} holds tables that are not tgcheck's "
                f"({', '.join(tables[:6])})")
    return None


def problem(conn, schema: str) -> str | None:
    """What is wrong with the store in schema, or None: the doctor's check."""
    foreign = _foreign(conn, schema)
    if foreign:
        return foreign
    have = version(conn, schema)
    if have != migrations.CURRENT:
        return f"schema version {have}, this tgcheck uses {migrations.CURRENT}"
    missing = [t for t in ("answers", "jobs") if conn.execute(
        "SELECT to_regclass(%s)", (f"{schema}.{t}",)).fetchone()[0] is None]
    return f"tables missing: {', '.join(missing)}" if missing else None


class PostgresSchema:
    """migrations.bring_forward's PostgreSQL side, on one autocommit connection."""

    backend = "postgresql"

    def __init__(self, conn, schema: str):
        self.conn = conn
        self.schema = schema
        self.what = f"the shared store's schema {schema}"

    def version(self, db=None) -> int:
        return version(self.conn, self.schema)

    @contextlib.contextmanager
    def migrating(self):
        # A session lock taken BEFORE the transaction: the transaction then starts
        # after another machine's migration committed, and sees its tables.
        lock = (f"{self.schema}.migrate",)
        self.conn.execute("SELECT pg_advisory_lock(hashtext(%s))", lock)
        try:
            with self.conn.transaction():
                yield self.conn
        finally:
            self.conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", lock)

    def prepare(self, db, found: int) -> None:
        if found == 0:
            foreign = _foreign(db, self.schema)
            if foreign:
                raise StoreForeign(f"{foreign}; tgcheck leaves it untouched: use another "
                                   "database, or drop that schema yourself")
            if db.execute("SELECT to_regnamespace(%s)", (self.schema,)).fetchone()[0] is None:
                # Only when missing: a DBA may create it beforehand for a role
                # without CREATE on the database (docs/store.md).
                db.execute(f"CREATE SCHEMA {self.schema}")
        # The steps name tables unqualified: they are made in, and found in, ours.
        db.execute(f"SET LOCAL search_path TO {self.schema}")

    def record(self, db, version: int) -> None:
        db.execute(f"INSERT INTO {self.schema}.meta VALUES ('schema_version', %s) "
                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(version),))
