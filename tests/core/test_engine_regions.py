"""The Python face on mixed-country numbers (issue 13): region per value, reasons."""

import pytest

import tgcheck
from tgcheck.reasons import code_of


def test_check_takes_one_region_per_number(settings, sandbox):
    numbers = ["07911 123456", "0612345678", "0612345678", "+41798284651", "091346 19916",
               None, "+10000000000"]
    regions = ["UK", "France", "Narnia", None, "IN", "GB", "US"]
    answers = tgcheck.check(numbers, region=regions, settings=settings)
    assert [a.number for a in answers] == [
        "+447911123456", "+33612345678", None, "+41798284651", "+919134619916", None, None]
    assert [a.status for a in answers][2:] == [
        "invalid", answers[3].status, answers[4].status, "blank", "invalid"]
    assert answers[2].reason.startswith("unknown_region: unknown region 'Narnia'")
    assert code_of(answers[6].reason) == "invalid_number"
    sent = {n for task in sandbox.tasks.values() for n in task.numbers}
    assert sent == {"+447911123456", "+33612345678", "+41798284651", "+919134619916"}
    assert sandbox.billed["create"] == 1


def test_a_region_per_number_must_match_the_numbers(settings):
    with pytest.raises(tgcheck.InputError, match="2 regions for 3 numbers"):
        tgcheck.check(["1", "2", "3"], region=["GB", "FR"], settings=settings)


def test_answer_reason_is_filled_for_every_row_not_ok_and_for_changes(settings, sandbox):
    answers = tgcheck.check(["+44 7911 123456 x12", "junk", "", "+41798284651"],
                            settings=settings)
    assert code_of(answers[0].reason) == "extension_removed" or answers[0].status == "unknown"
    assert answers[0].number == "+447911123456"
    assert code_of(answers[1].reason) == "not_a_number"
    assert code_of(answers[2].reason) == "blank"
    assert (answers[3].reason is None) == (answers[3].status == "ok")


def test_plan_counts_reasons_with_examples(settings):
    engine = tgcheck.Engine(settings)
    plan = engine.plan(["07911 123456", "07911 123456", "x", "+10000000000"],
                       region=[None, "GB", "GB", "GB"])
    assert plan["valid"] == 1 and plan["invalid"] == 3
    assert plan["reasons"] == {
        "no_region": {"count": 1, "examples": ["07911 123456"]},
        "not_a_number": {"count": 1, "examples": ["x"]},
        "invalid_number": {"count": 1, "examples": ["+10000000000"]},
    }


def test_check_column_reads_per_row_regions(settings, sandbox):
    engine = tgcheck.Engine(settings)
    found = engine.check_column(["07911 123456", "07911 123456"], region=["GB", None]).found
    assert found[0] == "+447911123456" and found[1].status == "invalid"
