"""The built-in output formats: CSV, xlsx, JSON lines and Parquet.

Registered through tgcheck_register_output_formats like a plugin's format
(tgcheck.formats looks them up), so a plugin's format is written by the same
code path: `tgcheck check -o out.EXT`, `export -o`, `cache export -o`.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import itertools
import json
import os
import tempfile
from pathlib import Path
from typing import TextIO

from ..csv_formulas import neutralise, neutralised
from ..formats import XLSX_MAX_ROWS, OutputFormat, too_many_rows
from ..hookspecs import hookimpl
from ..output_style import OutputStyle, sheet_rows, xlsx_sheet_name


def _write_csv(f: TextIO, header, rows, style: OutputStyle) -> int:
    writer = csv.writer(f, delimiter=style.delimiter, lineterminator="\n")
    if style.csv_safe:
        header = [neutralise(name) for name in header]
        rows = neutralised(rows, style.csv_text_columns)
    writer.writerow(header)
    count = 0
    rows = iter(rows)
    while batch := list(itertools.islice(rows, CSV_BATCH)):
        _write_rows(f, writer, batch, style.delimiter)
        count += len(batch)
    return count


CSV_BATCH = 4096


def _write_rows(f: TextIO, writer, batch: list, delimiter: str) -> None:
    """batch as csv.writer writes it (the csv module writes None as an empty cell
    itself: no copy of each row).

    Most batches are plain text that needs no quoting (phone numbers, yes/no,
    ok): those are joined in C, one join per row and one for the batch, about
    3.5x faster than csv.writer (200,000 rows of 5 cells: 0.10 s to 0.03 s).
    Anything csv.writer would write differently sends the batch to it: a cell
    that is not text (None, a number), a delimiter, quote, CR or LF inside a
    cell (counted: the batch must hold exactly the delimiters and line breaks
    the joins put in), a row of one cell (an empty one is written ""), or a
    space as the delimiter (some Python versions quote spaces then)."""
    try:
        text = "\n".join(map(delimiter.join, batch))
    except TypeError:  # a cell that is not text
        writer.writerows(batch)
        return
    if (delimiter != " " and min(map(len, batch)) > 1
            and text.count(delimiter) == sum(map(len, batch)) - len(batch)
            and text.count("\n") == len(batch) - 1
            and '"' not in text and "\r" not in text):
        f.write(text)
        f.write("\n")
    else:
        writer.writerows(batch)


def _write_json(f: TextIO, header, rows, style: OutputStyle) -> int:
    count = 0
    for row in rows:
        record = {k: (None if v == "" else v) for k, v in zip(header, row, strict=False)}
        # default=str: dates and times (xlsx cells) as text
        f.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        count += 1
    return count


def _write_xlsx(path: str, header, rows, style: OutputStyle) -> int:
    import xlsxwriter

    # constant_memory streams rows to disk; strings stay strings (no formulas
    # from "=..." cells, no URLs, no numbers from "+41...").
    book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False,
                                      "strings_to_urls": False, "strings_to_numbers": False})
    try:
        dates = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        # The input's other sheets, in their places, values only.
        for name in style.before:
            _copy_sheet(book, style.workbook, name, dates)
        sheet = book.add_worksheet(xlsx_sheet_name(style.sheet))
        if style.before:
            sheet.activate()  # opens on the answers, as the input opened on its sheet
        bold = book.add_format({"bold": True})
        sheet.write_row(0, 0, list(header), bold)
        sheet.freeze_panes(1, 0)
        count = 0
        for r, row in enumerate(rows, 1):
            if r >= XLSX_MAX_ROWS:
                raise too_many_rows()
            _write_cells(sheet, r, row, dates)
            count += 1
        for name in style.after:
            _copy_sheet(book, style.workbook, name, dates)
    finally:
        book.close()
    return count


def _write_cells(sheet, r: int, row, dates) -> None:
    for c, value in enumerate(row):
        if value is None or value == "":
            continue
        if isinstance(value, (datetime.datetime, datetime.date)):
            sheet.write_datetime(r, c, value, dates)
        elif isinstance(value, bool):
            sheet.write_boolean(r, c, value)
        elif isinstance(value, (int, float)):
            sheet.write_number(r, c, value)
        else:
            sheet.write_string(r, c, str(value))


def _copy_sheet(book, workbook: Path, name: str, dates) -> None:
    sheet = book.add_worksheet(xlsx_sheet_name(name))
    for r, row in enumerate(sheet_rows(workbook, name)):
        _write_cells(sheet, r, row, dates)


def _write_parquet(path: str, header, rows, style: OutputStyle) -> int:
    import duckdb  # there: write_table checked with check_installed
    # Rows go to a temporary CSV first, so no row list is ever held; DuckDB
    # then streams it into Parquet with every column as text (numbers keep +).
    fd, tmp_csv = tempfile.mkstemp(prefix="tgcheck-", suffix=".csv",
                                   dir=Path(path).parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            # Parquet keeps every cell as it came: no spreadsheet runs it.
            count = _write_csv(f, header, rows, OutputStyle(csv_safe=False))
        columns = "{" + ", ".join(
            "'" + name.replace("'", "''") + "': 'VARCHAR'" for name in header) + "}"
        con = duckdb.connect()
        try:
            con.execute(
                f"COPY (SELECT * FROM read_csv(?, header=true, delim=',', quote='\"', "
                f"escape='\"', auto_detect=false, columns={columns})) "
                "TO '" + str(path).replace("'", "''") + "' (FORMAT parquet)",
                [tmp_csv],
            )
        finally:
            con.close()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp_csv)
    return count


CSV = OutputFormat("csv", (".csv", ".txt", ".tsv"), ".csv", write_text=_write_csv,
                   encoding=lambda style: style.encoding,
                   duckdb_copy="FORMAT csv, HEADER true")
XLSX = OutputFormat("xlsx", (".xlsx",), ".xlsx", write_file=_write_xlsx)
JSON = OutputFormat("json", (".json", ".jsonl", ".ndjson"), ".json (JSON lines)",
                    write_text=_write_json,
                    # `tgcheck sql -o x.json` has written one JSON array since it began.
                    duckdb_copy="FORMAT json, ARRAY true")
PARQUET = OutputFormat("parquet", (".parquet",), ".parquet", write_file=_write_parquet,
                       needs="duckdb", duckdb_copy="FORMAT parquet",
                       needs_hint='DuckDB: python -m pip install -e ".[duckdb]" in the '
                                  "tgcheck checkout")


@hookimpl
def tgcheck_register_output_formats(register):
    for fmt in (CSV, XLSX, JSON, PARQUET):
        register(fmt)
