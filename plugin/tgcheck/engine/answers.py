"""The caller's answers: one per input, in its order, joined by number.

The join itself, and its left-out / no-answer / noted rules, live in one place,
tgcheck.answer_column.AnswerColumn, which check_column() returns and check()
reads rows from. What the engine adds here: answers fetched by a job, as the
groups the store's lookups give; and the store's answers with where each came
from (StoredColumn, `tgcheck cache show`), joined by that same column.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from ..answer_column import AnswerColumn, sent_numbers
from ..reasons import NO_ANSWER_REASON
from ..store import AnswerGroup, StoredAnswer

# What check_column() returns; its former name, kept for callers of it.
ColumnAnswers = AnswerColumn

__all__ = ["AnswerColumn", "ColumnAnswers", "StoredColumn", "sent_numbers", "_groups_of"]


def _groups_of(answers: dict[str, tuple]) -> list[AnswerGroup]:
    """number -> (value, status) as answer groups, one per distinct answer."""
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
