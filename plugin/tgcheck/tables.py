"""Tables in and out for the CLI: .txt/.csv/.xlsx (or stdin) in; .csv/.xlsx/.json/.parquet out.

Inputs are read twice, row by row: once for the numbers (what the engine needs)
and once while writing the output (the CLI checks on that read that each row's
number cell is still what was checked; for stdout it reads once more to compare
before writing anything). No pass holds the whole table: memory follows the number
column (the engine holds one value per row), not the table's width, so a wide
million-row CSV costs little more than its numbers. An xlsx sheet is the exception:
calamine parses it whole, once per open table (a sheet holds ~1M rows at most).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import datetime
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from .errors import ConfigError, InputError
from .output_style import OutputStyle, sheet_rows, umask_mode, xlsx_sheet_name

# Files that are spreadsheets whatever their name says (zip: xlsx/xlsm/ods; OLE: xls).
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}
CSV_SUFFIXES = {".csv", ".tsv"}
INPUT_FORMATS = ("txt", "csv", "xlsx")
OUTPUT_FORMATS = ("csv", "xlsx", "json", "parquet")
# Header words that name a column of phone numbers (matched per word of the name).
PHONE_WORDS = frozenset({
    "phone", "phones", "phonenumber", "telephone", "tel", "telefon", "telefono", "telefone",
    "mobile", "mobilephone", "mobil", "cell", "cellphone", "msisdn", "number", "numbers",
    "gsm", "handy", "whatsapp",
})
# A cell that is a phone number rather than a header: at least 7 digits, phone punctuation.
_LOOKS_LIKE_NUMBER = re.compile(r"^\s*\+?[\d\s().\-/]*\d[\d\s().\-/]*\s*$")
XLSX_MAX_ROWS = 1_048_576


def _looks_like_number(cell: object) -> bool:
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return abs(cell) >= 1_000_000
    text = str(cell or "")
    if text.endswith(".0"):
        text = text[:-2]
    return bool(_LOOKS_LIKE_NUMBER.match(text)) and sum(c.isdigit() for c in text) >= 7


def _words(name: str) -> list[str]:
    # "Mobile Phone", "phone_number", "customerPhone" -> words
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name))
    return [w for w in re.split(r"[^0-9a-zA-Z]+", spaced.lower()) if w]


def unique_names(names: Sequence[object]) -> list[str]:
    """Header cells as usable, distinct column names (blank -> columnN, twice -> name_2)."""
    out: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(names, 1):
        name = str(raw).strip() if raw not in (None, "") else ""
        name = name or f"column{i}"
        candidate, n = name, 2
        while candidate.lower() in seen:
            candidate, n = f"{name}_{n}", n + 1
        seen.add(candidate.lower())
        out.append(candidate)
    return out


def answer_names(input_columns: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """Names for the appended answer columns that collide with no input column."""
    taken = {c.lower() for c in input_columns}
    out = []
    for name in wanted:
        candidate, n = name, 2
        if candidate.lower() in taken:
            candidate = f"{name}_tgcheck"
        while candidate.lower() in taken:
            candidate, n = f"{name}_tgcheck{n}", n + 1
        taken.add(candidate.lower())
        out.append(candidate)
    return out


# -- input --------------------------------------------------------------------
def _sniff_encoding(path: Path, head: bytes) -> str:
    """The encodings Excel writes: UTF-8 (with or without BOM), UTF-16 ("Unicode
    text"), else the Windows code page (cp1252; latin-1 where cp1252 has holes)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # Validate the whole file as UTF-8 before the first row is used: a stray
    # cp1252 byte on row 900,000 must not fail the run halfway.
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                chunk.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


@dataclasses.dataclass
class InputTable:
    """An input as rows: header (the output's first columns) and the numbers' column."""

    name: str
    kind: str  # txt | csv | xlsx
    columns: list[str]
    number_index: int
    has_header: bool
    _rows: Callable[[], Iterator[list]]
    notes: list[str] = dataclasses.field(default_factory=list)
    _cleanup: Callable[[], None] | None = None
    # What an output shaped like this input needs (see output_style).
    delimiter: str | None = None
    encoding: str | None = None
    path: Path | None = None
    sheet: str | None = None
    sheets: list[str] = dataclasses.field(default_factory=list)

    def rows(self) -> Iterator[list]:
        """Every data row, padded to the header's width, in file order."""
        return self._rows()

    def numbers(self) -> Iterator[object]:
        i = self.number_index
        for row in self._rows():
            yield row[i]

    def close(self) -> None:
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None


def _spool_stdin() -> tuple[Path, Callable[[], None]]:
    """stdin, copied to a temporary file: the input is read more than once."""
    fd, tmp = tempfile.mkstemp(prefix="tgcheck-stdin-")
    with os.fdopen(fd, "wb") as f:
        shutil.copyfileobj(sys.stdin.buffer, f, 1 << 20)
    return Path(tmp), lambda: os.unlink(tmp)


def open_input(path: str, *, column: str | None = None, sheet: str | None = None,
               input_format: str | None = None) -> InputTable:
    """Open INPUT for reading as a table; errors are one-line InputErrors."""
    cleanup = None
    if path == "-":
        p, cleanup = _spool_stdin()
        shown = "stdin"
    else:
        p, shown = Path(path), path
        if not p.exists():
            raise InputError(f"{shown}: no such file")
        if p.is_dir():
            raise InputError(f"{shown}: is a directory, not a file of numbers")
    try:
        try:
            with p.open("rb") as f:
                head = f.read(8192)
        except OSError as e:
            raise InputError(f"{shown}: cannot be read ({e.strerror})") from None
        if not head.strip():
            raise InputError(f"{shown}: is empty")
        kind = input_format or _kind_of(p if path != "-" else None, head)
        if kind == "xlsx":
            table = _open_spreadsheet(p, shown, column, sheet)
        else:
            if head.startswith((_ZIP_MAGIC, _OLE_MAGIC)) or (
                b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE,
                                                         codecs.BOM_UTF16_BE))):
                raise InputError(f"{shown}: looks like a binary file, not text "
                                 "(a spreadsheet? name it .xlsx or pass --input-format xlsx)")
            if sheet is not None:
                raise InputError(f"--sheet: {shown} is not a spreadsheet")
            encoding = _sniff_encoding(p, head)
            if kind == "txt":
                if column is not None:
                    raise InputError(f"--column: {shown} is a text file with one number a "
                                     "line; name it .csv to read it as a table")
                table = _open_text(p, shown, encoding)
            else:
                table = _open_csv(p, shown, encoding, column)
            table.encoding = encoding
            if encoding not in ("utf-8", "utf-8-sig"):
                table.notes.append(f"{shown}: read as {encoding} (not UTF-8)")
    except BaseException:
        if cleanup:
            cleanup()
        raise
    table._cleanup = cleanup
    return table


def _kind_of(p: Path | None, head: bytes) -> str:
    if head.startswith((_ZIP_MAGIC, _OLE_MAGIC)):
        return "xlsx"
    suffix = p.suffix.lower() if p is not None else ""
    if suffix in SPREADSHEET_SUFFIXES:
        return "xlsx"
    if suffix in CSV_SUFFIXES:
        return "csv"
    return "txt"


def _open_text(p: Path, shown: str, encoding: str) -> InputTable:
    def rows() -> Iterator[list]:
        blanks = 0  # trailing blank lines are not inputs; blank lines between are
        with p.open(encoding=encoding, newline=None) as f:
            for line in f:
                line = line.rstrip("\r\n")
                if not line.strip():
                    blanks += 1
                    continue
                for _ in range(blanks):
                    yield [""]
                blanks = 0
                yield [line]

    if next(rows(), None) is None:
        raise InputError(f"{shown}: is empty")
    return InputTable(shown, "txt", ["input"], 0, False, rows)


def _open_csv(p: Path, shown: str, encoding: str, column: str | None) -> InputTable:
    with p.open(encoding=encoding, newline="") as f:
        first_line = f.readline()
    delimiter = "\t" if p.suffix.lower() == ".tsv" else _sniff_delimiter(first_line)

    def raw_rows() -> Iterator[tuple[int, list[str]]]:
        with p.open(encoding=encoding, newline="") as f:
            reader = csv.reader(f, delimiter=delimiter)
            try:
                for row in reader:
                    yield reader.line_num, row
            except csv.Error as e:
                raise InputError(f"{shown}, line {reader.line_num}: {e}") from None

    first = next(raw_rows(), None)
    if first is None:
        raise InputError(f"{shown}: is empty")
    header_cells = first[1]
    has_header = not any(_looks_like_number(c) for c in header_cells)
    columns = unique_names(header_cells) if has_header else [
        f"column{i}" for i in range(1, len(header_cells) + 1)]
    width = len(columns)
    notes: list[str] = []
    if delimiter != ",":
        notes.append(f"{shown}: fields separated by {delimiter!r}")

    def rows() -> Iterator[list]:
        it = raw_rows()
        if has_header:
            next(it)
        for line_num, row in it:
            if len(row) > width:
                extra = row[width:]
                if any(cell.strip() for cell in extra):
                    raise InputError(
                        f"{shown}, line {line_num}: {len(row)} fields where the header has "
                        f"{width}; fix the row (a delimiter inside an unquoted value?)")
                row = row[:width]
            elif len(row) < width:
                # Excel and hand-edited files drop trailing empty cells.
                row = row + [""] * (width - len(row))
            yield row

    index = choose_column(columns, column, shown, notes, has_header)
    table = InputTable(shown, "csv", columns, index, has_header, rows, notes,
                       delimiter=delimiter)
    if not has_header:
        notes.append(f"{shown}: no header row (the first row holds a number)")
    return table


def _open_spreadsheet(p: Path, shown: str, column: str | None,
                      sheet: str | None) -> InputTable:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(p))
    except Exception as e:  # calamine raises its own types for every broken file
        raise InputError(f"{shown}: not a readable spreadsheet ({e})") from None
    names = list(book.sheet_names)
    if sheet is None:
        if not names:
            raise InputError(f"{shown}: has no sheets")
        sheet = names[0]
    elif sheet not in names:
        # Any case, as for --column: "leads" finds "Leads" (unless it is ambiguous).
        lowered = [n for n in names if n.lower() == sheet.lower()]
        if len(lowered) != 1:
            raise InputError(f"{shown}: no sheet named {sheet!r}; sheets: {', '.join(names)}")
        sheet = lowered[0]

    # Parsed once for every pass over the table (first row, numbers, output): the
    # parse is most of a pass's time. calamine holds the sheet in memory; xlsx
    # caps a sheet at ~1M rows anyway.
    try:
        ws = book.get_sheet_by_name(sheet)
    except Exception as e:  # calamine's own types, as for the workbook
        raise InputError(f"{shown}: sheet {sheet!r} is not readable ({e})") from None

    def raw_rows() -> Iterator[list]:
        return ws.iter_rows()  # a new iterator from the first row, each call

    first = next(raw_rows(), None)
    if first is None or not any(c not in (None, "") for c in first):
        raise InputError(f"{shown}: sheet {sheet!r} is empty")
    has_header = not any(_looks_like_number(c) for c in first)
    columns = unique_names(first) if has_header else [
        f"column{i}" for i in range(1, len(first) + 1)]
    width = len(columns)

    def rows() -> Iterator[list]:
        it = raw_rows()
        if has_header:
            next(it)
        for row in it:
            row = list(row)[:width]
            yield row + [""] * (width - len(row))

    notes: list[str] = []
    if len(names) > 1:
        notes.append(f"{shown}: read sheet {sheet!r} (of {', '.join(names)}; choose with --sheet)")
    index = choose_column(columns, column, shown, notes, has_header)
    if not has_header:
        notes.append(f"{shown}: no header row (the first row holds a number)")
    return InputTable(shown, "xlsx", columns, index, has_header, rows, notes, path=p,
                      sheet=sheet, sheets=names)


def choose_column(columns: list[str], column: str | None, shown: str, notes: list[str],
                  has_header: bool) -> int:
    """--column by name (any case) or number; else the only column, else the phone-named one."""
    if column is not None:
        for i, name in enumerate(columns):
            if name == column:
                return i
        lowered = [i for i, name in enumerate(columns) if name.lower() == column.lower()]
        if len(lowered) == 1:
            return lowered[0]
        if column.isdigit() and 1 <= int(column) <= len(columns):
            return int(column) - 1
        raise InputError(f"{shown}: no column {column!r}; columns: {', '.join(columns)}")
    if len(columns) == 1:
        return 0
    found = [i for i, name in enumerate(columns)
             if has_header and PHONE_WORDS.intersection(_words(name))]
    if len(found) == 1:
        notes.append(f"{shown}: numbers taken from column {columns[found[0]]!r} "
                     "(choose another with --column)")
        return found[0]
    listing = ", ".join(columns)
    if found:
        raise InputError(f"{shown}: several columns could hold the numbers "
                         f"({', '.join(columns[i] for i in found)}); choose one with --column")
    raise InputError(f"{shown}: no column is named like a phone number (columns: {listing}); "
                     "choose one with --column")


# -- output -------------------------------------------------------------------
def output_format(path: str | None, forced: str | None) -> str:
    if forced:
        return forced
    if path is None or path == "-":
        return "csv"
    suffix = Path(path).suffix.lower()
    formats = {".csv": "csv", ".xlsx": "xlsx", ".json": "json", ".jsonl": "json",
               ".ndjson": "json", ".parquet": "parquet", ".txt": "csv", ".tsv": "csv"}
    if suffix not in formats:
        raise InputError(f"-o {path}: unknown extension {suffix or '(none)'!r}; use .csv, "
                         ".xlsx, .json (JSON lines) or .parquet, or choose with --format")
    return formats[suffix]


def check_output(path: str | None, fmt: str, rows: int | None = None, *,
                 folder: bool = False) -> None:
    """Refuse now what write_table would refuse later: `check` calls this before
    any task is created, so that exit 2 still means nothing was sent (or paid).

    rows, when known, is how many data rows will be written; folder: also check
    that the output's folder takes a new file (before a paid call; once paid, a
    write that fails says how to get the answers instead).
    """
    if (path is None or path == "-") and fmt not in ("csv", "json"):
        raise InputError(f"--format {fmt} cannot go to stdout; give -o FILE.{fmt}")
    if folder and path is not None and path != "-":
        check_output_path(path)
    if fmt == "parquet":
        try:
            import duckdb  # noqa: F401  (the writer's; DuckDB is an optional extra)
        except ImportError:
            raise ConfigError('writing .parquet needs DuckDB: python -m pip install -e '
                              '".[duckdb]" in the tgcheck checkout') from None
    if fmt == "xlsx" and rows is not None and rows >= XLSX_MAX_ROWS:
        raise _too_many_rows()


def check_output_path(path: str | os.PathLike) -> None:
    """-o's folder exists and takes a new file: found out now, not after the task
    was paid for. A real file is made and removed (permissions, a read-only
    disk, quotas: only trying tells)."""
    target = Path(path)
    folder = target.parent
    if target.is_dir():
        raise InputError(f"-o {path}: is a folder; give a file name")
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise InputError(f"-o {path}: the folder {folder} {what}")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".probe")
    except OSError as e:
        raise InputError(f"-o {path}: cannot write in {folder} ({e.strerror or e})") from None
    os.close(fd)
    os.unlink(probe)


def _too_many_rows() -> InputError:
    # The header takes the sheet's first row.
    return InputError(f"more than {XLSX_MAX_ROWS - 1} rows do not fit in an xlsx sheet; "
                      "write .csv or .parquet")


def write_table(path: str | None, fmt: str, header: Sequence[str],
                rows: Iterator[Sequence[object]], style: OutputStyle | None = None) -> int:
    """Write header + rows to path (atomically) or stdout; returns the row count.

    style shapes CSV (delimiter, encoding; on stdout the delimiter only) and xlsx
    (sheet name, the input's other sheets). OSError means the file could not be
    written; the caller explains what now.
    """
    check_output(path, fmt)
    style = style or OutputStyle()
    if path is None or path == "-":
        if fmt == "csv":
            return _write_csv(sys.stdout, header, rows, style.delimiter)
        return _WRITERS[fmt](sys.stdout, header, rows)
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if fmt == "csv":
            with open(tmp, "w", encoding=style.encoding, newline="") as f:
                count = _write_csv(f, header, rows, style.delimiter)
        elif fmt == "json":
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                count = _write_json(f, header, rows)
        elif fmt == "xlsx":
            count = _write_xlsx(tmp, header, rows, style)
        else:
            count = _WRITERS[fmt](tmp, header, rows)
        # mkstemp makes the file 0600: give it the mode any new file would get.
        os.chmod(tmp, umask_mode())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return count


def _write_csv(f, header, rows, delimiter: str = ",") -> int:
    writer = csv.writer(f, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    # The csv module writes None as an empty cell itself: no copy of each row.
    count = 0
    writerow = writer.writerow
    for row in rows:
        writerow(row)
        count += 1
    return count


def _write_json(f, header, rows) -> int:
    count = 0
    for row in rows:
        record = {k: (None if v == "" else v) for k, v in zip(header, row, strict=False)}
        # default=str: dates and times (xlsx cells) as text
        f.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        count += 1
    return count


def _write_xlsx(path, header, rows, style: OutputStyle | None = None) -> int:
    import xlsxwriter

    style = style or OutputStyle()
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
                raise _too_many_rows()
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


def _write_parquet(path, header, rows) -> int:
    import duckdb  # there: write_table checked with check_output
    # Rows go to a temporary CSV first, so no row list is ever held; DuckDB
    # then streams it into Parquet with every column as text (numbers keep +).
    fd, tmp_csv = tempfile.mkstemp(prefix="tgcheck-", suffix=".csv",
                                   dir=Path(path).parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            count = _write_csv(f, header, rows)
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


_WRITERS = {"csv": _write_csv, "json": _write_json, "xlsx": _write_xlsx,
            "parquet": _write_parquet}
