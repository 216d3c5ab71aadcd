"""Stores as older tgchecks left them, built from the DDL those versions ran
(frozen here, copied from their code: not from today's migration list), so the
migration tests prove that what users have on disk is brought forward.

- SQLite: version 0 is a file from before schema versions (the first release's
  tables; a journal without the columns added since, a live-set index without
  `stalled`); versions 1..4 are what `Store(path)` of that version made.
- PostgreSQL: versions 1..4 are the steps that version of tgcheck ran.
"""

from __future__ import annotations

import sqlite3

# -- SQLite ---------------------------------------------------------------------
# The first release's tables (before PRAGMA user_version was kept).
_SQLITE_V0 = """
CREATE TABLE IF NOT EXISTS answers (
    task_type  TEXT NOT NULL,
    number     TEXT NOT NULL,
    value      TEXT,
    status     TEXT NOT NULL,          -- ok | unknown (left out of the result file)
    checked_at REAL NOT NULL,
    task_id    TEXT,
    PRIMARY KEY (task_type, number)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS jobs (
    id           INTEGER PRIMARY KEY,
    key          TEXT NOT NULL,        -- hash of provider identity, task type, number set
    provider     TEXT NOT NULL,
    task_type    TEXT NOT NULL,
    count        INTEGER NOT NULL,
    numbers      BLOB NOT NULL,        -- zlib of the sorted numbers, so `resume` needs no input
    state        TEXT NOT NULL,        -- new | submitting | open | done | failed | ...
    task_id      TEXT,
    status       TEXT,                 -- the provider's last status word
    total        INTEGER,
    success      INTEGER,
    failure      INTEGER,
    status_calls INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    owner        TEXT,                 -- host:pid of the process driving it
    heartbeat    REAL,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL
);
-- At most one live job per set: the heart of "never create the same task twice".
CREATE UNIQUE INDEX IF NOT EXISTS jobs_live_key ON jobs(key)
    WHERE state IN ('new', 'submitting', 'open', 'uncertain');
CREATE INDEX IF NOT EXISTS jobs_task_id ON jobs(task_id);
"""
# Version 1's tables, its live-set index, the columns and index added since
# (as sqlite.py of version 5 had them, before the one migration list).
_SQLITE_V1_TABLES = """
CREATE TABLE IF NOT EXISTS answers (
    task_type  TEXT NOT NULL,
    number     TEXT NOT NULL,
    value      TEXT,
    status     TEXT NOT NULL,          -- ok | unknown (left out of the result file)
    checked_at REAL NOT NULL,
    task_id    TEXT,
    PRIMARY KEY (task_type, number)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS jobs (
    id           INTEGER PRIMARY KEY,
    key          TEXT NOT NULL,        -- hash of provider identity, task type, number set
    provider     TEXT NOT NULL,
    task_type    TEXT NOT NULL,
    count        INTEGER NOT NULL,
    numbers      BLOB NOT NULL,        -- zlib of the sorted numbers, so `resume` needs no input
    -- new | submitting | open | stalled | done | failed | lost | uncertain | abandoned
    state        TEXT NOT NULL,
    task_id      TEXT,
    status       TEXT,                 -- the provider's last status word
    total        INTEGER,
    success      INTEGER,
    failure      INTEGER,
    status_calls INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    owner        TEXT,                 -- host:pid of the process driving it
    heartbeat    REAL,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    budget_from  INTEGER NOT NULL DEFAULT 0,  -- status_calls when the poll budget began
    estimated_amount TEXT,             -- the provider's estimated charge (decimal text)
    actual_amount    TEXT,             -- and the charge it reported at the end
    currency     TEXT,                 -- of both amounts, e.g. USD
    polled_at    REAL,                 -- the last billed status call
    moved_at     REAL                  -- the last poll that showed progress (NULL: none)
);
CREATE INDEX IF NOT EXISTS jobs_task_id ON jobs(task_id);
-- A set's newest job in any state (a claim asks whether its last task was lost).
CREATE INDEX IF NOT EXISTS jobs_key ON jobs(key);
"""
# At most one live job per set: the heart of "never create the same task twice".
LIVE_INDEX = """CREATE UNIQUE INDEX jobs_live_key ON jobs(key)
    WHERE state IN ('new', 'submitting', 'open', 'stalled', 'uncertain')"""
# Version 3: a claim's overlap test read from the index alone. The columns after
# the numbers blob are costly to reach in the table (its overflow pages are a
# chain), and only the jobs whose range meets the claim's are read there.
OVERLAP_INDEX = """CREATE INDEX IF NOT EXISTS jobs_overlap ON jobs(provider, task_type,
    state, updated_at, first_number, last_number)"""

# What each version added to the tables of the version before, as its Store ran it.
_SQLITE_ADDED = {
    2: ["ALTER TABLE jobs ADD COLUMN account TEXT"],
    3: ["ALTER TABLE jobs ADD COLUMN first_number TEXT",
        "ALTER TABLE jobs ADD COLUMN last_number TEXT", OVERLAP_INDEX],
    4: ["ALTER TABLE answers ADD COLUMN provider TEXT"],
}


def sqlite_store_at(path, version: int) -> None:
    """A SQLite store file at version (0..4), with no rows."""
    db = sqlite3.connect(path)
    if version == 0:
        db.executescript(_SQLITE_V0)
    else:
        db.executescript(_SQLITE_V1_TABLES)
        db.execute(LIVE_INDEX)
        for later in range(2, version + 1):
            for sql in _SQLITE_ADDED[later]:
                db.execute(sql)
        db.execute(f"PRAGMA user_version = {version}")
    db.commit()
    db.close()


# -- PostgreSQL -----------------------------------------------------------------
# The steps as migrations.py of version 5 had them (before the one migration list).
_POSTGRES_STEPS = (
    # 1: answers, the journal, and the NOTIFY that wakes processes following a job.
    """
    CREATE TABLE {schema}.meta (
        key   text PRIMARY KEY,
        value text NOT NULL
    );
    CREATE TABLE {schema}.answers (
        task_type  text NOT NULL,
        number     text NOT NULL,
        value      text,
        status     text NOT NULL,
        checked_at float8 NOT NULL,
        task_id    text,
        PRIMARY KEY (task_type, number)
    );
    CREATE TABLE {schema}.jobs (
        id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        key          text NOT NULL,
        provider     text NOT NULL,
        task_type    text NOT NULL,
        count        integer NOT NULL,
        numbers      bytea NOT NULL,
        state        text NOT NULL,
        task_id      text,
        status       text,
        total        bigint,
        success      bigint,
        failure      bigint,
        status_calls integer NOT NULL DEFAULT 0,
        error        text,
        owner        text,
        heartbeat    float8,
        created_at   float8 NOT NULL,
        updated_at   float8 NOT NULL,
        budget_from  integer NOT NULL DEFAULT 0,
        estimated_amount text,
        actual_amount    text,
        currency     text,
        polled_at    float8,
        moved_at     float8
    );
    CREATE INDEX jobs_task_id ON {schema}.jobs (task_id);
    CREATE INDEX jobs_key ON {schema}.jobs (key);
    CREATE UNIQUE INDEX jobs_live_key ON {schema}.jobs (key)
        WHERE state IN ('new', 'submitting', 'open', 'stalled', 'uncertain');
    CREATE FUNCTION {schema}.announce_job() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{schema}_jobs', NEW.id::text);
        RETURN NULL;
    END $$;
    CREATE TRIGGER jobs_announce AFTER UPDATE ON {schema}.jobs FOR EACH ROW
        WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.status IS DISTINCT FROM NEW.status
              OR OLD.success IS DISTINCT FROM NEW.success
              OR OLD.owner IS DISTINCT FROM NEW.owner)
        EXECUTE FUNCTION {schema}.announce_job();
    """,
    # 2: the account (API key fingerprint) whose key created a job's task.
    """
    ALTER TABLE {schema}.jobs ADD COLUMN account text;
    """,
    # 3: each job's first and last number (base.number_range), compared byte-wise
    # as Python compares them, and an index a claim's overlap test is read from:
    # a claim looks only into jobs whose range meets its own.
    """
    ALTER TABLE {schema}.jobs ADD COLUMN first_number text COLLATE "C",
                              ADD COLUMN last_number text COLLATE "C";
    CREATE INDEX jobs_overlap ON {schema}.jobs (provider, task_type, state, updated_at,
                                                first_number, last_number);
    """,
    # 4: where each answer came from: its provider (task_id and checked_at were
    # kept from the start). NULL: stored before answers recorded it.
    """
    ALTER TABLE {schema}.answers ADD COLUMN provider text;
    """,
    # 5: an answer's typed fields (tgcheck.fields) as one JSON object. NULL: a task
    # type without fields, or stored before fields were kept (not taken as the
    # answer to a task type that declares fields).
    """
    ALTER TABLE {schema}.answers ADD COLUMN fields text;
    """,
)


def postgres_store_at(url: str, version: int, schema: str = "tgcheck") -> None:
    """A PostgreSQL store in schema at version (1..4), with no rows."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        for step in _POSTGRES_STEPS[:version]:
            conn.execute(step.format(schema=schema))
        conn.execute(f"INSERT INTO {schema}.meta VALUES ('schema_version', %s)", (str(version),))
