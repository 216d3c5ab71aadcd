"""Reading what is left of a damaged SQLite table by key ranges.

A damaged page makes every query that reaches it fail, but a range query that
starts past it never reads it. So a table is read forward from its start until
the first damaged page, backward from its end to the last one, and the keys in
between are probed at midpoints: readable pages between two damaged ones are
read too. Only the stdlib's sqlite3 is needed (SQLite's own `.recover` lives in
its command-line tool, which may not be installed).
"""

from __future__ import annotations

import bisect
import dataclasses
import sqlite3
from collections.abc import Iterator, Sequence

# A range whose probes read nothing this many times in a row is given up: it lies
# inside damaged pages (2**6 probes per such range, each one page read).
_DEAD_PROBES = 6
# Keys are compared as these strings, in the order of the key columns (their
# characters are printable, above this separator).
_SEP = "\x01"


@dataclasses.dataclass
class Scan:
    """What key-ordered reading found: rows, and the open key intervals (low, high;
    None: the table's end) that could not be read."""

    rows: list[tuple] = dataclasses.field(default_factory=list)
    gaps: list[tuple[tuple | None, tuple | None]] = dataclasses.field(default_factory=list)

    @property
    def damaged(self) -> bool:
        return bool(self.gaps)


def scan_by_key(db: sqlite3.Connection, table: str, key: Sequence[str],
                columns: Sequence[str]) -> Scan:
    """Every row of table that can still be read; key: its primary key's columns
    (text), which must come first in columns."""
    assert tuple(columns[:len(key)]) == tuple(key)
    reader = _Reader(db, table, key, columns)
    scan = Scan()
    reader.read(None, True, None, scan, dead=0)
    # Neighbouring unreadable ranges (split by probes that read nothing) as one.
    merged: list = []
    for gap in scan.gaps:
        if merged and merged[-1][1] == gap[0]:
            merged[-1] = (merged[-1][0], gap[1])
        else:
            merged.append(gap)
    scan.gaps = merged
    return scan


class _Reader:
    def __init__(self, db, table, key, columns):
        self.db, self.width = db, len(key)
        self.tuple = f"({', '.join(key)})"
        self.select = f"SELECT {', '.join(columns)} FROM {table}"
        self.order = ", ".join(key)
        self.order_desc = ", ".join(f"{k} DESC" for k in key)

    def _rows(self, low, low_inclusive, high, descending) -> tuple[list[tuple], bool]:
        """Rows with key in the range, ascending or descending, until the first
        damaged page; and whether the range was read to its end."""
        where, args = [], []
        if low is not None:
            where.append(f"{self.tuple} {'>=' if low_inclusive else '>'} "
                         f"({', '.join('?' * self.width)})")
            args.extend(low)
        if high is not None:
            where.append(f"{self.tuple} < ({', '.join('?' * self.width)})")
            args.extend(high)
        sql = (self.select + (" WHERE " + " AND ".join(where) if where else "")
               + f" ORDER BY {self.order_desc if descending else self.order}")
        rows: list[tuple] = []
        try:
            for row in self.db.execute(sql, args):
                rows.append(row)
        except sqlite3.DatabaseError:
            return rows, False
        return rows, True

    def read(self, low, low_inclusive, high, scan: Scan, dead: int) -> None:
        forward, complete = self._rows(low, low_inclusive, high, descending=False)
        scan.rows.extend(forward)
        if complete:
            return
        if forward:
            low, low_inclusive = forward[-1][:self.width], False
        backward, _ = self._rows(low, low_inclusive, high, descending=True)
        scan.rows.extend(backward)
        if backward:
            high = backward[-1][:self.width]
        dead = 0 if forward or backward else dead + 1
        middle = _between(low, high, self.width)
        if dead > _DEAD_PROBES or middle is None:
            scan.gaps.append((low, high))
            return
        # Damage lies between low and high; readable pages may lie there too.
        self.read(low, low_inclusive, middle, scan, dead)
        self.read(middle, True, high, scan, dead)


def _encode(key: tuple | None, width: int, end: bool) -> bytes:
    if key is None:  # the table's start or end
        return b"\x7f" * 2 if end else b""
    return _SEP.join(str(part) for part in key).encode("utf-8", "surrogatepass")


def _between(low: tuple | None, high: tuple | None, width: int) -> tuple | None:
    """A key strictly between low and high (None: the table's ends), or None when
    there is no room between them."""
    a, b = _encode(low, width, False), _encode(high, width, True)
    size = max(len(a), len(b)) + 1
    x = int.from_bytes(a.ljust(size, b"\0"), "big")
    y = int.from_bytes(b.ljust(size, b"\0"), "big")
    if y - x < 2:
        return None
    raw = ((x + y) // 2).to_bytes(size, "big").rstrip(b"\0")
    text = raw.decode("latin-1")
    parts = text.split(_SEP, width - 1)
    parts += [""] * (width - len(parts))
    middle = tuple(parts)
    low_key = tuple(str(p) for p in low) if low is not None else None
    high_key = tuple(str(p) for p in high) if high is not None else None
    if (low_key is not None and middle <= low_key) or (high_key is not None
                                                       and middle >= high_key):
        return None
    return middle


def keys_in_gaps(keys: Iterator[tuple], gaps) -> int:
    """How many of keys fall strictly inside one of the gaps (found by bisection:
    the gaps come in key order and do not overlap)."""
    lows = [tuple(low) if low is not None else () for low, _ in gaps]
    count = 0
    for key in keys:
        i = bisect.bisect_left(lows, key) - 1  # the last gap starting below key
        if i >= 0:
            low, high = gaps[i]
            if (low is None or key > tuple(low)) and (high is None or key < tuple(high)):
                count += 1
    return count
