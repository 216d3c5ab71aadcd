"""check_selection's writing logic against an in-memory sheet (Excel is the only fake)."""

from __future__ import annotations

import threading

import pytest

from conftest import numbers
from tgcheck_udfs.checking import check_values
from tgcheck_udfs.macro import apply_plan, column_letters, run_check_selection
from tgcheck_udfs.selection import Selection, numbers_of, plan_write


class MemorySheet:
    """The few sheet operations the macro uses, on a dict of (row, column) -> value."""

    def __init__(self, cells: dict[tuple[int, int], object] | None = None):
        self.cells = dict(cells or {})
        self.inserted: list[int] = []

    def read_column(self, column, first_row, last_row):
        return [self.cells.get((r, column)) for r in range(first_row, last_row + 1)]

    def last_row(self):
        return max((r for r, _ in self.cells), default=1)

    def insert_column(self, column, last_row):
        self.inserted.append(column)
        moved = {}
        for (r, c), v in self.cells.items():
            moved[(r, c + 1 if c >= column and r <= last_row else c)] = v
        self.cells = moved

    def write(self, row, column, values):
        for i, v in enumerate(values):
            if v is None:
                self.cells.pop((row + i, column), None)
            else:
                self.cells[(row + i, column)] = v


def column(sheet: MemorySheet, col: int, first: int, last: int) -> list:
    return sheet.read_column(col, first, last)


def test_header_goes_beside_a_header_cell():
    sel = Selection(1, 4, 1)
    first, data = numbers_of(sel, ["Phone", "+41791234567", None, "x"])
    assert (first, data) == (2, ["+41791234567", None, "x"])
    plan = plan_write(sel, first, ["yes", "", "invalid"], {})
    sheet = MemorySheet()
    apply_plan(sheet, plan)
    assert column(sheet, 2, 1, 4) == ["telegram", "yes", None, "invalid"]
    assert not plan.insert_column


def test_without_header_cell_the_header_goes_above_or_nowhere():
    # What the plan writes, seen on a sheet: WritePlan has no test-only listing.
    sheet = MemorySheet()
    apply_plan(sheet, plan_write(Selection(5, 6, 3), 5, ["no", "yes"], {}))
    assert sheet.cells == {(4, 4): "telegram", (5, 4): "no", (6, 4): "yes"}
    top = plan_write(Selection(1, 2, 1), 1, ["no", "yes"], {})
    sheet = MemorySheet()
    apply_plan(sheet, top)
    assert top.header_row is None and sheet.cells == {(1, 2): "no", (2, 2): "yes"}


def test_an_occupied_neighbour_column_is_shifted_never_overwritten():
    sheet = MemorySheet({(1, 1): "phone", (2, 1): "+41791234567", (3, 1): "+41791234568",
                         (3, 2): "note", (9, 2): "far below", (1, 3): "other"})
    plan = plan_write(Selection(1, 3, 1), 2, ["yes", "no"], {3: "note"})
    assert plan.insert_column
    apply_plan(sheet, plan)
    assert sheet.inserted == [2]
    assert column(sheet, 2, 1, 3) == ["telegram", "yes", "no"]
    # Everything that was in column B and beyond moved one column right, whole.
    assert sheet.cells[(3, 3)] == "note" and sheet.cells[(9, 3)] == "far below"
    assert sheet.cells[(1, 4)] == "other"


def test_only_the_cells_written_count_as_occupied():
    # Something below the answers does not force an insertion.
    plan = plan_write(Selection(2, 3, 1), 2, ["yes", "no"], {1: None, 2: " ", 4: "x"})
    assert not plan.insert_column


def test_column_letters():
    assert [column_letters(c) for c in (1, 26, 27, 52, 703)] == ["A", "Z", "AA", "AZ", "AAA"]


def test_run_check_selection_checks_and_writes_with_progress(settings, sandbox):
    nums = numbers(400, start=7000)
    cells = {(1, 1): "Numbers"} | {(i + 2, 1): float(n[1:]) for i, n in enumerate(nums)}
    cells[(3, 2)] = "keep me"
    sheet = MemorySheet(cells)
    shown: list[str] = []
    outcome = run_check_selection(sheet, Selection(1, 401, 1), settings=settings,
                                  status=shown.append)
    assert sandbox.billed["create"] == 1
    expected = ["unknown" if sandbox.expected(n) is None else sandbox.expected(n) for n in nums]
    assert column(sheet, 2, 1, 401) == ["telegram (sandbox)"] + expected
    assert sheet.cells[(3, 3)] == "keep me"  # shifted right, not overwritten
    assert "column B" in outcome.message and "new column" in outcome.message
    assert any(s.startswith("tgcheck: pending ") and "/400" in s for s in shown)


def test_a_stopped_wait_writes_nothing_and_says_the_task_runs_on(settings, sandbox):
    sheet = MemorySheet({(i + 1, 1): n for i, n in enumerate(numbers(50, start=9000))})
    stop = threading.Event()
    stop.set()
    outcome = run_check_selection(sheet, Selection(1, 50, 1), settings=settings, cancel=stop)
    assert outcome.plan is None and "runs on" in outcome.message
    assert column(sheet, 2, 1, 50) == [None] * 50
    assert sandbox.billed["create"] == 1  # created once; the next click attaches to it
    again = run_check_selection(sheet, Selection(1, 50, 1), settings=settings)
    assert again.plan is not None and sandbox.billed["create"] == 1


def test_a_bad_region_is_a_message(settings):
    sheet = MemorySheet({(1, 1): "+41791234567"})
    outcome = run_check_selection(sheet, Selection(1, 1, 1), settings=settings, region="QQ")
    assert outcome.plan is None and "unknown region" in outcome.message


def _sort(sheet):  # the numbers sorted the other way round, header kept
    rows = sorted((r for r, c in sheet.cells if c == 1 and r > 1))
    values = [sheet.cells[(r, 1)] for r in rows]
    for r, v in zip(rows, reversed(values), strict=True):
        sheet.cells[(r, 1)] = v


def _insert_row(sheet):  # a row inserted above the numbers: they all move down one
    sheet.cells = {(r + 1 if r >= 2 else r, c): v for (r, c), v in sheet.cells.items()}
    sheet.cells[(2, 1)] = "+41790009999"


def _delete_row(sheet):  # the first number's row deleted: the rest move up one
    del sheet.cells[(2, 1)]
    sheet.cells = {(r - 1 if r > 2 else r, c): v for (r, c), v in sheet.cells.items()}


@pytest.mark.parametrize("change", [_sort, _insert_row, _delete_row])
def test_cells_changed_during_the_wait_get_no_answers_by_position(settings, sandbox, change):
    """The answers are written by position after a long wait: if the selected column
    changed meanwhile, nothing is written and the message says to run it again."""
    nums = numbers(20, start=4000)
    sheet = MemorySheet({(1, 1): "phone"} | {(i + 2, 1): n for i, n in enumerate(nums)})
    selection = Selection(1, 21, 1)

    def checker_while_someone_edits(data, region, settings, **kw):
        texts = check_values(data, region, settings, **kw)
        change(sheet)  # the user sorts or edits while the task runs
        return texts

    outcome = run_check_selection(sheet, selection, settings=settings,
                                  checker=checker_while_someone_edits)
    assert outcome.plan is None
    assert "changed" in outcome.message and "answers are stored" in outcome.message
    assert "again" in outcome.message and "nothing is paid again" in outcome.message
    assert column(sheet, 2, 1, 22) == [None] * 22 and not sheet.inserted
    assert sandbox.creates == 1
    # Run again on the sheet as it is now: every row gets its own answer.
    again = run_check_selection(sheet, selection, settings=settings)
    assert again.plan is not None
    for r in range(2, 22):
        number = sheet.cells.get((r, 1))
        if number in nums:
            got = sheet.cells.get((r, 2))
            want = sandbox.expected(number)
            assert got == ("unknown" if want is None else want), (r, number)
    assert sandbox.creates == (2 if change is _insert_row else 1)
