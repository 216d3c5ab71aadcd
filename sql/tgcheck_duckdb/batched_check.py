"""The UDF's list of cells checked in batches: bounded Python memory (issue 25 item 2).

The macros hand the whole column to the UDF as one Arrow list. Made into Python
values at once, a million cells cost a list of str, the engine's set of them, its
lookup's lists and the answer dicts: about 230 MB of Python objects a million.
Here the cells become Python values a batch at a time, as the
CLI's chunked check reads its input (tgcheck.chunked_check), and the engine sees
the distinct numbers as sorted int64 keys (tgcheck.compact_answers):

1. each batch is normalised (resolve_all, as the engine does) and its numbers
   kept as keys; a batch whose cells all read as themselves is marked clean
   (its keys read from its Arrow buffer: arrow_values.number_keys), any other
   keeps its reading in Arrow (AnswerColumn.arrow_inputs) for pass 3;
2. the engine looks the keys up and sends the rest exactly as one check does
   (Planning.check_compact: the same sorted numbers, the same tasks, one task
   for the column when it fits one), recording every answer compactly;
3. each batch's answers are taken by a binary search of its keys in the
   compact answers (codes_of) and joined by the core's answer column
   (AnswerColumn.numbers_to_arrow) into Arrow, from pass 1's reading: no batch
   is made Python values or normalised twice. A task type with fields reads
   each batch again and joins its answer groups (groups_for), as the fields are
   looked up by number.

The answers are the same, in the list's order: the core's answer column joins
each batch, and invalid cells are answered locally and never sent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

import tgcheck
from tgcheck.answer_column import AnswerColumn, sent_numbers
from tgcheck.compact_answers import CompactAnswers, as_array, distinct_keys
from tgcheck.normalize import resolve_all
from tgcheck.regions import per_row

from .arrow_values import answers_array, number_keys, python_values


class BatchedColumn:
    """One list's cells (an Arrow array), their regions, read size cells at a time:
    the CLI's chunk, TGCHECK_CHECK_CHUNK_ROWS (about 20 MB of Python values at
    200,000, however long the column). Pass 1 keeps the distinct numbers as the
    CLI's does (compact_answers.distinct_keys)."""

    def __init__(self, inputs: pa.Array, row_regions: pa.Array | None, region, size: int):
        self.inputs, self.row_regions, self.region = inputs, row_regions, region
        self.size = size
        self._clean: list[bool] = []  # per batch: every cell read as itself
        # Per batch not clean: pass 1's reading of it in Arrow (number, local
        # status and reason: AnswerColumn.arrow_inputs), so that pass 3 does not
        # normalise it again; the number member of the answers, held from pass 1
        # on (about 17 bytes a cell) instead of made in pass 3.
        self._read: list[tuple | None] = []

    def _bounds(self) -> Iterator[tuple[int, int]]:
        n, size = len(self.inputs), self.size
        return ((start, min(n, start + size)) for start in range(0, n, size))

    def _found(self, start: int, stop: int, clean: bool = False) -> tuple[list, list]:
        """A batch's cells as Python values and resolve_all's reading of them (the
        cells themselves for a batch pass 1 found clean)."""
        values = python_values(self.inputs.slice(start, stop - start))
        if clean:
            return values, values
        region = self.region
        if self.row_regions is not None:
            region = per_row(self.row_regions.slice(start, stop - start).to_pylist(), region)
        return values, resolve_all(values, region)

    def _cells(self, start: int, stop: int) -> pa.Array:
        """A batch's cells as an Arrow string array (a clean batch's number member)."""
        cells = self.inputs.slice(start, stop - start)
        return cells if pa.types.is_string(cells.type) else cells.cast(pa.string())

    def distinct_numbers(self) -> CompactAnswers | None:
        """Pass 1: the distinct numbers (sorted keys); None when one has no key
        (compact_answers.NotCompact): the caller takes the whole-list path."""
        def keys():
            for start, stop in self._bounds():
                values, found = self._found(start, stop)
                clean = found == values
                self._clean.append(clean)
                self._read.append(None if clean
                                  else AnswerColumn(values, found, []).arrow_inputs())
                # A clean batch's keys from its Arrow buffer (no list of its str).
                yield (number_keys(self._cells(start, stop)) if clean
                       else as_array(sent_numbers(found)))

        return distinct_keys(keys())

    def answers(self, engine: tgcheck.Engine, ttype, answers: CompactAnswers,
                declared: tuple) -> pa.StructArray:
        """Pass 3: each cell's answer (arrow_values.answers_array), in order."""
        pieces = []
        for at, ((start, stop), clean) in enumerate(zip(self._bounds(), self._clean,
                                                         strict=True)):
            read, self._read[at] = self._read[at], None
            if not ttype.fields:
                # Keys and number member read from Arrow (the cells themselves
                # for a clean batch, pass 1's reading else): no Python value per
                # cell, no second normalising; the batch's answers by a binary
                # search of its keys in the compact answers (no groups of str,
                # no hash table per batch).
                numbers, *local = (self._cells(start, stop),) if clean else read
                keys = number_keys(numbers.drop_null() if numbers.null_count else numbers)
                pieces.append(AnswerColumn.numbers_to_arrow(
                    numbers, answers.codes_of(keys), answers.pairs, *local))
                continue
            # Fields are looked up by number: the batch's answers as groups.
            values, found = self._found(start, stop, clean)
            column = AnswerColumn(values, found, answers.groups_for(sent_numbers(found)))
            # The qualified name: a bare one means the selected provider's type.
            column.fields_by_number = engine.fields_of(ttype.qualified_name, column.answered())
            pieces.append(answers_array(column, declared))
            del values, found, column
        # Every cell read as itself (a column already in E.164): its number is the
        # cell, and the input's own Arrow buffer serves as the number column.
        same = all(self._clean) and pa.types.is_string(self.inputs.type)
        return _joined(pieces, self.inputs if same else None)


def _joined(pieces: list[pa.StructArray], numbers: pa.Array | None) -> pa.StructArray:
    """The batches' answers as one struct array, a member at a time: each member's
    batches are dropped once it is joined, so the answers are not held twice
    (numbers, when given, is the number member already whole)."""
    names = [field.name for field in pieces[0].type]
    members = {name: [piece.field(name) for piece in pieces] for name in names}
    del pieces[:]
    columns = []
    for name in names:
        parts = members.pop(name)
        if name == "number" and numbers is not None:
            columns.append(numbers)
        else:
            columns.append(parts[0] if len(parts) == 1 else pa.concat_arrays(parts))
        del parts
    return pa.StructArray.from_arrays(columns, names=names)
