"""Where check_selection writes: a plan made from cell values only, no xlwings.

Kept apart from the xlwings calls so it can be tested against an in-memory sheet.
Rule: never overwrite a non-empty cell; if the column to the right has anything
where the answers or the header would go, a new column is inserted there instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from tgcheck.headers import is_header_cell

HEADER = "telegram"


@dataclasses.dataclass(frozen=True)
class Selection:
    """One column of cells, 1-based like Excel: rows first_row..last_row of column."""

    first_row: int
    last_row: int
    column: int

    @property
    def rows(self) -> int:
        return self.last_row - self.first_row + 1


@dataclasses.dataclass(frozen=True)
class WritePlan:
    insert_column: bool  # insert an empty column at `column` first (shifting the rest right)
    column: int  # where the header and the answers go
    header_row: int | None  # None: the selection starts in row 1 with data, no room
    header: str
    first_row: int  # first row of the answers
    values: tuple[str, ...]


def is_empty(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


# The top cell labels the column when it is a text without a digit (tgcheck.headers).
looks_like_header = is_header_cell


def numbers_of(selection: Selection, values: Sequence[object]) -> tuple[int, list[object]]:
    """(first data row, data values): the selection minus a header cell on top."""
    if values and looks_like_header(values[0]):
        return selection.first_row + 1, list(values[1:])
    return selection.first_row, list(values)


def plan_write(
    selection: Selection,
    first_data_row: int,
    answers: Sequence[str],
    right_column: dict[int, object],
    header: str = HEADER,
) -> WritePlan:
    """right_column: row -> current value of the column right of the selection,
    for the header row and the answer rows (missing rows count as empty)."""
    header_row = first_data_row - 1 if first_data_row > 1 else None
    target = selection.column + 1
    rows = ([header_row] if header_row else []) + [
        first_data_row + i for i in range(len(answers))
    ]
    occupied = any(not is_empty(right_column.get(r)) for r in rows)
    return WritePlan(
        insert_column=occupied, column=target, header_row=header_row, header=header,
        first_row=first_data_row, values=tuple(answers),
    )


def rows_to_read(first_data_row: int, count: int) -> tuple[int, int]:
    """The rows of the right-hand column plan_write needs to see (header row included)."""
    return max(1, first_data_row - 1), max(first_data_row + count - 1, first_data_row)
