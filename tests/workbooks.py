"""xlsx files written in memory for the result readers' tests."""

from __future__ import annotations

import io

import xlsxwriter


def xlsx(rows, *, formula_rows=()) -> bytes:
    """An xlsx of one sheet: rows of str (a shared string), float (a number) or None
    (no cell); formula_rows: (row, column, formula, cached value)."""
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    sheet = book.add_worksheet()
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            if isinstance(cell, float):
                sheet.write_number(r, c, cell)
            elif cell is not None:
                sheet.write_string(r, c, cell)
    for r, c, formula, value in formula_rows:
        sheet.write_formula(r, c, formula, None, value)
    book.close()
    return buf.getvalue()
