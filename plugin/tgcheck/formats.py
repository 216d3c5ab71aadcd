"""Output formats: one entry per format, for every face that writes a table.

A format says which -o extensions choose it, whether it can go to stdout, which
optional module it needs, how the CLI writes it (rows streamed, never held) and
how DuckDB writes it for `tgcheck sql -o` (COPY options; None: not there). A
new format is one more `register(OutputFormat(...))` here.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from .csv_formulas import neutralise, neutralised
from .errors import ConfigError, InputError
from .output_style import OutputStyle, sheet_rows, xlsx_sheet_name

XLSX_MAX_ROWS = 1_048_576
Rows = Iterator[Sequence[object]]


@dataclasses.dataclass(frozen=True)
class OutputFormat:
    """One output format.

    write_text(stream, header, rows, style) -> rows written, for a text format
    (a file opened in `encoding(style)`, or stdout); write_file(path, header,
    rows, style) -> rows written, for a binary one (a file only).
    """

    name: str
    suffixes: tuple[str, ...]
    help: str  # as -o's help and errors name it: ".json (JSON lines)"
    write_text: Callable[[TextIO, Sequence[str], Rows, OutputStyle], int] | None = None
    write_file: Callable[[str, Sequence[str], Rows, OutputStyle], int] | None = None
    encoding: Callable[[OutputStyle], str] = lambda style: "utf-8"
    needs: str | None = None  # an optional module the writer imports
    needs_hint: str = ""  # what to install for it: 'DuckDB ... ".[duckdb]" ...'
    duckdb_copy: str | None = None  # COPY ... TO options for the SQL face

    @property
    def stdout(self) -> bool:
        return self.write_text is not None

    def check_installed(self) -> None:
        """ConfigError now, before anything is sent, if the writer's extra is missing."""
        if self.needs is None:
            return
        try:
            __import__(self.needs)
        except ImportError:
            raise ConfigError(f"writing .{self.name} needs {self.needs_hint or self.needs}"
                              ) from None


FORMATS: dict[str, OutputFormat] = {}


def register(fmt: OutputFormat) -> OutputFormat:
    FORMATS[fmt.name] = fmt
    return fmt


def names() -> tuple[str, ...]:
    return tuple(FORMATS)


def by_suffix(path: str | os.PathLike) -> OutputFormat | None:
    suffix = Path(path).suffix.lower()
    return next((f for f in FORMATS.values() if suffix in f.suffixes), None)


def listing(formats=None) -> str:
    """".csv, .xlsx, .json (JSON lines) or .parquet", for help and errors."""
    helps = [f.help for f in (formats or FORMATS.values())]
    return ", ".join(helps[:-1]) + " or " + helps[-1] if len(helps) > 1 else helps[0]


def for_output(path: str | None, forced: str | None) -> OutputFormat:
    """-f wins; else -o's extension; CSV on stdout."""
    if forced:
        return FORMATS[forced]
    if path is None or path == "-":
        return FORMATS["csv"]
    found = by_suffix(path)
    if found is None and is_special_file(path):
        return FORMATS["csv"]  # -o /dev/null, a FIFO: written like stdout
    if found is None:
        suffix = Path(path).suffix.lower()
        raise InputError(f"-o {path}: unknown extension {suffix or '(none)'!r}; use "
                         f"{listing()}, or choose with --format")
    return found


def is_special_file(path: str | os.PathLike) -> bool:
    """-o names something that exists and is no regular file or folder (/dev/null,
    /dev/stdout, a FIFO): it is written in place, never replaced by a new file."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def too_many_rows() -> InputError:
    # The header takes the sheet's first row.
    return InputError(f"more than {XLSX_MAX_ROWS - 1} rows do not fit in an xlsx sheet; "
                      "write .csv or .parquet")


# -- the writers ----------------------------------------------------------------
def _write_csv(f: TextIO, header, rows, style: OutputStyle) -> int:
    writer = csv.writer(f, delimiter=style.delimiter, lineterminator="\n")
    if style.csv_safe:
        header = [neutralise(name) for name in header]
        rows = neutralised(rows, style.csv_text_columns)
    writer.writerow(header)
    # The csv module writes None as an empty cell itself: no copy of each row.
    count = 0
    writerow = writer.writerow
    for row in rows:
        writerow(row)
        count += 1
    return count


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


register(OutputFormat("csv", (".csv", ".txt", ".tsv"), ".csv", write_text=_write_csv,
                      encoding=lambda style: style.encoding,
                      duckdb_copy="FORMAT csv, HEADER true"))
register(OutputFormat("xlsx", (".xlsx",), ".xlsx", write_file=_write_xlsx))
register(OutputFormat("json", (".json", ".jsonl", ".ndjson"), ".json (JSON lines)",
                      write_text=_write_json,
                      # `tgcheck sql -o x.json` has written one JSON array since it began.
                      duckdb_copy="FORMAT json, ARRAY true"))
register(OutputFormat("parquet", (".parquet",), ".parquet", write_file=_write_parquet,
                      needs="duckdb", duckdb_copy="FORMAT parquet",
                      needs_hint='DuckDB: python -m pip install -e ".[duckdb]" in the tgcheck '
                                 "checkout"))
