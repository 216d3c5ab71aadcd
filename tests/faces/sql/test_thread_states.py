"""thread_states (sql/tgcheck_duckdb/thread_states.py): a DuckDB thread's Python
state kept through the per-vector UDF calls, and let go by every UDF that
touches a store, so that nothing a store opens there outlives its call."""

from __future__ import annotations

import collections
import gc
import sqlite3
import threading
import weakref

import duckdb
import pyarrow as pa

import tgcheck
import tgcheck_duckdb
from conftest import numbers
from tgcheck_duckdb import thread_states

ROWS = 400_000  # some 200 vectors: DuckDB's threads all take some


def _count_calls(con, udfs: dict) -> None:
    for name, function in udfs.items():
        con.create_function(name, function, None, "INTEGER", type="arrow",
                            null_handling="special", side_effects=True)
    con.execute("SET threads = 4")
    # A table's scan is shared out by row groups (range() is read on one thread).
    con.execute(f"CREATE TABLE t AS SELECT range AS i FROM range({ROWS})")
    con.execute("SELECT count(k(i) + p(i)) FROM t").fetchall()


def _python_threads() -> set[int]:
    return {t.ident for t in threading.enumerate() if not isinstance(t, threading._DummyThread)}


def _leaving(seen: collections.Counter, here: threading.local, passing: bool, ones):
    """A UDF that counts, per thread, its calls and those that found what an
    earlier one left in `here`, then leaves it; passing: it lets go first."""
    def p(i):
        if passing:
            thread_states.let_go()
        ident = threading.get_ident()
        seen[ident, "calls"] += 1
        seen[ident, "found"] += hasattr(here, "left")
        here.left = True
        return ones[:len(i)]
    return p


def test_a_kept_state_outlives_the_call_and_a_passing_call_ends_it():
    # Each vector: k, then p. Without keep(), every call on a DuckDB thread has
    # a new state, so p never finds what it left on a thread; with keep() in
    # k and nothing in p, p finds it from the second vector on; with let_go()
    # in p, the state (and what p left in it) ends with p's call again.
    found = {}
    ones = pa.array([1] * 2048, pa.int32())

    def k(i):
        thread_states.keep()
        return ones[:len(i)]

    for p_kind in ("plain", "passing"):
        seen = collections.Counter()  # per thread: p's calls, and those that found it
        p = _leaving(seen, threading.local(), p_kind == "passing", ones)
        con = duckdb.connect()
        _count_calls(con, {"k": k, "p": p})
        con.close()
        ours = _python_threads()
        duckdb_threads = {ident for ident, kind in seen if ident not in ours}
        assert duckdb_threads, "DuckDB ran no vector on a thread of its own"
        found[p_kind] = sum(seen[ident, "found"] for ident in duckdb_threads)
        calls = sum(seen[ident, "calls"] for ident in duckdb_threads)
        assert calls > 1
    assert found["plain"] > 0  # kept: what p left was there at its next call
    assert found["passing"] == 0  # let go: each call's state ended with it


def test_no_store_connection_outlives_a_udf_call_on_a_duckdb_thread(settings, monkeypatch):
    # BEGIN, FINISH, the answer lists and the memo's view read the store on
    # whichever thread DuckDB runs them; the SQLite store keeps a connection per thread. Once
    # the engine is closed (its shared connection, and this thread's), no
    # connection opened on one of DuckDB's threads is left: their calls let the
    # thread's kept state go (were it kept, the connection would live as long
    # as the thread, past the engine).
    opened = []

    class Tracked(sqlite3.Connection):  # the stores' connections, each recorded
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append((threading.get_ident(), weakref.ref(self)))

    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: connect(*a, factory=Tracked, **k))
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    con.execute("SET threads = 4")
    con.execute("CREATE TABLE t AS SELECT unnest($1) AS phone", [numbers(3000)])
    calls = " UNION ALL ".join(["SELECT * FROM telegram_enrich('t', 'phone')"] * 8)
    for _ in range(3):  # the first query checks; the later ones read the memo
        assert con.execute(f"SELECT count(*) FROM ({calls})").fetchone()[0] == 8 * 3000
        # The memo's view reads the store too, on whichever thread scans it.
        con.execute("SELECT count(*) FROM __tgcheck_memo").fetchone()
    con.close()
    tgcheck.get_engine(settings).close()  # its own: the shared watch, this thread's
    gc.collect()
    ours = _python_threads()
    on_duckdb = [ref for ident, ref in opened if ident not in ours]
    assert on_duckdb, "no store access ran on a thread of DuckDB's own"
    assert [ref() for ref in on_duckdb if ref() is not None] == []
