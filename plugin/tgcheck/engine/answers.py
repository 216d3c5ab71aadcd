"""The caller's answers: one per input, in its order, joined by number.

The join itself, and its left-out / no-answer / noted rules, live in one place,
tgcheck.answer_column.AnswerColumn, which check_column() returns and check()
reads rows from. What the engine adds here: answers fetched by a job, as the
groups the store's lookups give; and the store's answers with where each came
from (StoredColumn, `tgcheck cache show`), joined by that same column.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence

from ..answer_column import AnswerColumn, sent_numbers
from ..reasons import NO_ANSWER_REASON
from ..store import AnswerGroup, StoredAnswer

# What check_column() returns; its former name, kept for callers of it.
ColumnAnswers = AnswerColumn

__all__ = ["AnswerColumn", "ColumnAnswers", "GroupedAnswers", "StoredColumn", "sent_numbers",
           "_groups_of"]


class GroupedAnswers(Mapping):
    """A job's answers, number -> (value, status), held as the groups the driver
    found them in ((value, status) -> numbers): the engine hands groups on
    (_groups_of), so no dict of 100,000 numbers is built to be grouped again;
    one is built, once, only when a number is looked up."""

    __slots__ = ("groups", "_index")

    def __init__(self, groups: dict[tuple, list[str]]):
        self.groups = groups
        self._index: dict[str, tuple] | None = None

    def _by_number(self) -> dict[str, tuple]:
        index = self._index
        if index is None:
            index = {}
            for pair, numbers in self.groups.items():
                index.update(zip(numbers, itertools.repeat(pair), strict=False))
            self._index = index  # built whole first: another thread may read it
        return index

    def __getitem__(self, number: str) -> tuple:
        return self._by_number()[number]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_number())

    def __len__(self) -> int:
        return len(self._by_number())

    def __repr__(self) -> str:
        return f"<GroupedAnswers of {sum(map(len, self.groups.values()))} numbers>"


def _groups_of(answers: Mapping[str, tuple]) -> list[AnswerGroup]:
    """number -> (value, status) as answer groups, one per distinct answer."""
    if isinstance(answers, GroupedAnswers):
        return [(value, status, numbers) for (value, status), numbers in answers.groups.items()]
    by_answer: dict[tuple, list[str]] = {}
    for number, pair in answers.items():
        by_answer.setdefault(pair, []).append(number)
    return [(value, status, group) for (value, status), group in by_answer.items()]


class StoredColumn(AnswerColumn):
    """An AnswerColumn of the answers the store holds, whatever their age, each
    with its stored row (provider, task id, checked_at): what Engine.stored_answers
    returns. Its inputs are joined to them by AnswerColumn's join, not again."""

    __slots__ = ("stored",)

    def __init__(self, inputs: Sequence[object], found: list,
                 stored: Mapping[str, StoredAnswer]):
        super().__init__(inputs, found,
                         _groups_of({n: (a.value, a.status) for n, a in stored.items()}))
        self.stored = stored

    def origins(self) -> Iterator[tuple[object, str | None, str, StoredAnswer | None]]:
        """Per input (input, number, status, its stored answer): number None and the
        local status (invalid, blank) for an input answered here, never sent; the
        stored answer None for a number the store has none for."""
        stored = self.stored
        for given, number, _, status, reason in self.input_cells(None):
            answered = number is not None and reason != NO_ANSWER_REASON
            yield given, number, status, stored[number] if answered else None
