"""An xlsx sheet as rows, streamed: memory follows the cells it holds.

calamine sizes a dense grid from a sheet's far corner: a 5 KB result file with
one cell at I1999999 cost 634 MB. is_sparse() tells such a sheet from an honest
one (which calamine reads faster); sheet_rows() then feeds its XML to expat
(stdlib) a megabyte at a time and yields each row as it ends, as wide as the
first row (the header: cells beyond it are no column a reader looks at); rows
the sheet skips are not made up, and a cell's text is kept to `cell_chars`
characters (a result: MAX_CELL_CHARS + 1; an input: Excel's own 32,767). What is
held is the shared strings (each cut the same way) and one row.
"""

from __future__ import annotations

import functools
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from xml.parsers import expat

from .errors import ResultFileError
from .input_limits import MAX_CELL_CHARS

CHUNK = 1 << 20
_MAX_COLUMN = 16384  # XFD, Excel's last column


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _feed(z: zipfile.ZipFile, name: str, open_member: Callable, start=None, end=None,
          text=None) -> None:
    """Parse member `name` with expat, in chunks, calling the handlers."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    if start is not None:
        parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text
    try:
        for chunk in open_member(z, z.getinfo(name)):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as e:
        raise ResultFileError(f"the xlsx file's {name} is not well-formed XML ({e})") from None


def _texts(into: list[str], limit: int = MAX_CELL_CHARS + 1):
    """A CharacterDataHandler that keeps at most `limit` characters."""
    def handler(data: str) -> None:
        room = limit - sum(map(len, into))
        if room > 0:
            into.append(data[:room])
    return handler


def _relationships(z: zipfile.ZipFile, open_member) -> dict[str, tuple[str, str]]:
    """xl/workbook.xml's relationships: id -> (type, member name)."""
    found: dict[str, tuple[str, str]] = {}
    name = "xl/_rels/workbook.xml.rels"
    if name not in z.NameToInfo:
        return found

    def start(tag, attrs):
        if _local(tag) == "Relationship" and "Id" in attrs and "Target" in attrs:
            target = attrs["Target"]
            target = target[1:] if target.startswith("/") else posixpath.normpath(
                posixpath.join("xl", target))
            found[attrs["Id"]] = (attrs.get("Type", ""), target)

    _feed(z, name, open_member, start=start)
    return found


def _sheets(z: zipfile.ZipFile, open_member, rels) -> list[tuple[str, str | None]]:
    """The workbook's sheets in its order: (name, member name or None)."""
    found: list[tuple[str, str | None]] = []

    def start(tag, attrs):
        if _local(tag) == "sheet":
            rid = next((v for k, v in attrs.items() if _local(k) == "id" and ":" in k), None)
            member = rels.get(rid, ("", None))[1] if rid else None
            found.append((attrs.get("name", ""), member if member in z.NameToInfo else None))

    _feed(z, "xl/workbook.xml", open_member, start=start)
    return found


def _first_sheet(z: zipfile.ZipFile, open_member, rels) -> str:
    """The first sheet's member name (workbook order), as calamine picks it."""
    listed = _sheets(z, open_member, rels)
    if listed and listed[0][1] is not None:
        return listed[0][1]
    sheets = sorted(n for n in z.NameToInfo if n.startswith("xl/worksheets/")
                    and n.endswith(".xml"))
    if not sheets:
        raise ResultFileError("the xlsx file has no sheet")
    return sheets[0]


# The shared strings' usual member, and the only one calamine reads
# (xlsx_plain leaves a workbook whose strings are elsewhere to it).
SHARED_STRINGS = "xl/sharedStrings.xml"


def _strings_member(z: zipfile.ZipFile, rels) -> str | None:
    """The shared strings' member: the workbook's relationship's, else the usual name."""
    names = [t for kind, t in rels.values() if kind.endswith("/sharedStrings")]
    return next((n for n in names if n in z.NameToInfo),
                SHARED_STRINGS if SHARED_STRINGS in z.NameToInfo else None)


def _shared_strings(z: zipfile.ZipFile, open_member, rels, limit: int) -> list[str]:
    name = _strings_member(z, rels)
    strings: list[str] = []
    if name is None:
        return strings
    parts: list[str] = []
    state = {"in_t": False, "phonetic": 0}
    keep = _texts(parts, limit)

    def start(tag, attrs):
        local = _local(tag)
        if local == "si":
            parts.clear()
        elif local == "rPh":  # a phonetic reading, not the cell's text
            state["phonetic"] += 1
        elif local == "t" and not state["phonetic"]:
            state["in_t"] = True

    def end(tag):
        local = _local(tag)
        if local == "si":
            strings.append("".join(parts))
        elif local == "rPh":
            state["phonetic"] -= 1
        elif local == "t":
            state["in_t"] = False

    def text(data):
        if state["in_t"]:
            keep(data)

    _feed(z, name, open_member, start=start, end=end, text=text)
    return strings


def _column(ref: str) -> int | None:
    """A cell reference's 0-based column ("C7" -> 2), None when it has none."""
    n = 0
    for ch in ref:
        if "A" <= ch <= "Z":
            n = n * 26 + ord(ch) - 64
        else:
            break
    return n - 1 if 0 < n <= _MAX_COLUMN else None


def first_sheet_and_strings(z: zipfile.ZipFile, open_member: Callable) -> tuple[str, str | None]:
    """The first sheet's member name and the shared strings' (None: there are none)."""
    rels = _relationships(z, open_member)
    return _first_sheet(z, open_member, rels), _strings_member(z, rels)


def sheet_member(z: zipfile.ZipFile, open_member: Callable, name: str) -> str | None:
    """The member name of the sheet called `name`, None if there is none."""
    listed = _sheets(z, open_member, _relationships(z, open_member))
    return next((member for sheet, member in listed if sheet == name), None)


# The largest grid left to calamine (~35 bytes a cell: ~280 MB); larger is streamed.
MAX_DENSE_CELLS = 8_000_000
_ROW_TAG = re.compile(rb'<row\b[^>]*?\br="([0-9]{1,9})"')


def is_sparse(z: zipfile.ZipFile, open_member: Callable, member: str) -> bool:
    """Whether a sheet's dense grid (what calamine allocates: its last row x its
    last column) is out of proportion to the cells it holds (over 4 x cells +
    1,000,000) or over MAX_DENSE_CELLS. One read in chunks, each scanned in C:
    a count of cells, the chunk's last <row r=...> (a sheet lists its rows in
    order), and one regex for a reference to a column beyond the last one seen
    or to a row past the bound its two leading digits give (under 1.1 times
    the last row), so an out-of-order far cell is found too. ~0.06 s of CPU
    per 100,000 rows."""
    cells, last_row, last_col, tail = 0, 0, 1, b""
    for chunk in open_member(z, z.getinfo(member)):
        buf = tail + chunk
        cells += chunk.count(b"<c ") + chunk.count(b"<c>")
        at = buf.rfind(b"<row ")
        while at >= 0:
            found = _ROW_TAG.match(buf, at)
            if found:
                last_row = max(last_row, int(found.group(1)))
                break
            at = buf.rfind(b"<row ", 0, at)  # cut by the chunk: the one before
        start = 0
        while found := _beyond(*_row_bound(last_row), last_col).search(buf, start):
            if found.group("row"):
                return True  # a row far past the last one listed: out of order
            col = _column(found.group("col").decode())
            if col is None:
                return True  # beyond XFD, Excel's last column
            last_col, start = col + 1, found.start() + 1
        tail = chunk[-256:]  # a row tag or a reference cut in two by the chunks
    digits, lead = _row_bound(last_row)
    grid = (lead + 1) * 10 ** (digits - 2) * last_col  # rows under (lead + 1)0...0
    return grid > MAX_DENSE_CELLS or grid > 4 * cells + 1_000_000


def _row_bound(row: int) -> tuple[int, int]:
    """row's digit count and its two leading digits (at least those of 1000:
    small sheets are never sparse by their rows)."""
    text = str(max(row, 1000))
    return len(text), int(text[:2])


@functools.lru_cache(maxsize=64)
def _beyond(digits: int, lead: int, col: int) -> re.Pattern:
    """A cell reference to a row of more digits, or as many and higher two
    leading digits (`lead`); or to a column after the col-th."""
    first, second = divmod(lead, 10)
    rows = rb"[1-9][0-9]{%d,}" % digits
    if first < 9:
        rows += rb"|[%d-9][0-9]{%d}" % (first + 1, digits - 1)
    if second < 9:
        rows += rb"|%d[%d-9][0-9]{%d}" % (first, second + 1, digits - 2)
    return re.compile(rb'r="[A-Z]{0,3}(?P<row>%s)"|r="(?P<col>%s)[0-9]'
                      % (rows, _letters_above(col)))


def _letters_above(col: int) -> bytes:
    """A regex for the column letters after the col-th column (1-based)."""
    letters = b""
    while col:
        col, rest = divmod(col - 1, 26)
        letters = bytes([65 + rest]) + letters
    alts = [rb"[A-Z]{%d,3}" % (len(letters) + 1)] if len(letters) < 3 else []
    for i, ch in enumerate(letters):
        if ch < ord("Z"):
            alts.append(letters[:i] + b"[%c-Z]" % (ch + 1) + rb"[A-Z]{%d}" % (len(letters) - i - 1))
    return b"|".join(alts) or rb"(?!)"


def first_sheet_rows(z: zipfile.ZipFile, open_member: Callable) -> Iterator[list]:
    """The first sheet's rows, in file order; open_member(z, info) yields a member's
    bytes in chunks (the caller bounds them)."""
    rels = _relationships(z, open_member)
    yield from sheet_rows(z, open_member, _first_sheet(z, open_member, rels))


def sheet_rows(z: zipfile.ZipFile, open_member: Callable, sheet: str,
               cell_chars: int = MAX_CELL_CHARS + 1) -> Iterator[list]:
    """A sheet's rows (member `sheet`), each cell's text kept to cell_chars."""
    rels = _relationships(z, open_member)
    strings = _shared_strings(z, open_member, rels, cell_chars)
    rows: list[list] = []
    width: list[int | None] = [None]  # the header's width, once known
    row: dict[int, object] = {}
    cell = {"col": -1, "type": "n", "collect": False}
    parts: list[str] = []
    keep = _texts(parts, cell_chars)

    def start(tag, attrs):
        local = _local(tag)
        if local == "c":
            col = _column(attrs.get("r", "")) if "r" in attrs else cell["col"] + 1
            cell["col"] = -2 if col is None else col
            cell["type"] = attrs.get("t", "n")
            parts.clear()
        elif local in ("v", "t") and cell["col"] >= 0:
            cell["collect"] = True
        elif local == "row":
            row.clear()
            cell["col"] = -1

    def end(tag):
        local = _local(tag)
        if local in ("v", "t"):
            cell["collect"] = False
        elif local == "c":
            col = cell["col"]
            if col >= 0 and (width[0] is None or col < width[0]) and parts:
                row[col] = _value(cell["type"], "".join(parts), strings)
        elif local == "row":
            if width[0] is None:
                if not row:
                    return  # calamine starts at the first row that holds a cell
                width[0] = max(row) + 1
            out = [None] * width[0]
            for col, value in row.items():
                out[col] = value
            rows.append(out)

    def text(data):
        if cell["collect"]:
            keep(data)

    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.CharacterDataHandler = text
    try:
        for chunk in open_member(z, z.getinfo(sheet)):
            parser.Parse(chunk, False)
            yield from rows
            rows.clear()
        parser.Parse(b"", True)
    except expat.ExpatError as e:
        raise ResultFileError(f"the xlsx file's {sheet} is not well-formed XML ({e})") from None
    yield from rows


def _value(kind: str, text: str, strings: list[str]) -> object:
    if kind == "s":
        try:
            return strings[int(text)]
        except (ValueError, IndexError):
            raise ResultFileError(f"the xlsx file names shared string {text[:20]!r}, "
                                  f"which it does not hold ({len(strings)} strings)") from None
    if kind in ("str", "inlineStr", "d"):
        return text
    if kind == "b":
        return text.strip() == "1"
    if kind == "e":
        return None  # #N/A and the like: no value
    try:
        return float(text)
    except ValueError:
        return text
