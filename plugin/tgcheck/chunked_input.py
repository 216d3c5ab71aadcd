"""An input read in chunks of rows (`tgcheck check` over more rows than
TGCHECK_CHECK_CHUNK_ROWS, chunked_check.py): a chunk is held, not the file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

from . import input_limits

if TYPE_CHECKING:
    from .tables import InputTable


def chunks(table: InputTable, size: int) -> Iterator[list]:
    """The table's data rows in lists of size (the last one shorter), in file
    order, read as they are needed. A table that is its column of numbers (a
    .txt) gives its values, not one-cell rows."""
    if table._column_blocks is not None:
        return rechunked(table._column_blocks(), size)
    return sliced(table.rows(), size)


def numbers_of(table: InputTable, chunk: list) -> list:
    """The number cells of a list of rows chunks() gave."""
    if table._column_blocks is not None:
        return chunk
    return list(map(itemgetter(table.number_index), chunk))


def text_column_blocks(p: Path, encoding: str) -> Iterator[list[str]]:
    """A .txt's values (tables._open_text's column()) a block at a time: read
    whole up to input_limits.WHOLE_BYTES as there, else in blocks; blank lines
    are held back until a number follows them (trailing ones are not inputs),
    whitespace-only lines are "" as there."""
    with p.open(encoding=encoding, newline=None) as f:
        size = os.fstat(f.fileno()).st_size
        read = ([f.read().split("\n")] if size <= input_limits.WHOLE_BYTES
                else input_limits.text_blocks(f))
        held = 0  # blank lines not yet known to come before a number
        for lines in read:
            if any(map(str.isspace, lines)):
                lines = [line if line.strip() else "" for line in lines]
            last = len(lines) - 1
            while last >= 0 and not lines[last]:
                last -= 1
            if last < 0:
                held += len(lines)
                continue
            if held:
                yield [""] * held
            yield lines if last == len(lines) - 1 else lines[:last + 1]
            held = len(lines) - 1 - last


def sliced(rows: Iterator[list], size: int) -> Iterator[list]:
    """rows in lists of size (the last one shorter)."""
    while chunk := list(islice(rows, size)):
        yield chunk


def rechunked(blocks: Iterator[list], size: int) -> Iterator[list]:
    """Lists of any length as lists of size items (the last one shorter)."""
    held: list = []
    for block in blocks:
        held.extend(block)
        while len(held) >= size:
            yield held[:size]
            del held[:size]
    if held:
        yield held
