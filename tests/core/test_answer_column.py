"""The one answer join (tgcheck.answer_column): each accessor a face reads (Answer
rows, text cells, columns, Arrow) says the same for every kind of input."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tgcheck.answer_column import (
    ANSWERED_UNKNOWN,
    AnswerColumn,
    group_codes,
    outcome,
    sent_numbers,
)
from tgcheck.compact_answers import CompactAnswers, as_array, distinct
from tgcheck.fields import INTEGER, Field
from tgcheck.normalize import resolve_all
from tgcheck.reasons import code_of

INPUTS = [
    "+41791234567",  # ok
    "+41 79 123 45 68 ext. 5",  # ok, with a note
    "hello",  # invalid
    "",  # blank
    "+41791234569",  # left out of its result
    "+41791234572",  # answered "cannot tell"
    "+41791234570",  # in no group: no answer
    "+41791234567",  # twice
]
GROUPS = [
    ("yes", "ok", ["+41791234567", "+41791234568", "+41791230000"]),  # last: not asked
    (None, "unknown", ["+41791234569", "+41791230001"]),
    (ANSWERED_UNKNOWN, "unknown", ["+41791234572"]),
    ("no", "ok", ["+41791230002", "+41791230003", "+41791230004", "+41791230005",
                  "+41791230006", "+41791230007"]),  # more than asked: a store scan
]
EXPECTED = [  # number, value, status, reason's code
    ("+41791234567", "yes", "ok", None),
    ("+41791234568", "yes", "ok", "extension_removed"),
    (None, None, "invalid", "not_a_number"),
    (None, None, "blank", "blank"),
    ("+41791234569", None, "unknown", "left_out"),
    ("+41791234572", None, "unknown", "answered_unknown"),
    ("+41791234570", None, "unknown", "no_answer"),
    ("+41791234567", "yes", "ok", None),
]


@pytest.fixture(params=["scan", "exact"])
def column(request):
    groups = GROUPS if request.param == "scan" else GROUPS[:3]
    return AnswerColumn(INPUTS, resolve_all(INPUTS), groups)


def test_every_accessor_gives_the_same_answers(column):
    rows = [(a.number, a.value, a.status, code_of(a.reason)) for a in column.rows()]
    assert rows == EXPECTED
    assert [a.input for a in column.rows()] == INPUTS
    assert list(zip(column.numbers(), column.values(), column.statuses(),
                    map(code_of, column.reasons()), strict=True)) == EXPECTED
    assert [(n, v, s, code_of(r)) for n, v, s, r in column.cells(None)] == EXPECTED
    # Text cells: "" where there is none, the rest as they are.
    assert [tuple(c or None for c in cell[:3]) + (code_of(cell[3] or None),)
            for cell in column.cells("")] == EXPECTED
    assert all(c is not None for cell in column.cells("") for c in cell)
    arrow = column.to_arrow().to_pylist()
    assert [(r["number"], r["value"], r["status"], code_of(r["reason"]))
            for r in arrow] == EXPECTED
    assert [r["reason"] for r in arrow] == column.reasons()


def test_fields_belong_to_ok_answers_only():
    field = Field("days", INTEGER)
    values = ["+41791234567", "+41791234569", "x"]
    column = AnswerColumn(values, resolve_all(values), GROUPS[:2],
                          {"+41791234567": {"days": 7}})
    assert column.fields() == [{"days": 7}, None, None]
    assert [a.fields for a in column.rows()] == [{"days": 7}, None, None]
    assert [r["field_days"] for r in column.to_arrow((field,), {INTEGER: _int64()}
                                                     ).to_pylist()] == [7, None, None]
    assert AnswerColumn(values, resolve_all(values), GROUPS[:2]).fields() == [None] * 3


def test_a_column_of_valid_numbers_and_an_empty_one():
    values = ["+41791234567", "+41791234570"]
    column = AnswerColumn(values, resolve_all(values), [])
    assert column.statuses() == ["unknown", "unknown"]
    assert [code_of(r) for r in column.reasons()] == ["no_answer", "no_answer"]
    assert column.to_arrow().to_pylist()[0]["status"] == "unknown"
    empty = AnswerColumn([], [], [])
    assert empty.rows() == [] and list(empty.cells()) == [] and len(empty.to_arrow()) == 0


def test_the_join_given_as_codes_gives_the_cells_the_groups_give():
    # The engine's planning joins a check's numbers to the store's groups once
    # (group_codes: each number's group, -1 for none) and hands the codes over:
    # the cells and the counts are those of the join by number, duplicates, a
    # number in no group and a group's numbers not asked for (a range read's)
    # included.
    valid = ["+41791234567", "+41791234569", "+41791234572", "+41791234570",
             "+41791234567"]
    assert group_codes(valid, GROUPS) == [0, 1, 2, -1, 0]
    assert group_codes(valid, []) == [-1] * 5
    by_number = AnswerColumn(valid, valid, GROUPS)
    by_code = AnswerColumn(valid, valid, GROUPS, codes=group_codes(valid, GROUPS))
    for empty in ("", None):
        counted, coded = collections.Counter(), collections.Counter()
        assert (list(by_code.input_cells(empty, coded))
                == list(by_number.input_cells(empty, counted)))
        assert coded == counted == {"ok": 2, "unknown": 3}
    assert by_code.statuses() == by_number.statuses()
    assert by_code.rows() == by_number.rows()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.integers(0, 40), max_size=30), max_size=8),
       st.lists(st.integers(0, 45), max_size=60))
def test_group_codes_is_the_join_by_number(members, asked):
    # Whatever the groups' sizes (a yes/no type's two large ones are looked up as
    # sets, many small ones as one dict, both in one join), each number gets the
    # group that holds it (each number in one group at most, as the store keeps
    # one answer a number) and -1 where none does: duplicates, numbers in no
    # group and a group's numbers not asked for included.
    numbers = [f"+4179{n:07d}" for n in asked]
    held, groups = set(), []
    for i, group in enumerate(members):
        mine = [f"+4179{n:07d}" for n in dict.fromkeys(group) if n not in held]
        held.update(int(number[5:]) for number in mine)
        groups.append((f"value {i}", "ok", mine))
    expected = {number: i for i, (_, _, group) in enumerate(groups) for number in group}
    assert group_codes(numbers, groups) == [expected.get(n, -1) for n in numbers]
    assert group_codes(tuple(numbers), tuple(groups)) == group_codes(numbers, groups)


def test_group_codes_takes_large_groups_as_sets_and_the_rest_as_one_dict():
    # Two large groups and a tail of small ones (a yes/no type's answers and a few
    # unknowns), the numbers in random order: the sets and the dict each answer
    # their part, in place.
    import random

    numbers = [f"+4179{n:07d}" for n in range(1000)]
    groups = [("yes", "ok", numbers[:600]), ("no", "ok", numbers[600:950]),
              *((None, "unknown", [number]) for number in numbers[950:990])]
    asked = numbers + [f"+4179{n:07d}" for n in range(1000, 1010)]  # in no group
    random.Random(7).shuffle(asked)
    for given_groups in (groups, groups[2:], groups[1:]):
        expected = {number: i for i, (_, _, group) in enumerate(given_groups)
                    for number in group}
        assert (group_codes(asked, given_groups)
                == [expected.get(number, -1) for number in asked])


def _int64():
    import pyarrow as pa

    return pa.int64()


def _coded(found: list, groups: list) -> tuple[CompactAnswers, object]:
    """The answers held compactly (as the SQL face holds them) and each sent
    number's code."""
    sent = sent_numbers(found)
    answers = CompactAnswers(distinct([as_array(sent)]))
    answers.record(groups)
    return answers, answers.codes_of(as_array(sent))


def test_answers_given_by_code_join_as_groups_do():
    found = resolve_all(INPUTS, "CH")
    column = AnswerColumn(INPUTS, found, GROUPS)
    answers, codes = _coded(found, GROUPS)
    numbers, local_status, local_reason = AnswerColumn(INPUTS, found, []).arrow_inputs()
    coded = AnswerColumn.numbers_to_arrow(numbers, codes, answers.pairs,
                                          local_status, local_reason)
    assert coded.to_pylist() == column.to_arrow().to_pylist()
    # The same answers given as shown (outcome() of each pair), as the SQL face's
    # memo keeps them, join the same way.
    per_input = np.full(len(numbers), -1, np.int32)
    per_input[numbers.is_valid().to_numpy(zero_copy_only=False)] = codes
    shown = AnswerColumn.outcomes_to_arrow(numbers, per_input,
                                           [outcome(*pair) for pair in answers.pairs],
                                           local_status, local_reason)
    assert shown.to_pylist() == coded.to_pylist()
    assert coded.type == column.to_arrow().type


def test_answers_given_by_code_none_answered_and_numbers_given():
    import pyarrow as pa

    valid = ["+41791234567", "+41791234568", "+41791234567"]
    answers, codes = _coded(resolve_all(valid), [])
    own = pa.array(valid, pa.string())
    coded = AnswerColumn.numbers_to_arrow(own, codes, answers.pairs)
    assert coded.field("number").buffers()[2].address == own.buffers()[2].address
    assert [(r["status"], code_of(r["reason"])) for r in coded.to_pylist()] == [
        ("unknown", "no_answer")] * 3
    assert coded.to_pylist() == AnswerColumn(valid, valid, []).to_arrow().to_pylist()
    empty = CompactAnswers(as_array([]))
    assert empty.codes_of(as_array(valid)).tolist() == [-1] * 3


def test_numbers_to_arrow_joins_as_to_arrow_does():
    import pyarrow as pa

    valid = ["+41791234567", "+41791234569", "+41791234572", "+41791234570"]
    column = AnswerColumn(valid, valid, GROUPS)
    answers, codes = _coded(valid, GROUPS)
    coded = AnswerColumn.numbers_to_arrow(pa.array(valid), codes, answers.pairs)
    assert coded.to_pylist() == column.to_arrow().to_pylist()
