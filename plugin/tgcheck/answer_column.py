"""One answer per input, joined by number: the core's output rule, written once.

The engine hands every face an AnswerColumn: per input what the normaliser found
(resolve_all: an E.164 string, or a Normalised that is a local answer or a noted
number) and the answers of the numbers as groups, (value, status, numbers), stored
or just paid for. Each face reads it in its own shape: Answer rows (Python's
check), cells beside the input's rows (the CLI's tables, Excel) or Arrow (DuckDB).
No face joins answers to inputs itself.

The rules, here only:
- an invalid or blank input is answered locally, with its reason; never sent;
- a number no group holds has no answer: unknown (`no_answer`), never "no";
- a group that is not ok is unknown: the provider's result left the number out
  (`left_out`), or answered it explicitly as unknown (`answered_unknown`: stored
  as status unknown with ANSWERED_UNKNOWN as its value);
- an ok answer has its value, its fields, and the note of a number changed on
  the way (an extension removed).
A group may hold numbers not asked for (a lookup that scanned the store, a task
topped up with stored answers): they are in no row.
"""

from __future__ import annotations

import contextlib
import gc
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from itertools import compress, repeat
from operator import itemgetter, not_

from .models import OK, UNKNOWN, Answer
from .reasons import ANSWERED_UNKNOWN_REASON, LEFT_OUT_REASON, NO_ANSWER_REASON
from .store.base import AnswerGroup

# The stored value of an answer the provider gave as "cannot tell" (status unknown;
# a number left out of the result has none): the store keeps its columns, and a
# re-run shows the same reason without paying, retried as any unknown is.
ANSWERED_UNKNOWN = "unknown"

# AnswerColumn._by_number's key for (value, status) pairs rather than outcomes.
_PAIRS = object()


def outcome(value: str | None, status: str, empty: object = None) -> tuple:
    """(value, status, reason) of a number answered (value, status), `empty` for none."""
    if status == OK:
        return (empty if value is None else value, OK, empty)
    if status == UNKNOWN and value == ANSWERED_UNKNOWN:
        return (empty, UNKNOWN, ANSWERED_UNKNOWN_REASON)
    return (empty, status, LEFT_OUT_REASON)


def number_of(found) -> str | None:
    """The E.164 number sent for one input (a noted one too); None: answered locally."""
    if type(found) is str:
        return found
    return found.number if found.status == OK else None


def sent_numbers(found: Sequence) -> list[str]:
    """The E.164 numbers of resolve_all's answer (ok values, noted ones too), in order."""
    if type(found) is list and set(map(type, found)) <= {str}:
        return found.copy()  # every input a valid number: no loop in Python
    return [f if type(f) is str else f.number for f in found
            if type(f) is str or f.status == OK]


@contextlib.contextmanager
def _collector_paused():
    """Python's cyclic collector paused while a million Answers are built.

    Each allocation of a tuple counts towards a collection, and the older
    generations' passes walk every object made so far: about half the time of
    building the answers. Building tuples of existing objects makes no cycle
    for it to find. The pause is process-wide, for well under a second.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_new = tuple.__new__  # builds an Answer without its Python-level __new__: once per cell


# group_codes looks a group up as a set while it holds at least this share of
# the numbers not found yet (a yes/no type's two groups), at most SET_GROUPS of
# them; the rest of the groups (free-form values: about one a number) as one dict.
SET_SHARE = 0.25
SET_GROUPS = 3


def group_codes(numbers: Sequence[str], groups: Sequence[AnswerGroup]) -> list[int]:
    """Per number the index in groups of the group that answers it, -1 for none
    (a number no group holds). The join by number, done once: the engine's
    planning makes it to find the numbers the store lacks (those at -1) and
    hands it to the AnswerColumn (codes=); after a paid task the column makes it
    itself when its cells are first read. Each row's cells are then made by the
    code, a list index. A group's numbers not among numbers (a range read's)
    cost their hash entry, nothing more.

    Each number is in one group at most (the store keeps one answer a number,
    a task's result one a number). The large groups are looked up as sets,
    largest first, each over the numbers the ones before it did not hold: a set
    keeps each string's hash beside it, so a number it does not hold is told
    apart without reading that string, and a dict reads three places in memory
    per number. With the numbers in random order each of those is a cache
    miss: 200,000 numbers of a yes/no type in random order, 0.11 s as one dict,
    0.08 s as sets."""
    order = sorted(range(len(groups)), key=lambda i: len(groups[i][2]), reverse=True)
    codes: list[int] = []
    rest, places = numbers, None  # the numbers not found yet, and where (None: all)
    taken = 0
    for i in order[:SET_GROUPS]:
        group = groups[i][2]
        if len(group) < len(rest) * SET_SHARE:
            break
        members = set(group)
        hit = list(map(members.__contains__, rest))
        if places is None:
            codes = list(map((-1, i).__getitem__, hit))  # False -> -1, True -> i
        else:
            for place in compress(places, hit):
                codes[place] = i
        taken += 1
        missed = list(map(not_, hit))
        places = list(compress(range(len(numbers)) if places is None else places, missed))
        if not places:
            return codes
        rest = list(compress(rest, missed))
    parts = [dict.fromkeys(groups[i][2], i) for i in order[taken:]]
    if not parts and places is not None:
        return codes  # the sets' misses are -1 already
    # Each number is in one group: the others go into the largest, not all into a
    # new dict.
    index = max(parts, key=len, default={})
    for part in parts:
        if part is not index:
            index.update(part)
    found = map(index.get, rest, repeat(-1))
    if places is None:
        return list(found)
    for place, code in zip(places, found, strict=True):
        codes[place] = code
    return codes


class AnswerColumn:
    """The answers of one check, one per input in input order.

    inputs: the values checked; found: resolve_all's reading of each; groups:
    (value, status, numbers) answer groups; fields_by_number: number -> the typed
    fields of each ok answer for a task type that declares fields (None: it
    declares none); codes: the join already made, when the caller has it
    (group_codes of the numbers sent, sent_numbers(found), and groups). Read
    through the accessors; `found` and `groups` are the parts they are built from.
    """

    __slots__ = ("inputs", "found", "groups", "fields_by_number", "_wanted", "_known",
                 "_codes")

    def __init__(self, inputs: Sequence[object], found: list, groups: list[AnswerGroup],
                 fields_by_number: Mapping[str, Mapping] | None = None, *,
                 wanted: set[str] | None = None, codes: list[int] | None = None):
        self.inputs, self.found, self.groups = inputs, found, groups
        self.fields_by_number = fields_by_number
        self._wanted = wanted  # the distinct numbers sent, when the caller has them
        self._codes = codes
        self._known: dict = {}

    def __len__(self) -> int:
        return len(self.found)

    def __repr__(self) -> str:
        return f"<AnswerColumn of {len(self.found)} inputs, {len(self.groups)} answer groups>"

    # -- by number -------------------------------------------------------------
    def wanted(self) -> set[str]:
        """The distinct numbers sent (or looked up) for the inputs."""
        if self._wanted is None:
            self._wanted = set(sent_numbers(self.found))
        return self._wanted

    def answered(self) -> dict[str, tuple]:
        """number -> (value, status) of each asked number a group answers."""
        return self._by_number(_PAIRS)

    def _by_number(self, empty: object) -> dict[str, tuple]:
        """number -> its outcome (value, status, reason; `empty` for none), or its
        (value, status) for empty=_PAIRS; built once per kind."""
        known = self._known.get(empty)
        if known is not None:
            return known
        groups = self.groups
        wanted = None
        asked = len(self.found) if self._wanted is None else len(self._wanted)
        if sum(len(group) for _, _, group in groups) > asked:
            # A lookup that scanned the store brings numbers not asked for: keep
            # the dict as small as the input, not up to the store's size.
            wanted = self.wanted()
        parts = [dict.fromkeys(group if wanted is None else wanted.intersection(group),
                               (value, status) if empty is _PAIRS else
                               outcome(value, status, empty))
                 for value, status, group in groups]
        # Each number is in one group: the others go into the largest, not all
        # into a new dict.
        known = max(parts, key=len, default={})
        for part in parts:
            if part is not known:
                known.update(part)
        self._known[empty] = known
        return known

    # -- per input -------------------------------------------------------------
    def cells(self, empty: object = "", counts: Counter | None = None) -> Iterator[tuple]:
        """Per input (number, value, status, reason), `empty` where there is none
        (text cells: ""): what the CLI and Excel put beside each input. An
        iterator, made as it is read (a million rows are never all held); counts,
        when given, gets each status's number of rows."""
        return self._cells(empty, None, counts)

    def input_cells(self, empty: object = "", counts: Counter | None = None
                    ) -> Iterator[tuple]:
        """cells() with each input first: (input, number, value, status, reason),
        the CLI's row for a table that is its column of numbers (a .txt)."""
        return self._cells(empty, self.inputs, counts)

    def _cells(self, empty: object, inputs: Sequence | None,
               counts: Counter | None) -> Iterator[tuple]:
        unanswered = (empty, UNKNOWN, NO_ANSWER_REASON)
        found = self.found
        if set(map(type, found)) <= {str}:
            # Every input a valid E.164 string: each row put together in C, its
            # tail shared by every number of its group, by its code. The join is
            # made here when the planning did not hand it over (a first check: the
            # answers just paid for), once a column; rows() never needs it.
            if self._codes is None:
                self._codes = group_codes(found, self.groups)
            tails = self._coded_tails(empty, unanswered, counts)
            heads = zip(found) if inputs is None else zip(inputs, found, strict=True)
            return map(tuple.__add__, heads, tails)
        rows = self._mixed(empty, self._by_number(empty), unanswered, counts)
        return rows if inputs is None else map(tuple.__add__, zip(inputs), rows)

    def _coded_tails(self, empty: object, unanswered: tuple, counts: Counter | None
                     ) -> list[tuple]:
        """Per input its (value, status, reason) by its code: a list index each
        (200,000 cached numbers, the planning's codes then the rows: 0.137 s,
        against 0.194 s for a set difference, a dict and a lookup per row)."""
        codes = self._codes
        # Code -1 (no answer) reads the last: unanswered.
        tails = [*(outcome(value, status, empty) for value, status, _ in self.groups),
                 unanswered]
        if counts is not None:
            # One pass over the codes, whatever the number of groups (a task type
            # of free-form answers has about one group a number); -1 is the last.
            for code, many in Counter(codes).items():
                counts[tails[code][1]] += many
        return list(map(tails.__getitem__, codes))

    def _mixed(self, empty: object, known: dict, unanswered: tuple,
               counts: Counter | None) -> Iterator[tuple]:
        for f in self.found:
            if type(f) is str:
                row = (f, *known.get(f, unanswered))
            elif f.status == OK:  # ok, with a note (an extension removed)
                value, status, reason = known.get(f.number, unanswered)
                row = (f.number, value, status,
                       (empty if f.reason is None else f.reason) if status == OK else reason)
            else:  # invalid or blank: answered here, never sent
                row = (empty, empty, f.status, empty if f.reason is None else f.reason)
            if counts is not None:
                counts[row[2]] += 1
            yield row

    def numbers(self) -> list[str | None]:
        return [number_of(f) for f in self.found]

    def values(self) -> list[str | None]:
        return list(map(itemgetter(1), self.cells(None)))

    def statuses(self) -> list[str]:
        return list(map(itemgetter(2), self.cells(None)))

    def reasons(self) -> list[str | None]:
        return list(map(itemgetter(3), self.cells(None)))

    def fields(self) -> list[Mapping | None]:
        """Per input the typed fields of its ok answer; None for other statuses and
        for a task type that declares no fields."""
        by_number = self.fields_by_number
        if by_number is None:
            return [None] * len(self.found)
        return [by_number.get(number) if status == OK else None
                for number, _, status, _ in self.cells(None)]

    def rows(self) -> list[Answer]:
        """One Answer per input (Engine.check's answer)."""
        with _collector_paused():
            return self._rows()

    def _rows(self) -> list[Answer]:
        known = self.answered()
        fields = self.fields_by_number
        out = []
        append = out.append
        for value, f in zip(self.inputs, self.found, strict=True):
            note = None
            if type(f) is not str:
                if f.status != OK:
                    append(_new(Answer, (value, None, None, f.status, f.reason, None)))
                    continue
                f, note = f.number, f.reason  # ok, with a note (an extension removed)
            pair = known.get(f)
            if pair is None:
                append(_new(Answer, (value, f, None, UNKNOWN, NO_ANSWER_REASON, None)))
            elif pair[1] == OK:
                append(_new(Answer, (value, f, pair[0], OK, note,
                                     None if fields is None else fields.get(f))))
            else:
                append(_new(Answer, (value, f, None, *outcome(*pair)[1:], None)))
        return out

    def to_arrow(self, declared: Sequence = (), arrow_types: Mapping | None = None,
                 prefix: str = "field_"):
        """A pyarrow StructArray, one row per input: number, value, status, reason,
        and one typed member per declared field (prefix + its name; arrow_types:
        field kind -> Arrow type). Joined in Arrow (a hash lookup in C), no
        object per input; the fields of a task type that declares some cost a pass."""
        import pyarrow as pa
        import pyarrow.compute as pc

        numbers, local_status, local_reason = self.arrow_inputs()
        groups = self.groups
        outcomes = [outcome(value, status) for value, status, _ in groups]
        if groups:
            members = pa.concat_arrays([pa.array(group, pa.string()) for _, _, group in groups])
            which = pa.concat_arrays([pa.repeat(pa.scalar(i, pa.int32()), len(group))
                                      for i, (_, _, group) in enumerate(groups)])
            at = which.take(pc.index_in(numbers, value_set=members))
        else:
            at = pa.nulls(len(self.found), pa.int32())
        return self._joined_arrow(numbers, local_status, local_reason, outcomes, at,
                                  declared, arrow_types, prefix)

    @classmethod
    def numbers_to_arrow(cls, numbers, codes, pairs: Sequence[tuple],
                         local_status=None, local_reason=None):
        """to_arrow (no declared fields) from the inputs already read into Arrow
        (arrow_inputs: each input's number, NULL for one answered locally, and
        that one's status and reason; None: every input is its own number), with
        the answers given by code rather than as groups: codes, aligned with the
        numbers that are not NULL, hold the index of each one's (value, status)
        in pairs, or a negative code for none (unknown: no answer). What a
        caller holding the answers compactly (tgcheck.compact_answers) gives: no
        group of str made, no hash table built, no Python value per input; the
        number member is the array given (the caller's buffer, not a copy)."""
        import numpy as np
        import pyarrow as pa

        if local_status is None:
            local_status = local_reason = pa.nulls(len(numbers), pa.string())
        codes = np.asarray(codes, dtype=np.int32)
        if numbers.null_count:  # inputs answered locally: no code of their own
            per_input = np.full(len(numbers), -1, dtype=np.int32)
            per_input[numbers.is_valid().to_numpy(zero_copy_only=False)] = codes
            codes = per_input
        return cls.outcomes_to_arrow(numbers, codes, _outcomes(pairs), local_status,
                                     local_reason)

    @classmethod
    def outcomes_to_arrow(cls, numbers, codes, outcomes: Sequence[tuple],
                          local_status=None, local_reason=None):
        """numbers_to_arrow with the answers already as shown: codes, one per
        input (negative: none), index outcomes' (value, status, reason), each
        outcome() of a (value, status) pair (the SQL face's memo keeps them so)."""
        import pyarrow as pa

        if local_status is None:
            local_status = local_reason = pa.nulls(len(numbers), pa.string())
        return cls([], [], [])._joined_arrow(numbers, local_status, local_reason,
                                             list(outcomes), _coded_at(codes))

    def arrow_inputs(self):
        """(number, local status, local reason) per input as Arrow string arrays:
        the number sent (NULL for an input answered locally), and that input's
        status and reason (NULL for one sent; its note for a noted number)."""
        import pyarrow as pa

        found = self.found
        if set(map(type, found)) <= {str}:
            return (pa.array(found, pa.string()),
                    *[pa.nulls(len(found), pa.string())] * 2)
        return (pa.array([number_of(f) for f in found], pa.string()),
                pa.array([None if type(f) is str or f.status == OK else f.status
                          for f in found], pa.string()),
                pa.array([None if type(f) is str else f.reason for f in found],
                         pa.string()))

    def _joined_arrow(self, numbers, local_status, local_reason, outcomes: list[tuple],
                      at, declared: Sequence = (), arrow_types: Mapping | None = None,
                      prefix: str = "field_"):
        """The answer struct from each input's number, its local status and reason,
        and at: per input the index of its outcome in outcomes (null: none)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        def per_input(i: int) -> pa.Array:
            return pa.array([o[i] for o in outcomes], pa.string()).take(at)

        values, statuses, reasons = per_input(0), per_input(1), per_input(2)
        unanswered = pc.and_(pc.is_valid(numbers), pc.is_null(at))
        statuses = pc.coalesce(local_status, statuses, pa.scalar(UNKNOWN))
        reasons = pc.if_else(unanswered, pa.scalar(NO_ANSWER_REASON),
                             pc.coalesce(reasons, local_reason))
        columns = [numbers, values, statuses, reasons]
        names = ["number", "value", "status", "reason"]
        if declared:
            rows = [f or {} for f in self.fields()]
            columns += [pa.array([row.get(f.name) for row in rows], arrow_types[f.kind])
                        for f in declared]
            names += [prefix + f.name for f in declared]
        return pa.StructArray.from_arrays(columns, names=names)


def _outcomes(pairs: Sequence[tuple]) -> list[tuple]:
    return [outcome(value, status) for value, status in pairs]


def _coded_at(codes):
    """Answer codes (negative: none) as to_arrow's per-input index, null for none."""
    import numpy as np
    import pyarrow as pa

    codes = np.asarray(codes, dtype=np.int32)
    return pa.array(codes, pa.int32(), mask=codes < 0)
