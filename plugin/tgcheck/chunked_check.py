"""`tgcheck check` over an input of more rows than one chunk: bounded memory.

Two passes over the input, a chunk of rows at a time (TGCHECK_CHECK_CHUNK_ROWS):

1. normalise each chunk and keep its distinct numbers compactly
   (tgcheck.compact_answers: 16 bytes a number, no object per number), and a
   fingerprint of the chunk's number cells;
2. the engine looks the distinct numbers up and sends the rest as one check
   would (the same sorted numbers, the same tasks, the same claims: a number in
   two chunks is sent once), recording each answer compactly;
3. re-read the input a chunk at a time, normalise it again, join each row's
   answer by number (tgcheck.answer_column, as for any check) and hand the
   output rows to the writer as they are made.

Peak memory follows the chunk and the count of distinct numbers, not the
file's rows and width. An input of one chunk takes the whole-column path
(cli/check.py), which gives the same output. It lives in the core, not in the
CLI package: normalising and joining answers are the core's (tests/core/test_cli_package.py).
"""

from __future__ import annotations

import collections
from collections.abc import Iterator

from . import chunked_input, regions
from .answer_column import AnswerColumn, sent_numbers
from .engine import CheckRequest, Engine
from .engine.planning import row_counts
from .normalize import resolve_all
from .tables import InputChanged, InputTable, region_index, with_fields

# Distinct numbers per store lookup, in chunks of rows: a lookup costs a query
# however many it asks, and its groups are a few strings per answer.
LOOKUP_CHUNKS = 5


def lookup_size(chunk_rows: int) -> int:
    """Numbers looked up in the store at a time by a check of compact keys whose
    input is read chunk_rows at a time (TGCHECK_CHECK_CHUNK_ROWS)."""
    return chunk_rows * LOOKUP_CHUNKS


class ChunkedInput:
    """An input read in chunks of rows; first() is pass 1, rows() pass 2."""

    def __init__(self, table: InputTable, size: int, region, region_column: str | None):
        self.table, self.size = table, size
        self.region = region  # one region for all (or None); a column's per chunk
        self.region_at = (None if region_column is None
                          else region_index(table, region_column))
        self.rows = 0
        self._prints: list[int] = []  # per chunk: a fingerprint of its number cells
        # Per chunk: every cell already a valid E.164 number (resolve_all gave the
        # cells back): pass 2 need not normalise it again.
        self._clean: list[bool] = []
        self.counts: dict[str, object] | None = None  # pass 1's row counts, when it counts

    @classmethod
    def open(cls, table: InputTable, size: int, region, region_column: str | None
             ) -> tuple[list | None, ChunkedInput | None]:
        """(the number cells, None) for a table of one chunk, read once: the
        whole-column path's values, as small; (None, a ChunkedInput) for a longer
        one. Reading the first chunk to see whether another follows and then the
        column again cost a 200,000-line .txt 0.03 s twice."""
        chunks = chunked_input.chunks(table, size)
        try:
            first = next(chunks, None)
            if next(chunks, None) is None:
                return ([] if first is None else chunked_input.numbers_of(table, first)), None
        finally:
            chunks.close()  # a file left open by the reader's generator
        return None, cls(table, size, region, region_column)

    def _found(self, chunk: list, clean: bool = False) -> tuple[list, list]:
        """A chunk's number cells and resolve_all's reading of them (the cells
        themselves for a chunk pass 1 found clean)."""
        values = chunked_input.numbers_of(self.table, chunk)
        if clean:
            return values, values
        region = self.region
        if self.region_at is not None:
            region = regions.per_row([row[self.region_at] for row in chunk], region)
        return values, resolve_all(values, region)

    def distinct_numbers(self, counting: bool = False):
        """Pass 1: the input's distinct numbers (sorted, compact), each chunk's
        fingerprint kept for pass 2; counting: also the rows' counts a dry run
        shows (self.counts, planning.row_counts summed over the chunks). None
        for an input with a number that has no compact key
        (compact_answers.NotCompact): the whole-column path's."""
        from .compact_answers import as_array, distinct_keys

        def keys():
            for chunk in chunked_input.chunks(self.table, self.size):
                values, found = self._found(chunk)
                self.rows += len(chunk)
                self._prints.append(hash(tuple(values)))
                self._clean.append(found == values)
                numbers = sent_numbers(found)
                if counting:
                    self.counts = row_counts(values, found, numbers, self.counts)
                yield as_array(numbers)

        return distinct_keys(keys())

    def check(self, engine: Engine, answers, request: CheckRequest) -> None:
        """The engine's part: look up, send, record every answer in answers."""
        engine.planning.check_compact(answers, request, lookup_size(self.size))

    def plan(self, engine: Engine, answers, *, task_type: str, retry_unknown: bool,
             top_up: bool | None) -> dict[str, object]:
        """A dry run's counts (Engine.plan's), from pass 1 (distinct_numbers with
        counting) and the store: the column is never held whole."""
        return engine.planning.plan_compact(
            answers, self.counts, task_type=task_type, retry_unknown=retry_unknown,
            top_up=top_up, lookup_size=lookup_size(self.size))

    def _chunks(self) -> Iterator[tuple[list, list, list]]:
        """Pass 2's chunks (rows, values, found), each checked against pass 1's
        fingerprint: answers are never written beside rows that changed."""
        count = 0
        at = 0
        for count, chunk in enumerate(chunked_input.chunks(self.table, self.size), 1):
            values = chunked_input.numbers_of(self.table, chunk)
            if count > len(self._prints) or hash(tuple(values)) != self._prints[count - 1]:
                self._changed(f"rows {at + 1:,} to {at + len(chunk):,} differ")
            values, found = self._found(chunk, self._clean[count - 1])
            at += len(chunk)
            yield chunk, values, found
        if count < len(self._prints):
            self._changed(f"it now ends after row {at:,}")

    def _changed(self, what: str):
        raise InputChanged(
            f"{self.table.name} changed while it was being checked ({what}); nothing was "
            "written. The answers are stored: run the same command again and nothing is "
            "paid again")

    def check_unchanged(self) -> None:
        """A read of the whole input that only compares (before writing to stdout)."""
        collections.deque(self._chunks(), maxlen=0)

    def output_rows(self, engine: Engine, ttype, answers, counts: collections.Counter,
                    field_names, *, cells: bool) -> Iterator:
        """Pass 2: the output rows, as the whole-column path makes them
        (tables.answer_rows, tables.with_fields), a chunk at a time."""
        is_column = self.table._column_blocks is not None
        own = len(self.table.columns)
        for chunk, values, found in self._chunks():
            column = AnswerColumn(values, found, answers.groups_for(sent_numbers(found)))
            if ttype.fields and field_names:
                # The qualified name: a bare one means the selected provider's type.
                column.fields_by_number = engine.fields_of(ttype.qualified_name,
                                                           column.answered())
            if is_column:
                rows = column.input_cells("", counts)
            else:
                rows = ([*row, *tail] for row, tail in zip(chunk, column.cells("", counts),
                                                           strict=True))
            if field_names:
                rows = with_fields(rows, own, column.fields(), field_names, cells=cells)
            yield from rows
