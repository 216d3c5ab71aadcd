"""Where a SQLite store keeps its schema version (PRAGMA user_version), how it
is migrated (one BEGIN IMMEDIATE transaction: one process at a time), what a
file from before versions needs first, and how a file of another program is
told apart. The steps are migrations.STEPS, shared with PostgreSQL.
"""

from __future__ import annotations

import sqlite3

# Journal columns added before the schema had a version: a file from then
# (user_version 0) may lack any of them, and gets them before step 1.
UNVERSIONED_COLUMNS = (
    ("budget_from", "INTEGER NOT NULL DEFAULT 0"),
    ("estimated_amount", "TEXT"),
    ("actual_amount", "TEXT"),
    ("currency", "TEXT"),
    ("polled_at", "REAL"),
    ("moved_at", "REAL"),
)
# Every journal column added since the first release (later ones: migrations
# steps 2 and 3): the doctor reads an older file's journal with their defaults.
ADDED_COLUMNS = (
    *UNVERSIONED_COLUMNS,
    ("account", "TEXT"),
    ("first_number", "TEXT"),
    ("last_number", "TEXT"),
)

# The columns a tgcheck store's tables have had from the start: a file whose
# tables lack them belongs to another program (newer columns are added as needed).
_CORE_COLUMNS = {
    "answers": {"task_type", "number", "value", "status", "checked_at"},
    "jobs": {"id", "key", "provider", "task_type", "count", "numbers", "state", "task_id"},
}


def foreign_schema(db: sqlite3.Connection) -> str | None:
    """Why the database on db is not a tgcheck store, or None (a store, or empty).
    Reads only: the doctor asks it of a file it must not change."""
    tables = {name: {c[1] for c in db.execute(f"PRAGMA table_info('{name}')")}
              for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite_%'").fetchall()}
    if not tables:
        return None  # a new store
    odd = [name for name, columns in _CORE_COLUMNS.items()
           if name in tables and not columns <= tables[name]]
    if odd or not set(_CORE_COLUMNS) & set(tables):
        return (f"its tables: {', '.join(sorted(tables)[:6])}"
                + (f"; {', '.join(odd)} without tgcheck's columns" if odd else ""))
    return None


class SqliteSchema:
    """migrations.bring_forward's SQLite side, for one Store."""

    backend = "sqlite"
    schema = ""

    def __init__(self, store):
        self.store = store
        self.what = f"the local store {store.path}"

    def version(self, db=None) -> int:
        return (db or self.store.db).execute("PRAGMA user_version").fetchone()[0]

    def migrating(self):
        # BEGIN IMMEDIATE: the write lock up front, so one process migrates and
        # the others, once it commits, read the new version and go on.
        return self.store._tx()

    def prepare(self, db, found: int) -> None:
        if found:
            return
        have = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
        if have:  # a file from before versions (a new one has no tables yet)
            for name, decl in UNVERSIONED_COLUMNS:
                if name not in have:
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {decl}")

    def record(self, db, version: int) -> None:
        db.execute(f"PRAGMA user_version = {int(version)}")
