"""A plain xlsx sheet read as columns by regexes, in C: a third of calamine's time.

What the vendor's (and the sandbox's) result sheets look like: every cell a shared
string (`t="s"`), every row as wide as the first (the header, on row 1) and
numbered one above the one before, every shared string one plain `<t>` (no rich
text, no entity). Such a sheet holds exactly what calamine would give (tests
prove it), so its columns are taken by one regex per megabyte of sheet: no grid,
no cell object, no row list. Anything else (a number cell, a formula, an inline
string, an `&amp;` or `_x000D_`, a header below row 1, a row that is not the
header's width, a comment in the rows) makes plain_columns() return None, and
the reader takes its usual path (calamine, or streamed when sparse). Memory: the
shared strings and the columns, as calamine's path holds them; the sheet's XML
a megabyte at a time.
"""

from __future__ import annotations

import functools
import operator
import re
import string
import zipfile
from collections.abc import Callable

from .xlsx_rows import SHARED_STRINGS

# The header's width that is read here (A to Z); a wider sheet takes calamine's path.
MAX_COLUMNS = 26
# One shared string: plain text, nothing XML or OOXML would change (an entity, a
# CR that XML reads as LF, an `_x000D_` escape) and no markup. Its count must
# match every <si> in the table.
_STRING = re.compile(r'<si><t( xml:space="preserve")?>([^<&\r]*)</t></si>')
# More than any plain row of MAX_COLUMNS cells takes, with its tags.
_MAX_ROW_BYTES = 1 << 16
_FIRST_ROW = re.compile(rb"<row\b.*?</row>", re.S)


@functools.lru_cache(maxsize=MAX_COLUMNS)
def _row(width: int) -> re.Pattern:
    """A whole row of `width` shared-string cells, A onwards, each referring to the
    row's own number (the backreference): (row number, index, index, ...)."""
    cells = b"".join(rb'<c r="%s\1"(?: s="[0-9]{1,5}")? t="s"><v>([0-9]{1,9})</v></c>'
                     % letter.encode() for letter in string.ascii_uppercase[:width])
    return re.compile(rb'<row r="([1-9][0-9]{0,6})"[^<>]{0,200}>' + cells + rb"</row>")


def plain_columns(z: zipfile.ZipFile, open_member: Callable, sheet: str,
                  strings_member: str | None) -> list[list[str]] | None:
    """The sheet's columns, each its header first then its rows' values in row
    order; None when the sheet is not plain (see the module's text)."""
    # calamine reads its shared strings from xl/sharedStrings.xml only, whatever
    # the workbook's relationships name: a table elsewhere is not what it reads.
    if strings_member != SHARED_STRINGS:
        return None
    strings = _strings(z, open_member, strings_member)
    if strings is None:
        return None
    pieces = _row_pieces(z, open_member, sheet)
    first = next(pieces, None)
    if first is None:
        return None
    head = _FIRST_ROW.search(first)
    width = head.group().count(b"<c") if head else 0
    if not 0 < width <= MAX_COLUMNS:
        return None
    pattern = _row(width)
    indexes: list[list[bytes]] = [[] for _ in range(width)]
    numbers: list[bytes] = []
    for piece in _chain(first, pieces):
        if piece is None:
            return None  # the rows' region was not closed, or not found
        found = pattern.findall(piece)
        # Every cell of the piece is in a match, or it is not plain.
        if piece.count(b"<c") != width * len(found):
            return None
        numbers.extend(map(operator.itemgetter(0), found))
        for column, into in enumerate(indexes, start=1):
            into.extend(map(operator.itemgetter(column), found))
    # Rows 1, 2, 3... each once and in order, the header on row 1: calamine places
    # rows by number from row 1, so a repeated one overwrites and a row left out
    # (or written with no cell) is an empty row in its grid, not no row.
    if list(map(int, numbers)) != list(range(1, len(numbers) + 1)):
        return None
    try:
        return [list(map(strings.__getitem__, map(int, column))) for column in indexes]
    except IndexError:
        return None  # a cell names a string the table lacks: calamine says what then


def _chain(first, rest):
    yield first
    yield from rest


def _strings(z: zipfile.ZipFile, open_member: Callable, member: str) -> list[str] | None:
    """The shared strings, when every one is plain text; else None."""
    try:
        text = b"".join(open_member(z, z.getinfo(member))).decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        return None
    if "_x" in text:
        return None  # maybe an escape (_x000D_ is a CR) that calamine decodes
    found = _STRING.findall(text)
    if text.count("<si") != len(found):
        return None
    # calamine trims a text not marked xml:space="preserve": such a one with
    # spaces at an end is left to it.
    if any(not keep and value != value.strip() for keep, value in found):
        return None
    return [value for _, value in found]


def _row_pieces(z: zipfile.ZipFile, open_member: Callable, sheet: str):
    """The sheet's <sheetData> in pieces that end with a whole row (about a
    megabyte each); None last when the region is not whole."""
    buf, started = b"", False
    for chunk in open_member(z, z.getinfo(sheet)):
        buf += chunk
        if not started:
            at = buf.find(b"<sheetData>")
            if at < 0:
                buf = buf[-64:]  # the tag may be cut by the chunk
                continue
            buf, started = buf[at + len(b"<sheetData>"):], True
        end = buf.find(b"</sheetData>")
        if end >= 0:
            yield buf[:end]
            return
        cut = buf.rfind(b"</row>")
        if cut >= 0:
            yield buf[:cut + len(b"</row>")]
            buf = buf[cut + len(b"</row>"):]
        elif len(buf) > _MAX_ROW_BYTES:
            break  # no plain row is this long: not held, left to the other paths
    yield None
