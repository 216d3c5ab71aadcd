"""CSV cells Excel would run as a formula get a leading ' (OWASP's rule); numbers and
phone numbers are left as they are (issue 20 item 8)."""

import pytest

from tgcheck.csv_formulas import neutralise

NEUTRALISED = [
    '=HYPERLINK("http://evil.example","click")',
    "=1+1",
    "@SUM(A1:A9)",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "+41 79 123 45 67 =cmd|x",  # a phone number with a formula after it
    "\t=1+1",
    "\r=1+1",
    "=",
    "@",
    "\uff1dHYPERLINK(\"x\")",  # full-width =
    "+A1",
    "-1e5x",
]
UNTOUCHED = [
    "+41 79 123 45 67",
    "+41791234567",
    "+1 (555) 123-4567",
    "-5",
    "+1.5",
    "-1,5",
    "-1.5e3",
    "+2E-7",
    "0041 79 123 45 67",
    "Meier, Anna",
    "a=b",
    "mail@example.com",
    "",
    "yes",
    " =1+1",  # a leading space: Excel takes it for text
]


@pytest.mark.parametrize("cell", NEUTRALISED)
def test_a_cell_excel_would_run_gets_a_leading_quote(cell):
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", UNTOUCHED)
def test_numbers_phone_numbers_and_text_stay_as_they_are(cell):
    assert neutralise(cell) == cell


def test_a_lone_sign_is_left_alone():
    # "-" (a common "none" in a sheet) holds nothing a formula could run.
    assert neutralise("-") == "-" and neutralise("+") == "+"


@pytest.mark.parametrize("value", [5, -5, 1.5, None, True])
def test_values_that_are_not_text_are_never_touched(value):
    assert neutralise(value) is value


def test_rows_are_copied_only_when_a_cell_needs_the_quote():
    from tgcheck.csv_formulas import neutralised

    plain = ["1", "+41791234567", "-5", None, 7]
    risky = ["2", "+41791234567", "=1+1", 7]
    got = list(neutralised(iter([plain, risky])))
    assert got[0] is plain
    assert got[1] == ["2", "+41791234567", "'=1+1", 7]


def test_a_formula_among_thousands_of_safe_rows_is_found_in_any_batch():
    """Rows are searched a batch at a time: the one row that needs the quote gets it,
    wherever it falls, and every other row is handed on as it came."""
    from tgcheck.csv_formulas import BATCH, neutralised

    safe = [["+41 79 828 46 51", "+41798284651", "yes", "ok", None, 7]] * (2 * BATCH + 10)
    for at, cell in ((0, "=HYPERLINK(1)"), (BATCH + 3, "@SUM(A1)"),
                     (2 * BATCH + 9, "+cmd|' /C calc'!A0"),
                     (BATCH - 1, "a\n=cmd|x"), (5, "+41 79\n=cmd|x")):
        rows = [list(r) for r in safe]
        rows[at][4] = cell
        out = list(neutralised(rows))
        changed = [i for i, (a, b) in enumerate(zip(rows, out, strict=True)) if a != b]
        if cell.startswith("a"):  # no trigger first: nothing to quote
            assert changed == [], cell
        else:
            assert changed == [at] and out[at][4] == "'" + cell, cell
        assert all(out[i] is rows[i] for i in range(len(rows)) if i != at)


def test_only_the_columns_named_are_looked_at():
    """The CLI names the columns that can hold someone else's text (the input's own,
    a provider's text fields): a formula there is found, and a column of tgcheck's
    own is never searched."""
    from tgcheck.csv_formulas import neutralised

    rows = [["=cmd|x", "+41798284651", "yes", "@own"]] + [["ok", "+4179", "no", ""]] * 10
    out = list(neutralised(rows, (0,)))
    assert out[0] == ["'=cmd|x", "+41798284651", "yes", "'@own"]  # its row, by the rule
    assert list(neutralised([["a", "=x"]], (0,))) == [["a", "=x"]]  # not a text column
    assert list(neutralised([["a", "=x"]], ())) == [["a", "=x"]]
    assert list(neutralised([["a", "=x"]], (0, 1))) == [["a", "'=x"]]


def test_a_column_of_phone_numbers_is_passed_through_and_a_formula_in_it_is_not():
    """A batch whose cells hold only digits, spaces and separators is number-like as
    a whole; one cell with anything else in it is looked at by the rule."""
    from tgcheck.csv_formulas import BATCH, neutralised

    rows = [["+41 79 828 46 51", "x"], ["-5", "x"], ["(044) 123-45-67", "x"], ["+", "x"],
            ["", "x"]] * BATCH
    out = list(neutralised(rows, (0,)))
    assert all(a is b for a, b in zip(rows, out, strict=True))
    for cell in ("+41 79\r=cmd|x", "\t=cmd|x", "-1+cmd|x", "+41798284651\u00a0=x"):
        risky = [*rows[:7], [cell, "x"]]
        got = list(neutralised(risky, (0,)))
        assert got[:7] == risky[:7] and got[7] == [neutralise(cell), "x"], cell
