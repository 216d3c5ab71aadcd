"""Excel ranges <-> flat lists, and answers -> cell texts. Pure: no xlwings, no engine.

Excel hands a range over as a 2-D list (rows of cells); the engine wants one flat
list and answers in the same order (an AnswerColumn), so the face flattens,
checks, and folds back.
"""

from __future__ import annotations

from collections.abc import Sequence

from tgcheck import AnswerColumn
from tgcheck.answer_column import number_of
from tgcheck.normalize import resolve_all

# What a cell shows for each Answer.status other than "ok" (ok shows the value).
CELL_FOR_STATUS = {"invalid": "invalid", "blank": "", "unknown": "unknown"}
PENDING = "pending"


def as_grid(values: object) -> list[list[object]]:
    """Any shape a caller may pass -> rows of cells.

    Classic xlwings with ndim=2 always gives rows; a Python caller may pass a
    scalar (one cell) or a flat list (taken as one column, like a pasted list).
    """
    if not isinstance(values, (list, tuple)):
        return [[values]]
    if not values:
        return []
    if all(isinstance(row, (list, tuple)) for row in values):
        return [list(row) for row in values]
    return [[v] for v in values]


def flatten(grid: Sequence[Sequence[object]]) -> list[object]:
    return [cell for row in grid for cell in row]


def fold(flat: Sequence[object], grid: Sequence[Sequence[object]]) -> list[list[object]]:
    """flat back into grid's shape (rows may differ in length; Excel's never do)."""
    out, i = [], 0
    for row in grid:
        out.append(list(flat[i:i + len(row)]))
        i += len(row)
    return out


def fold_beside(flat: Sequence[object], beside: Sequence[object],
                grid: Sequence[Sequence[object]]) -> list[list[object]]:
    """flat in grid's shape, each row followed by the same cells of beside (reasons)."""
    return [a + b for a, b in zip(fold(flat, grid), fold(beside, grid), strict=True)]


def reason_texts(answers: AnswerColumn) -> list[str]:
    """The reasons cells spill beside their answers: "" for ok and blank cells."""
    return ["" if status == "blank" else reason for _, _, status, reason in answers.cells("")]


def cell_texts(answers: AnswerColumn) -> list[str]:
    """What each cell shows: the value when ok, else its status's word."""
    return [value if status == "ok" else CELL_FOR_STATUS.get(status, status)
            for _, value, status, _ in answers.cells("")]


def pending_cells(flat: Sequence[object], region: object) -> list[str]:
    """What to show while a task runs: local answers now, "pending" for the rest.

    Invalid and blank cells never reach the provider, so they can be final at once.
    resolve_all is the engine's own reading (E.164 str, else a Normalised problem),
    so a cell shown pending here is exactly one the engine will send.
    """
    return [PENDING if number_of(found) is not None
            else CELL_FOR_STATUS.get(found.status, "")
            for found in resolve_all(flat, region)]


def json_size(grid: Sequence[Sequence[object]]) -> int:
    """Bytes the grid takes as JSON, closely enough to stay under a message limit."""
    # ["yes"], per cell: the text, two quotes, a comma; two brackets per row. A
    # field's cell may be a number, a boolean or a date: its text, quoted or not.
    return sum(len(cell if isinstance(cell, str) else str(cell)) + 3
               for row in grid for cell in row) + 3 * len(grid) + 2
