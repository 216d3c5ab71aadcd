"""CSV cells Excel would run as a formula, made inert (OWASP's CSV injection rule).

A pass-through cell such as `=HYPERLINK("http://x","click")`, `@SUM(A1)` or
`+cmd|' /C calc'!A0` is a formula when the CSV file is opened in Excel (or
LibreOffice, Google Sheets). A cell that starts with = + - @ , tab or CR (or their
full-width forms, which some Excel locales read as the same) gets a leading `'`,
which Excel shows as text and does not display.

Numbers and phone numbers are left as they are: `+41 79 123 45 67`, `-5`, `+1.5`,
`(044) 123-45-67`, `-1.5e3` hold no letter or other character a formula needs to do
harm (no function, no reference, no DDE `|`), so at worst Excel reads them as a number,
as it always did. Only strings are looked at; an int or float cell is written as is.

xlsx output needs none of this: its cells are written as strings, never as formulas
(tgcheck.default_plugins.output_formats._write_xlsx).
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Iterable, Iterator, Sequence

# OWASP: = + - @ tab CR; and the full-width = + - @.
TRIGGERS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
# Digits, spaces, separators and signs only: a number or a phone number as people
# write them; or a number with an exponent. Written for Python's re and for RE2
# (Arrow's compute functions, tgcheck sql's CSV) alike: [0-9], not \d.
NUMBER_LIKE = ("[0-9 \u00a0.,()/+-]*"
               "|[+-]?(?:[0-9]+[.]?[0-9]*|[.][0-9]+)[eE][+-]?[0-9]+")
_NUMBER_LIKE = re.compile(NUMBER_LIKE)


def neutralise(cell: object) -> object:
    """cell with a leading ' if Excel would take it for a formula; else cell itself."""
    if isinstance(cell, str) and cell[:1] in TRIGGERS and not _NUMBER_LIKE.fullmatch(cell):
        return "'" + cell
    return cell


# A cell Excel would run, found in a whole batch of cells at once: each cell on a line
# of its own, a line that starts with a trigger and is not number-like.
_DANGER = re.compile("^(?!(?:" + NUMBER_LIKE + ")$)[" + re.escape("".join(sorted(TRIGGERS)))
                     + "]", re.MULTILINE)
BATCH = 4096
# A batch whose cells hold only the characters of NUMBER_LIKE's first branch is
# number-like cell by cell: one pass over a character class, about 5x faster than
# _DANGER's look-ahead at each line (the + of every phone number is a trigger).
_ALL_NUMBER_CHARS = re.compile("[\n" + NUMBER_LIKE.split("|")[0][1:])


def neutralised(rows: Iterable[Sequence[object]],
                columns: Sequence[int] | None = None) -> Iterator[Sequence[object]]:
    """rows, a row copied only when one of its cells needs the quote; columns: the
    only ones that can need it (None: all).

    This runs on every row of a large output, and most rows need nothing (a phone
    number written with + starts with a trigger, and is number-like): rows are looked
    at in batches, the cells of those columns joined one a line and searched by one
    regex in C. Only a batch in which it finds something, or whose cells hold a line
    break (one cell would then span lines), is looked at row by row. The batches are
    chained in C, so a clean row costs no Python step."""
    if columns is not None and not columns:
        return iter(rows)
    return itertools.chain.from_iterable(_batches(iter(rows), columns))


def _batches(rows: Iterator[Sequence[object]],
             columns: Sequence[int] | None) -> Iterator[Iterable[Sequence[object]]]:
    pick = None if columns is None else operator.itemgetter(*columns)
    while batch := list(itertools.islice(rows, BATCH)):
        if pick is None:
            cells = itertools.chain.from_iterable(batch)
        elif len(columns) == 1:
            cells = map(pick, batch)
        else:
            cells = itertools.chain.from_iterable(map(pick, batch))
        cells = list(cells)
        try:
            text = "\n".join(cells)  # all strings, as a phone column is: no copy each
        except TypeError:
            text = "\n".join(map(str, cells))
        if text.count("\n") == len(cells) - 1 and (_ALL_NUMBER_CHARS.fullmatch(text)
                                                    or not _DANGER.search(text)):
            yield batch
        else:
            yield _row_by_row(batch)


def _row_by_row(rows: Sequence[Sequence[object]]) -> Iterator[Sequence[object]]:
    triggers, number_like = TRIGGERS, _NUMBER_LIKE.fullmatch
    for row in rows:
        for cell in row:
            if (isinstance(cell, str) and cell[:1] in triggers
                    and not cell[1:].isdecimal() and not number_like(cell)):
                yield [neutralise(c) for c in row]
                break
        else:
            yield row
