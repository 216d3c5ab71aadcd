"""A check's distinct numbers and their answers, held compactly: for a run of
millions, where a set of str numbers and dicts of answers would cost ~250
bytes a number (issue 25, bounded memory).

The numbers are one sorted numpy array of ASCII bytes (an E.164 number is at
most 16 characters: 16 bytes each, no object per number), in the order
sorted() gives their str form, so chunks cut from it are the chunks a list
would give. Beside each number, the index of its answer among the run's
distinct (value, status) pairs (int32; -1: no answer yet). A face reads the
answers of a slice of its rows back as answer groups (groups_for), which
tgcheck.answer_column joins by number as for any check.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .store.base import AnswerGroup

NO_ANSWER = -1


def as_array(numbers: Iterable[str]) -> np.ndarray:
    """E.164 str numbers as a numpy bytes array (its width the longest one's)."""
    numbers = numbers if isinstance(numbers, list) else list(numbers)
    if not numbers:
        return np.array([], dtype="S1")
    return np.array(numbers, dtype="S")


def as_strs(array: np.ndarray) -> list[str]:
    """as_array's inverse: the numbers as a list of str."""
    return array.astype(str).tolist()


def distinct(parts: Sequence[np.ndarray]) -> np.ndarray:
    """The sorted distinct numbers of several arrays (each may repeat numbers)."""
    if not parts:
        return as_array([])
    return np.unique(np.concatenate(parts))


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
        if not len(self.numbers) or not len(array):
            return np.full(len(array), -1, dtype=np.intp)
        at = np.searchsorted(self.numbers, array)
        clipped = np.minimum(at, len(self.numbers) - 1)
        return np.where(self.numbers[clipped] == array, clipped, -1)

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
            at = self._positions(as_array(group))
            self.codes[at[at >= 0]] = code

    def missing(self, start: int, stop: int) -> np.ndarray:
        """The numbers in [start, stop) that have no answer yet."""
        return self.numbers[start:stop][self.codes[start:stop] == NO_ANSWER]

    def groups_for(self, numbers: list[str]) -> list[AnswerGroup]:
        """The answers of these numbers (of this check) as groups; one without an
        answer is in none (unknown: no answer)."""
        if not numbers:
            return []
        at = self._positions(as_array(numbers))
        codes = np.where(at >= 0, self.codes[np.maximum(at, 0)], NO_ANSWER)
        held = np.array(numbers, dtype=object)
        return [(*self.pairs[code], held[codes == code].tolist())
                for code in np.unique(codes).tolist() if code != NO_ANSWER]
