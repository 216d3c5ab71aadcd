"""Engine.stored_answers (`tgcheck cache show`): the store's answers of some inputs,
whatever their age, each with where it came from, joined to the inputs by the
core's answer column (issue 23: the answer join exists once; no face joins)."""

from __future__ import annotations

import contextlib
import sqlite3
import time

from store_helpers import store_answers
from tgcheck.answer_column import ANSWERED_UNKNOWN, AnswerColumn

INPUTS = [
    "+41791234567",  # stored ok
    "+41 79 123 45 67 ext. 5",  # the same number, noted: its answer too
    "hello",  # invalid: answered here, never looked up
    "",  # blank
    "+41791234569",  # stored unknown (left out of its result)
    "+41791234572",  # stored "cannot tell": its stored value kept as it is
    "+41791234570",  # not stored
]


def test_each_input_gets_its_stored_answer_with_its_origin(engine):
    store_answers(engine.store, "tg", [("+41791234567", "yes", "ok"),
                                       ("+41791234569", None, "unknown"),
                                       ("+41791230000", "no", "ok")],  # not asked
                  task_id="task-a", provider="ekycpro")
    store_answers(engine.store, "tg", [("+41791234572", ANSWERED_UNKNOWN, "unknown")],
                  task_id="task-b", provider="other")
    column = engine.stored_answers(INPUTS, task_type="tg", region="CH")
    assert isinstance(column, AnswerColumn)  # the one join, not a face's own
    rows = [(given, number, status, answer and (answer.value, answer.status,
                                                 answer.task_id, answer.provider))
            for given, number, status, answer in column.origins()]
    assert rows == [
        (INPUTS[0], "+41791234567", "ok", ("yes", "ok", "task-a", "ekycpro")),
        (INPUTS[1], "+41791234567", "ok", ("yes", "ok", "task-a", "ekycpro")),
        ("hello", None, "invalid", None),
        ("", None, "blank", None),
        (INPUTS[4], "+41791234569", "unknown", (None, "unknown", "task-a", "ekycpro")),
        (INPUTS[5], "+41791234572", "unknown",
         (ANSWERED_UNKNOWN, "unknown", "task-b", "other")),
        (INPUTS[6], "+41791234570", "unknown", None),
    ]
    first = next(column.origins())[3]
    assert abs(first.checked_at - time.time()) < 3600  # a time, read back from the store


def test_an_answer_of_any_age_is_shown(engine):
    # A check would not reuse it (older than TGCHECK_MAX_AGE_DAYS); cache show tells it.
    store_answers(engine.store, "tg", [("+41791234567", "yes", "ok")])
    with contextlib.closing(sqlite3.connect(engine.store.path)) as db, db:
        db.execute("UPDATE answers SET checked_at = checked_at - ?", (400 * 86400,))
    [(_, _, status, answer)] = engine.stored_answers(["+41791234567"]).origins()
    assert status == "ok" and answer.value == "yes"
    assert answer.checked_at < time.time() - 399 * 86400


def test_another_task_type_s_answers_are_not_shown(engine):
    store_answers(engine.store, "tg", [("+41791234567", "yes", "ok")])
    [(_, number, _, answer)] = engine.stored_answers(["+41791234567"],
                                                     task_type="tg_active").origins()
    assert number == "+41791234567" and answer is None
