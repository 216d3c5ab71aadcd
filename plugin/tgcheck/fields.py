"""The typed fields a task type's answer carries beside its headline (issue 24).

A check may return more than one yes/no per number (`tg_active`: how recently the
account was seen; the sister platform's `ws_active`: `activetime`, `activedays`,
`business`). A task type declares each field it keeps: its name, its type and the
provider's result column it comes from. Readers keep the declared columns, typed
and cleaned here; a column no task type declares is ignored.

A cell that does not fit its field's type ("N/A" in an integer field, a URL that is
not http(s)) is None: unknown, never a guess.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Mapping
from urllib.parse import urlsplit

from . import redact

# Field kinds: the one word a face needs to pick a typed column (DuckDB, xlsx).
YES_NO = "yes/no"
TEXT = "text"
INTEGER = "integer"
DATETIME = "date/time"
URL = "url"
KINDS = (YES_NO, TEXT, INTEGER, DATETIME, URL)

_TRUE = frozenset({"yes", "true", "1", "y"})
_FALSE = frozenset({"no", "false", "0", "n"})
# Longest text kept for a text or URL field: a result cell is the provider's text,
# not a place to store megabytes per number.
MAX_TEXT = 2048
# Seconds since 1970 past this are milliseconds (13 digits rather than 10).
_MILLIS = 10**11


@dataclasses.dataclass(frozen=True)
class Field:
    """One typed value of an answer: `name` (what tgcheck calls it), `kind` (one of
    KINDS) and `column`, the provider's result column it is read from (default:
    the name; matched ignoring case, spaces and punctuation like every header)."""

    name: str
    kind: str = TEXT
    column: str | None = None
    description: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"field {self.name!r}: kind {self.kind!r} is not one of "
                             f"{', '.join(KINDS)}")
        if not self.name.isidentifier():
            raise ValueError(f"field name {self.name!r} is not an identifier (it names "
                             "a column in every face)")

    @property
    def source(self) -> str:
        return self.column or self.name

    def clean(self, raw: object) -> object:
        """The typed value of a result cell, or None when it is no value of this kind."""
        if raw is None or isinstance(raw, bool) and self.kind != YES_NO:
            return None
        if isinstance(raw, str):
            raw = raw.strip()
            if not raw:
                return None
        return _CLEAN[self.kind](raw)


def _yes_no(raw: object) -> bool | None:
    if isinstance(raw, bool):
        return raw
    word = " ".join(str(raw).lower().split())
    if word.endswith(".0"):  # a spreadsheet's 1.0
        word = word[:-2]
    return True if word in _TRUE else False if word in _FALSE else None


def _text(raw: object) -> str | None:
    # The provider's text: through the redaction point (controls out, the key
    # masked) like a headline answer, before any store or face sees it.
    text = redact.clean(raw, None)[:MAX_TEXT]
    return text or None


def _integer(raw: object) -> int | None:
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if raw.is_integer() else None
    text = str(raw).strip().replace(",", "").replace("_", "")
    if text.endswith(".0"):
        text = text[:-2]
    try:
        return int(text)
    except ValueError:
        return None


def _datetime(raw: object) -> datetime.datetime | None:
    """ISO 8601 text, a spreadsheet's date, or Unix seconds (or milliseconds); naive
    times are taken as UTC (a result file names no zone), all returned in UTC."""
    if isinstance(raw, datetime.datetime):
        value = raw
    elif isinstance(raw, datetime.date):
        value = datetime.datetime(raw.year, raw.month, raw.day)
    else:
        number = _integer(raw)
        if number is not None:
            if number <= 0:
                return None
            try:
                return datetime.datetime.fromtimestamp(
                    number / 1000 if number > _MILLIS else number, datetime.UTC)
            except (OverflowError, OSError, ValueError):
                return None
        try:
            value = datetime.datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC)


def _url(raw: object) -> str | None:
    text = str(raw).strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if len(text) > MAX_TEXT or text != redact.clean(text, None):
        return None  # spaces or control characters: no URL a face should show
    return text


_CLEAN = {YES_NO: _yes_no, TEXT: _text, INTEGER: _integer, DATETIME: _datetime, URL: _url}


def fields_json(fields: Mapping[str, object]) -> str:
    """An answer's typed fields as the JSON object the store keeps (a date/time as
    ISO 8601 text; Field.clean reads it back)."""
    return json.dumps({name: value.isoformat() if isinstance(value, datetime.datetime)
                       else value for name, value in fields.items()},
                      separators=(",", ":"), sort_keys=True)


def typed(declared: tuple[Field, ...], stored: Mapping[str, object] | None) -> dict | None:
    """Stored fields (fields_json, read back) typed by their declaration: every
    declared name, None where the store has no value (None: no fields stored)."""
    if stored is None:
        return None
    return {f.name: f.clean(stored.get(f.name)) for f in declared}


def as_text(value: object) -> str | None:
    """A typed field as text for CSV and the terminal: yes/no, ISO 8601 UTC with Z."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).replace(tzinfo=None).isoformat() + "Z"
    return None if value is None else str(value)


def as_cell(value: object) -> object:
    """A typed field as a spreadsheet cell: a bool, a number, a date/time in UTC
    without its zone (a spreadsheet cell has none), or text."""
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


def choose(declared: tuple[Field, ...], wanted: str | None) -> tuple[str, ...]:
    """The field names a face shows: all declared (wanted None), none (wanted
    "" or "none"), or the comma-separated names given, in their order. An unknown
    name is a ValueError naming the declared ones."""
    names = tuple(f.name for f in declared)
    if wanted is None:
        return names
    if wanted.strip().lower() in ("", "none"):
        return ()
    chosen = tuple(dict.fromkeys(w.strip() for w in wanted.split(",") if w.strip()))
    unknown = [w for w in chosen if w not in names]
    if unknown:
        have = ", ".join(names) if names else "none"
        raise ValueError(f"no field {', '.join(map(repr, unknown))} (this task type's "
                         f"fields: {have})")
    return chosen
