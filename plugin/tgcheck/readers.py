"""Result-file readers any provider may list: xlsx (python-calamine; streamed when
sparse), zip holding CSV or xlsx, and bare CSV (a provider's `readers`; reader plugins come first).
ekycpro's files are read by these; a provider whose files look alike uses them
too (`from tgcheck.readers import readers`).

A provider's files are not guaranteed to be ordered, complete or free of extras,
and their headers vary in case and spacing; every reader returns a mapping
number -> value, and the engine joins by number.
"""

from __future__ import annotations

import codecs
import contextlib
import contextvars
import csv
import io
import lzma
import zipfile
import zlib
from collections.abc import Collection, Iterable, Iterator, Mapping

from python_calamine import CalamineError, CalamineWorkbook

from .errors import ResultFileError
from .headers import header_key
from .input_limits import MAX_LINE_CHARS
from .models import TaskType
from .normalize import resolve_all, resolve_rest
from .result_size import MAX_UNPACKED_BYTES, check_size
from .text_encoding import decode, memory_chunks, sniff, valid_utf8
from .xlsx_plain import plain_columns
from .xlsx_rows import first_sheet_and_strings, first_sheet_rows, is_sparse

# Zip-bomb guard: no member packs more than this ratio (a result file of
# 1,000,000 rows is ~30 MB uncompressed).
MAX_RATIO = 200
# Everything zipfile and zlib raise on a damaged, encrypted or exotic archive.
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError,
               lzma.LZMAError, ValueError, EOFError, OSError, IndexError, KeyError)
NUMBER_HEADERS = {"number", "phone", "phonenumber", "mobile", "msisdn", "tel", "telephone"}


# The numbers the file answers were sent as (reading_for): E.164 strings the
# engine normalised before sending, so a cell equal to one needs no normalising.
_SENT: contextvars.ContextVar[Collection[str] | None] = contextvars.ContextVar(
    "result_numbers_sent", default=None)


@contextlib.contextmanager
def reading_for(numbers: Collection[str]):
    """Readers called inside know the numbers sent (the engine's normalised E.164
    strings): a number cell equal to one of them is taken as it is, and only the
    others (a formatted number, an extra, garbage) are normalised. 0.066 s to
    0.015 s per 100,000 numbers; the answers are the same."""
    token = _SENT.set(numbers if isinstance(numbers, (set, frozenset)) else set(numbers))
    try:
        yield
    finally:
        _SENT.reset(token)


def _resolved(cells: list) -> list:
    """resolve_all(cells), skipping the cells that are numbers sent (reading_for)."""
    sent = _SENT.get()
    if not sent:
        return resolve_all(cells)
    try:
        known = list(map(sent.__contains__, cells))
    except TypeError:  # an unhashable cell (a record's list): all normalised
        return resolve_all(cells)
    return resolve_rest(cells, known)


class Answers(dict):
    """number -> cleaned value, and `conflicts`: the numbers the file answered twice
    with different values (their value is None: no answer); `fields`: number -> the
    typed fields its task type declares (tgcheck.fields), for the numbers answered."""

    def __init__(self):
        super().__init__()
        self.conflicts: set[str] = set()
        self.fields: dict[str, dict[str, object]] = {}


def record_rows(pages: Iterable[Iterable[tuple]], task_type: TaskType) -> Iterator[list]:
    """A provider's pages of records (Provider.results) as a file's rows, header
    first, for rows_to_answers: a record is (number, answer) or (number, answer,
    fields), fields a mapping of the vendor's names to its values (a JSON record),
    read as a file's columns are: a declared field's column matched ignoring case,
    spaces and punctuation, an undeclared one ignored."""
    declared = task_type.fields
    yield ["number", task_type.column, *(f.source for f in declared)]
    wanted = [header_key(f.source) for f in declared]
    for record in (record for page in pages for record in page):
        if not declared:
            yield [record[0], record[1]]
            continue
        extra = record[2] if len(record) > 2 else None
        keyed = {header_key(k): v for k, v in extra.items()} if extra else {}
        yield [record[0], record[1], *(keyed.get(k) for k in wanted)]


def rows_to_answers(rows: Iterable[list], task_type: TaskType) -> Answers:
    """Rows (header first) -> number -> cleaned value."""
    it = iter(rows)
    header = next(it, None)
    if header is None:
        raise ResultFileError("the result file is empty")
    number_col, value_col, field_cols = _columns_of(header, task_type)
    # Two passes: collect the columns, then normalise them in one call (the
    # engine's fast path) and clean each distinct answer text once.
    width = max(number_col, value_col)
    cells, raws, extras = [], [], []
    for row in it:
        if len(row) > width:
            cells.append(row[number_col])
            raws.append(row[value_col])
        else:
            cells.append(row[number_col] if len(row) > number_col else None)
            raws.append(None)
        if field_cols:
            extras.append(tuple(row[i] if len(row) > i else None for _, i in field_cols))
    return _answers(task_type, cells, raws, field_cols, extras)


def columns_to_answers(columns: list[list], task_type: TaskType) -> Answers:
    """Whole columns (each its header first, all as long) -> number -> cleaned
    value, as rows_to_answers reads the same rows (tgcheck.xlsx_plain's)."""
    header = [column[0] for column in columns]
    number_col, value_col, field_cols = _columns_of(header, task_type)
    extras = (list(zip(*(columns[i][1:] for _, i in field_cols), strict=True))
              if field_cols else [])
    return _answers(task_type, columns[number_col][1:], columns[value_col][1:], field_cols,
                    extras)


def _columns_of(header: list, task_type: TaskType) -> tuple[int, int, list]:
    """The number's column, the answer's, and (field, column) of each declared
    field the file has; ResultFileError when it lacks the first two."""
    keys = [header_key(c) for c in header]
    number_col = next((i for i, k in enumerate(keys) if k in NUMBER_HEADERS), None)
    value_col = next(
        (i for i, k in enumerate(keys) if k == header_key(task_type.column)), None
    )
    if number_col is None or value_col is None:
        shown = ", ".join(repr(str(c)) for c in header[:8])
        raise ResultFileError(
            f"the result file has no {'Number' if number_col is None else task_type.column!r} "
            f"column (header: {shown})"
        )
    # The declared fields' columns; a declared column the file lacks is a field
    # the provider did not answer (None), an undeclared one is ignored.
    field_cols = [(f, next((i for i, k in enumerate(keys) if k == header_key(f.source)), None))
                  for f in task_type.fields]
    return number_col, value_col, [(f, i) for f, i in field_cols if i is not None]


def _answers(task_type: TaskType, cells: list, raws: list, field_cols: list,
             extras: list) -> Answers:
    """The number cells, their answer cells and their fields' cells as Answers."""
    answers = Answers()
    cleaned: dict = {}
    for at, (number, raw) in enumerate(zip(_resolved(cells), raws, strict=True)):
        if type(number) is not str:
            continue  # an invalid or empty number cell: no answer to anyone
        try:
            value = cleaned[raw]
        except KeyError:
            value = cleaned[raw] = task_type.clean(raw)
        except TypeError:  # an unhashable cell
            value = task_type.clean(raw)
        # A repeated row with a blank answer must not undo a real one; two
        # different answers for one number are none (the engine counts them).
        earlier = answers.get(number)
        if earlier is not None and value is not None and value != earlier:
            answers.conflicts.add(number)
        if value is not None or number not in answers:
            answers[number] = value
            if value is None:
                answers.fields.pop(number, None)
            elif task_type.fields:
                answers.fields[number] = _typed(task_type, field_cols,
                                                extras[at] if field_cols else ())
    for number in answers.conflicts:
        answers[number] = None
        answers.fields.pop(number, None)
    return answers


def _typed(task_type: TaskType, field_cols: list, cells: tuple) -> dict[str, object]:
    """A row's declared fields, typed (tgcheck.fields): every declared name, None
    where the file has no such column or the cell is no value of its field's kind."""
    typed = dict.fromkeys(task_type.field_names)
    for (field, _), cell in zip(field_cols, cells, strict=True):
        typed[field.name] = field.clean(cell)
    return typed


def _text(data: bytes) -> str:
    """A result file's text in its sniffed encoding (tgcheck.text_encoding); a file
    whose BOM promises UTF-8 that its bytes are not is read as Latin-1, which
    reads any bytes: a hostile file is judged by its content, never a crash."""
    try:
        return decode(data)
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _looks_binary(data: bytes) -> bool:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False  # UTF-16 text: every other byte is NUL
    return b"\x00" in data[:4096]


class XlsxReader:
    name = "xlsx"

    def accepts(self, data: bytes) -> bool:
        if not data.startswith(b"PK"):
            return False
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return "xl/workbook.xml" in z.namelist()
        except ZIP_ERRORS:
            return False

    def read(self, data: bytes, task_type: TaskType) -> Mapping[str, str | None]:
        z = _check_zip(data)
        try:
            sheet, strings = first_sheet_and_strings(z, _member_chunks)
            # The vendor's plain sheet, read as columns in C (xlsx_plain); any
            # other goes to calamine, or is streamed when its grid would be huge.
            columns = plain_columns(z, _member_chunks, sheet, strings)
            if columns is not None:
                return columns_to_answers(columns, task_type)
            if not is_sparse(z, _member_chunks, sheet):
                book = CalamineWorkbook.from_filelike(io.BytesIO(data))
                return rows_to_answers(book.get_sheet_by_index(0).iter_rows(), task_type)
            # calamine's dense grid is sized by the sheet's far corner: one cell at
            # I1999999 in a 5 KB file cost 634 MB. Streamed, memory follows the
            # cells the sheet holds (xlsx_rows), at about four times calamine's time.
            return rows_to_answers(first_sheet_rows(z, _member_chunks), task_type)
        except (CalamineError, ValueError, OSError) as e:
            raise ResultFileError(f"the xlsx result file is damaged: {e}") from None


class CsvReader:
    name = "csv"

    def accepts(self, data: bytes) -> bool:
        if _looks_binary(data) or data.startswith(b"PK"):
            return False
        head = _text(data[:4096]).lstrip().lower()
        return not head.startswith(("<!doctype", "<html", "<?xml", "{", "["))

    def read(self, data: bytes, task_type: TaskType) -> Mapping[str, str | None]:
        check_size(len(data), "is")
        sample = _text(data[:4096])
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        _check_line_lengths(data)
        try:
            return rows_to_answers(csv.reader(_text_stream(data), dialect), task_type)
        except csv.Error as e:
            raise ResultFileError(f"the CSV result file is malformed: {e}") from None
        except UnicodeDecodeError as e:
            raise ResultFileError(f"the CSV result file is not text: {e}") from None


def _text_stream(data: bytes) -> io.TextIOWrapper:
    """A result file's text, decoded as it is read (never a whole copy; a str of
    the file would take up to four times its bytes): the sniffed encoding
    (tgcheck.text_encoding), Latin-1 when a UTF-8 BOM's promise is broken."""
    encoding = sniff(data[:4], memory_chunks(data))
    if encoding == "utf-8-sig" and not valid_utf8(memory_chunks(data)):
        encoding = "latin-1"
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="",
                            errors="replace" if encoding == "utf-16" else "strict")


def _check_line_lengths(data: bytes) -> None:
    """Refuse a file with a line of more than 2 x MAX_LINE_CHARS bytes before it
    is decoded: such a line holds a whole aligned window of MAX_LINE_CHARS bytes
    without a line break. Found in C (a find per window, no copy); what passes
    holds no line longer than a few times MAX_LINE_CHARS, which csv then bounds
    by field (131,072 characters)."""
    for start in range(0, len(data) - MAX_LINE_CHARS + 1, MAX_LINE_CHARS):
        end = start + MAX_LINE_CHARS
        if data.find(b"\n", start, end) < 0 and data.find(b"\r", start, end) < 0:
            raise ResultFileError(
                f"the CSV result file has a line longer than {MAX_LINE_CHARS:,} bytes "
                f"(at byte {start:,}): no result row is")


def _check_zip(data: bytes) -> zipfile.ZipFile:
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except ZIP_ERRORS:
        raise ResultFileError("the result file is not a valid zip archive") from None
    total = sum(i.file_size for i in z.infolist())
    check_size(len(data), "is")
    # Sizes from the zip's directory, which _read_member holds every member to.
    check_size(total, "unpacks to")
    if total > MAX_UNPACKED_BYTES or total > max(len(data), 1) * MAX_RATIO + 10_000_000:
        raise ResultFileError("the result archive unpacks to an implausible size (zip bomb?)")
    return z


def _member_chunks(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """A member's bytes a megabyte at a time, never more than its header declares:
    a member that lies about its size cannot inflate in memory first."""
    limit = min(info.file_size, MAX_UNPACKED_BYTES)
    size = 0
    try:
        with z.open(info) as f:
            while chunk := f.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise ResultFileError("the result archive unpacks to more than it declares")
                yield chunk
    except ZIP_ERRORS as e:
        raise ResultFileError(f"the result archive is damaged or encrypted: {e}") from None


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member's bytes (_member_chunks, joined)."""
    return b"".join(_member_chunks(z, info))


class ZipReader:
    """A zip (a presigned S3 download) holding one CSV or xlsx."""

    name = "zip"

    def accepts(self, data: bytes) -> bool:
        return data.startswith(b"PK") and not XlsxReader().accepts(data)

    def read(self, data: bytes, task_type: TaskType) -> Mapping[str, str | None]:
        z = _check_zip(data)
        try:
            members = [
                i for i in z.infolist()
                if not i.is_dir() and not i.filename.startswith(("__MACOSX/", "."))
                and i.filename.lower().endswith((".csv", ".txt", ".xlsx"))
            ]
        except ZIP_ERRORS as e:
            raise ResultFileError(f"the result archive is damaged: {e}") from None
        if not members:
            raise ResultFileError("the result archive holds no CSV or xlsx file")
        member = members[0]
        inner = _read_member(z, member)
        reader = XlsxReader() if member.filename.lower().endswith(".xlsx") else CsvReader()
        return reader.read(inner, task_type)


def readers() -> tuple:
    """The generic readers, in the order they are asked."""
    return (XlsxReader(), ZipReader(), CsvReader())
