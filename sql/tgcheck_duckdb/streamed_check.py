"""One macro call's check, streamed: DuckDB hands Python the cells a vector at a time.

DuckDB's Python API has no table functions, and a list value is neither streamed
nor spilled (docs/performance.md, "DuckDB memory"). So each macro call
(macros.py) is a few scalar UDFs over one QueryState, none of which ever sees
the whole column:

1. BEGIN (one row): checks `region :=` and `task_type :=` (a misspelled one
   fails the query before any call), takes the memo's snapshot (the registered
   task type only) and opens the state; its id is the one-row CTE every later
   call is cross-joined to;
2. COLLECT (a vector of rows at a time): a cell that is "+" and digits
   reaches Python as the integer SQL read from it, in C (macros.DIGITS_OF),
   its vector held for FINISH to look up in the memo (VectorLookUps.hold); any
   other cell as itself, read here (resolve_all) and its reading kept for pass 3;
3. FINISH (one row, after every COLLECT): looks the held vectors up at once and
   keeps the numbers the memo does not answer, as int64 keys
   (tgcheck.compact_answers: about 12 bytes a distinct number); reads them a
   batch at a time (resolve_all: invalid ones are answered locally, never
   sent), then Planning.check_compact once: one task for the whole column when
   it fits one, interruptible, with the progress line; VALUES hands SQL the values;
4. CODE or ANSWER (a vector at a time, in the table's order): each row's answer,
   from the memo's snapshot (FINISH's look-up of the same vector, held by the
   first pass, taken back: VectorLookUps), the compact answers or its reading;
   the answer column joins them (AnswerColumn.outcomes_to_arrow). CODE gives a row's
   answer code only (a task type without fields: its one column), ANSWER the
   whole answer. telegram_check's "+digits" rows take FIRST_CODE (an index into
   OUTCOMES' list of whole answers) or, when OUTCOMES is NULL (a "+digits" cell
   not read as itself) or the task type has fields, FIRST (ANSWER), which answer each
   integer's first row only: one row per distinct cell, with no hash table of
   cells (collect(every=True) keeps each integer the memo does not answer, 8
   bytes, and a 2-byte mark per number; for the memo's, a mark per place of its
   table, about 5.4 bytes a remembered number, whatever the column's size).

A state is dropped when its last row is answered (rows answered == rows
collected); a query stopped early (a LIMIT, a count(*) that takes no answer)
leaves its state until MAX_OPEN later ones have opened: what is kept is
bounded, never growing per query. Only other queries' states are pushed out
(BEGIN is given DuckDB's current_query_id()): a query of more than MAX_OPEN
calls (a UNION ALL of ten) keeps all of its own while it runs, up to
MAX_PER_QUERY (DuckDB 1.5 gives a prepared statement's every EXECUTE one id).
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tgcheck.answer_column import AnswerColumn, outcome, sent_numbers
from tgcheck.compact_answers import (
    CompactAnswers,
    KeyParts,
    as_strs,
    distinct,
    keys_of_digits,
    positions,
)
from tgcheck.errors import InputError
from tgcheck.models import OK
from tgcheck.normalize import resolve_all
from tgcheck.regions import per_row

from .answer_memo import MemoSnapshot
from .arrow_values import ARROW_TYPES, FIELD_PREFIX, in_blocks, plus_digits, python_values
from .vector_look_ups import MAX_PLACES, Budget, VectorLookUps

# ANSWER's number for a cell that is its own number (macros.NUMBER shows the cell).
SAME_AS_CELL = ""
# States of queries stopped before their last row (a LIMIT) kept at most: the
# oldest of another query is dropped when a call opens (never one of the
# opening call's own query, which may hold more while it runs).
MAX_OPEN = 8
# A query's own states kept at most: more calls in one query fail it, naming
# this. What bounds them when DuckDB gives several queries one id (1.5: each
# EXECUTE of a prepared statement).
MAX_PER_QUERY = 4 * MAX_OPEN
# Collected cells read (resolve_all) this many at a time in finish: Python
# values of one batch, however long the column.
READ_BATCH = 200_000
# telegram_check's marks of a number (QueryState._first_rows): seen by the first
# pass, then answered at its first row (0: not seen). Two bytes a place: each
# row of a vector claims its number's mark (CLAIMS: below 0, the row's index up
# from int16's least), the least claim wins (np.minimum.at): the number's first
# row, found without sorting the vector (docs/performance.md, "First rows by claims").
COLLECTED, SHOWN, MARK_TYPE = 1, 2, np.int16
CLAIMS = np.arange(np.iinfo(MARK_TYPE).min, 0, dtype=MARK_TYPE)
# telegram_check's second pass met a "+digits" cell its first did not.
NOT_COLLECTED = (
    "telegram_check's table gave its second pass rows its first did not see (a view "
    "that samples or filters by random()): the answers would not be the table's; store "
    "the rows first (CREATE TABLE ... AS) and check that table")
# Readings of cells not "+" and digits kept per call, for the second pass (~150 bytes each).
READINGS_KEPT = 500_000
_UNREAD = object()


class QueryStates:
    """The open states of one connection's macro calls, by id."""

    def __init__(self, max_open: int = MAX_OPEN, max_per_query: int = MAX_PER_QUERY):
        self.max_open, self.max_per_query = max_open, max_per_query
        # What the calls' first passes keep for their second (VectorLookUps), all
        # of this connection's together.
        self.look_up_budget = Budget()
        self._lock = threading.Lock()
        self._open: OrderedDict[int, QueryState] = OrderedDict()
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._open)

    def open(self, state: QueryState, query: object = None) -> int:
        """Keep state, of the query `query` (DuckDB's current_query_id()), and drop
        the oldest states of other queries beyond max_open: a query's own calls
        are not pushed out while it runs (a connection runs one query at a time,
        so another query's state left open is one stopped early), unless it has
        more than max_per_query."""
        with self._lock:
            state.id, state.query = next(self._ids), query
            self._open[state.id] = state
            # Another query's state still open was stopped early: no second pass.
            for other in self._open.values():
                if other.query != query:
                    other.forget_look_ups()
            if len(self._open) > self.max_open:
                others = [i for i, s in self._open.items() if s.query != query]
                for i in others[:len(self._open) - self.max_open]:
                    del self._open[i]
            own = [i for i, s in self._open.items() if s.query == query]
            for i in own[:max(0, len(own) - self.max_per_query)]:
                self._open.pop(i).forget_look_ups()
            return state.id

    def get(self, ids: pa.Array) -> QueryState:
        state_id = ids[0].as_py() if len(ids) else None
        with self._lock:
            state = self._open.get(state_id)
        if state is None:
            raise InputError(
                "this query's check was dropped: more than "
                f"{self.max_open} telegram_enrich/telegram_check calls of other queries "
                f"(MAX_OPEN), or {self.max_per_query} of its own (MAX_PER_QUERY), opened "
                "since it started; run it again, with fewer calls in one query")
        return state

    def close(self, state: QueryState) -> None:
        with self._lock:
            self._open.pop(state.id, None)
        state.forget_look_ups()  # those the second pass did not take back: their bytes


class QueryState:
    """One macro call's check. chosen: the task type asked for (block: its block
    of columns, macros.block_fields: members); region: the default region;
    snapshot: the memo's entries (None: none serve this call); check(fn) runs
    fn(request) interruptibly with the progress line (registration._check);
    remember(numbers): the memo's, for cells read as themselves (None: not
    memoised), when at most max_remembered; lookup_size: numbers looked up in
    the store at a time (check_compact's); look_up_budget: VectorLookUps'."""

    _look_ups: VectorLookUps | None = None

    def __init__(self, engine, chosen, block: int, members: tuple, region,
                 snapshot: MemoSnapshot | None, check: Callable,
                 remember: Callable | None, max_remembered: int, lookup_size: int,
                 look_up_budget: Budget | None = None):
        self.id, self.query = 0, None  # set by QueryStates.open
        self._lookup_size = lookup_size
        self._offset = 0  # the first code of the call's own answers (after the memo's)
        self.engine, self.chosen = engine, chosen
        self.block, self.members, self.region = block, members, region
        self.snapshot, self._check, self._remember = snapshot, check, remember
        self._max_remembered = max_remembered
        self._lock = threading.Lock()
        # Keys (compact_answers) of the "+digits" cells the memo does not answer,
        # and of the numbers read from other cells: sorted, distinct, merged as
        # they come.
        self._cells, self._others = KeyParts(), KeyParts()
        # telegram_check's (collect(every=True)): every "+digits" cell's integer
        # the memo does not answer (_cells is then taken from it, in finish),
        # and a mark per place (_first_rows: the memo's places, then those
        # integers' positions) that says whether the first pass saw it
        # (COLLECTED) and whether a row of it was answered yet (SHOWN).
        self._every = KeyParts()
        self._integers = np.empty(0, np.int64)
        self._marks: np.ndarray | None = None
        self.collected = self.answered = 0
        self.answers = CompactAnswers(np.empty(0, np.int64))
        self._odd = np.empty(0, np.int64)  # "+digits" cells not read as themselves
        self._outcomes: list[tuple] = []
        self._kept: dict = {}  # cell (or cell, region) -> its reading (_readings)
        # Each vector of "+digits" rows held by the first pass, looked up in finish,
        # for the second to take back (_memo_look_up), within the connection's budget.
        self._look_ups = VectorLookUps(look_up_budget)

    # -- pass 1 ---------------------------------------------------------------
    def collect(self, digits: pa.Array, raw: pa.Array, row_regions: pa.Array,
                every: bool = False) -> None:
        """Keep the rows' numbers the memo does not answer; every: keep every
        "+digits" cell's integer instead (telegram_check's first rows): those the
        memo answers by their place in it, a mark each, the others in full; a
        vector of "+digits" rows is held for finish to look up (VectorLookUps.hold)."""
        keys = _digits(digits)
        found = None
        if self.snapshot is not None and raw.null_count == len(raw):  # "+digits" rows
            if self.snapshot.places <= MAX_PLACES and self._look_ups.hold(keys, every):
                with self._lock:
                    self.collected += len(keys)
                return
            found = self._memo_look_up(keys, with_places=every, first_pass=True)
        other = (self._read(raw, row_regions, keys, (keys < 0) & _valid(raw))
                 if raw.null_count != len(raw) else None)
        numbers = distinct([_keys(sent_numbers(other[2]))]) if other else None
        self._keep(keys, found, every, len(keys), numbers)

    def _keep(self, keys: np.ndarray, found: tuple | None, every: bool, rows: int,
              numbers: np.ndarray | None = None) -> None:
        """collect's keeping of keys' integers (found: their memo look-up, None
        without one) and of numbers read from other cells; rows: collected."""
        keyed = keys >= 0
        every_part = misses = memo_places = None
        if found is not None:
            memo1, places = found
            if every:
                held = places >= 0
                memo_places, keyed = places[held], keyed & ~held
            else:
                keyed &= memo1 == 0
        integers = keys[keyed]
        if every:
            every_part = distinct([integers])
        elif len(integers):
            misses = distinct([keys_of_digits(integers)])
        with self._lock:
            self.collected += rows
            if misses is not None:
                self._cells.add(misses)
            if numbers is not None:
                self._others.add(numbers)
            if every_part is not None and len(every_part):
                self._every.add(every_part)
            if memo_places is not None and len(memo_places):
                if self._marks is None:
                    self._marks = np.zeros(self.snapshot.places, MARK_TYPE)
                self._marks[memo_places] = COLLECTED

    def forget_look_ups(self) -> None:
        """Drop what the first pass kept for a second that will not come."""
        if self._look_ups is not None:
            self._look_ups.clear()

    def _memo_look_up(self, keys: np.ndarray, with_places: bool = False,
                      first_pass: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Each key's code + 1 in the memo's snapshot (0: not there) and,
        with_places, its place (-1 likewise; else None). The second pass takes a
        vector's back when it reads the very same keys (VectorLookUps), else looks
        up again; the first pass (a vector it could not hold) keeps it if it can."""
        if not first_pass:
            kept = self._look_ups.take(keys)
            if kept is not None and (kept[1] is not None or not with_places):
                return kept
        found = self._snapshot_look_up(keys, with_places)
        if first_pass and self.snapshot.places <= MAX_PLACES:  # places kept in 4 bytes
            self._look_ups.put(keys, *found)
        return found

    def _snapshot_look_up(self, keys: np.ndarray, with_places: bool) -> tuple:
        """Each key's code + 1 in the memo's snapshot and, with_places, place."""
        return (self.snapshot.look_up(keys) if with_places
                else (self.snapshot.codes1_of(keys), None))

    def _read(self, raw: pa.Array, row_regions: pa.Array, keys: np.ndarray,
              where: np.ndarray) -> tuple[np.ndarray, list, list] | None:
        """The rows at where as Python values (a row with digits: its "+digits"
        cell, any other its raw cell) and resolve_all's reading of them, each with
        its region; None when there are none."""
        at = np.flatnonzero(where)
        if not len(at):
            return None
        taken = pa.array(at)
        values = python_values(raw.take(taken))
        for i in np.flatnonzero(keys[at] >= 0).tolist():
            values[i] = f"+{keys[at[i]]}"
        regions = (row_regions.take(taken).to_pylist()
                   if row_regions.null_count != len(row_regions) else None)
        return at, values, self._readings(values, regions)

    def _readings(self, values: list, regions: list | None) -> list:
        """resolve_all's reading of values (each with its region, or the call's),
        each distinct one read once per call: the first pass reads a cell, the
        second finds its reading here (up to READINGS_KEPT cells; past that the
        second pass reads again, memory being bounded)."""
        kept = self._kept
        asked = values if regions is None else list(zip(values, regions, strict=True))
        found = [kept.get(k, _UNREAD) for k in asked]
        unread = [i for i, f in enumerate(found) if f is _UNREAD]
        if unread:
            region = self.region if regions is None else per_row(
                [regions[i] for i in unread], self.region)
            fresh = resolve_all([values[i] for i in unread], region)
            room = READINGS_KEPT - len(kept)
            for i, f in zip(unread, fresh, strict=True):
                found[i] = f
                if room > 0:
                    kept[asked[i]] = f
                    room -= 1
        return found

    # -- pass 2 ---------------------------------------------------------------
    def finish(self) -> None:
        """Look the held vectors up in the memo, read the collected "+digits" cells
        a batch at a time, then check every number once."""
        for keys, memo1, places in self._look_ups.look_up_held(self._snapshot_look_up):
            self._keep(keys, (memo1, places), places is not None, 0)  # places: every=True
        self._integers = self._every.merged()  # collect(every=True)'s: not the memo's
        if len(self._integers):  # every one of them collected, after the memo's places
            memo = (self._marks if self._marks is not None else
                    np.zeros(self.snapshot.places if self.snapshot is not None else 0, MARK_TYPE))
            self._marks = np.concatenate(
                [memo, np.full(len(self._integers), COLLECTED, MARK_TYPE)])
        for start in range(0, len(self._integers), READ_BATCH):
            part = self._integers[start:start + READ_BATCH]
            self._cells.add(distinct([keys_of_digits(part)]))
        cells = self._cells.merged()
        remembered = [] if self._remember is not None and \
            0 < len(cells) <= self._max_remembered else None
        keep, odd = np.ones(len(cells), bool), []
        for start in range(0, len(cells), READ_BATCH):
            part = cells[start:start + READ_BATCH]
            strs = as_strs(part)
            found = resolve_all(strs, self.region)
            if found != strs:  # some not read as themselves: answered from their reading
                itself = np.array([type(f) is str and f == c
                                   for f, c in zip(found, strs, strict=True)], bool)
                odd += [int(c[1:]) for c, same in zip(strs, itself, strict=True) if not same]
                self._others.add(distinct([_keys(sent_numbers(
                    [f for f, same in zip(found, itself, strict=True) if not same]))]))
                keep[start:start + len(part)] = itself
                strs = [c for c, same in zip(strs, itself, strict=True) if same]
            if remembered is not None:
                remembered.append(pa.array(strs, pa.string()))
            del strs, found
        self._odd = np.sort(np.array(odd, np.int64))
        # The clean cells' keys stay sorted and distinct: no second sort, and no
        # copy when every cell read as itself.
        numbers = cells if keep.all() else cells[keep]
        del cells, keep
        others = self._others.merged()
        self.answers = CompactAnswers(distinct([numbers, others]) if len(others) else numbers)
        del numbers, others
        if len(self.answers):
            size = self._lookup_size
            self._check(lambda request: self.engine.planning.check_compact(
                self.answers, request, size))
        # The cells read as themselves (no region of their own: they have digits):
        # the memo answers them by cell at the next query.
        if remembered:
            self._remember(pa.concat_arrays(remembered))
        self._offset = len(self.snapshot.outcomes) if self.snapshot is not None else 0
        self._outcomes = [*(self.snapshot.outcomes if self.snapshot is not None else ()),
                          *(outcome(value, status) for value, status in self.answers.pairs)]

    # -- pass 3 ---------------------------------------------------------------
    def values(self) -> list[str | None]:
        """Each answer code's value as shown (value_codes' 1-based codes index it)."""
        return [shown[0] for shown in self._outcomes]

    def value_codes(self, digits: pa.Array, raw: pa.Array, row_regions: pa.Array
                    ) -> tuple[pa.Array, bool]:
        """Each row's answer as its code + 1 into values() (NULL: none, which is a
        NULL value too: a cell answered locally, a number without an answer), in
        the rows' order; and whether this was the call's last row. What a task
        type without fields needs for its one column: no string made per row."""
        memo1 = None
        if self.snapshot is not None and raw.null_count == len(raw):
            # Rows of "+digits" cells, the memo's answers first (_codes): when
            # it answers every row, nothing else is looked up (and no mask:
            # every code + 1 is at least 1); else _codes goes on from them.
            memo1 = self._memo_look_up(_digits(digits))[0]
            if memo1.all():
                return pa.array(memo1.astype(np.int32)), self._answered(len(memo1))
        codes, _ = self._codes(digits, raw, row_regions, memo1)
        return pa.array(codes + 1, pa.int32(), mask=codes < 0), self._answered(len(codes))

    def answer(self, digits: pa.Array, raw: pa.Array, row_regions: pa.Array,
               memo1: np.ndarray | None = None) -> tuple[pa.StructArray, bool]:
        """Each row's answer (number, value, status, reason and every block's
        members: in_blocks), in the rows' order; and whether this was the last
        row. memo1: the rows' codes + 1 in the memo, when already looked up."""
        codes, read = self._codes(digits, raw, row_regions, memo1)
        n = len(codes)
        # A "+digits" cell read as itself is its own number: SAME_AS_CELL, which
        # the macros replace by the cell (no string made here, nor converted
        # back). The fields are looked up by number: then the number itself.
        numbers = (plus_digits(digits) if self.chosen.fields else
                   pc.if_else(digits.is_valid(), SAME_AS_CELL, pa.scalar(None, pa.string())))
        local_status = local_reason = pa.nulls(n, pa.string())
        if read is not None:  # the rows read here: their number, status and reason
            at, number, status, reason = read
            mask = np.zeros(n, bool)
            mask[at] = True
            masked = pa.array(mask)
            numbers = pc.replace_with_mask(numbers, masked, number)
            local_status = pc.replace_with_mask(local_status, masked, status)
            local_reason = pc.replace_with_mask(local_reason, masked, reason)
        out = AnswerColumn.outcomes_to_arrow(numbers, codes, self._outcomes, local_status,
                                             local_reason)
        return in_blocks(out, self._fields(out), self.members), self._answered(n)

    def answer_first(self, digits: pa.Array, raw: pa.Array, row_regions: pa.Array
                     ) -> tuple[pa.StructArray, bool]:
        """answer(), each "+digits" cell answered at its first row only (a
        repeat's answer is NULL): telegram_check's one row per distinct cell,
        its rows streamed (_first_rows)."""
        keys = _digits(digits)
        memo1 = places = None
        if self.snapshot is not None and raw.null_count == len(raw):  # one look-up
            memo1, places = self._memo_look_up(keys, with_places=True)
        out, last = self.answer(digits, raw, row_regions, memo1)
        shown = self._first_rows(keys, places)
        if shown.all():
            return out, last
        return pa.StructArray.from_arrays(
            out.flatten(), fields=list(out.type), mask=pa.array(~shown)), last

    def first_codes(self, digits: pa.Array, raw: pa.Array, row_regions: pa.Array
                    ) -> tuple[pa.Array, bool]:
        """answer_first's lighter form for "+digits" rows and a task type without
        fields: each row's 1-based index into outcome_list() (NULL: a repeat),
        no struct made per row. Only when every such cell read as itself
        (outcome_list() is not None)."""
        keys = _digits(digits)
        memo1 = places = None
        if self.snapshot is not None:  # one look-up: the code and the place
            memo1, places = self._memo_look_up(keys, with_places=True)
        if memo1 is not None and memo1.all():  # the memo's codes + 1: nothing else to do
            codes1 = memo1.astype(np.int32)
        else:  # no _odd (outcome_list() said so); len(_outcomes): a number not answered
            codes = self._digit_codes(keys, memo1)[0]
            codes1 = np.where(codes >= 0, codes, len(self._outcomes)) + 1
        shown = self._first_rows(keys, places)
        return pa.array(codes1, pa.int32(), mask=~shown), self._answered(len(keys))

    def outcome_list(self) -> pa.ListArray:
        """One list of answer structs (answer()'s type) that first_codes index:
        each outcome (its number: the cell's, SAME_AS_CELL), then a number not
        answered. NULL when some "+digits" cell was not read as itself (_odd):
        such a cell has a number, status and reason of its own, read a vector
        at a time by answer_first (its readings bounded, READINGS_KEPT), which
        the macro then calls instead."""
        # The answer column's own join, given each outcome's code, then one of
        # none (its rule for a number not answered).
        n = len(self._outcomes)
        base = AnswerColumn.outcomes_to_arrow(
            pa.array([SAME_AS_CELL] * (n + 1), pa.string()),
            np.append(np.arange(n, dtype=np.int32), -1), self._outcomes)
        answers = in_blocks(base, {}, self.members)
        if len(self._odd):
            return pa.nulls(1, pa.list_(answers.type))
        return pa.ListArray.from_arrays(pa.array([0, len(answers)], pa.int32()), answers)

    def _first_rows(self, keys: np.ndarray, places: np.ndarray | None) -> np.ndarray:
        """Whether each row is the first of its "+digits" integer (across the
        call's vectors: _marks) or has none. A repeat's row is the same cell, as
        its integer is (macros.DIGITS_OF reads only a cell that is exactly "+"
        and the digits). places: each key's in the memo (MemoSnapshot.look_up;
        None without a memo)."""
        shown = np.ones(len(keys), bool)
        keyed = np.flatnonzero(keys >= 0)
        if not len(keyed):
            return shown
        # Each integer's place: the memo's (no search), else its position in _integers after them.
        at = places[keyed] if self.snapshot is not None else np.full(len(keyed), -1, np.int64)
        rest = np.flatnonzero(at < 0)
        if len(rest):
            wanted = keys[keyed[rest]]
            # Sorted first: their binary searches then walk the same part of _integers
            # one after another (random numbers searched in the rows' order miss the
            # cache at every step; docs/performance.md, "Random numbers").
            order = np.argsort(wanted, kind="stable")
            found = positions(self._integers, wanted[order])
            if (found < 0).any():
                raise InputError(NOT_COLLECTED)
            offset = self.snapshot.places if self.snapshot is not None else 0
            at[rest[order]] = offset + found
        # A place not collected (a table that gave other rows to the second pass: a
        # sampled view) fails the call before any is marked, its answers not one set
        # of rows'. No lock: a mark never goes back to 0.
        if self._marks is None or not self._marks[at].all():
            raise InputError(NOT_COLLECTED)
        shown[keyed] = False
        for start in range(0, len(at), len(CLAIMS)):
            part, rows = at[start:start + len(CLAIMS)], keyed[start:start + len(CLAIMS)]
            with self._lock:  # DuckDB's threads answer vectors at once
                new = self._marks[part] == COLLECTED  # read again: another may have shown some
                mine, claims = part[new], CLAIMS[:len(part)][new]
                np.minimum.at(self._marks, mine, claims)
                first = self._marks[mine] == claims
                self._marks[mine] = SHOWN
            shown[rows[new][first]] = True
        return shown

    def _answered(self, rows: int) -> bool:
        with self._lock:
            self.answered += rows
            return self.answered >= self.collected

    def _codes(self, digits: pa.Array, raw: pa.Array, row_regions: pa.Array,
               memo1: np.ndarray | None = None) -> tuple[np.ndarray, tuple | None]:
        """Each row's answer code (an index into _outcomes, -1: none) and, for the
        rows read here (cells not "+" and digits, and such cells not read as
        themselves), their positions and Arrow reading (AnswerColumn.arrow_inputs)."""
        keys = _digits(digits)
        keyed = keys >= 0
        codes, odd = self._digit_codes(keys, memo1)
        where = ~keyed if raw.null_count != len(raw) else None
        if where is not None:
            where &= _valid(raw)
        if odd is not None:
            where = odd if where is None else where | odd
        read = self._read(raw, row_regions, keys, where) if where is not None else None
        if read is None:
            return codes, None
        at, values, found = read
        number, status, reason = AnswerColumn(values, found, []).arrow_inputs()
        sent = number.is_valid().to_numpy(zero_copy_only=False)
        own = self.answers.codes_of(_keys(number.drop_null()))
        read_codes = np.full(len(values), -1, np.int32)
        read_codes[sent] = np.where(own >= 0, own + self._offset, -1)
        codes[at] = read_codes
        return codes, (at, number, status, reason)

    def _digit_codes(self, keys: np.ndarray, memo1: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray | None]:
        """Each "+digits" row's answer code (-1: none, or no digits), from the
        memo's snapshot (memo1: its codes + 1, when already looked up) or the
        call's answers; and which rows are cells not read as themselves (_odd:
        None when there are none), left at -1."""
        keyed = keys >= 0
        if self.snapshot is not None and (memo1 is not None or keyed.any()):
            if memo1 is None:
                memo1 = self._memo_look_up(keys)[0]
            codes = (memo1 - 1).astype(np.int32)
            rest = keyed & (codes < 0)
        else:
            codes, rest = np.full(len(keys), -1, np.int32), keyed
        if len(self._odd) and rest.any():
            odd = rest & (positions(self._odd, keys) >= 0)
            rest &= ~odd
        else:
            odd = None
        if rest.any():
            own = self.answers.codes_of(keys_of_digits(keys[rest]))
            codes[rest] = np.where(own >= 0, own + self._offset, -1)
        return codes, odd

    def _fields(self, out: pa.StructArray) -> dict[str, pa.Array]:
        """The chosen task type's typed fields of each ok answer (looked up by
        number, as the engine keeps them), by member name; {} when it declares none."""
        declared = self.chosen.fields
        if not declared:
            return {}
        numbers = out.field("number").to_pylist()
        statuses = out.field("status").to_pylist()
        ok = {n: (None, OK) for n, s in zip(numbers, statuses, strict=True) if s == OK}
        with self._lock:  # one store access at a time from DuckDB's threads
            by_number = self.engine.fields_of(self.chosen.qualified_name, ok) or {}
        rows = [by_number.get(n) or {} if s == OK else {}
                for n, s in zip(numbers, statuses, strict=True)]
        return {f"{FIELD_PREFIX}t{self.block}_{f.name}":
                pa.array([row.get(f.name) for row in rows], ARROW_TYPES[f.kind])
                for f in declared}


def _digits(digits: pa.Array) -> np.ndarray:
    """SQL's integer of each "+digits" cell, -1 for a row without one."""
    if digits.null_count:
        digits = pc.fill_null(digits, -1)
    return digits.to_numpy(zero_copy_only=False)


def _keys(numbers: list[str] | pa.Array) -> np.ndarray:
    """compact_answers.as_array of E.164 numbers (resolve_all's), read in C: their
    digits as an integer by Arrow, then keys_of_digits (as_array's byte matrix
    costs ten times more per vector)."""
    numbers = numbers if isinstance(numbers, pa.Array) else pa.array(numbers, pa.string())
    digits = pc.cast(pc.utf8_slice_codeunits(numbers, 1), pa.int64())
    return keys_of_digits(digits.to_numpy(zero_copy_only=False))


def _valid(array: pa.Array) -> np.ndarray:
    return array.is_valid().to_numpy(zero_copy_only=False)
