"""The plain-sheet path of the xlsx reader (tgcheck.xlsx_plain): the vendor's sheet
of shared strings read as columns in C gives what calamine gives; any sheet it does
not fully understand is left to calamine (or the streamed reader), never misread."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineError, CalamineWorkbook

from conftest import numbers
from tgcheck import ResultFileError, plugins, xlsx_plain
from tgcheck import readers as generic
from tgcheck.default_plugins.ekycpro.sandbox_answers import xlsx_file
from tgcheck.xlsx_rows import first_sheet_and_strings
from workbooks import xlsx

TG = plugins.get_task_type("tg")


def plain(data: bytes):
    """plain_columns of the file's first sheet, as the reader asks it."""
    z = zipfile.ZipFile(io.BytesIO(data))
    return xlsx_plain.plain_columns(z, generic._member_chunks,
                                    *first_sheet_and_strings(z, generic._member_chunks))


def calamine_columns(data: bytes) -> list[list]:
    rows = list(CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
                .iter_rows())
    return [list(column) for column in zip(*rows, strict=True)]


def by_calamine(data: bytes):
    """What the reader made of the file before the plain path."""
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return generic.rows_to_answers(book.get_sheet_by_index(0).iter_rows(), TG)


def edit_sheet(data: bytes, member: str, change) -> bytes:
    """The xlsx with one member's bytes changed by change(bytes) -> bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            body = src.read(info)
            z.writestr(info.filename, change(body) if info.filename == member else body)
    return buf.getvalue()


SHEET, STRINGS = "xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"


def strings_renamed(data: bytes) -> bytes:
    """The xlsx with its shared strings under another name, as the workbook's
    relationships (and content types) say: valid OOXML that calamine does not read."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            body = src.read(info).replace(b"sharedStrings.xml", b"strings2.xml")
            z.writestr(info.filename.replace("sharedStrings.xml", "strings2.xml"), body)
    return buf.getvalue()


def vendor_file(count: int = 300) -> tuple[list[str], bytes]:
    """A sandbox-style result: the quirks' header, shuffled rows, " YES " (kept with
    xml:space="preserve"), an extra number, rows of another sheet after it."""
    values = numbers(count)
    rows = [(n, (" YES " if i % 5 == 0 else "yes") if i % 2 else "no")
            for i, n in enumerate(values)][::-1]
    rows.append((numbers(1, 9_000_000)[0], "yes"))  # a number not asked
    return values, xlsx_file((" Number ", "Telegram"), rows)


def test_the_vendors_sheet_is_read_as_calamine_reads_it_without_calamine(monkeypatch):
    values, data = vendor_file()
    assert b'xml:space="preserve"' in zipfile.ZipFile(io.BytesIO(data)).read(STRINGS)
    columns = plain(data)
    assert columns == calamine_columns(data)
    expected = by_calamine(data)
    assert len(expected) == len(values) + 1
    # The reader takes the plain path: calamine is not asked at all.
    monkeypatch.setattr(generic, "CalamineWorkbook", None)
    found = generic.XlsxReader().read(data, TG)
    assert found == expected and found.conflicts == expected.conflicts == set()


def test_a_sheet_of_many_megabytes_is_read_in_pieces_as_one():
    """Rows cut into one-megabyte pieces: none is lost or read twice at the cuts."""
    values, data = vendor_file(40_000)
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo(SHEET).file_size > 3 * (1 << 20)
    columns = plain(data)
    assert columns is not None and len(columns[0]) == len(values) + 2
    assert columns == calamine_columns(data)


def _vendor() -> bytes:
    return vendor_file(20)[1]


def _swap_rows(body: bytes) -> bytes:
    """Rows 3 and 4 swapped: in order no more (calamine orders them by number)."""
    rows = re.findall(rb'<row r="[34]".*?</row>', body)
    return body.replace(rows[0], b"\0").replace(rows[1], rows[0]).replace(b"\0", rows[1])


# Each a sheet the plain path must leave to calamine (it returns None) while the
# reader still reads it as calamine does.
NOT_PLAIN = {
    "a number cell": lambda: edit_sheet(_vendor(), SHEET, lambda b: b.replace(
        b'<c r="B3" t="s"><v>', b'<c r="B3"><v>1', 1)),
    "an inline string": lambda: edit_sheet(_vendor(), SHEET, lambda b: re.sub(
        rb'<c r="B3" t="s"><v>[0-9]+</v></c>',
        b'<c r="B3" t="inlineStr"><is><t>no</t></is></c>', b)),
    "a formula": lambda: edit_sheet(_vendor(), SHEET, lambda b: re.sub(
        rb'<c r="B3" t="s"><v>', b'<c r="B3" t="s"><f>B4</f><v>', b)),
    "a row narrower than the header": lambda: edit_sheet(_vendor(), SHEET, lambda b: re.sub(
        rb'<c r="B3" t="s"><v>[0-9]+</v></c>', b"", b)),
    "a cell of another row": lambda: edit_sheet(_vendor(), SHEET, lambda b: b.replace(
        b'<c r="B3"', b'<c r="B9"', 1)),
    "rows out of order": lambda: edit_sheet(_vendor(), SHEET, _swap_rows),
    "a row twice": lambda: edit_sheet(_vendor(), SHEET, lambda b: b.replace(
        b'<row r="4"', b'<row r="3"', 1).replace(b'r="A4"', b'r="A3"').replace(
        b'r="B4"', b'r="B3"')),
    "a cell in a comment": lambda: edit_sheet(_vendor(), SHEET, lambda b: b.replace(
        b"</sheetData>", b'<!--<c r="C1" t="s"><v>0</v></c>--></sheetData>')),
    "an entity in a string": lambda: edit_sheet(_vendor(), STRINGS, lambda b: b.replace(
        b"<t>no</t>", b"<t>n&#111;</t>")),
    "rich text": lambda: edit_sheet(_vendor(), STRINGS, lambda b: b.replace(
        b"<si><t>no</t></si>", b"<si><r><t>n</t></r><r><t>o</t></r></si>")),
    "a row left out (calamine's grid holds it empty)": lambda: edit_sheet(
        _vendor(), SHEET, lambda b: re.sub(rb'<row r="3".*?</row>', b"", b, count=1)),
    "no row 1 (the header on row 2)": lambda: edit_sheet(_vendor(), SHEET, lambda b: re.sub(
        rb'<row r="1".*?</row>', b"", b, count=1)),
    "spaces at a string's end, not marked preserve (calamine trims them)": lambda: edit_sheet(
        _vendor(), STRINGS, lambda b: b.replace(b"<t>no</t>", b"<t> no </t>", 1)),
    "shared strings under another name (calamine reads xl/sharedStrings.xml only)":
        lambda: strings_renamed(_vendor()),
    "a string index the table lacks": lambda: edit_sheet(_vendor(), SHEET, lambda b: re.sub(
        rb'(<c r="B3" t="s"><v>)[0-9]+', rb"\g<1>99999", b)),
}


@pytest.mark.parametrize("name", list(NOT_PLAIN))
def test_a_sheet_that_is_not_plain_is_left_to_calamine(name):
    data = NOT_PLAIN[name]()
    assert plain(data) is None
    try:
        expected = by_calamine(data)
    except (CalamineError, ResultFileError):  # calamine's verdict, as the reader says it
        with pytest.raises(ResultFileError):
            generic.XlsxReader().read(data, TG)
        return
    assert generic.XlsxReader().read(data, TG) == expected


CELL_TEXT = st.one_of(
    st.sampled_from(["yes", "no", " YES ", "Number", "telegram", "", "a&b", "<x>", "1\r\n2",
                     "a_x000D_b", "x_y", "  ", "é", "\u2028"]),
    st.text(max_size=6), st.builds(lambda n: numbers(1, n)[0], st.integers(0, 50)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(st.one_of(CELL_TEXT, st.floats(0, 1e12), st.none()),
                              min_size=1, max_size=4), min_size=1, max_size=8))
@example(rows=[["yes"], [None], ["yes"]])  # a blank row: no cell written
def test_any_sheet_the_plain_path_reads_is_what_calamine_reads(rows):
    data = xlsx(rows)
    columns = plain(data)
    if columns is not None:
        assert columns == calamine_columns(data)
