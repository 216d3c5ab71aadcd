"""The caller's answers: one per input, in its order, joined by number.

The join itself, and its left-out / no-answer / noted rules, live in one place,
tgcheck.answer_column.AnswerColumn, which check_column() returns and check()
reads rows from. What the engine adds here: answers fetched by a job, as the
groups the store's lookups give.
"""

from __future__ import annotations

from ..answer_column import AnswerColumn, sent_numbers
from ..store import AnswerGroup

# What check_column() returns; its former name, kept for callers of it.
ColumnAnswers = AnswerColumn

__all__ = ["AnswerColumn", "ColumnAnswers", "sent_numbers", "_groups_of"]


def _groups_of(answers: dict[str, tuple]) -> list[AnswerGroup]:
    """number -> (value, status) as answer groups, one per distinct answer."""
    by_answer: dict[tuple, list[str]] = {}
    for number, pair in answers.items():
        by_answer.setdefault(pair, []).append(number)
    return [(value, status, group) for (value, status), group in by_answer.items()]
