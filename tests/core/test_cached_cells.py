"""A column written as E.164 is looked up as it stands before it is normalised
(engine/planning.py, Planning._known): the cells the store answers are not read
again; every other cell is read as always, so an invalid one is still answered
locally and never sent, with the same reason."""

import dataclasses
import time

import pytest

import tgcheck
from conftest import numbers
from tgcheck.normalize import all_e164_form, normalise
from tgcheck.reasons import code_of

# The number the tests store an older phonenumbers release's answer under: one
# today's release calls invalid ("no such number in +1 (US)").
NOW_INVALID = "+10000000000"


def sent(sandbox) -> list[str]:
    return sorted(n for task in sandbox.tasks.values() for n in task.numbers)


def test_the_form_test_takes_plus_and_digits_only_with_no_zero_after_the_plus():
    assert all_e164_form(["+41798284651", "+4915123456789", "+1"])
    for column in (["+41798284651", "+0412345678"], ["+41798284651", "+41 79 828 46 51"],
                   ["+41798284651", "41798284651"], ["+41798284651", "++41798284651"],
                   ["+41798284651", "+4179828465\n1"], ["+41798284651", None],
                   ["+41798284651", "+４１"], [], ("+41798284651",),
                   ["4+1798284651", "+41798284651"], ["+41798284651", "4179+8284651"],
                   ["+41798284651", "", "+41798284651"], ["+41798284651", 41798284651]):
        assert not all_e164_form(column), column


def test_cells_the_store_lacks_are_read_as_always_and_invalid_ones_never_sent(
        engine, sandbox):
    stored = [*numbers(10), "+33612345678"]
    engine.check(stored)
    assert sent(sandbox) == sorted(stored)
    new = numbers(5, start=100)
    # All "+" and digits: invalid ones, one written with the trunk 0 after the
    # calling code (read as a stored number), new ones.
    odd = ["+10000000000", "+999123456789", "+4179", "+", "+330612345678"]
    column = [*stored, *odd, *new, stored[0]]
    assert all_e164_form(column)
    answers = engine.check_column(column)
    # Only the new valid numbers were sent, in one more task.
    assert sent(sandbox) == sorted([*stored, *new])
    assert sandbox.creates == 2
    cells = list(answers.cells(None))
    for cell, (number, value, status, reason) in zip(column, cells, strict=True):
        reading = normalise(cell)
        assert number == reading.number, cell
        if reading.status != "ok":  # answered here, the normaliser's reason
            assert (value, status, reason) == (None, reading.status, reading.reason), cell
        else:  # the provider's answer (the sandbox leaves some numbers out)
            assert status in ("ok", "unknown") and (status == "ok") == (reason is None), cell
    assert cells[len(stored) + 4][1] == cells[len(stored) - 1][1]  # "+3306..." as "+336..."
    # A re-run reads the same, and sends nothing.
    again = engine.check_column(column)
    assert list(again.cells(None)) == cells and sandbox.creates == 2


def test_a_first_check_of_such_a_column_with_an_invalid_cell_reads_it_locally(
        engine, sandbox):
    # The store answers none of the cells (a first run): every cell is read, the
    # invalid ones answered here with the normaliser's reason, the rest sent.
    valid = numbers(4, start=200)
    column = [valid[0], "+4179", *valid[1:], "+41791234567" + "9" * 2000]
    assert all_e164_form(column)
    cells = list(engine.check_column(column).cells(None))
    assert sent(sandbox) == sorted(valid) and sandbox.creates == 1
    for cell, (number, value, status, reason) in zip(column, cells, strict=True):
        reading = normalise(cell)
        if reading.status != "ok":
            assert (number, value, status, reason) == (
                reading.number, None, reading.status, reading.reason), cell
        else:
            assert number == cell and status in ("ok", "unknown"), cell


def test_a_column_of_a_str_subclass_is_read_as_before(engine, sandbox):
    # numpy.str_ (a pandas column's values) sorts among str but is not taken as
    # written E.164: the column is read cell by cell, as it always was.
    np = pytest.importorskip("numpy")
    stored = numbers(4, start=300)
    engine.check(stored)
    column = [stored[0], np.str_(stored[1]), "+4179", stored[3]]
    assert not all_e164_form(column)
    cells = list(engine.check_column(column).cells(None))
    assert [c[0] for c in cells] == [stored[0], stored[1], normalise("+4179").number,
                                     stored[3]]
    assert cells[2][2] == normalise("+4179").status and sandbox.creates == 1


def test_a_cached_column_is_answered_as_a_read_one_would_be(engine, sandbox):
    column = [*numbers(20), *numbers(5)]  # duplicates too
    first = list(engine.check_column(column).cells(None))
    again = engine.check_column(column)
    assert list(again.cells(None)) == first
    assert again.found == column and sandbox.creates == 1


def test_an_unknown_region_is_refused_on_a_cached_column_too(engine, sandbox):
    engine.check(numbers(10))
    with pytest.raises(tgcheck.RegionError):
        engine.check_column(numbers(10), region="Narnia")
    # A known region changes nothing for international cells.
    assert engine.check_column(numbers(10), region="GB").found == numbers(10)
    assert sandbox.creates == 1


def test_a_per_row_region_that_names_none_still_notes_a_cached_number(engine, sandbox):
    engine.check(numbers(10))
    answers = engine.check_column(numbers(2), region=["Narnia", "CH"]).rows()
    assert code_of(answers[0].reason) == "region_ignored"
    assert answers[1].reason is None and answers[1].status == "ok"
    assert sandbox.creates == 1


def test_an_answer_stored_for_a_number_now_invalid_stands_until_it_expires(
        engine, settings, sandbox):
    """An answer stored while an older phonenumbers release called its number
    valid: the cell written as that number is answered from the store (it was
    validated before it was sent; nothing is sent either way) until the answer
    expires; then it is read by today's rules: invalid, answered locally, never
    sent (docs/numbers.md)."""
    column = numbers(10)
    engine.check(column)
    old = column[3]
    with engine.store._tx() as db:  # what the older release stored
        db.execute("UPDATE answers SET number = ? WHERE number = ?", (NOW_INVALID, old))
    assert normalise(NOW_INVALID).status == "invalid"
    column[3] = NOW_INVALID
    answers = engine.check_column(column).rows()
    assert (answers[3].number, answers[3].status) == (NOW_INVALID, "ok")
    assert answers[3].value is not None and sandbox.creates == 1
    with engine.store._tx() as db:
        db.execute("UPDATE answers SET checked_at = ? WHERE number = ?",
                   (time.time() - 31 * 86400, NOW_INVALID))
    expired = tgcheck.Engine(dataclasses.replace(settings, max_age_days=30))
    try:
        answers = expired.check_column(column).rows()
    finally:
        expired.close()
    assert (answers[3].number, answers[3].status) == (None, "invalid")
    assert code_of(answers[3].reason) == "invalid_number"
    assert sandbox.creates == 1 and NOW_INVALID not in sent(sandbox)


def test_a_re_run_on_the_corpus_output_answers_as_reading_every_cell(engine, sandbox):
    """tests/data/crm_mixed.csv checked with its countries, then its output's
    numbers (written as E.164: looked up as they stand) with E.164-written
    invalid cells: the same cells as reading every cell gives (a per-row region
    of none reads them all), and nothing more is sent."""
    import csv

    from paths import ROOT

    with open(ROOT / "tests" / "data" / "crm_mixed.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    checked = engine.check_column([r["phone"] for r in rows],
                                  region=[r["country"] for r in rows])
    creates = sandbox.creates
    column = [n for n in checked.numbers() if n] + ["+10000000000", "+4179", "+999123456789"]
    assert all_e164_form(column)
    looked_up = list(engine.check_column(column).cells(None))
    read = list(engine.check_column(column, region=[None] * len(column)).cells(None))
    assert looked_up == read
    # The first run's answers (its notes were about the cells then: an extension).
    by_number = {number: (value, status) for number, value, status, _ in checked.cells(None)
                 if number}
    assert [by_number[c[0]] for c in looked_up[:-3]] == [c[1:3] for c in looked_up[:-3]]
    assert sandbox.creates == creates


def test_a_first_check_joins_the_answers_just_paid_for_to_each_row(
        engine, sandbox, monkeypatch):
    # Every cell a valid number as it stands, in no order, some twice: the answers
    # of the task just paid for are joined to the rows as a re-run reads them
    # from the store: each row its own number's answer, a number the result left
    # out unknown, never "no". The column makes that join (group_codes) once,
    # when its cells are first read; its rows (check()'s Answers) do not need it.
    import random

    from tgcheck import answer_column

    made = []
    group_codes = answer_column.group_codes
    monkeypatch.setattr(answer_column, "group_codes",
                        lambda numbers, groups: made.append(len(numbers))
                        or group_codes(numbers, groups))
    column = numbers(300, start=500)
    column += column[:40]
    random.Random(3).shuffle(column)
    answers = engine.check_column(column)
    assert sandbox.creates == 1 and made == []
    cells = list(answers.cells(None))
    assert list(answers.cells(None)) == cells and made == [340]
    for cell, (number, value, status, reason) in zip(column, cells, strict=True):
        truth = sandbox.expected(cell)
        assert number == cell
        if truth is None:  # left out of the result: unknown, with its reason
            assert (value, status, code_of(reason)) == (None, "unknown", "left_out"), cell
        else:
            assert (value, status, reason) == (truth, "ok", None), cell
    assert {value for _, value, _, _ in cells} >= {"yes", "no", None}
    assert [a[1:5] for a in answers.rows()] == cells and made == [340]
    again = engine.check_column(column)
    assert list(again.cells(None)) == cells and sandbox.creates == 1
