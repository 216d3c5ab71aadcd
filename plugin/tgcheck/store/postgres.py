"""The PostgreSQL store: one schema a team shares (TGCHECK_STORE_URL).

The journal's decisions are BaseStore's, in the same SQL; this module brings
what makes them hold across machines:

* claims run under one transaction-level advisory lock per schema, and a
  unique partial index allows one live job per number set;
* every time the journal keeps (heartbeats, leases, answers' ages) is on the
  database's clock (clock_timestamp()), never a host's: hosts whose clocks
  disagree still agree on whose lease ran out;
* a change of a job's state or progress is announced (NOTIFY), so a process
  following another machine's job wakes at once (wait_for_change);
* answers move in bulk: one array parameter per lookup, COPY for writes.

Requires psycopg 3: the extra `[postgres]`.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Collection, Iterable, Iterator

from .. import redact
from ..errors import StoreError, StoreUnreachable
from ..redact import describe_url
from . import grants, migrations, postgres_schema
from .answers import IMPORT_ON_CONFLICT, SAVE_ON_CONFLICT, SELECT_STORED
from .base import BaseStore
from .rows import AnswerGroup, StoredAnswer
from .translating import _translating
from .tuning import DEFAULT_TUNING, StoreTuning

try:
    import psycopg
    from psycopg.rows import tuple_row
except ImportError:  # pragma: no cover - the extra is not installed
    psycopg = None


class _Row(tuple):
    """A row readable by position and by column name, like sqlite3.Row."""

    def __new__(cls, values, names):
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, item):
        if isinstance(item, str):
            item = self._names[item]
        return super().__getitem__(item)


def _named_rows(cursor):
    names = {d.name: i for i, d in enumerate(cursor.description or ())}
    return lambda values: _Row(values, names)


@functools.lru_cache(maxsize=256)
def _pg(sql: str) -> str:
    """BaseStore's SQL (`?` placeholders) in psycopg's (`%s`)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Db:
    """A connection speaking BaseStore's SQL."""

    def __init__(self, conn):
        self.conn = conn

    def execute(self, sql: str, args=()):
        return self.conn.execute(_pg(sql), tuple(args))


def _reason(error: Exception, url: str) -> str:
    """libpq's reason on one line: without its "connection failed:" preamble, and
    without the URL (it may quote it, password and all)."""
    text = " ".join(str(error).replace(url, "(TGCHECK_STORE_URL)").split())
    text = text.removeprefix("connection failed: ").removeprefix("connection is bad: ")
    return redact.clean(text) or "no reason given"


class PostgresStore(BaseStore):
    """The store in schema `schema` of the PostgreSQL database at url.

    The schema is created on first use (or used as a DBA created it: see
    docs/store.md for the grants), carries its version in `<schema>.meta`, and is
    brought forward by later versions of tgcheck; there is no DDL otherwise.
    """

    backend = "postgresql"
    notifies = True

    def __init__(self, url: str, *, schema: str = "tgcheck",
                 tuning: StoreTuning | None = None):
        if psycopg is None:
            raise StoreUnreachable("TGCHECK_STORE_URL names a PostgreSQL store, but psycopg is "
                                   "not installed: install tgcheck's extra [postgres] (in the "
                                   "checkout: python -m pip install -e '.[postgres]')")
        if not schema.replace("_", "").isalnum():
            raise StoreError(f"not a schema name tgcheck uses: {schema!r}")
        self.url = url
        self.schema = schema
        self.tuning = tuning or DEFAULT_TUNING
        self.channel = f"{schema}_jobs"
        self.path = describe_url(url) + ("" if schema == "tgcheck" else f" (schema {schema})")
        self._local = threading.local()
        self._skew = 0.0  # the database's clock minus this host's
        self._opened = False
        with self._errors():
            migrations.bring_forward(postgres_schema.PostgresSchema(self._conn(), schema))
            # Once per open (one query): a check refuses to pay without them.
            self.missing_grants = grants.missing_grants(self._conn(), schema)
        self._opened = True

    def __repr__(self) -> str:
        return f"<PostgresStore {self.path}>"

    # -- connections -----------------------------------------------------
    def _connect(self):
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=15,
                                   application_name="tgcheck")
        except psycopg.ProgrammingError as e:
            # libpq quotes a URL it cannot parse whole, password and all.
            raise StoreUnreachable(f"TGCHECK_STORE_URL is not a PostgreSQL URL libpq can use "
                                   f"({_reason(e, self.url)}): {self.path}") from None
        conn.row_factory = _named_rows
        conn.execute(f"SET search_path TO {self.schema}")
        return conn

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        now = time.monotonic()
        if conn is not None and not conn.closed and not conn.broken \
                and now - self._local.used_at > self.tuning.idle_check_seconds \
                and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            # Idle a while (Excel left open overnight): the server may have
            # restarted or dropped it. One ping; a dead one is made anew.
            try:
                conn.execute("SELECT 1")
            except psycopg.OperationalError:
                with contextlib.suppress(Exception):
                    conn.close()
        if conn is None or conn.closed or conn.broken:
            conn = self._local.conn = self._connect()
        self._local.used_at = now
        return conn

    def _read(self):
        return _Db(self._conn())

    @contextlib.contextmanager
    def _tx(self, *, exclusive: bool = False):
        conn = self._conn()
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            yield _Db(conn)  # already inside one of ours (a lookup's snapshot)
            return
        with conn.transaction():
            if exclusive:
                # One claim at a time per schema, on every machine: what the
                # SQLite store gets from BEGIN IMMEDIATE.
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                             (f"{self.schema}.claim",))
            yield _Db(conn)

    @contextlib.contextmanager
    def _errors(self):
        try:
            yield
        except psycopg.OperationalError as e:
            self.close()  # a broken connection is made anew next time
            if self._opened:
                raise StoreError(
                    f"the connection to the shared store {self.path} was lost "
                    f"({_reason(e, self.url)}); what was stored is kept, and the next run "
                    "attaches to open jobs instead of creating their tasks again") from None
            # Opening the store comes before any call to the provider: a setting to fix.
            raise StoreUnreachable(
                f"the shared store {self.path} cannot be reached ({_reason(e, self.url)}); "
                "nothing was sent to the provider. Check the server, TGCHECK_STORE_URL "
                "and the password (PGPASSWORD or ~/.pgpass); see docs/team.md") from None
        except psycopg.errors.InsufficientPrivilege as e:
            error = StoreError if self._opened else StoreUnreachable
            raise error(f"the shared store {self.path} refused: {_reason(e, self.url)}; see "
                        "docs/team.md for the grants tgcheck needs") from None

    def close(self) -> None:
        for name in ("conn", "listener"):
            conn = getattr(self._local, name, None)
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
                setattr(self._local, name, None)

    # -- the database's clock ---------------------------------------------
    def _now(self) -> float:
        before = time.time()
        now = self._conn().execute(
            "SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()[0]
        # In steps of 1/64 s: a time converted there and back is the same float,
        # and hosts in step with the server (NTP) see no skew at all.
        self._skew = round((now - (before + time.time()) / 2) * 64) / 64
        return now

    def _to_store_time(self, t):
        return None if t is None else t + self._skew

    def _from_store_time(self, t):
        return None if t is None else t - self._skew

    def require_grants(self) -> None:
        if self.missing_grants:
            raise StoreUnreachable(
                f"the shared store {self.path} does not let this role keep answers; a check "
                "would pay for answers it cannot store, so nothing was sent to the provider. "
                "Missing: " + " ".join(self.missing_grants) + " (run by the schema's owner; "
                "see docs/team.md)")

    def schema_version(self) -> int:
        with self._errors():
            return postgres_schema.version(self._conn(), self.schema)

    def check(self) -> str:
        with self._errors():
            problem = postgres_schema.problem(self._conn(), self.schema)
        return problem or "ok"

    @_translating
    def size_bytes(self) -> int:
        return self._conn().execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
            "AND c.relkind = 'r'", (self.schema,)).fetchone()[0]

    def wait_for_change(self, timeout: float) -> bool:
        with self._errors():
            listener = getattr(self._local, "listener", None)
            if listener is None or listener.closed:
                listener = self._local.listener = psycopg.connect(
                    self.url, autocommit=True, connect_timeout=15, application_name="tgcheck")
                listener.execute(f'LISTEN "{self.channel}"')
                return False  # the caller reads the journal now, then waits
            return any(True for _ in listener.notifies(timeout=max(0.0, timeout),
                                                       stop_after=1))

    # -- answers in bulk --------------------------------------------------
    def _answer_groups(self, task_type: str, numbers: Collection[str], condition: str,
                       args: tuple) -> tuple[list[AnswerGroup], bool]:
        """One round trip for the answers: the numbers travel as one text
        parameter, and each (value, status) comes back as one string (a large
        set first counts its range, _reach: a second).

        A set that is a large part of the answers between its first and last
        number reads that range instead (_reach; False: the groups may hold
        numbers not asked for), as the SQLite store does: matching a million
        numbers against a million-element array cost the server about 3.4 s
        (1.2 s of it planning the array constant) against about 0.7 s for the
        plain scan."""
        if not numbers:
            return [], True
        reach = self._reach(self._read(), task_type, numbers)
        if reach:
            return self._answers_between(task_type, *reach, condition, args), False
        rows = self._conn().cursor(row_factory=tuple_row).execute(
            _pg("SELECT value, status, string_agg(number, E'\\n') FROM answers "
                "WHERE task_type = ? AND number = ANY(string_to_array(?, E'\\n')) "
                f"AND {condition} GROUP BY value, status"),
            (task_type, "\n".join(numbers), *args)).fetchall()
        return [(value, status, text.split("\n")) for value, status, text in rows], True

    @_translating
    def _answers_between(self, task_type: str, first: str, last: str, condition: str,
                         args: tuple) -> list[AnswerGroup]:
        rows = self._conn().cursor(row_factory=tuple_row).execute(
            _pg("SELECT value, status, string_agg(number, E'\\n') FROM answers "
                f"WHERE task_type = ? AND number BETWEEN ? AND ? AND {condition} "
                "GROUP BY value, status"),
            (task_type, first, last, *args)).fetchall()
        return [(value, status, text.split("\n")) for value, status, text in rows]

    def _copy_in(self, db: _Db, columns: str, rows: Iterable[tuple]) -> int:
        """rows into a temporary table `incoming` (dropped at commit) by COPY."""
        conn = db.conn
        conn.execute(f"CREATE TEMP TABLE incoming ({columns}) ON COMMIT DROP")
        count = 0
        names = ", ".join(c.split()[0] for c in columns.split(","))
        with conn.cursor().copy(f"COPY incoming ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def _save_answers(self, db, task_type, rows, task_id, now, provider) -> None:
        self._copy_in(db, "number text, value text, status text", rows)
        db.conn.execute(
            "INSERT INTO answers (task_type, number, value, status, checked_at, task_id, "
            "provider) SELECT DISTINCT ON (number) %s, number, value, status, %s, %s, %s "
            "FROM incoming ORDER BY number " + SAVE_ON_CONFLICT,
            (task_type, now, task_id, provider))

    def _save_fields(self, db, task_type, pairs) -> None:
        # COPY and one UPDATE: a round trip per answer would cost seconds per 100,000.
        conn = db.conn
        conn.execute("CREATE TEMP TABLE incoming_fields (number text, fields text) "
                     "ON COMMIT DROP")
        with conn.cursor().copy("COPY incoming_fields (number, fields) FROM STDIN") as copy:
            for pair in pairs:
                copy.write_row(pair)
        conn.execute("UPDATE answers SET fields = f.fields FROM incoming_fields f "
                     "WHERE answers.task_type = %s AND answers.number = f.number "
                     "AND answers.status = 'ok'", (task_type,))

    @_translating
    def import_answers(self, rows: Iterable[StoredAnswer]) -> int:
        skew = self._skew
        with self._tx() as db:
            offered = self._copy_in(
                db, "task_type text, number text, value text, status text, "
                "checked_at float8, task_id text, provider text, fields text",
                # A 6- or 7-tuple (a copy from an older tgcheck) has no provider
                # or no fields.
                ((t, n, v, s, c + skew, i, *rest, *(None,) * (2 - len(rest)))
                 for t, n, v, s, c, i, *rest in rows))
            db.conn.execute(
                "INSERT INTO answers (task_type, number, value, status, checked_at, task_id, "
                "provider, fields) SELECT DISTINCT ON (task_type, number) * FROM incoming "
                "ORDER BY task_type, number, checked_at DESC " + IMPORT_ON_CONFLICT)
        return offered

    @_translating
    def stalest(self, task_type: str, count: int, *, exclude: Collection[str] = ()) -> list[str]:
        cur = self._conn().cursor(row_factory=tuple_row)
        return [n for (n,) in cur.execute(
            "SELECT number FROM answers WHERE task_type = %s "
            "AND number <> ALL(string_to_array(%s, E'\\n')) "
            "ORDER BY checked_at, number LIMIT %s",
            (task_type, "\n".join(exclude), count))]

    @_translating
    def iter_answers(self, *, task_type: str | None = None,
                     older_than_days: float | None = None,
                     now: float | None = None) -> Iterator[StoredAnswer]:
        # Its own connection and transaction: a server-side cursor streams the
        # rows while this thread's connection goes on serving the store.
        where, args = self._answer_filter(task_type, older_than_days, now)
        conn = self._connect()
        try:
            conn.autocommit = False
            cur = conn.cursor(name="tgcheck_answers", row_factory=tuple_row)
            cur.itersize = 10_000
            cur.execute(_pg(SELECT_STORED.format(where=where)), args)
        except BaseException:
            conn.close()
            raise
        return self._streamed(conn, cur)

    # -- for a memo of answers already read (the SQL face's answer_memo) ----
    @_translating
    def change_token(self) -> str:
        """A value that differs whenever anything was committed since it was last
        taken, by anyone: the server's current snapshot (xmin:xmax:in-progress).
        A commit of a transaction with a transaction id (every write has one) moves
        xmax past it or takes it out of the in-progress list, so no write goes
        unseen; writes elsewhere on the server change it too (a needless re-read,
        never a stale answer)."""
        return self._conn().execute("SELECT pg_current_snapshot()::text").fetchone()[0]

    @_translating
    def answer_columns(self, task_type: str, numbers: Collection[str]
                       ) -> tuple[list[tuple[str | None, str, str | None, str, str]], bool]:
        """Every stored answer among numbers, whatever its age, as (value, status,
        provider, numbers, checked_at) groups, numbers and checked_at (the store's
        clock) each one string joined by newlines, in the same order; and True: the
        groups hold asked numbers only (see the SQLite store's)."""
        if not numbers:
            return [], True
        cur = self._conn().cursor(row_factory=tuple_row)
        # One ORDER BY for both aggregates: their items are aligned. float8's text
        # form is exact (extra_float_digits >= 1, the default since PostgreSQL 12).
        rows = cur.execute(
            "SELECT value, status, provider, string_agg(number, E'\\n' ORDER BY number), "
            "string_agg(checked_at::text, E'\\n' ORDER BY number) FROM answers "
            "WHERE task_type = %s AND number = ANY(string_to_array(%s, E'\\n')) "
            "GROUP BY value, status, provider",
            (task_type, "\n".join(numbers))).fetchall()
        return rows, True

    @_translating
    def _streamed(self, conn, cur) -> Iterator[StoredAnswer]:
        skew = self._skew
        try:
            for t, n, v, s, c, i, p, f in cur:
                yield StoredAnswer(t, n, v, s, c - skew, i, p, f)
        finally:
            conn.close()
