"""ekycpro's result-file readers: xlsx (python-calamine), zip holding CSV or xlsx,
and bare CSV (the provider's `readers`; third-party readers come first).

The vendor's files are not guaranteed to be ordered, complete or free of extras,
and their headers vary in case and spacing; every reader returns a mapping
number -> value, and the engine joins by number.
"""

from __future__ import annotations

import codecs
import csv
import io
import lzma
import re
import zipfile
import zlib
from collections.abc import Iterable, Mapping

from python_calamine import CalamineError, CalamineWorkbook

from ...errors import ResultFileError
from ...headers import header_key
from ...models import TaskType
from ...normalize import resolve_all
from ...result_size import MAX_UNPACKED_BYTES, check_size
from ...text_encoding import decode

# Zip-bomb guard: no member packs more than this ratio (a result file of
# 1,000,000 rows is ~30 MB uncompressed).
MAX_RATIO = 200
# calamine allocates a dense grid from a sheet's far corner: bound rows x columns.
MAX_SHEET_CELLS = 20_000_000
# Everything zipfile and zlib raise on a damaged, encrypted or exotic archive.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError,
               lzma.LZMAError, ValueError, EOFError, OSError, IndexError, KeyError)
_CELL_REF = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"')
# A cell or row reference to column J (the 10th) or beyond, or to row 2,000,000
# or beyond: 9 columns x 2,000,000 rows stays under MAX_SHEET_CELLS. No \b before
# r=": a pattern that starts with a literal is scanned for much faster (0.08 s to
# 0.03 s per 100,000-row sheet), and matching more (xr="J1") only means the
# exact scan below.
_FAR_REF = re.compile(rb'r="(?:(?:[J-Z]|[A-Z]{2,3})[0-9]|[A-Z]{0,3}(?:[2-9][0-9]{6}|[0-9]{8}))')
_ROW_REF = re.compile(rb'<(?:\w+:)?row\b[^>]*?\br="([0-9]{1,7})"')
NUMBER_HEADERS = {"number", "phone", "phonenumber", "mobile", "msisdn", "tel", "telephone"}


class Answers(dict):
    """number -> cleaned value, and `conflicts`: the numbers the file answered twice
    with different values (their value is None: no answer)."""

    def __init__(self):
        super().__init__()
        self.conflicts: set[str] = set()


def rows_to_answers(rows: Iterable[list], task_type: TaskType) -> Answers:
    """Rows (header first) -> number -> cleaned value."""
    it = iter(rows)
    header = next(it, None)
    if header is None:
        raise ResultFileError("the result file is empty")
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
    # Two passes: collect the columns, then normalise them in one call (the
    # engine's fast path) and clean each distinct answer text once.
    width = max(number_col, value_col)
    cells, raws = [], []
    for row in it:
        if len(row) > width:
            cells.append(row[number_col])
            raws.append(row[value_col])
        else:
            cells.append(row[number_col] if len(row) > number_col else None)
            raws.append(None)
    answers = Answers()
    cleaned: dict = {}
    for number, raw in zip(resolve_all(cells), raws, strict=True):
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
    for number in answers.conflicts:
        answers[number] = None
    return answers


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
        except _ZIP_ERRORS:
            return False

    def read(self, data: bytes, task_type: TaskType) -> Mapping[str, str | None]:
        _check_sheet_extent(_check_zip(data))
        try:
            book = CalamineWorkbook.from_filelike(io.BytesIO(data))
            sheet = book.get_sheet_by_index(0)
            return rows_to_answers(sheet.iter_rows(), task_type)
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
        text = _text(data)
        sample = text[:4096]
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        try:
            return rows_to_answers(csv.reader(io.StringIO(text), dialect), task_type)
        except csv.Error as e:
            raise ResultFileError(f"the CSV result file is malformed: {e}") from None


def _check_zip(data: bytes) -> zipfile.ZipFile:
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS:
        raise ResultFileError("the result file is not a valid zip archive") from None
    total = sum(i.file_size for i in z.infolist())
    check_size(len(data), "is")
    # Sizes from the zip's directory, which _read_member holds every member to.
    check_size(total, "unpacks to")
    if total > MAX_UNPACKED_BYTES or total > max(len(data), 1) * MAX_RATIO + 10_000_000:
        raise ResultFileError("the result archive unpacks to an implausible size (zip bomb?)")
    return z


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member's bytes, never more than its header declares: in bounded steps, so
    a member that lies about its size cannot inflate in memory first."""
    limit = min(info.file_size, MAX_UNPACKED_BYTES)
    chunks, size = [], 0
    try:
        with z.open(info) as f:
            while chunk := f.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise ResultFileError("the result archive unpacks to more than it declares")
                chunks.append(chunk)
    except _ZIP_ERRORS as e:
        raise ResultFileError(f"the result archive is damaged or encrypted: {e}") from None
    return b"".join(chunks)


def _check_sheet_extent(z: zipfile.ZipFile) -> None:
    """Refuse a sheet whose far corner would make calamine allocate a huge grid."""
    for info in z.infolist():
        if not info.filename.startswith("xl/worksheets/"):
            continue
        xml = _read_member(z, info)
        # The common case in one regex search: no reference to column J or
        # beyond and none to row 2,000,000 or beyond, so under 9 x 2,000,000
        # cells. Only a wide or tall sheet pays for the cell-by-cell scan.
        if not _FAR_REF.search(xml):
            continue
        rows = max((int(r) for r in _ROW_REF.findall(xml)), default=0)
        cols = 0
        for col, row in _CELL_REF.findall(xml):
            rows = max(rows, int(row))
            cols = max(cols, _column_number(col))
        if rows * max(cols, 1) > MAX_SHEET_CELLS:
            raise ResultFileError(
                f"the xlsx result file's sheet {info.filename} spans {rows} rows x {cols} "
                "columns: implausible for a result file"
            )


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


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
        except _ZIP_ERRORS as e:
            raise ResultFileError(f"the result archive is damaged: {e}") from None
        if not members:
            raise ResultFileError("the result archive holds no CSV or xlsx file")
        member = members[0]
        inner = _read_member(z, member)
        reader = XlsxReader() if member.filename.lower().endswith(".xlsx") else CsvReader()
        return reader.read(inner, task_type)


def readers() -> tuple:
    """The provider's readers, in the order they are asked."""
    return (XlsxReader(), ZipReader(), CsvReader())
