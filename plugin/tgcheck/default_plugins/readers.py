"""Result-file readers: xlsx (python-calamine), zip holding CSV or xlsx, and bare CSV.

The vendor's files are not guaranteed to be ordered, complete or free of extras,
and their headers vary in case and spacing; every reader returns a mapping
number -> value, and the engine joins by number.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Mapping

from python_calamine import CalamineError, CalamineWorkbook

from ..errors import ResultFileError
from ..hookspecs import hookimpl
from ..models import TaskType
from ..normalize import normalise

# Zip-bomb guards: a result file of 1,000,000 rows is ~30 MB uncompressed.
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
MAX_RATIO = 200
NUMBER_HEADERS = {"number", "phone", "phonenumber", "mobile", "msisdn", "tel", "telephone"}


def _header_key(cell: object) -> str:
    return "".join(ch for ch in str(cell or "").lower() if ch.isalnum())


def rows_to_answers(rows: Iterable[list], task_type: TaskType) -> dict[str, str | None]:
    """Rows (header first) -> number -> cleaned value."""
    it = iter(rows)
    header = next(it, None)
    if header is None:
        raise ResultFileError("the result file is empty")
    keys = [_header_key(c) for c in header]
    number_col = next((i for i, k in enumerate(keys) if k in NUMBER_HEADERS), None)
    value_col = next(
        (i for i, k in enumerate(keys) if k == _header_key(task_type.column)), None
    )
    if number_col is None or value_col is None:
        shown = ", ".join(repr(str(c)) for c in header[:8])
        raise ResultFileError(
            f"the result file has no {'Number' if number_col is None else task_type.column!r} "
            f"column (header: {shown})"
        )
    answers: dict[str, str | None] = {}
    for row in it:
        if len(row) <= max(number_col, value_col):
            row = list(row) + [None] * (max(number_col, value_col) + 1 - len(row))
        found = normalise(row[number_col])
        if found.number is None:
            continue
        answers[found.number] = task_type.clean(row[value_col])
    return answers


def _decode(data: bytes) -> str:
    # Excel writes UTF-8 with a BOM, or the Windows code page.
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _looks_binary(data: bytes) -> bool:
    return b"\x00" in data[:4096]


class XlsxReader:
    name = "xlsx"

    def accepts(self, data: bytes) -> bool:
        if not data.startswith(b"PK"):
            return False
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return "xl/workbook.xml" in z.namelist()
        except zipfile.BadZipFile:
            return False

    def read(self, data: bytes, task_type: TaskType) -> Mapping[str, str | None]:
        _check_zip(data)
        try:
            book = CalamineWorkbook.from_filelike(io.BytesIO(data))
            sheet = book.get_sheet_by_index(0)
            return rows_to_answers(sheet.iter_rows(), task_type)
        except CalamineError as e:
            raise ResultFileError(f"the xlsx result file is damaged: {e}") from None


class CsvReader:
    name = "csv"

    def accepts(self, data: bytes) -> bool:
        if _looks_binary(data) or data.startswith(b"PK"):
            return False
        head = _decode(data[:4096]).lstrip().lower()
        return not head.startswith(("<!doctype", "<html", "<?xml", "{", "["))

    def read(self, data: bytes, task_type: TaskType) -> Mapping[str, str | None]:
        text = _decode(data)
        sample = text[:4096]
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        return rows_to_answers(csv.reader(io.StringIO(text), dialect), task_type)


def _check_zip(data: bytes) -> zipfile.ZipFile:
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ResultFileError("the result file is not a valid zip archive") from None
    total = sum(i.file_size for i in z.infolist())
    if total > MAX_UNPACKED_BYTES or total > max(len(data), 1) * MAX_RATIO + 10_000_000:
        raise ResultFileError("the result archive unpacks to an implausible size (zip bomb?)")
    return z


class ZipReader:
    """A zip (a presigned S3 download) holding one CSV or xlsx."""

    name = "zip"

    def accepts(self, data: bytes) -> bool:
        return data.startswith(b"PK") and not XlsxReader().accepts(data)

    def read(self, data: bytes, task_type: TaskType) -> Mapping[str, str | None]:
        z = _check_zip(data)
        members = [
            i for i in z.infolist()
            if not i.is_dir() and not i.filename.startswith(("__MACOSX/", "."))
            and i.filename.lower().endswith((".csv", ".txt", ".xlsx"))
        ]
        if not members:
            raise ResultFileError("the result archive holds no CSV or xlsx file")
        member = members[0]
        with z.open(member) as f:
            inner = f.read(MAX_UNPACKED_BYTES + 1)
        if len(inner) > MAX_UNPACKED_BYTES:
            raise ResultFileError("the result archive unpacks to an implausible size")
        reader = XlsxReader() if member.filename.lower().endswith(".xlsx") else CsvReader()
        return reader.read(inner, task_type)


@hookimpl
def tgcheck_register_readers(register):
    register(XlsxReader())
    register(ZipReader())
    register(CsvReader())
