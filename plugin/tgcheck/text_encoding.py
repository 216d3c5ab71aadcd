"""Which encoding a text file is in: the ones Excel writes, for every reader.

UTF-8 (with or without BOM), UTF-16 with its BOM ("Unicode text"), else the
Windows code page (cp1252; latin-1 where cp1252 has holes). Used for the input
tables (tgcheck.tables) and, through decode(), for a provider's CSV results.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from pathlib import Path

UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
CHUNK = 1 << 20


def sniff(head: bytes, chunks: Iterable[bytes]) -> str:
    """The encoding of a text whose first bytes are head and whose whole bytes
    chunks gives (iterated up to twice, only when there is no BOM). The whole text is validated
    as UTF-8 before it is chosen: a stray cp1252 byte on row 900,000 must not
    fail a run halfway."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(UTF16_BOMS):
        return "utf-16"
    if valid_utf8(chunks):
        return "utf-8"
    try:
        for chunk in chunks:
            str(chunk, "cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def valid_utf8(chunks: Iterable[bytes]) -> bool:
    """Whether the bytes chunks gives are UTF-8 (a BOM is UTF-8 too)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for chunk in chunks:
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False


def sniff_file(path: Path, head: bytes) -> str:
    """sniff() for a file, read in chunks of a megabyte (twice at most)."""
    return sniff(head, _Chunks(path))


def decode(data: bytes) -> str:
    """data as text in its sniffed encoding (UTF-16 with undecodable pairs replaced)."""
    encoding = sniff(data[:4], memory_chunks(data))
    return data.decode(encoding, errors="replace" if encoding == "utf-16" else "strict")


class memory_chunks:  # noqa: N801 - used like a function, as sniff_file's chunks
    """Bytes in memory, a megabyte at a time (views, not copies), each time it is
    iterated: sniff() then decodes a megabyte at a time, not a copy of the whole."""

    def __init__(self, data: bytes):
        self.data = memoryview(data)

    def __iter__(self):
        for start in range(0, len(self.data), CHUNK):
            yield self.data[start:start + CHUNK]


class _Chunks:
    """A file's bytes, chunk by chunk, each time it is iterated."""

    def __init__(self, path: Path):
        self.path = path

    def __iter__(self):
        with self.path.open("rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk
