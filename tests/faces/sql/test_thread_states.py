"""thread_states (sql/tgcheck_duckdb/thread_states.py): a DuckDB thread's Python
state kept through the per-vector UDF calls, and let go by every UDF that
touches a store, so that nothing a store opens there outlives its call."""

from __future__ import annotations

import collections
import contextlib
import gc
import sqlite3
import threading
import time
import weakref

import duckdb
import pyarrow as pa
import pytest

import tgcheck
import tgcheck_duckdb
from conftest import numbers
from tgcheck.fields import fields_json
from tgcheck.store import StoredAnswer
from tgcheck_duckdb import answer_memo, macros, thread_states

ROWS = 400_000  # some 200 vectors: DuckDB's threads all take some


def _on_duckdb_thread() -> bool:
    """Whether the calling thread is one of DuckDB's own: one Python did not
    start (none in threading's table, or a dummy entry made for it)."""
    return isinstance(threading._active.get(threading.get_ident()),
                      (type(None), threading._DummyThread))


def _run_vectors(udfs: dict, seen: collections.Counter) -> None:
    """SELECT k(i) + p(i) over ROWS rows on four threads, until some vector ran
    on a DuckDB thread (seen[ident, "duckdb"]): one thread may take every row
    group before the others wake on a loaded machine."""
    con = duckdb.connect()
    for name, function in udfs.items():
        con.create_function(name, function, None, "INTEGER", type="arrow",
                            null_handling="special", side_effects=True)
    con.execute("SET threads = 4")
    # A table's scan is shared out by row groups (range() is read on one thread).
    con.execute(f"CREATE TABLE t AS SELECT range AS i FROM range({ROWS})")
    for _ in range(20):
        con.execute("SELECT count(k(i) + p(i)) FROM t").fetchall()
        if any(kind == "duckdb" for _, kind in seen):
            break
    con.close()


def _leaving(seen: collections.Counter, here: threading.local, passing: bool, ones):
    """A UDF that counts, per DuckDB thread, its calls and those that found what
    an earlier one left in `here`, then leaves it; passing: it lets go first."""
    def p(i):
        if passing:
            thread_states.let_go()
        if _on_duckdb_thread():
            ident = threading.get_ident()
            seen[ident, "duckdb"] += 1
            seen[ident, "found"] += hasattr(here, "left")
        here.left = True
        return ones[:len(i)]
    return p


def test_a_kept_state_outlives_the_call_and_a_passing_call_ends_it():
    # Each vector: k, then p. Without keep(), every call on a DuckDB thread has
    # a new state, so p never finds what it left on a thread; with keep() in
    # k and nothing in p, p finds it from that thread's second vector on; with
    # let_go() in p, the state (and what p left in it) ends with p's call again.
    found = {}
    ones = pa.array([1] * 2048, pa.int32())

    def k(i):
        thread_states.keep()
        return ones[:len(i)]

    for p_kind in ("plain", "passing"):
        seen = collections.Counter()
        _run_vectors({"k": k, "p": _leaving(seen, threading.local(), p_kind == "passing",
                                             ones)}, seen)
        calls = sum(n for (_, kind), n in seen.items() if kind == "duckdb")
        assert calls > 1, "DuckDB ran no vector on a thread of its own"
        found[p_kind] = sum(n for (_, kind), n in seen.items() if kind == "found")
    assert found["plain"] > 0  # kept: what p left was there at its next call
    assert found["passing"] == 0  # let go: each call's state ended with it


def test_at_most_max_kept_states_are_kept(monkeypatch):
    # A kept state whose thread ends is never freed: past MAX_KEPT, keep()
    # keeps none (DuckDB's calls make their states as they did).
    monkeypatch.setattr(thread_states, "_kept", thread_states.MAX_KEPT)
    kept = []

    def run():
        thread_states.keep()
        kept.append(hasattr(thread_states._here, "state"))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert kept == [False] and thread_states._kept == thread_states.MAX_KEPT
    monkeypatch.setattr(thread_states, "_kept", thread_states.MAX_KEPT - 1)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()  # a Python thread's state ends with it, kept or not
    assert kept == [False, True] and thread_states._kept == thread_states.MAX_KEPT


def test_every_udf_that_may_read_a_store_lets_a_kept_state_go(settings, monkeypatch):
    # The registration's table: each UDF either keeps its thread's state (the
    # per-vector ones that read no store) or lets a kept one go before it runs
    # (BEGIN, FINISH, the answer lists, and ANSWER and FIRST, which read a task
    # type's fields), and so does the memo's view.
    registered = {}
    real = duckdb.DuckDBPyConnection.create_function
    con = duckdb.connect()

    class Recording:
        def create_function(self, name, function, *args, **kwargs):
            registered[name] = function
            return real(con, name, function, *args, **kwargs)

        def register(self, name, view):
            registered[name] = view
            return con.register(name, view)

        def __getattr__(self, name):
            return getattr(con, name)

    tgcheck_duckdb.register(Recording(), settings)
    keeping = {name for name, f in registered.items() if getattr(f, "keeps_state", None)}
    letting_go = {name for name, f in registered.items()
                  if getattr(f, "keeps_state", None) is False}
    assert keeping == {macros.COLLECT + macros.DIGITS, macros.COLLECT + macros.CELLS,
                       macros.COLLECT_EVERY + macros.DIGITS,
                       macros.COLLECT_EVERY + macros.CELLS,
                       macros.CODE + macros.DIGITS, macros.CODE + macros.CELLS,
                       macros.FIRST_CODE + macros.DIGITS}
    assert letting_go == {macros.BEGIN, macros.FINISH, macros.VALUES, macros.OUTCOMES,
                          macros.ANSWER + macros.DIGITS, macros.ANSWER + macros.CELLS,
                          macros.FIRST + macros.DIGITS}
    released = []
    monkeypatch.setattr(thread_states, "_release", released.append)
    for name in sorted(letting_go):  # each lets go before it reads its arguments
        thread_states._here.state = 0
        monkeypatch.setattr(thread_states, "_kept", 1)
        with contextlib.suppress(Exception):
            registered[name]()
        assert not hasattr(thread_states._here, "state"), name
    assert released == [0] * len(letting_go)
    thread_states._here.state = 0
    monkeypatch.setattr(thread_states, "_kept", 1)
    registered[answer_memo.MEMO_VIEW].__arrow_c_stream__()  # on this thread
    assert released == [0] * (len(letting_go) + 1)
    con.close()
    tgcheck.get_engine(settings).close()


def test_no_store_connection_outlives_a_udf_call_on_a_duckdb_thread(settings, monkeypatch):
    # ANSWER reads a task type's fields from the store a vector at a time, on
    # whichever thread DuckDB runs it (BEGIN, FINISH and the memo's view read
    # it too); the SQLite store keeps a connection per thread. Once the engine
    # is closed (its shared connection, and this thread's), no connection
    # opened on one of DuckDB's threads is left: those calls let the thread's
    # kept state go (were it kept, by COLLECT before them, the connection
    # would live as long as the thread, past the engine).
    opened = []

    class Tracked(sqlite3.Connection):  # the stores' connections, each recorded
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append((_on_duckdb_thread(), weakref.ref(self)))

    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: connect(*a, factory=Tracked, **k))
    # Answers with fields already stored: no task, and a table of three row
    # groups (DuckDB shares a scan out by them) read until one of DuckDB's
    # threads has opened the store (the query's own thread may take every
    # vector on a loaded machine).
    rows = 300_000
    phones = numbers(rows)
    tgcheck.get_engine(settings).store.import_answers(
        StoredAnswer("tg_active", phone, "yes", "ok", time.time(), "t1", "ekycpro",
                     fields_json({"seen_within_days": 3})) for phone in phones)
    con = tgcheck_duckdb.register(duckdb.connect(), settings, task_type="tg_active")
    con.execute("SET threads = 4")
    con.execute("CREATE TABLE t AS SELECT unnest($1) AS phone", [phones])
    for _ in range(5):
        query = "SELECT count(seen_within_days) FROM telegram_enrich('t', 'phone')"
        assert con.execute(query).fetchone()[0] == rows
        if any(duckdb_thread for duckdb_thread, _ in opened):
            break
    con.close()
    tgcheck.get_engine(settings).close()  # its own: the shared watch, this thread's
    gc.collect()
    on_duckdb = [ref for duckdb_thread, ref in opened if duckdb_thread]
    if not on_duckdb:  # the registration's table (test above) is checked in every run
        pytest.skip("DuckDB ran every call that reads the store on the query's thread")
    assert [ref() for ref in on_duckdb if ref() is not None] == []
