"""tgcheck.unchanged: the one "input changed while it was being checked" test that
the CLI (tables) and the Excel macro make before writing answers by position."""

from __future__ import annotations

import pytest

from tgcheck.unchanged import NO_ROW, Changed, paired, same_cell, unchanged


def test_same_cell_takes_nan_and_empty_cells_as_equal():
    nan = float("nan")
    assert same_cell(nan, nan) and same_cell(None, "") and same_cell(" ", None)
    assert same_cell("+41791234567", "+41791234567")
    assert not same_cell("+41791234567", "+41791234568")
    assert not same_cell("", "+41791234567") and not same_cell(nan, 1.0)


@pytest.mark.parametrize("now, row, found, checked", [
    (["a", "x", "c"], 2, "x", "b"),  # edited
    (["a", "b"], 3, NO_ROW, "c"),  # shorter
    (["a", "b", "c", "d"], 4, "d", NO_ROW),  # longer
])
def test_paired_stops_at_the_first_change(now, row, found, checked):
    seen = []
    with pytest.raises(Changed) as caught:
        for pair in paired(now, ["a", "b", "c"]):
            seen.append(pair)
    assert (caught.value.row, caught.value.found, caught.value.checked) == (row, found, checked)
    assert seen == [(x, x) for x in ["a", "b", "c"][:min(row - 1, 3)]]


def test_paired_compares_the_chosen_cells_and_unchanged_says_yes_or_no():
    rows = [["1", "+41791234567"], ["2", "+41791234568"]]
    pairs = list(paired(rows, ["+41791234567", "+41791234568"], cell=lambda r: r[1]))
    assert [r[0] for r, _ in pairs] == ["1", "2"]
    assert unchanged(["a", None], ["a", ""]) and not unchanged(["b", "a"], ["a", "b"])
