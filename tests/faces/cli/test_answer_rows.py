"""The CLI's output rows straight from check_column's answer column (no Answer per
row): each row holds what Engine.check's Answer for it holds, cell for cell."""

import collections

import pytest

from tgcheck.answer_column import AnswerColumn
from tgcheck.errors import InputError
from tgcheck.normalize import resolve_all
from tgcheck.tables import InputChanged, answer_rows, open_input

LINES = [
    "+41791234567",  # stored ok
    "+41 79 123 45 68 ext. 5",  # ok with a note, stored ok
    "hello",  # invalid
    "",  # blank
    "+41791234569",  # stored, left out of its result file
    "+41791234570",  # in no group: no answer
    "+41 79 123 45 71 ext. 6",  # a note, but no answer
    "+41791234567",  # twice
]
GROUPS = [
    ("yes", "ok", ["+41791234567", "+41791234568", "+41791230000"]),  # last: not asked
    (None, "unknown", ["+41791234569", "+41791230001"]),
    ("no", "ok", ["+41791230002", "+41791230003", "+41791230004", "+41791230005"]),
]


def _table(tmp_path, lines):
    path = tmp_path / "in.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return open_input(str(path))


def _engine_rows(values, found, groups):
    return [[a.input, a.number or "", a.value or "", a.status, a.reason or ""]
            for a in AnswerColumn(values, found, groups).rows()]


@pytest.mark.parametrize("groups", [GROUPS, GROUPS[:2]], ids=["scan", "exact"])
def test_rows_hold_what_engine_check_answers(tmp_path, groups):
    table = _table(tmp_path, LINES)
    values = list(table.numbers())
    found = resolve_all(values)
    counts = collections.Counter()
    rows = [list(r) for r in answer_rows(table, values, AnswerColumn(values, found, groups),
                                         counts)]
    assert rows == _engine_rows(values, found, groups)
    assert rows[1][3:] == ["ok", "extension_removed: extension 5 removed; the main "
                                 "number is sent"]
    assert [r[3] for r in rows] == ["ok", "ok", "invalid", "blank", "unknown", "unknown",
                                    "unknown", "ok"]
    assert counts == {"ok": 3, "unknown": 3, "invalid": 1, "blank": 1}
    table.close()


@pytest.mark.parametrize("groups", [GROUPS, GROUPS[:2], []], ids=["scan", "exact", "none"])
def test_a_column_of_valid_numbers_gives_the_same_rows(tmp_path, groups):
    # Every value a valid E.164 string, the input a .txt: rows put together in C.
    lines = [x for x in LINES if x.startswith("+41") and " " not in x]
    table = _table(tmp_path, lines)
    values = list(table.numbers())
    found = resolve_all(values)
    counts = collections.Counter()
    column = AnswerColumn(values, found, groups)
    rows = [list(r) for r in answer_rows(table, values, column, counts)]
    assert rows == _engine_rows(values, found, groups)
    assert counts == collections.Counter(r[3] for r in rows)
    table.close()


def test_rows_stop_at_a_changed_input(tmp_path):
    table = _table(tmp_path, LINES)
    values = list(table.numbers())
    found = resolve_all(values)
    (tmp_path / "in.txt").write_text("\n".join(["+41791234567", "+41791234599"]) + "\n",
                                     encoding="utf-8")
    with pytest.raises(InputChanged, match="row 2 now holds '\\+41791234599'"):
        list(answer_rows(table, values, AnswerColumn(values, found, GROUPS), collections.Counter()))
    table.close()


def test_a_text_file_is_read_whole_with_the_line_by_line_rules(tmp_path):
    # CRLF and lone CR end lines; a blank (or spaces-only) line between numbers is
    # an input (""); trailing blank lines are not; the last line may lack its \n.
    path = tmp_path / "in.txt"
    path.write_bytes(b"+41791234567\r\n \t\r\n+41791234568\r+41 79 123 45 69\n\n  \n"
                     b"+41791234570")
    table = open_input(str(path))
    expected = ["+41791234567", "", "+41791234568", "+41 79 123 45 69", "", "",
                "+41791234570"]
    assert list(table.numbers()) == expected
    assert list(table.rows()) == [[x] for x in expected]
    found = resolve_all(expected)
    column = AnswerColumn(expected, found, [])
    rows = list(answer_rows(table, expected, column, collections.Counter()))
    assert [r[0] for r in rows] == expected and rows[3][1] == "+41791234569"
    path.write_bytes(b"+41791234567\n\n\n")
    assert list(open_input(str(path)).numbers()) == ["+41791234567"]
    path.write_bytes(b" \n\r\n")
    with pytest.raises(InputError, match="is empty"):
        open_input(str(path))
