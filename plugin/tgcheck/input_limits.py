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
# What a .txt is read in (characters): large enough that one split per block
# costs what one split of the whole file does.
BLOCK_CHARS = 1 << 20


def cut(cell: str) -> str:
    """An over-long cell as kept: its first MAX_CELL_CHARS + 1 characters (so
    that it is still over the limit, and invalid)."""
    return cell[:MAX_CELL_CHARS + 1]


def text_lines(f: TextIO) -> list[str]:
    """The lines of a text file (universal newlines already applied by f), read
    in blocks: a line longer than MAX_CELL_CHARS is kept cut (cut()) and the rest
    of it is read past, never held."""
    lines: list[str] = []
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
        lines.extend(parts)
        if len(carry) > MAX_CELL_CHARS:
            lines.append(cut(carry))
            carry, skipping = "", True
    if carry and not skipping:
        lines.append(carry)
    return lines


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
