"""A check's distinct numbers and their answers, held compactly: for a run of
millions, where a set of str numbers and dicts of answers would cost ~250
bytes a number (issue 25, bounded memory).

Each number is one int64 key: its digits in base 11 (a digit d as d + 1, an
absent one as 0, up to DIGITS of them), so keys sort as the str numbers sort
(sorted(): chunks cut from the keys are the chunks a list would give) and
numpy sorts, dedupes and searches them in C. Beside each key, the index of its
answer among the run's distinct (value, status) pairs (int32; -1: none yet).
A face reads the answers of a slice of its rows back as answer groups
(groups_for), which tgcheck.answer_column joins by number as for any check, or
as each number's answer code (codes_of), which AnswerColumn.outcomes_to_arrow
joins the same way (the SQL face's streamed check).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence

import numpy as np

from .store.base import AnswerGroup

NO_ANSWER = -1
# 11**18 < 2**63: eighteen digits fit (E.164 has at most fifteen).
DIGITS = 18
_PLUS, _ZERO, _NINE = ord("+"), ord("0"), ord("9")


class NotCompact(ValueError):
    """A number that is not "+" and at most DIGITS digits: no key for it."""


def as_array(numbers: Iterable[str]) -> np.ndarray:
    """E.164 str numbers as their int64 keys (NotCompact for any other)."""
    numbers = numbers if isinstance(numbers, list) else list(numbers)
    if not numbers:
        return np.empty(0, np.int64)
    if max(map(len, numbers)) > DIGITS + 1:
        raise NotCompact("a number of more than 18 digits")
    try:
        raw = np.array(numbers, dtype=f"S{DIGITS + 1}")
    except UnicodeEncodeError:
        raise NotCompact("a number that is not ASCII") from None
    return keys_of_cells(raw.view(np.uint8).reshape(len(raw), DIGITS + 1))


def keys_of_cells(cells: np.ndarray) -> np.ndarray:
    """as_array of numbers already laid out as a uint8 matrix, one number a row of
    DIGITS + 1 bytes padded with NUL (a caller holding them in a buffer, as Arrow
    does, makes no str of them)."""
    digit = (cells[:, 1:] >= _ZERO) & (cells[:, 1:] <= _NINE)
    if ((cells[:, 0] != _PLUS).any() or (~digit & (cells[:, 1:] != 0)).any()
            or (digit[:, 1:] & ~digit[:, :-1]).any()):  # a digit after the end
        raise NotCompact("a number that is not + and digits")
    keys = np.zeros(len(cells), np.int64)
    for i in range(DIGITS):
        column = cells[:, i + 1]
        keys *= 11
        keys += np.where(digit[:, i], column.astype(np.int64) - (_ZERO - 1), 0)
    return keys


def keys_of_digits(digits: np.ndarray) -> np.ndarray:
    """as_array of numbers given as the integer their digits spell (int64; "+" and
    1 to DIGITS digits, the first not 0), as SQL reads a cell in C: the same
    keys, no str made. A number's w digits, right-aligned, as base-11 digits
    d + 1 are its key divided by 11 ** (DIGITS - w); three decimal digits at a
    time (a table of 1,000)."""
    digits = np.asarray(digits, np.int64)
    width = 1 + np.searchsorted(_TENS, digits, side="right")
    spelled = np.zeros(len(digits), np.int64)  # the digits read in base 11
    rest, scale = digits, 1
    while rest.any():
        rest, low = np.divmod(rest, 1000)
        spelled += _BASE_11[low] * scale
        scale *= 11 ** 3
    return (spelled + _ONES[width]) * _SHIFT[width]


_TENS = 10 ** np.arange(1, DIGITS, dtype=np.int64)  # 10 .. 10**17
# Three decimal digits as base-11 digits; 1 + 11 + ... (w ones); 11 ** (DIGITS - w).
_BASE_11 = np.array([i // 100 * 121 + i // 10 % 10 * 11 + i % 10 for i in range(1000)],
                    np.int64)
_ONES = np.array([(11 ** w - 1) // 10 for w in range(DIGITS + 1)], np.int64)
_SHIFT = np.array([11 ** (DIGITS - w) for w in range(DIGITS + 1)], np.int64)


def as_strs(keys: np.ndarray) -> list[str]:
    """as_array's inverse: the numbers as a list of str."""
    cells = np.zeros((len(keys), DIGITS + 1), np.uint8)
    cells[:, 0] = _PLUS
    rest = keys.copy()
    for i in range(DIGITS, 0, -1):
        digit = rest % 11
        rest //= 11
        cells[:, i] = np.where(digit > 0, digit + (_ZERO - 1), 0)
    return cells.view(f"S{DIGITS + 1}").ravel().astype(str).tolist()


def distinct(parts: Sequence[np.ndarray]) -> np.ndarray:
    """The sorted distinct keys of several arrays (each may repeat numbers)."""
    if not parts:
        return np.empty(0, np.int64)
    # Stable: a merge of the parts' sorted runs (3x faster than a quicksort of
    # them). Not np.unique: numpy 2's hashes first, 30 times slower here.
    keys = np.sort(np.concatenate(parts), kind="stable")
    keep = np.empty(len(keys), bool)
    keep[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=keep[1:])
    return keys[keep]


def _keys_of_any(numbers: list[str]) -> np.ndarray:
    """Keys of the numbers that have one: a store's scan may bring others."""
    try:
        return as_array(numbers)
    except NotCompact:
        return as_array([n for n in numbers if _COMPACT.fullmatch(n)])


_COMPACT = re.compile(rf"\+[0-9]{{1,{DIGITS}}}")


class Decoded:
    """A sorted number array read as a sequence of str, one slice at a time: a
    run's missing numbers are cut into tasks without all being made str at once."""

    def __init__(self, array: np.ndarray):
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, where: slice) -> list[str]:
        return as_strs(self.array[where])


class CompactAnswers:
    """The distinct numbers of one check (sorted) and the answer each got."""

    def __init__(self, numbers: np.ndarray):
        self.numbers = numbers
        self.codes = np.full(len(numbers), NO_ANSWER, dtype=np.int32)
        self.pairs: list[tuple] = []  # code -> (value, status)
        self._code_of: dict[tuple, int] = {}

    def __len__(self) -> int:
        return len(self.numbers)

    def __repr__(self) -> str:
        return f"<CompactAnswers of {len(self.numbers)} numbers, {len(self.pairs)} answers>"

    def _positions(self, array: np.ndarray) -> np.ndarray:
        """Where each of array's numbers is in self.numbers; -1 for one not there."""
        return positions(self.numbers, array)

    def record(self, groups: Iterable[AnswerGroup]) -> None:
        """Keep the answers of (value, status, numbers) groups; a number not among
        this check's (a scan's, a top-up's filler) is left out."""
        for value, status, group in groups:
            if not group:
                continue
            pair = (value, status)
            code = self._code_of.get(pair)
            if code is None:
                code = self._code_of[pair] = len(self.pairs)
                self.pairs.append(pair)
            at = self._positions(_keys_of_any(group))
            self.codes[at[at >= 0]] = code

    def missing(self, start: int, stop: int) -> np.ndarray:
        """The numbers in [start, stop) that have no answer yet."""
        return self.numbers[start:stop][self.codes[start:stop] == NO_ANSWER]

    def codes_of(self, keys: np.ndarray) -> np.ndarray:
        """The answer code of each key (an index into pairs; NO_ANSWER for one not
        answered or not of this check), in the keys' order: a slice's answers by
        a binary search of the sorted keys, with no groups of str made and no hash
        table built (AnswerColumn.outcomes_to_arrow reads them)."""
        if not len(self.numbers):
            return np.full(len(keys), NO_ANSWER, dtype=np.int32)
        at = self._positions(keys)
        return np.where(at >= 0, self.codes[np.maximum(at, 0)], NO_ANSWER).astype(np.int32)

    def groups_for(self, numbers: list[str]) -> list[AnswerGroup]:
        """The answers of these numbers (of this check) as groups; one without an
        answer is in none (unknown: no answer)."""
        if not numbers:
            return []
        at = self._positions(as_array(numbers))
        codes = np.where(at >= 0, self.codes[np.maximum(at, 0)], NO_ANSWER)
        held = np.array(numbers, dtype=object)
        return [(*self.pairs[code], held[codes == code].tolist())
                for code in set(codes.tolist()) if code != NO_ANSWER]


def positions(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Where each of keys is in sorted_keys (sorted, distinct), -1 for one not
    there: a binary search each, in C."""
    if not len(sorted_keys) or not len(keys):
        return np.full(len(keys), -1, dtype=np.intp)
    at = np.searchsorted(sorted_keys, keys)
    clipped = np.minimum(at, len(sorted_keys) - 1)
    return np.where(sorted_keys[clipped] == keys, clipped, -1)


# Key parts of one level merged into one of the next every so many (KeyParts).
MERGE_EVERY = 16


class KeyParts:
    """Sorted distinct key arrays, merged as they come: MERGE_EVERY parts of one
    level make one of the next (a merge tree), so that a key repeated across
    parts is held once soon and no key is sorted more than a few times (a flat
    fold of everything so far into one part sorted the whole set again each
    time)."""

    def __init__(self):
        self._levels: list[list[np.ndarray]] = []

    def add(self, part: np.ndarray) -> None:
        for level in itertools.count():
            if len(self._levels) == level:
                self._levels.append([])
            self._levels[level].append(part)
            if len(self._levels[level]) < MERGE_EVERY:
                return
            part, self._levels[level] = distinct(self._levels[level]), []

    def merged(self) -> np.ndarray:
        parts = [part for level in self._levels for part in level]
        self._levels = []
        return distinct(parts)


def distinct_keys(pieces: Iterable[np.ndarray]) -> CompactAnswers | None:
    """A first pass's distinct numbers: the keys of each piece (a chunk of rows,
    a batch of cells), merged as they come (KeyParts); None when a piece has a
    number with no key (NotCompact, raised while the pieces are made): the
    caller's whole-column path."""
    parts = KeyParts()
    try:
        for keys in pieces:
            parts.add(distinct([keys]))
    except NotCompact:
        return None
    return CompactAnswers(parts.merged())
