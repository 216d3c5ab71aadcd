"""resolve_all's test of a whole list in C (every value clean E.164 under one key of
the fast table) gives what the value-by-value loop gives, and falls back to it."""

import pytest

from tgcheck.normalize import resolve_all

SWISS = [f"+4179123{i:04d}" for i in range(50)]


class Text(str):
    pass


@pytest.mark.parametrize("values", [
    SWISS,
    [*SWISS, "+4179123"],  # one too short
    [*SWISS, "+44 7911 123456"],  # another key, and spaces
    [*SWISS, "+447911123456"],  # another key
    [*SWISS, 41791230000.0],  # a float among strings
    [*SWISS, None, ""],
    [Text(SWISS[0])],
    [1.0, 2],
    [None],
    [],
    ["+41791234567"] * 3,
], ids=range(11))
def test_the_list_test_agrees_with_the_loop(values):
    got = resolve_all(values)
    assert got == resolve_all(iter(values))  # an iterator takes the loop
    assert got is not values


def test_a_clean_list_comes_back_as_it_is_in_a_new_list():
    got = resolve_all(SWISS)
    assert got == SWISS and got is not SWISS
