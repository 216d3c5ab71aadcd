"""The ekycpro provider's result-file readers (csv, xlsx, zip): awkward but honest
files parse right; hostile, malformed or arbitrary ones are a clear ResultFileError,
read in bounded memory, with nothing wrong stored.

Each case goes through the whole engine (the sandbox serves the file in place of
the real one) or straight to the readers registered through the plugin manager.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import textwrap
import zipfile

import pytest
import xlsxwriter
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

import tgcheck
from conftest import numbers
from paths import ROOT
from tgcheck import normalize, plugins, xlsx_rows
from tgcheck import readers as generic
from tgcheck.default_plugins.ekycpro import client as ekycpro
from tgcheck.input_limits import MAX_CELL_CHARS
from tgcheck.result_size import result_budget
from workbooks import xlsx

TG = plugins.get_task_type("tg")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def read(data: bytes):
    """What the engine does with a downloaded file."""
    reader = next((r for r in plugins.readers() if r.accepts(data)), None)
    if reader is None:
        raise tgcheck.ResultFileError("no reader accepts the file")
    return reader.read(data, TG)


def zipped(name: str, data: bytes, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        z.writestr(name, data)
    return buf.getvalue()


def csv_bytes(rows, encoding="utf-8") -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return text.getvalue().encode(encoding)


# -- through the engine: a bad file is an error and stores nothing ---------------

HOSTILE_FILES = {
    "html error page": b"<!DOCTYPE html><html><body><h1>403 Forbidden</h1></body></html>",
    "xml error (S3 expired link)": b"<?xml version='1.0'?><Error><Code>AccessDenied</Code></Error>",
    "json error": b'{"message": "link expired"}',
    "empty": b"",
    "no header": b"+41790000000,yes\n+41790000001,no\n",
    "number column renamed": b"Telefon,telegram\n+41790000000,yes\n",
    "value column missing": b"Number,whatsapp\n+41790000000,yes\n",
    "zip holding no table": zipped("readme.pdf", b"%PDF-1.4"),
    "damaged zip": b"PK\x03\x04" + b"\x00" * 200,
    "xlsx with no columns we know": xlsx([["a", "b"], ["1", "2"]]),
}


@pytest.mark.parametrize("name", list(HOSTILE_FILES))
def test_a_hostile_file_is_a_clear_error_and_nothing_is_stored(name, engine, sandbox):
    sandbox.result_override = HOSTILE_FILES[name]
    values = numbers(5)
    with pytest.raises(tgcheck.ResultFileError):
        engine.check(values)
    assert engine.store.lookup("tg", values, max_age_days=30, unknown_retry_hours=24) == {}
    [job] = engine.store.jobs()
    assert job.state == "open" and job.error  # kept to collect later, with the reason
    # The next run, once the provider serves a good file, pays for no new task.
    sandbox.result_override = None
    answers = engine.check(values)
    assert sandbox.creates == 1
    assert [a.value for a in answers] == [sandbox.expected(n) for n in values]


def test_a_file_above_the_size_limit_is_refused(settings, sandbox):
    provider = ekycpro.EkycproProvider(settings, max_download_bytes=10_000)
    engine = tgcheck.Engine(settings, provider=provider)
    sandbox.result_override = csv_bytes([["Number", "telegram"]]
                                        + [[n, "yes"] for n in numbers(2_000)])
    assert len(sandbox.result_override) > 10_000
    values = numbers(5)
    try:
        with pytest.raises(tgcheck.ResultFileError, match="size limit"):
            engine.check(values)
        assert engine.store.lookup("tg", values, max_age_days=30,
                                   unknown_retry_hours=24) == {}
    finally:
        engine.close()


# -- the readers: correct parses of awkward but honest files ----------------------

def test_numbers_stored_as_floats_and_formulas_parse_correctly():
    a, b, c = numbers(3)
    data = xlsx([["Phone Number", "TELEGRAM"], [float(a[1:]), "Yes"], [None, "no"]],
                formula_rows=[(2, 0, f'="{b}"', b), (3, 0, f'="{c}"', c),
                              (3, 1, '=IF(TRUE,"no","yes")', "no")])
    assert read(data) == {a: "yes", b: "no", c: "no"}


def test_the_streamed_xlsx_reader_reads_what_calamine_reads():
    """A sparse sheet is streamed (xlsx_rows), a dense one goes to calamine: both
    give the same rows for shared and inline strings, numbers, formulas, booleans,
    gaps, rich text and a header wider than its rows."""
    a, b, c = numbers(3)
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["id", "Number", "telegram", "note"])
    sheet.write_row(1, 0, [1.0, a, "yes"])
    sheet.write_number(2, 1, float(b[1:]))
    sheet.write_boolean(2, 2, True)
    sheet.write_formula(4, 1, f'="{c}"', None, c)
    sheet.write_rich_string(4, 2, book.add_format({"bold": True}), "n", "o")
    sheet.write_string(5, 3, "x" * 3000)
    book.close()
    data = buf.getvalue()
    z = zipfile.ZipFile(io.BytesIO(data))
    streamed = list(xlsx_rows.first_sheet_rows(z, generic._member_chunks))
    dense = [row for row in CalamineWorkbook.from_filelike(io.BytesIO(data))
             .get_sheet_by_index(0).iter_rows() if any(cell != "" for cell in row)]
    assert len(streamed) == len(dense) == 5  # the empty row 4 is not made up

    def same(cell):
        return None if cell in ("", None) else cell

    long_note = "x" * (MAX_CELL_CHARS + 1)  # kept cut, still over the limit
    assert [[same(v) for v in row] for row in dense] == [
        [same(v) for v in row] for row in streamed[:4]] + [[None, None, None, "x" * 3000]]
    assert streamed[4] == [None, None, None, long_note]
    assert read(data) == {a: "yes", b: None, c: "no"}


def test_formula_text_in_csv_is_never_an_answer():
    a, b = numbers(2)
    data = csv_bytes([["Number", "telegram"], [a, '=HYPERLINK("http://x","yes")'],
                      [f"=+{b[1:]}", "yes"], ["=cmd|' /C calc'!A0", "yes"]])
    assert read(data) == {a: None}


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1", "utf-8-sig"])
def test_non_utf8_csv_parses(encoding):
    a, b = numbers(2)
    data = csv_bytes([["Number", "telegram", "Bemerkung"], [a, "yes", "Zürich, café"],
                      [b, "no", "Genève"]], encoding)
    assert read(data) == {a: "yes", b: "no"}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
@pytest.mark.parametrize("zipped", [False, True])
def test_utf16_csv_parses_alone_and_in_a_zip(encoding, zipped):
    """Excel's "Unicode text" export: UTF-16 with a byte-order mark, tab-separated.
    Read as a single-byte code page, every number would carry NULs and every
    paid answer would be lost as unknown."""
    a, b = numbers(2)
    text = f"Number\ttelegram\tBemerkung\r\n{a}\tyes\tZürich\r\n{b}\tno\tGenève\r\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data  # "utf-16-be" writes no byte-order mark itself
    if zipped:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("results.csv", data)
        data = buf.getvalue()
    assert read(data) == {a: "yes", b: "no"}


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_other_delimiters_and_float_text(delimiter):
    a, b = numbers(2)
    text = f"Number{delimiter}telegram\n{a[1:]}.0{delimiter}YES\n{b}{delimiter} no \n"
    assert read(text.encode()) == {a: "yes", b: "no"}


def test_extra_columns_reordered_columns_and_ragged_rows():
    a, b, c = numbers(3)
    data = csv_bytes([["id", "telegram", "note", "msisdn"], ["1", "yes", "x", a],
                      ["2", "no"], ["3", "no", "", b, "extra"], [], ["4", "maybe", "", c]])
    assert read(data) == {a: "yes", b: "no", c: None}


def test_a_zip_of_csv_with_a_bom_and_mac_junk():
    a = numbers(1)[0]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("__MACOSX/._r.csv", b"\x00\x05\x16\x07junk")
        z.writestr("results/r.csv", "\ufeffNumber,telegram\r\n" + f"{a},yes\r\n")
    assert read(buf.getvalue()) == {a: "yes"}


def test_readers_zip_of_csv_with_bom_through_the_manager():
    data = zipped("r.csv", "\ufeff NUMBER ;Telegram \n+41798284651; YES \n".encode(),
                  zipfile.ZIP_STORED)
    assert read(data) == {"+41798284651": "yes"}


# -- bombs: refused without allocating what they claim ---------------------------

BOUNDED = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))
    from tgcheck import plugins, ResultFileError
    data = open(sys.argv[1], "rb").read()
    tt = plugins.get_task_type("tg")
    reader = next((r for r in plugins.readers() if r.accepts(data)), None)
    try:
        reader.read(data, tt)
        print("parsed")
    except ResultFileError as e:
        print("clear:", e)
    except BaseException as e:
        print("raw:", type(e).__name__, e)
    # VmHWM: this process's own peak (ru_maxrss would carry the parent's over exec)
    hwm = next(ln for ln in open("/proc/self/status") if ln.startswith("VmHWM"))
    print("peak MB", int(hwm.split()[1]) // 1024)
""")


def run_bounded(tmp_path, data: bytes) -> subprocess.CompletedProcess:
    """Read a file in a child limited to 1.5 GB of address space: a bomb that gets
    through aborts the child, not the test run."""
    path = tmp_path / "result.bin"
    path.write_bytes(data)
    return subprocess.run([sys.executable, "-c", BOUNDED, str(path)], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.slow
def test_a_zip_bomb_is_refused_within_bounded_memory(tmp_path):
    bomb = zipped("r.csv", b"Number,telegram\n" + b"0" * 300_000_000)
    assert len(bomb) < 400_000
    done = run_bounded(tmp_path, bomb)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "clear: the result archive unpacks to an implausible size" in done.stdout
    assert int(re.search(r"peak MB (\d+)", done.stdout).group(1)) < 200


@pytest.mark.slow
def test_a_zip_that_lies_about_its_size_is_refused_within_bounded_memory(tmp_path):
    bomb = bytearray(zipped("r.csv", b"Number,telegram\n" + b"0" * 300_000_000))
    # Declare 100 bytes in both headers: the ratio check cannot see the truth.
    bomb[22:26] = (100).to_bytes(4, "little")
    central = bomb.find(b"PK\x01\x02")
    bomb[central + 24:central + 28] = (100).to_bytes(4, "little")
    done = run_bounded(tmp_path, bytes(bomb))
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(re.search(r"peak MB (\d+)", done.stdout).group(1)) < 200
    assert "clear:" in done.stdout, done.stdout


@pytest.mark.slow
def test_an_xlsx_whose_inner_sheet_is_a_deflate_bomb_is_refused(tmp_path):
    src = zipfile.ZipFile(io.BytesIO(xlsx([["Number", "telegram"]])))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"<!--" + b" " * 300_000_000
                                    + b"--></sheetData>")
            z.writestr(info.filename, data)
    done = run_bounded(tmp_path, buf.getvalue())
    assert done.returncode == 0, done.stderr[-2000:]
    assert "clear:" in done.stdout, done.stdout


def sparse_xlsx(last_cell: str, dimension: str | None = "keep") -> tuple[str, bytes]:
    """A few-KB xlsx with one real row and one far-away cell: a dense reader sizes
    its grid from the corners, so A1:XFD1048576 asks for 17 billion cells.
    dimension: "keep" (xlsxwriter's A1:B2), None (no <dimension>), or a range."""
    number = numbers(1)[0]
    src = zipfile.ZipFile(io.BytesIO(xlsx([["Number", "telegram"], [number, "yes"]])))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                row = int(re.sub(r"[A-Z]", "", last_cell))
                data = data.replace(
                    b"</sheetData>",
                    f'<row r="{row}"><c r="{last_cell}" t="inlineStr"><is><t>x</t></is></c>'
                    f"</row></sheetData>".encode())
                if dimension != "keep":
                    new = b"" if dimension is None else f'<dimension ref="{dimension}"/>'.encode()
                    data = re.sub(rb"<dimension [^>]*/>", new, data)
            z.writestr(info.filename, data)
    return number, buf.getvalue()


@pytest.mark.parametrize("dimension", ["keep", None, "A1:I1999999"])
def test_a_sparse_xlsx_is_read_in_memory_proportional_to_its_cells(tmp_path, dimension):
    """Issue 20: one cell at I1999999 made a dense reader hold 18 million cells
    (634 MB); the file holds three."""
    number, data = sparse_xlsx("I1999999", dimension)
    assert len(data) < 10_000
    done = run_bounded(tmp_path, data)
    assert done.returncode == 0, done.stderr[-300:]
    assert "parsed" in done.stdout, done.stdout
    assert int(re.search(r"peak MB (\d+)", done.stdout).group(1)) < 100
    assert read(data) == {number: "yes"}


def test_an_xlsx_cell_bomb_is_read_without_its_grid(tmp_path):
    number, data = sparse_xlsx("XFD1048576")
    assert len(data) < 10_000
    done = run_bounded(tmp_path, data)
    assert done.returncode == 0, done.stderr[-300:]
    assert "parsed" in done.stdout, done.stdout
    assert int(re.search(r"peak MB (\d+)", done.stdout).group(1)) < 100
    assert read(data) == {number: "yes"}


def xlsx_with_sheet_data(rows_xml: bytes) -> bytes:
    """An xlsx whose sheet holds exactly rows_xml (inline strings, no shared ones)."""
    src = zipfile.ZipFile(io.BytesIO(xlsx([["Number", "telegram"]])))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb"<sheetData>.*</sheetData>",
                              lambda _: b"<sheetData>" + rows_xml + b"</sheetData>", data,
                              flags=re.S)
                data = re.sub(rb"<dimension [^>]*/>", b"", data)
            z.writestr(info.filename, data)
    return buf.getvalue()


def _inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


@pytest.mark.parametrize("shape", ["many empty cells, then a far row",
                                   "a far cell out of order"])
def test_a_sheet_whose_grid_is_out_of_proportion_is_streamed(tmp_path, shape):
    """The far corner is judged against the rows the sheet lists, not only its
    count of cells: 1.1 million empty cells do not buy a grid of 90 million (one
    at I9999999), and a cell at I999999 inside row 2 of a 100,001-row sheet is
    found although its row number has no more digits than the last row's."""
    a, b = numbers(2)
    head = ("<row r=\"1\">" + _inline("A1", "Number") + _inline("B1", "telegram") + "</row>"
            + f"<row r=\"2\">{_inline('A2', a)}{_inline('B2', 'yes')}")
    if shape.startswith("many"):
        body = head + "</row>" + "".join(f'<row r="{i}"><c r="A{i}"/></row>'
                                         for i in range(3, 1_100_003))
        body += f'<row r="9999999">{_inline("I9999999", "x")}</row>'
        last = None
    else:
        body = head + _inline("I999999", "x") + "</row>" + "".join(
            f'<row r="{i}">{_inline(f"A{i}", f"+4179{i:07d}")}{_inline(f"B{i}", "no")}</row>'
            for i in range(3, 100_002))
        last = "+4179" + f"{100_001:07d}"
    data = xlsx_with_sheet_data(body.encode())
    with zipfile.ZipFile(io.BytesIO(data)) as z:  # not left to calamine's grid
        assert xlsx_rows.is_sparse(z, generic._member_chunks, "xl/worksheets/sheet1.xml")
    done = run_bounded(tmp_path, data)
    assert done.returncode == 0, done.stderr[-300:]
    assert "parsed" in done.stdout, done.stdout
    assert int(re.search(r"peak MB (\d+)", done.stdout).group(1)) < 200
    found = read(data)
    assert found[a] == "yes"
    if last is not None:
        assert found[last] == "no" and len(found) == 100_000


def _big_csv(rows: int = 100_000, note: int = 1000) -> bytes:
    """A CSV result as large as the budget of 100,000 numbers allows (~110 MB)."""
    filler = "x" * note
    return ("Number,telegram,note\n" + "".join(
        f"+4179{i:07d},{'yes' if i % 3 else 'no'},{filler}\n" for i in range(rows))).encode()


@pytest.mark.parametrize("shape", ["csv", "zip of csv", "one huge line"])
def test_a_result_within_the_budget_is_read_under_400_mb(tmp_path, shape):
    """Issue 20: the CSV reader held the file's text and a StringIO of it (four
    bytes a character) beside the bytes: 110 MB read at ~600 MB."""
    data = _big_csv()
    assert result_budget(100_000) >= len(data) > 100_000_000
    if shape == "zip of csv":
        data = zipped("r.csv", data)
    elif shape == "one huge line":
        data = b"Number,telegram\n+41790000000,yes," + b"x" * 100_000_000 + b"\n"
    done = run_bounded(tmp_path, data)
    assert done.returncode == 0, done.stderr[-2000:]
    if shape == "one huge line":
        assert "clear: the CSV result file has a line longer than 4,194,304 bytes" in done.stdout
    else:
        assert "parsed" in done.stdout, done.stdout
    assert int(re.search(r"peak MB (\d+)", done.stdout).group(1)) < 400


# -- malformed files the readers must turn into ResultFileError --------------------

def _good_zip() -> bytes:
    return zipped("r.csv", b"Number,telegram\n+41790000000,yes\n" * 20)


def _flip(data: bytes, needle: bytes, offset: int, value: int) -> bytes:
    out = bytearray(data)
    out[out.find(needle) + offset] = value
    return bytes(out)


def _encrypted() -> bytes:
    data = bytearray(zipped("r.csv", b"Number,telegram\n", zipfile.ZIP_STORED))
    data[6] |= 1
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 1
    return bytes(data)


MALFORMED = {
    "csv field beyond the csv module's limit": b'Number,telegram\n"' + b"x" * 200_000 + b"\n",
    "zip with a bad CRC": _flip(zipped("r.csv", b"Number,telegram\n+41790000000,yes\n",
                                       zipfile.ZIP_STORED), b"+4179", 3, ord("9")),
    "encrypted zip member": _encrypted(),
    "zip with an unknown compression method": _flip(_flip(_good_zip(), b"PK\x03\x04", 8, 99),
                                                    b"PK\x01\x02", 10, 99),
    "zip with a damaged deflate stream": _flip(_good_zip(), b"r.csv", 8, 0xFF),
    "zip needing a newer unzip version": _flip(_good_zip(), b"PK\x01\x02", 6, 99),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_files_are_result_file_errors(name):
    with pytest.raises(tgcheck.ResultFileError):
        read(MALFORMED[name])


def test_a_malformed_file_through_the_engine_is_a_result_file_error(engine, sandbox):
    sandbox.result_override = MALFORMED["csv field beyond the csv module's limit"]
    values = numbers(5)
    with pytest.raises(tgcheck.ResultFileError):
        engine.check(values)


def test_a_malformed_file_stores_nothing_and_leaves_the_job_open(engine, sandbox):
    """Whatever the error's class, nothing wrong is stored and the task is not lost."""
    sandbox.result_override = MALFORMED["zip with a bad CRC"]
    values = numbers(5)
    with pytest.raises(Exception):  # noqa: B017 - the class is the bug above
        engine.check(values)
    assert engine.store.lookup("tg", values, max_age_days=30, unknown_retry_hours=24) == {}
    assert [j.state for j in engine.store.jobs()] == ["open"]
    sandbox.result_override = None
    engine.check(values)
    assert sandbox.creates == 1


def test_a_repeated_row_with_a_blank_answer_keeps_the_real_one():
    data = b"Number,telegram\n+41798284651,yes\n+41798284651,\n"
    assert read(data) == {"+41798284651": "yes"}


# -- properties: arbitrary bytes, zips and CSV text ------------------------------

def assert_clear_or_parsed(data: bytes):
    """A parse of E.164 numbers and clean answers, or an error of the project's own
    that says something (a file no reader accepts is one too)."""
    try:
        found = read(data)
    except tgcheck.TgcheckError as e:
        assert str(e)
        return
    for number, value in found.items():
        assert E164.match(number)
        assert value in (None, "yes", "no")


def zip_of(members) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, method in members:
            z.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buf.getvalue()


VALID_NUMBERS = st.sampled_from([
    "+41798284651", "+905321234567", "+16502530000", "+447911123456", "+491711234567",
    "+33612345678", "+390669821234", "+79123456789", "+8613800138000", "+5511912345678",
])
HEADER = st.sampled_from([b"", b"Number,telegram\n", b"number;Telegram\r\n",
                          b"\xef\xbb\xbfphone\ttelegram\n"])
zip_members = st.lists(st.tuples(
    st.sampled_from(["r.csv", "r.xlsx", "xl/workbook.xml", "a/b.txt", "__MACOSX/r.csv"]),
    st.binary(max_size=300),
    st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                     zipfile.ZIP_LZMA]),
), min_size=1, max_size=3, unique_by=lambda m: m[0])
CRC_BROKEN = zip_of([("r.csv", b"Number,telegram\n+41790000000,yes\n", zipfile.ZIP_STORED)])
CRC_BROKEN = CRC_BROKEN[:62] + b"9" + CRC_BROKEN[63:]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.binary(max_size=2000),
    st.tuples(HEADER, st.binary(max_size=500)).map(b"".join),
    st.tuples(st.just(b"PK\x03\x04"), st.binary(max_size=500)).map(b"".join),
))
@example(b'Number,telegram\n"' + b"x" * 140_000)
@example(CRC_BROKEN)
def test_readers_on_arbitrary_bytes_raise_only_clear_errors(data):
    assert_clear_or_parsed(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zip_members, st.integers(min_value=0, max_value=400), st.integers(0, 255))
@example([("r.csv", b"Number,telegram\n+41790000000,yes\n", zipfile.ZIP_STORED)], 62, 0x39)
def test_readers_on_arbitrary_and_damaged_zips_raise_only_clear_errors(members, at, byte):
    data = bytearray(zip_of(members))
    if at < len(data):
        data[at] = byte
    assert_clear_or_parsed(bytes(data))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.one_of(st.text(max_size=20), VALID_NUMBERS,
                                   st.sampled_from(["yes", "no", " YES ", "", '"', "\\"])),
                         max_size=5), max_size=20),
       st.sampled_from([",", ";", "\t", "|"]), st.sampled_from(["utf-8", "utf-16", "cp1252"]))
def test_readers_on_arbitrary_csv_text_raise_only_clear_errors(rows, delimiter, encoding):
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter).writerows([["Number", "telegram"], *rows])
    data = text.getvalue().encode(encoding, "replace")
    assert_clear_or_parsed(data)


def test_the_generic_readers_are_public_in_the_core_and_used_by_providers():
    # A provider plugin takes the core's readers from tgcheck.plugin, not from
    # another provider's internals.
    from tgcheck import readers as generic
    from tgcheck.default_plugins.ekycpro import EkycproProvider

    names = [type(r).__name__ for r in generic.readers()]
    assert names == ["XlsxReader", "ZipReader", "CsvReader"]
    assert [type(r).__name__ for r in EkycproProvider.readers] == names
    package = ROOT / "examples/tgcheck-wscheck/src/tgcheck_wscheck"
    assert "default_plugins" not in (package / "provider.py").read_text()
    hooks = (package / "__init__.py").read_text()
    assert "default_plugins" not in hooks
    # Registered with the provider, in its one register() call.
    assert re.search(r"from tgcheck\.plugin import [^\n]*\breaders\b", hooks)
    assert "readers=readers()" in hooks


def test_cells_that_are_the_numbers_sent_are_not_normalised_again(monkeypatch):
    """Inside reading_for (the engine's download), a number cell equal to a number
    sent is taken as it is: only the others are normalised, to the same answers."""
    a, b, c = numbers(3)
    data = csv_bytes([["Number", "telegram"], [a, "yes"], ["+41 79 000 00 01", "no"],
                      [c, " YES "], ["junk", "yes"]])
    assert b == "+41790000001"
    without = read(data)
    normalised = []
    # The cells not sent are read by normalize.resolve_rest, through resolve_all.
    real = normalize.resolve_all
    monkeypatch.setattr(normalize, "resolve_all",
                        lambda cells, *args: normalised.append(list(cells)) or real(cells, *args))
    with generic.reading_for([a, b, c]):
        found = read(data)
    assert found == without == {a: "yes", b: "no", c: "yes"}
    assert normalised == [["+41 79 000 00 01", "junk"]]
