"""How long a cell and a line of an input may be: memory follows the rows.

No phone number cell is longer than a few hundred characters. A longer one is
still a row (invalid, reason `too_long`, never sent), but only its first
MAX_CELL_CHARS + 1 characters are kept: a 1 GB line in a .txt costs what a
1 KB one does. A CSV line longer than MAX_LINE_CHARS is refused (exit 2): it is
no table row, and holding it to find its fields would take its size several
times over. docs/numbers.md and docs/cli.md say both.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TextIO

# A cell longer than this is invalid (too_long) and never sent.
MAX_CELL_CHARS = 1024
# A CSV line (one physical line; a quoted field may span several) longer than
# this is refused: the csv module's own field limit is 131,072 characters.
MAX_LINE_CHARS = 4 * 1024 * 1024
# A .txt up to this size is read whole (1,000,000 numbers are 13 MB); a larger
# one in blocks of BLOCK_CHARS characters (200,000 lines: 0.021 s whole, 0.033 s
# in blocks).
WHOLE_BYTES = 16 * 1024 * 1024
BLOCK_CHARS = 1 << 20


def cut(cell: str) -> str:
    """An over-long cell as kept: its first MAX_CELL_CHARS + 1 characters (so
    that it is still over the limit, and invalid)."""
    return cell[:MAX_CELL_CHARS + 1]


def text_lines(f: TextIO, size: int) -> list[str]:
    """The lines of a text file of `size` bytes (universal newlines already
    applied by f). Up to WHOLE_BYTES in one read and one split (the fastest; a
    long line in it costs at most a few times WHOLE_BYTES, and the normaliser
    finds it too long); a larger file in blocks, where a line longer than
    MAX_CELL_CHARS is kept cut (cut()) and the rest of it is read past, never
    held."""
    if size <= WHOLE_BYTES:
        return f.read().split("\n")
    lines: list[str] = []
    for block in text_blocks(f):
        lines.extend(block)
    return lines


def text_blocks(f: TextIO) -> Iterator[list[str]]:
    """text_lines of a large file as it reads them: a list of lines per block of
    BLOCK_CHARS characters (a check in chunks holds one block, not the file)."""
    carry = ""  # the start of a line the last block cut in two
    skipping = False  # inside an over-long line already kept (cut)
    while block := f.read(BLOCK_CHARS):
        parts = block.split("\n")
        if skipping:
            if len(parts) == 1:
                continue  # still inside the over-long line
            parts[0] = None  # its end: already kept
            skipping = False
        else:
            parts[0] = carry + parts[0]
        carry = parts.pop()
        if parts and parts[0] is None:
            del parts[0]
        if parts and max(map(len, parts)) > MAX_CELL_CHARS:
            parts = [cut(p) if len(p) > MAX_CELL_CHARS else p for p in parts]
        if len(carry) > MAX_CELL_CHARS:
            parts.append(cut(carry))
            carry, skipping = "", True
        yield parts
    if carry and not skipping:
        yield [carry]


def has_text(f: TextIO) -> bool:
    """Whether a text file holds anything but whitespace, read in blocks."""
    return any(block.strip() for block in iter(lambda: f.read(BLOCK_CHARS), ""))


def bounded_lines(f: TextIO, refuse) -> Iterator[str]:
    """f's lines (as csv.reader wants them), each read at most MAX_LINE_CHARS + 1
    characters at a time: refuse(line_number) raises for a longer one before
    more of it is read."""
    for number, line in enumerate(iter(partial(f.readline, MAX_LINE_CHARS + 1), ""), 1):
        if len(line) > MAX_LINE_CHARS:
            refuse(number)
        yield line
