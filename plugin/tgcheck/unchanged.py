"""The "input changed while it was being checked" test every face makes.

Answers go back by position (a table's rows, a column of cells): if the input
was sorted, edited, or grew or shrank while its task ran, writing them would
pair answers with the wrong rows. So the face reads the input again and pairs
it with what was checked; the first difference stops it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

NO_ROW = object()  # one side has no row here
Row = TypeVar("Row")
Checked = TypeVar("Checked")


class Changed(Exception):
    """row (1-based) holds found where checked was checked; either may be NO_ROW."""

    def __init__(self, row: int, found: object, checked: object):
        super().__init__(row, found, checked)
        self.row, self.found, self.checked = row, found, checked


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def same_cell(found: object, checked: object) -> bool:
    """Equal; or both NaN (NaN equals nothing, itself included); or both empty
    (an empty cell is None or "" depending on who reads it)."""
    return (found == checked or (found != found and checked != checked)
            or (_empty(found) and _empty(checked)))


def paired(now: Iterable[Row], checked: Iterable[Checked],
           cell: Callable[[Row], object] | None = None,
           value: Callable[[Checked], object] | None = None,
           ) -> Iterator[tuple[Row, Checked]]:
    """(row now, item checked) in order, streamed; raises Changed at the first
    row whose cell(row) is not value(item), or where one side ends first.
    cell and value default to the row and the item themselves."""
    rows = iter(now)
    n = 0
    # Once per input row (a million for a large table): no call where the row or
    # the item is the cell, and same_cell only when a plain != says they differ.
    for n, item in enumerate(checked, 1):
        row = next(rows, NO_ROW)
        want = item if value is None else value(item)
        if row is NO_ROW:
            raise Changed(n, NO_ROW, want)
        found = row if cell is None else cell(row)
        if found != want and not same_cell(found, want):
            raise Changed(n, found, want)
        yield row, item
    extra = next(rows, NO_ROW)
    if extra is not NO_ROW:
        raise Changed(n + 1, extra if cell is None else cell(extra), NO_ROW)


def unchanged(now: Iterable[object], checked: Iterable[object]) -> bool:
    """True when now holds exactly what was checked, cell for cell."""
    try:
        for _ in paired(now, checked):
            pass
    except Changed:
        return False
    return True
