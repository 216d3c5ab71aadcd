"""A .txt input compared with what was checked before its answers are written
(tables._is_column): as text when it is the checked lines joined, else as lines;
either way the answer is `column() == checked`."""

from __future__ import annotations

import pytest

from tgcheck.tables import _is_column, open_input

CHECKED = ["+41791234567", "+4915123456789", "not a number", "+447400123456"]


@pytest.mark.parametrize("text, checked", [
    ("\n".join(CHECKED) + "\n", CHECKED),
    ("\n".join(CHECKED), CHECKED),  # no last newline
    ("\r\n".join(CHECKED) + "\r\n", CHECKED),  # read with universal newlines
    ("\n".join(CHECKED) + "\n\n  \n", CHECKED),  # trailing blank lines are no inputs
    ("\n".join(CHECKED) + "\n", CHECKED[:-1]),  # a line more now
    ("\n".join(CHECKED[:-1]) + "\n", CHECKED),  # a line fewer
    ("\n".join(CHECKED).replace("567", "568") + "\n", CHECKED),  # edited
    ("+41791234567\n   \n+4915123456789\n", ["+41791234567", "", "+4915123456789"]),
    ("+41791234567\n   \n+4915123456789\n", ["+41791234567", "   ", "+4915123456789"]),
    ("+41791234567\n\n+4915123456789\n", ["+41791234567\n", "+4915123456789"]),
    ("+41791234567\n", ["+41791234567", ""]),  # checked ends blank: column() drops it
    ("+41791234567\n", [41791234567]),  # not text
])
def test_the_text_compare_is_the_line_compare(tmp_path, text, checked):
    source = tmp_path / "in.txt"
    source.write_bytes(text.encode())
    table = open_input(str(source))
    assert _is_column(table, checked) == (table._column() == checked)


def test_the_checked_lines_are_compared_without_splitting_the_file(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(CHECKED) + "\n")
    table = open_input(str(source))

    def no_split():
        raise AssertionError("the file was split into lines")

    table._column = no_split
    assert _is_column(table, CHECKED)
