"""A per-process memo of stored answers already read, valid while the store has not changed.

Over a million rows already answered, the engine's path (normalise every distinct
cell, build the set, look it up in the store, diff it) costs more CPU than a
per-row dict lookup does in all. The memo lets the macros skip it: it holds, as
Arrow columns, the stored answers of the E.164 numbers this process has already
checked, and DuckDB joins a table's cells to it directly. A cell that misses it
(not canonical E.164, a number never read, a row with its own region, an answer
no longer fresh) takes the engine's path, which looks it up and pays for it as
before; the numbers that path read are then remembered.

Why it never serves an answer the store would not:
  * validity: every use takes the store's change token first (SQLite's
    `PRAGMA data_version` plus the file's identity, PostgreSQL's current
    snapshot); any commit since the memo was filled, by this process or another,
    empties it, and that query's cells take the engine's path;
  * freshness: each entry keeps its checked_at (the store's clock) and is served
    only while the engine's own rule (TGCHECK_MAX_AGE_DAYS for "ok",
    TGCHECK_UNKNOWN_RETRY_HOURS otherwise) keeps it fresh at the moment of use;
    TGCHECK_SAME_PROVIDER_ONLY serves only the selected provider's answers;
  * only canonical cells: a number enters the memo only when a cell holding
    exactly it was read as itself (a string equal to its E.164 reading, which
    carries no note; no per-row region), so a cell that matches an entry is
    read the same way by the normaliser;
  * task types that declare fields are never memoised (their answers carry more
    than a value), nor is a store that cannot tell a change
    (BaseStore.change_token's None);
  * each entry is shown as the core shows a stored answer (answer_column.outcome:
    an unknown's reason says whether it was left out or answered as unknown).

Each macro call reads the memo once, when it starts (streamed_check's BEGIN),
after the change-token check above, as a MemoSnapshot: a hash table of the
entries' numbers as int64 (what SQL reads from a cell that is "+" and digits)
with a code each into their few distinct answers as shown; a cell is answered
by a look-up of its integer (key_table), a vector at a time, no string
compared. The snapshot is made again only when the entries served change.
MemoView shows the same entries as a view of the connection (to look at; the
macros do not scan it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tgcheck.answer_column import outcome
from tgcheck.models import OK, TaskType
from tgcheck.store.answers import fresh_after

from . import thread_states
from .key_table import MAX_PAYLOAD, KeyTable, fits

# The memo as a view of the connection, to look at (registration: attach).
MEMO_VIEW = "__tgcheck_memo"
# The memo's Arrow type (MemoView: number, and the answer as shown: value,
# status, reason, per entry).
ENTRY_TYPE = pa.struct([("number", pa.string()), ("value", pa.string()),
                        ("status", pa.string()), ("reason", pa.string())])
ENTRY_SCHEMA = pa.schema(list(ENTRY_TYPE))
# checked_at read back from SQLite's text may be rounded in its last digits: an
# entry is treated as that much older, never younger, than stored.
CLOCK_MARGIN = 0.01
# At most this many numbers per task type (about 60 bytes each): a larger column
# takes the engine's path every time rather than hold its answers twice.
MAX_ENTRIES = 5_000_000
# Rows per Arrow batch handed to DuckDB: its threads convert batches in parallel.
VIEW_BATCH_ROWS = 1 << 17


def empty() -> pa.StructArray:
    return pa.array([], ENTRY_TYPE)


class AnswerMemo:
    """The answers of one engine's store for the task types a connection checks.

    Numbers are remembered when a query has checked them, and read from the store
    at the next query that asks the memo (not at once: a process that runs one
    query, e.g. `tgcheck sql "SELECT ..."`, never pays for the read).
    """

    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._store = None
        self._watchable = False
        self._token = None
        # task type -> Arrow table (number, value, status, provider, checked_at),
        # read while the store's change token was _token; numbers unique.
        self._tables: dict[str, pa.Table] = {}
        # task type -> numbers checked since, not read yet
        self._pending: dict[str, list[pa.Array]] = {}
        # task type -> (the table it was made of, the entries served, the store's
        # time until which all of them stay fresh): no pass over the entries per
        # query while none can have grown stale
        self._served: dict[str, tuple[pa.Table, pa.StructArray, float]] = {}
        # The entries last served and their MemoSnapshot: made again only when
        # the entries changed (a read, a commit, an entry grown stale).
        self._snapshot: tuple[pa.StructArray | None, MemoSnapshot | None] = (None, None)
        # Task types whose answers did not fit a MemoSnapshot (more distinct
        # answers than MAX_OUTCOMES): not remembered nor read until the store
        # changes.
        self._refused: set[str] = set()

    def usable(self, engine, ttype: TaskType) -> bool:
        if ttype.fields:
            return False
        with self._lock:
            self._same_store(engine.store)
            return self._watchable

    def _same_store(self, store) -> None:
        if store is not self._store:  # another engine's store: nothing of it holds
            self._store, self._token, self._tables, self._pending = store, None, {}, {}
            self._served, self._refused = {}, set()
            # A store that cannot tell a change (BaseStore.change_token's None)
            # is never memoised: every query reads it.
            self._watchable = store.change_token() is not None

    def answers(self, engine, ttype: TaskType) -> pa.StructArray:
        """The fresh remembered answers of ttype: (number, value, status, reason), each
        number once."""
        if not self.usable(engine, ttype):
            return empty()
        task_type = ttype.name  # as the store keys its answers
        # A paid task kept in the recovery file is attached as a check would
        # (engine path); attaching writes, which the token below then sees.
        engine.attach_recovered()
        store = engine.store
        with self._lock:
            self._same_store(store)
            # Taken before any read: a commit during the read changes the token
            # again, and the next query drops what this one reads.
            token = store.change_token()
            if token != self._token:
                # Read before a commit: stale. A refusal is looked at again too
                # (the store's answers may fit now).
                self._token, self._tables, self._refused = token, {}, set()
            pending = self._pending.pop(task_type, None)
            table = self._tables.get(task_type)
            if pending:
                table = self._tables[task_type] = _merged(
                    table, _read(store, task_type, pending, table))
            if table is None or not len(table):
                return empty()
            now = store._now()
            served = self._served.get(task_type)
            if served is None or served[0] is not table or now >= served[2]:
                served = self._served[task_type] = (
                    table, *_fresh(engine.planning.freshness(False, ttype), table, now))
            return served[1]

    def snapshot(self, engine, ttype: TaskType) -> MemoSnapshot | None:
        """answers() as a query uses them (MemoSnapshot); None when there are none."""
        entries = self.answers(engine, ttype)
        with self._lock:
            if entries is not self._snapshot[0]:
                made = MemoSnapshot(entries) if len(entries) else None
                if made is not None and not made.usable:
                    # It would never serve: forget its numbers rather than read
                    # the store for them at every later query (until the store
                    # changes: answers()).
                    self._refused.add(ttype.name)
                    self._tables.pop(ttype.name, None)
                    self._pending.pop(ttype.name, None)
                    self._served.pop(ttype.name, None)
                    self._snapshot = (None, None)
                    return None
                self._snapshot = (entries, made)
            return self._snapshot[1]

    def remember(self, engine, ttype: TaskType, numbers: pa.Array) -> None:
        """Numbers (canonical E.164, each a cell read as itself) whose stored answers
        the next use of the memo reads."""
        if not len(numbers) or not self.usable(engine, ttype):
            return
        task_type = ttype.name
        with self._lock:
            self._same_store(engine.store)
            if task_type in self._refused:
                return
            pending = self._pending.setdefault(task_type, [])
            held = self._tables.get(task_type)
            if (0 if held is None else len(held)) + sum(map(len, pending)) + len(numbers) \
                    > self.max_entries:
                return
            pending.append(numbers)


class MemoSnapshot:
    """The memo's entries as one query reads them (streamed_check): each number as
    the integer its digits spell (what SQL reads from a cell that is "+" and
    digits) in a hash table (key_table.KeyTable) with the index of its answer as
    shown (value, status, reason) in outcomes, + 1, as its payload. A cell whose
    integer is here is that very number: the memo holds only numbers read from
    cells equal to them.

    A table rather than a binary search of sorted keys: every row of a query is
    looked up (once: the second pass takes the first's look-up back,
    vector_look_ups.py), and one read of a slot (the table at most half full)
    costs fewer cache misses than the twenty steps of a search in a million keys."""

    # At most this many distinct answers as shown (a few in practice): a code + 1
    # is a slot's payload. With more, AnswerMemo.snapshot serves none (the
    # engine's path answers).
    MAX_OUTCOMES = MAX_PAYLOAD - 1

    def __init__(self, entries: pa.StructArray):
        digits = pc.cast(pc.utf8_slice_codeunits(entries.field("number"), 1),
                         pa.int64()).to_numpy()
        # The distinct answers as shown (a few): one code each.
        none = "\0"
        shown = [pc.fill_null(entries.field(name), none) for name in ("value", "status",
                                                                      "reason")]
        encoded = pc.dictionary_encode(pc.binary_join_element_wise(*shown, "\x1f"))
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
        self.outcomes = [tuple(None if part == none else part for part in text.split("\x1f"))
                         for text in encoded.dictionary.to_pylist()]
        # E.164 numbers (at most 15 digits) fit the key's bits, as SQL's integers do.
        self.usable = len(self.outcomes) <= self.MAX_OUTCOMES and fits(digits)
        if not self.usable:
            return  # not built: AnswerMemo.snapshot serves none
        self._table = KeyTable(digits, codes + 1)

    def codes1_of(self, digits: np.ndarray) -> np.ndarray:
        """Each key's answer code (an index into outcomes) + 1 (int64), 0 for one
        not here (-1, a row without digits, never is)."""
        return self._table.payloads(digits)

    def look_up(self, digits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """codes1_of, and each key's place (under self.places, one per number;
        -1 for one not here): an array indexed by it marks numbers."""
        return self._table.look_up(digits)

    @property
    def places(self) -> int:
        return self._table.places


class MemoView:
    """The memo's fresh entries of one task type as an object DuckDB scans as a
    table (the Arrow PyCapsule stream protocol). DuckDB asks the schema while
    binding a query (no store access: EXPLAIN and PREPARE read nothing) and the
    stream when a scan starts; a query whose plan drops the scan (a constant
    false filter) never asks. For a look at the memo: the macros read
    AnswerMemo.snapshot instead."""

    def __init__(self, memo: AnswerMemo, engine_of: Callable, ttype: TaskType):
        self._memo, self._engine_of, self._ttype = memo, engine_of, ttype

    def __arrow_c_schema__(self):
        return ENTRY_SCHEMA.__arrow_c_schema__()

    def __arrow_c_stream__(self, requested_schema=None):
        # It reads the store: on a DuckDB thread, not in a state kept past the scan.
        thread_states.let_go()
        entries = pa.Table.from_struct_array(self._memo.answers(self._engine_of(), self._ttype))
        reader = pa.RecordBatchReader.from_batches(
            ENTRY_SCHEMA, entries.to_batches(max_chunksize=VIEW_BATCH_ROWS))
        return reader.__arrow_c_stream__(requested_schema)


def _fresh(freshness: dict, table: pa.Table, now: float) -> tuple[pa.StructArray, float]:
    """The entries the store's lookup would keep at now (the store's clock), and
    until when all of those stay fresh. freshness: the engine's lookup keywords
    (Planning.freshness, retry_unknown off as the SQL face asks); the cut-offs are
    the store's own (store.answers.fresh_after)."""
    ok_after, other_after = fresh_after(freshness["max_age_days"],
                                        freshness["unknown_retry_hours"],
                                        freshness["retry_unknown"], now)
    after = pc.if_else(pc.equal(table["status"], OK), ok_after, other_after)
    # Fresh while checked_at, less the margin, is after the cut-off; for this long.
    left = pc.subtract(pc.subtract(table["checked_at"], CLOCK_MARGIN), after)
    expires = pc.add(left, now)
    keep = pc.greater(left, 0.0)
    if freshness["provider"] is not None:
        # An answer of unknown origin is not known to be this provider's.
        keep = pc.and_kleene(keep, pc.fill_null(
            pc.equal(table["provider"], freshness["provider"]), False))
    keep = pc.fill_null(keep, False)
    kept = table if pc.all(keep).as_py() else table.filter(keep)
    until = pc.min(expires.filter(keep)).as_py() if len(kept) else None
    status = kept["status"].combine_chunks()
    value, reason = _shown(kept["value"].combine_chunks(), status)
    entries = pa.StructArray.from_arrays(
        [kept["number"].combine_chunks(), value, status, reason], fields=list(ENTRY_TYPE))
    return entries, float("inf") if until is None else until


def _shown(value: pa.Array, status: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Each entry's value and reason as the core shows its stored answer
    (answer_column.outcome, called once per distinct (value, status) of the
    entries not ok: a few, e.g. left out or answered unknown). outcome() of an
    ok answer is its value with no reason, which the entries keep as they are."""
    shown, reason = value, pa.nulls(len(status), pa.string())
    not_ok = pc.not_equal(status, OK)
    if not pc.any(not_ok).as_py():
        return shown, reason
    for s in pc.unique(status.filter(not_ok)).to_pylist():
        of_s = pc.equal(status, s)
        for v in pc.unique(value.filter(of_s)).to_pylist():
            same = pc.is_null(value) if v is None else pc.fill_null(pc.equal(value, v), False)
            mask = pc.and_(of_s, same)
            v_out, _, r_out = outcome(v, s)
            shown = pc.if_else(mask, pa.scalar(v_out, pa.string()), shown)
            reason = pc.if_else(mask, pa.scalar(r_out, pa.string()), reason)
    return shown, reason


def _read(store, task_type: str, pending: list[pa.Array], table: pa.Table | None
          ) -> pa.Table | None:
    """The stored answers of the pending numbers not in table already (read under
    the same token, so still as stored), each number once."""
    numbers = pc.unique(pa.chunked_array(pending, pa.string()).combine_chunks())
    if table is not None and len(table):
        numbers = numbers.filter(pc.invert(pc.is_in(numbers, value_set=table["number"])))
    if not len(numbers):
        return None
    groups, exact = store.answer_columns(task_type, numbers.to_pylist())
    if not groups:
        return None
    # Each group's numbers and times arrive as one string each: split in C.
    split = [(_lines(g[3]), _lines(g[4]).cast(pa.float64())) for g in groups]
    counts = [len(n) for n, _ in split]
    read = pa.table({
        "number": pa.concat_arrays([n for n, _ in split]),
        "value": _repeated([g[0] for g in groups], counts),
        "status": _repeated([g[1] for g in groups], counts),
        "provider": _repeated([g[2] for g in groups], counts),
        "checked_at": pa.concat_arrays([t for _, t in split]),
    })
    if not exact:
        # A scan of the table brought numbers not asked for: only cells read as
        # themselves may be answered by cell.
        read = read.filter(pc.is_in(read["number"], value_set=numbers))
    return read


def _lines(text: str) -> pa.Array:
    return pc.split_pattern(pa.array([text], pa.string()), "\n").flatten()


def _merged(table: pa.Table | None, read: pa.Table | None) -> pa.Table | None:
    if table is None or read is None:
        return read if table is None else table
    return pa.concat_tables([table, read])


def _repeated(items: list, counts: list[int]) -> pa.Array:
    """items[i] repeated counts[i] times, as one string array, in C."""
    which = pa.concat_arrays([pa.repeat(pa.scalar(i, pa.int32()), n)
                              for i, n in enumerate(counts)])
    return pa.array(items, pa.string()).take(which)
