"""A number set as the journal keeps it: packed in one blob, and its range.

A job's numbers are stored zlib-compressed (sorted, one a line), so `resume` needs
no input; its first and last number are kept beside them, so a claim unpacks only
the jobs whose range meets its own.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Sequence


def pack_numbers(numbers: Sequence[str]) -> bytes:
    return zlib.compress("\n".join(numbers).encode())


def unpack_numbers(blob: bytes) -> list[str]:
    text = zlib.decompress(blob).decode()
    return text.split("\n") if text else []


def number_range(numbers: Collection[str]) -> tuple[str | None, str | None]:
    """A set's first and last number (code point order, as SQLite's BINARY and
    PostgreSQL's "C" collation compare): kept with each job, so a claim unpacks
    only jobs whose range meets its own. A run's chunks are slices of one sorted
    set, so they never meet each other's, and another run's meet a few."""
    return (min(numbers), max(numbers)) if numbers else (None, None)

