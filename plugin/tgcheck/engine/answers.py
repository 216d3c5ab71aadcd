"""The caller's answers: one per input, in its order, joined by number.

What a check found for each value (resolve_all's E.164 string or problem) and
the answers stored or fetched, as answer groups, become an Answer per value
here (check), or are handed over as they are (check_column, ColumnAnswers).
"""

from __future__ import annotations

import contextlib
import gc
from typing import NamedTuple

from ..models import OK, UNKNOWN, Answer
from ..reasons import LEFT_OUT_REASON, NO_ANSWER_REASON
from ..store import AnswerGroup


class _Column(NamedTuple):
    """What check_column() returns: answers grouped to be joined by number."""

    found: list  # per value: its E.164 str, or its Normalised (invalid or blank)
    # (value, status, numbers): each answered number is in one group. A number
    # in none has no answer (unknown). A group may hold numbers not asked for:
    # a lookup of a large part of the store scans it all.
    groups: list[AnswerGroup]


class ColumnAnswers(_Column):
    """(found, groups), and `fields`: number -> the typed fields of each ok answer,
    for a task type that declares fields (Engine.fields_of); None when it declares
    none. An attribute, not a third item: callers unpack `found, groups = ...`."""

    def __new__(cls, found: list, groups: list[AnswerGroup],
                fields: dict[str, dict] | None = None):
        self = super().__new__(cls, found, groups)
        self.fields = fields
        return self


def _by_number(groups: list[AnswerGroup], wanted: set[str]) -> dict[str, tuple]:
    """number -> (value, status) of the wanted numbers, from answer groups."""
    # A lookup that scanned the store brings numbers not asked for: leave them out
    # rather than hold a dict up to SCAN_SHARE times larger than needed.
    extra = sum(len(group) for _, _, group in groups) > len(wanted)
    known: dict[str, tuple] = {}
    for value, status, group in groups:
        known.update(dict.fromkeys(wanted.intersection(group) if extra else group,
                                   (value, status)))
    return known


def _groups_of(answers: dict[str, tuple]) -> list[AnswerGroup]:
    """number -> (value, status) as answer groups, one per distinct answer."""
    by_answer: dict[tuple, list[str]] = {}
    for number, pair in answers.items():
        by_answer.setdefault(pair, []).append(number)
    return [(value, status, group) for (value, status), group in by_answer.items()]


_new = tuple.__new__  # builds an Answer without its Python-level __new__: once per cell
_LEFT_OUT = LEFT_OUT_REASON
_NO_ANSWER = NO_ANSWER_REASON


@contextlib.contextmanager
def _collector_paused():
    """Python's cyclic collector paused while a million Answers are built.

    Each allocation of a tuple counts towards a collection, and the older
    generations' passes walk every object made so far: about half the time of
    building the answers. Building tuples of existing objects makes no cycle
    for it to find. The pause is process-wide, for well under a second.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _answers(values: list, found: list, known: dict,
             fields: dict | None = None) -> list[Answer]:
    with _collector_paused():
        return _build_answers(values, found, known, fields)


def _build_answers(values: list, found: list, known: dict,
                   fields: dict | None = None) -> list[Answer]:
    """fields: number -> typed fields of each ok answer, for a task type that
    declares fields (None: it declares none, and every Answer.fields is None)."""
    out = []
    append = out.append
    for value, f in zip(values, found, strict=True):
        note = None
        if type(f) is not str:
            if f.status != OK:
                append(_new(Answer, (value, None, None, f.status, f.reason, None)))
                continue
            f, note = f.number, f.reason  # ok, with a note (an extension removed)
        pair = known.get(f)
        if pair is None:
            append(_new(Answer, (value, f, None, UNKNOWN, _NO_ANSWER, None)))
        elif pair[1] == OK:
            append(_new(Answer, (value, f, pair[0], OK, note,
                                 None if fields is None else fields.get(f))))
        else:
            append(_new(Answer, (value, f, None, pair[1], _LEFT_OUT, None)))
    return out


def sent_numbers(found: list) -> list[str]:
    """The E.164 numbers of resolve_all's answer (ok values, noted ones too), in order."""
    return [f if type(f) is str else f.number for f in found
            if type(f) is str or f.status == OK]
