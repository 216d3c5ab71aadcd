"""Issue 24 item 3 (Excel): TG_CHECK(range, , , "tg_active") spills the task
type's fields as typed columns beside the answers; a recalculation costs no call."""

from __future__ import annotations

import tgcheck_udfs
from conftest import numbers


def days(sandbox, number):
    value = sandbox.expected(number, "tg_active")
    return "" if value in (None, "N/A") else int(value)


def answer(sandbox, number):
    value = sandbox.expected(number, "tg_active")
    return "unknown" if value is None else value


def test_tg_check_spills_the_fields_beside_the_answers(sandbox_env):
    sb = sandbox_env
    nums = numbers(12, start=500)
    column = [[n] for n in nums] + [["junk"]]
    result = tgcheck_udfs.tg_check(column, None, None, "tg_active")
    assert result[:-1] == [[answer(sb, n), days(sb, n) if answer(sb, n) != "unknown" else ""]
                           for n in nums]
    assert result[-1] == ["invalid", ""]
    assert any(isinstance(row[1], int) for row in result)  # a number cell, not text
    # With the reasons: answer, fields, then reason; from the store, no new task.
    again = tgcheck_udfs.tg_check(column, None, True, "tg_active")
    assert [row[:2] for row in again] == result
    assert again[-1][2].startswith("not_a_number")
    assert sb.creates == 1


def test_a_block_spills_each_field_in_its_own_block(sandbox_env):
    sb = sandbox_env
    a, b = numbers(2, start=600)
    result = tgcheck_udfs.tg_check([[a, b]], None, None, [["tg_active"]])
    assert result == [[answer(sb, a), answer(sb, b), days(sb, a), days(sb, b)]]


def test_without_a_task_type_tg_check_is_unchanged(sandbox_env):
    n = numbers(1, start=650)[0]
    assert tgcheck_udfs.tg_check([[n]]) == [[sandbox_env.expected(n) or "unknown"]]


def test_an_unknown_task_type_is_an_error_cell(sandbox_env):
    [[cell]] = tgcheck_udfs.tg_check([[numbers(1, start=660)[0]]], None, None, "tg_nope")
    assert cell.startswith("error: ") and "tg_nope" in cell
    assert sandbox_env.creates == 0


def test_the_macro_writes_the_fields_beside_the_answers(settings, sandbox, monkeypatch):
    from test_excel_macro import MemorySheet

    from tgcheck_udfs.macro import run_check_selection
    from tgcheck_udfs.selection import Selection

    monkeypatch.setenv("TGCHECK_TASK_TYPE", "tg_active")
    nums = numbers(20, start=700)
    cells = {(1, 1): "Numbers"} | {(i + 2, 1): n for i, n in enumerate(nums)}
    cells[(5, 3)] = "keep me"  # where the field would go: a column is inserted instead
    sheet = MemorySheet(cells)
    outcome = run_check_selection(sheet, Selection(1, 21, 1), settings=settings)
    assert "B:C" in outcome.message, outcome.message
    assert sheet.cells[(1, 3)] == "seen_within_days"
    for i, n in enumerate(nums):
        assert sheet.cells.get((i + 2, 2)) == answer(sandbox, n)
        assert sheet.cells.get((i + 2, 3), "") == (days(sandbox, n)
                                                   if answer(sandbox, n) != "unknown" else "")
    assert sheet.cells[(5, 4)] == "keep me"  # shifted right, not overwritten
    assert sandbox.creates == 1  # the fields came from the store
