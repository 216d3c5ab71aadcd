"""Is this a header, and does it name a column of phone numbers? For every face.

A table's first row is a header unless a cell of it looks like a phone number
(tables.py: CSV and spreadsheets); the top cell of a column selected in Excel is
a header when it is a text without a digit (the Excel macro: one cell tells
less than a row, so a short number like "12345" still counts as data there).
A header names the phone column when one of its words is a phone word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Header words that name a column of phone numbers (matched per word of the name).
PHONE_WORDS = frozenset({
    "phone", "phones", "phonenumber", "telephone", "tel", "telefon", "telefono", "telefone",
    "mobile", "mobilephone", "mobil", "cell", "cellphone", "msisdn", "number", "numbers",
    "gsm", "handy", "whatsapp",
})
# A cell that is a phone number rather than a header: at least 7 digits, phone punctuation.
_LOOKS_LIKE_NUMBER = re.compile(r"^\s*\+?[\d\s().\-/]*\d[\d\s().\-/]*\s*$")


def looks_like_number(cell: object) -> bool:
    """A phone number rather than a label: 7 digits or more, phone punctuation only."""
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return abs(cell) >= 1_000_000
    text = str(cell or "")
    if text.endswith(".0"):
        text = text[:-2]
    return bool(_LOOKS_LIKE_NUMBER.match(text)) and sum(c.isdigit() for c in text) >= 7


def is_header_row(cells: Sequence[object]) -> bool:
    """A table's first row is its header unless one of its cells is a number."""
    return not any(looks_like_number(c) for c in cells)


def is_header_cell(cell: object) -> bool:
    """The top cell of a selected column labels it: a text without a single digit
    ("phone", "Numara")."""
    return isinstance(cell, str) and bool(cell.strip()) and not any(c.isdigit() for c in cell)


def words(name: object) -> list[str]:
    """"Mobile Phone", "phone_number", "customerPhone" -> their lowercase words."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name))
    return [w for w in re.split(r"[^0-9a-zA-Z]+", spaced.lower()) if w]


def phone_columns(columns: Sequence[str]) -> list[int]:
    """The indexes of the columns whose names hold a phone word."""
    return [i for i, name in enumerate(columns) if PHONE_WORDS.intersection(words(name))]


def header_key(cell: object) -> str:
    """A header cell as a key that ignores case, spaces and punctuation
    ("Phone Number" -> "phonenumber"), for matching a known column name."""
    return "".join(ch for ch in str(cell or "").lower() if ch.isalnum())
