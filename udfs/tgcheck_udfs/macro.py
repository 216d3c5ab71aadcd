"""check_selection: check the selected column, write the answers as values beside it.

The steps (read, check with progress, plan, write) run against a small sheet
interface; XlwingsSheet adapts a real xlwings sheet (classic or xlwings Server) and
tests use an in-memory sheet.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Protocol

from tgcheck import Cancelled, Settings, plugins
from tgcheck.unchanged import unchanged

from .checking import (
    check_answers,
    check_values,
    clean_region,
    field_cells,
    load_settings,
    safe_text,
    task_type,
)
from .progress import Progress
from .selection import (
    HEADER,
    Selection,
    WritePlan,
    numbers_of,
    plan_write,
    rows_to_read,
)


class SheetLike(Protocol):
    def read_column(self, column: int, first_row: int, last_row: int) -> list[object]: ...

    def last_row(self) -> int: ...

    def insert_column(self, column: int, last_row: int) -> None: ...

    def write(self, row: int, column: int, values: list[object]) -> None:
        """values downwards from (row, column)."""
        ...


CHANGED_MESSAGE = (
    "tgcheck: the selected cells changed while they were being checked (sorted, rows "
    "inserted or deleted, or edited), so nothing was written. The answers are stored: "
    "run check_selection again; nothing is paid again"
)


@dataclasses.dataclass(frozen=True)
class Outcome:
    plan: WritePlan | None
    message: str


def column_letters(column: int) -> str:
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def apply_plan(sheet: SheetLike, plan: WritePlan) -> None:
    if plan.insert_column:
        last = max(sheet.last_row(), plan.first_row + len(plan.values) - 1)
        sheet.insert_column(plan.column, last)
    if plan.header_row:
        sheet.write(plan.header_row, plan.column, [plan.header])
    # A blank input gets a truly empty cell, not an empty string (a field's 0 or
    # FALSE is a value).
    sheet.write(plan.first_row, plan.column,
                [None if v is None or v == "" else v for v in plan.values])


def write_fields(sheet: SheetLike, selection: Selection, plan: WritePlan, first_row: int,
                 columns: list[list[object]], names: tuple[str, ...]) -> int:
    """Each field's cells in its own column after the answers (issue 24), headed by
    its name, by the answer column's rule: never over a non-empty cell (a new
    column is inserted instead). Returns the last column written."""
    at = plan.column
    for name, cells in zip(names, columns, strict=True):
        low, high = rows_to_read(first_row, len(cells))
        right = sheet.read_column(at + 1, low, high)
        beside = Selection(selection.first_row, selection.last_row, at)
        field_plan = plan_write(beside, first_row, cells,
                                dict(zip(range(low, high + 1), right, strict=False)),
                                header=name)
        apply_plan(sheet, field_plan)
        at = field_plan.column
    return at


def run_check_selection(
    sheet: SheetLike,
    selection: Selection,
    *,
    region: str | None = None,
    settings: Settings | None = None,
    status: Callable[[str], None] = lambda text: None,
    cancel: threading.Event | None = None,
    checker: Callable[..., list[str]] = check_values,
) -> Outcome:
    """Check the selected column and write beside it; never raises for a user error.

    checker: check_values, or one that stops waiting (raising Cancelled) on a server.
    """
    try:
        settings = settings or load_settings()
        region = clean_region(region)
    except Exception as e:
        return Outcome(None, "tgcheck " + safe_text(e))
    values = sheet.read_column(selection.column, selection.first_row, selection.last_row)
    first_row, data = numbers_of(selection, values)
    if not data:
        return Outcome(None, "tgcheck: nothing to check in the selection")
    progress = Progress()

    def on_event(event) -> None:
        progress.update(event)
        status(f"tgcheck: {progress.text()}")

    status(f"tgcheck: checking {len(data):,} cells")
    try:
        texts = checker(data, region, settings, on_event=on_event, cancel=cancel)
    except Cancelled as e:
        # A server-side checker reports its own progress in the exception.
        where = progress.text() if progress.total else str(e)
        return Outcome(None, f"tgcheck: {where}; not finished yet. The task runs on: "
                             "run check_selection again later (no new task is paid)")
    except Exception as e:
        return Outcome(None, "tgcheck " + safe_text(e))
    # The answers go by position: if the selected cells were sorted, inserted into,
    # deleted from or edited during the wait, the answers would land on other rows.
    if not unchanged(sheet.read_column(selection.column, selection.first_row,
                                       selection.last_row), values):
        return Outcome(None, CHANGED_MESSAGE)
    # Read the neighbours only now: the sheet may have changed during a long wait.
    low, high = rows_to_read(first_row, len(texts))
    right = sheet.read_column(selection.column + 1, low, high)
    header = HEADER + (" (sandbox)" if settings.simulated else "")
    neighbours = dict(zip(range(low, high + 1), right, strict=False))
    plan = plan_write(selection, first_row, texts, neighbours, header=header)
    apply_plan(sheet, plan)
    where = column_letters(plan.column)
    inserted = " (a new column, to keep existing cells)" if plan.insert_column else ""
    try:
        ttype = plugins.get_task_type(task_type(), settings.provider)
        if ttype.fields:
            # The answers are stored now: their fields come from the store, no call.
            answers = check_answers(data, region, settings, kind=ttype.name)
            last = write_fields(sheet, selection, plan, first_row,
                                field_cells(answers, ttype.field_names), ttype.field_names)
            where = f"{where}:{column_letters(last)}"
    except Exception as e:
        return Outcome(plan, f"tgcheck: {len(texts):,} answers written to column {where}; "
                             f"their fields not: {safe_text(e)}")
    return Outcome(plan, f"tgcheck: {len(texts):,} answers written to column {where}{inserted}")


class XlwingsSheet:
    """SheetLike over an xlwings Sheet; works with classic xlwings and xlwings Server."""

    def __init__(self, sheet):
        self.sheet = sheet

    def read_column(self, column: int, first_row: int, last_row: int) -> list[object]:
        rng = self.sheet.range((first_row, column), (last_row, column))
        return list(rng.options(ndim=1).value)

    def last_row(self) -> int:
        return self.sheet.used_range.last_cell.row

    def insert_column(self, column: int, last_row: int) -> None:
        # Cells of rows 1..last_row shift right: the same as inserting the whole
        # column for every row that holds anything, and it works on xlwings Server too.
        self.sheet.range((1, column), (last_row, column)).insert(shift="right")

    def write(self, row: int, column: int, values: list[object]) -> None:
        self.sheet.range((row, column)).options(transpose=True).value = values


def selection_of(rng) -> Selection | str:
    """The Selection of an xlwings Range, or a message why it cannot be checked."""
    if rng is None:
        return "tgcheck: select the cells with the phone numbers first"
    if rng.columns.count != 1:
        return "tgcheck: select cells in one column"
    last = rng.last_cell.row
    used = rng.sheet.used_range.last_cell.row
    # A whole selected column (A:A) ends at row 1,048,576: stop at the last used row.
    return Selection(first_row=rng.row, last_row=min(last, max(used, rng.row)),
                     column=rng.column)


def check_selection(region: str | None = None) -> str:
    """Classic macro: RunPython "import tgcheck_udfs; tgcheck_udfs.check_selection()"."""
    import xlwings as xw

    book = xw.Book.caller()
    app = book.app
    target = selection_of(book.selection)
    if isinstance(target, str):
        app.status_bar = target
        return target

    def show(text: str) -> None:
        app.status_bar = text

    outcome = run_check_selection(XlwingsSheet(book.selection.sheet), target, region=region,
                                  status=show)
    app.status_bar = outcome.message
    return outcome.message
