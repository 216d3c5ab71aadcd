"""Tables in and out for the CLI: .txt/.csv/.xlsx (or stdin) in; .csv/.xlsx/.json/.parquet out.

Inputs are read twice, row by row: once for the numbers (what the engine needs)
and once while writing the output (the CLI checks on that read that each row's
number cell is still what was checked; for stdout it reads once more to compare
before writing anything). A CSV pass holds no whole table: memory follows the
number column (the engine holds one value per row), not the table's width, so a
wide million-row CSV costs little more than its numbers. Two exceptions: an xlsx
sheet, which calamine parses whole once per open table (~1M rows at most; a sheet
whose far corner is out of proportion to its cells is streamed instead), and a
.txt, read in each pass whole (up to 16 MB) or in blocks (one number a line: the
table is its number column). A cell or line over input_limits' limits costs no
more than one within them.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import csv
import dataclasses
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

from . import chunked_input, formats, headers, input_limits, regions, text_encoding, xlsx_rows
from .errors import InputError, ResultFileError
from .fields import as_cell, as_text
from .output_style import OutputStyle, umask_mode
from .readers import MAX_RATIO, ZIP_ERRORS
from .unchanged import NO_ROW, Changed, paired

if TYPE_CHECKING:
    from .answer_column import AnswerColumn

# Files that are spreadsheets whatever their name says (zip: xlsx/xlsm/ods; OLE: xls).
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}
CSV_SUFFIXES = {".csv", ".tsv"}
INPUT_FORMATS = ("txt", "csv", "xlsx")
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
    # A table that is its column of numbers (.txt): that column as a list, read anew.
    _column: Callable[[], list] | None = None
    _column_blocks: Callable[[], Iterator[list]] | None = None  # the same, in blocks
    # Whether _column() == a list, mostly without making it (_open_text's same()).
    _column_is: Callable[[Sequence[object]], bool] | None = None

    def rows(self) -> Iterator[list]:
        """Every data row, padded to the header's width, in file order."""
        return self._rows()

    def numbers(self) -> Iterator[object]:
        if self._column is not None:
            return iter(self._column())
        return map(itemgetter(self.number_index), self._rows())

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
            encoding = text_encoding.sniff_file(p, head)
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
    def column() -> list[str]:
        # Whole or in blocks, each split at once (a tenth of a Python loop over
        # the lines); a large file's over-long line kept cut: memory follows the
        # lines, not the longest one (input_limits).
        with p.open(encoding=encoding, newline=None) as f:
            lines = input_limits.text_lines(f, os.fstat(f.fileno()).st_size)
        while lines and not lines[-1].strip():
            lines.pop()  # trailing blank lines are not inputs; blank lines between are
        if any(map(str.isspace, lines)):  # rare: the test alone stays in C
            lines = [line if line.strip() else "" for line in lines]
        return lines

    def same(checked: Sequence[object]) -> bool:
        # column() == checked. A file read whole that is checked's lines, joined,
        # with or without a last newline, is compared as text: no split and no list
        # (a 200,000-line file 0.020 s to 0.007 s). Exact where checked has no line
        # column() would change (blank at the end, whitespace only, a newline inside).
        with p.open(encoding=encoding, newline=None) as f:
            text = (f.read() if os.fstat(f.fileno()).st_size <= input_limits.WHOLE_BYTES
                    else None)
        if text is not None and checked:
            try:
                # A value that is not text makes the join fail: then column() ==
                # checked says it (no pass over the types first: 0.004 s).
                joined = "\n".join(checked)
            except TypeError:
                joined = None
            if joined is not None and (
                    (text == joined or text == joined + "\n") and checked[-1].strip()
                    and joined.count("\n") == len(checked) - 1
                    and not any(map(str.isspace, checked))):
                return True
        return column() == checked

    with p.open(encoding=encoding, newline=None) as f:
        if not input_limits.has_text(f):
            raise InputError(f"{shown}: is empty")
    return InputTable(shown, "txt", ["input"], 0, False,
                      lambda: ([line] for line in column()), _column=column,
                      _column_blocks=lambda: chunked_input.text_column_blocks(p, encoding),
                      _column_is=same)


def _open_csv(p: Path, shown: str, encoding: str, column: str | None) -> InputTable:
    with p.open(encoding=encoding, newline="") as f:
        first_line = f.readline(input_limits.MAX_LINE_CHARS + 1)
    delimiter = "\t" if p.suffix.lower() == ".tsv" else _sniff_delimiter(first_line)

    def too_long(line_num: int) -> None:
        raise InputError(f"{shown}, line {line_num}: longer than "
                         f"{input_limits.MAX_LINE_CHARS:,} characters; no row of a table of "
                         "numbers is (is the file a table?)")

    def raw_rows() -> Iterator[tuple[int, list[str]]]:
        with p.open(encoding=encoding, newline="") as f:
            # Lines read at most MAX_LINE_CHARS at a time: a file's one huge line
            # is refused before it is held (csv would hold it whole, twice).
            reader = csv.reader(input_limits.bounded_lines(f, too_long),
                                delimiter=delimiter)
            try:
                for row in reader:
                    yield reader.line_num, row
            except csv.Error as e:
                raise InputError(f"{shown}, line {reader.line_num}: {e}") from None

    first = next(raw_rows(), None)
    if first is None:
        raise InputError(f"{shown}: is empty")
    header_cells = first[1]
    has_header = headers.is_header_row(header_cells)
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

    _check_unpacked_size(p, shown)
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

    streamed = _sparse_sheet(p, shown, sheet)
    if streamed is not None:
        raw_rows = streamed
    else:
        # Parsed once for every pass over the table (first row, numbers, output):
        # the parse is most of a pass's time. calamine holds the sheet in memory
        # as a dense grid, here no larger than a few times its cells (xlsx caps a
        # sheet at ~1M rows anyway).
        try:
            ws = book.get_sheet_by_name(sheet)
        except Exception as e:  # calamine's own types, as for the workbook
            raise InputError(f"{shown}: sheet {sheet!r} is not readable ({e})") from None

        def raw_rows() -> Iterator[list]:
            return ws.iter_rows()  # a new iterator from the first row, each call

    first = next(raw_rows(), None)
    if first is None or not any(c not in (None, "") for c in first):
        raise InputError(f"{shown}: sheet {sheet!r} is empty")
    has_header = headers.is_header_row(first)
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


def _check_unpacked_size(p: Path, shown: str) -> None:
    """Refuse a zip-based spreadsheet that unpacks to an implausible multiple of
    its size (readers.MAX_RATIO, as for result files): calamine holds its shared
    strings whole, and a 300 KB file with one 300 MB string peaked at 888 MB."""
    try:
        with zipfile.ZipFile(p) as z:
            total = sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # xls and the like, or unreadable: calamine says so
    size = p.stat().st_size
    if total > size * MAX_RATIO + 10_000_000:
        raise InputError(f"{shown}: unpacks to {total:,} bytes, {total // max(size, 1):,} "
                         "times its size (a zip bomb?); a real spreadsheet packs about "
                         "ten times")


# Excel's own limit on a cell's text: a streamed sheet's cells are never cut.
_EXCEL_CELL_CHARS = 32_767


def _sparse_sheet(p: Path, shown: str, sheet: str) -> Callable[[], Iterator[list]] | None:
    """For an xlsx (or xlsm) sheet whose far corner is out of proportion to the
    cells it holds (one cell at XFD1048576 would make calamine allocate 17
    billion), its rows streamed anew each call (tgcheck.xlsx_rows): memory
    follows its cells. None for every other sheet (calamine reads it faster)."""
    try:
        with zipfile.ZipFile(p) as z:
            if "xl/workbook.xml" not in z.NameToInfo:
                return None  # ods: calamine's
            member = xlsx_rows.sheet_member(z, _member_chunks, sheet)
            if member is None or not xlsx_rows.is_sparse(z, _member_chunks, member):
                return None
    except zipfile.BadZipFile:
        return None  # xls and the like: calamine's
    except (ResultFileError, *ZIP_ERRORS) as e:
        raise InputError(f"{shown}: not a readable spreadsheet ({e})") from None

    def rows() -> Iterator[list]:
        try:
            with zipfile.ZipFile(p) as z:
                yield from xlsx_rows.sheet_rows(z, _member_chunks, member, _EXCEL_CELL_CHARS)
        except (ResultFileError, *ZIP_ERRORS) as e:
            raise InputError(f"{shown}: sheet {sheet!r} is not readable ({e})") from None

    return rows


def _member_chunks(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    with z.open(info) as f:
        while chunk := f.read(1 << 20):
            yield chunk


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
    found = headers.phone_columns(columns) if has_header else []
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


# -- answers beside their rows ------------------------------------------------------
class InputChanged(InputError):
    """INPUT changed between the check and the writing of the answers. Exit 1, not 2:
    numbers were sent (exit 2 promises nothing was); running again costs nothing."""

    exit_code = 1


def short(value: object) -> str:
    """A cell's repr for a message, cut at 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _matched_rows(table: InputTable, checked: Sequence[object],
                  as_checked: bool | None = None) -> Iterator[Sequence]:
    """The input's rows from a new read, in input order, each checked against the
    value the engine was given for it.

    Raises InputChanged unless each row's number cell is that value and there are
    as many rows as values: writing by position would pair answers with the
    wrong rows. as_checked: _is_column's answer, when the caller has it.
    """
    if as_checked if as_checked is not None else _is_column(table, checked):
        return zip(checked)
    return _paired_rows(table, checked)


def _is_column(table: InputTable, checked: Sequence[object]) -> bool:
    """The table is its column and the column is still what was checked (one list
    comparison, in C): its rows are the values checked, nothing to pair."""
    if table._column_is is not None:
        return table._column_is(checked)
    return table._column is not None and table._column() == checked


def _paired_rows(table: InputTable, checked: Sequence[object]) -> Iterator[list]:
    try:
        for row, _ in paired(table.rows(), checked, cell=itemgetter(table.number_index)):
            yield row
    except Changed as e:
        if e.found is NO_ROW:
            what = f"it now ends before row {e.row}"
        elif e.checked is NO_ROW:
            what = f"it now has more rows than the {e.row - 1} checked"
        else:
            what = f"row {e.row} now holds {short(e.found)} where {short(e.checked)} was checked"
        raise InputChanged(
            f"{table.name} changed while it was being checked ({what}); nothing was written. "
            "The answers are stored: run the same command again and nothing is paid "
            "again") from None


def check_unchanged(table: InputTable, checked: Sequence[object]) -> None:
    """A read of the whole input that only compares: before writing to stdout,
    where a half-written table could not be taken back."""
    for _ in _matched_rows(table, checked):
        pass


def answer_rows(table: InputTable, checked: Sequence[object], answers: AnswerColumn,
                counts: collections.Counter) -> Iterator[Sequence]:
    """Input rows (as wide as table.columns) with number, value, status and reason
    appended, in input order: a new read of the input, checked row by row against
    what the engine was given (checked), beside the answer column's cells
    (tgcheck.answer_column, which joins them). counts gets each status's number of
    rows. No Answer per row: for a CLI run that is most of its time once the
    answers are stored.
    """
    if _is_column(table, checked):
        # A column (a .txt): its rows are the values checked, nothing to pair.
        return answers.input_cells("", counts)
    return ([*row, *tail] for row, tail in zip(
        _matched_rows(table, checked, False), answers.cells("", counts), strict=True))


def row_regions(table: InputTable, region_column: str, default: str | None):
    """Each row's region cell (--region-column), the fixed --region where it is empty."""
    index = region_index(table, region_column)
    return regions.per_row([row[index] for row in table.rows()], default)


def region_index(table: InputTable, region_column: str) -> int:
    """The index of --region-column's column (never the column of numbers)."""
    index = choose_column(table.columns, region_column, table.name, [], table.has_header)
    if index == table.number_index:
        raise InputError(f"--region-column {region_column!r} is the column of numbers")
    return index


# -- output -------------------------------------------------------------------
def output_format(path: str | None, forced: str | None) -> str:
    """The name of the format -o/--format choose (tgcheck.formats)."""
    return formats.for_output(path, forced).name


def write_table(path: str | None, fmt: str, header: Sequence[str],
                rows: Iterator[Sequence[object]], style: OutputStyle | None = None) -> int:
    """Write header + rows to path (atomically) or stdout; returns the row count.

    style shapes CSV (delimiter, encoding; on stdout the delimiter only) and xlsx
    (sheet name, the input's other sheets). OSError means the file could not be
    written; the caller explains what now.
    """
    formats.check_output(path, fmt)
    form = formats.FORMATS[fmt]
    style = style or OutputStyle()
    if path is None or path == "-":
        return form.write_text(sys.stdout, header, rows, style)
    if formats.is_special_file(path):
        # /dev/null or a FIFO: written in place (a temporary file renamed over a
        # device would replace it).
        if form.write_text is None:
            return form.write_file(path, header, rows, style)
        with open(path, "w", encoding=form.encoding(style), newline="") as f:
            return form.write_text(f, header, rows, style)
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if form.write_text is not None:
            with open(tmp, "w", encoding=form.encoding(style), newline="") as f:
                count = form.write_text(f, header, rows, style)
        else:
            count = form.write_file(tmp, header, rows, style)
        # mkstemp makes the file 0600: give it the mode any new file would get.
        os.chmod(tmp, umask_mode())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return count


def with_fields(rows: Iterable[Sequence], at: int, fields: Iterable[Mapping | None],
                names: Sequence[str], *, cells: bool) -> Iterator[list]:
    """answer_rows' rows with one column per chosen field inserted after the
    headline (at: the index of the appended `number` column): typed cells for a
    spreadsheet (cells=True), text otherwise (tgcheck.fields). fields: one per
    row, in the rows' order (AnswerColumn.fields(): the answer column did the
    join); None, as for a row without an ok answer, leaves them empty."""
    render = as_cell if cells else as_text
    blank = [None] * len(names)
    for row, got in zip(rows, fields, strict=True):
        tail = blank if got is None else [render(got.get(n)) for n in names]
        yield [*row[:at + 2], *tail, *row[at + 2:]]
