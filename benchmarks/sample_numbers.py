"""The benchmarks' phone numbers: distinct, valid, and spread as real ones are.

Row i's number is FIRST + scramble(i), a bijection of 25-bit integers that
spreads them as a random draw would (a fifth of a million share a hash table's
home, as with numpy's generator), in that order, as a customer table or an
export holds them. Consecutive numbers in order (+41790000000, +41790000001,
...) flattered the code under test: a run of integers hashes without a
collision, is searched in order and is sorted already (docs/performance.md,
"Random numbers"). SQL makes the same numbers (scramble_sql), so that a table
can be built without Python's memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FIRST = 41_760_000_000  # Swiss mobile numbers from +41760000000 on
BITS = 25  # 33,554,432 numbers: +41760000000 to +41793554431, all valid
MASK = (1 << BITS) - 1
M1, M2 = 0x19E3779, 0x0F4F5F3  # odd: a product modulo 2**BITS is a bijection
# Lines written this many at a time: the writer stays small.
BLOCK = 100_000


def scramble(i: np.ndarray) -> np.ndarray:
    """A bijection of [0, 2**BITS): multiply, xor-shift, twice (each step one)."""
    x = (i * M1) & MASK
    x ^= x >> 12
    x = (x * M2) & MASK
    return x ^ (x >> 13)


def scramble_sql(i: str) -> str:
    """scramble of the SQL integer expression i (DuckDB)."""
    x = f"(({i} * {M1}) & {MASK})"
    x = f"((xor({x}, {x} >> 12) * {M2}) & {MASK})"
    return f"xor({x}, {x} >> 13)"


def bounded(rows: int) -> int:
    if rows > 1 << BITS:
        raise ValueError(f"at most {1 << BITS:,} rows")
    return rows


def suffixes(rows: int, start: int = 0) -> np.ndarray:
    """The numbers of rows start to rows - 1, less FIRST."""
    return scramble(np.arange(start, bounded(rows), dtype=np.int64))


def phone(s: int) -> str:
    return f"+{FIRST + s}"


def write_numbers(path: Path, n: int) -> None:
    """A .txt of rows 0 to n - 1's numbers, one a line."""
    with open(path, "w", encoding="utf-8") as f:
        for start in range(0, n, BLOCK):
            f.write("".join(f"{phone(s)}\n"
                            for s in suffixes(min(n, start + BLOCK), start).tolist()))
