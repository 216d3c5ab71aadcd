"""resolve_all's test of a whole list in C (every value clean E.164, under one key of
the fast table or several) gives what the value-by-value loop gives, and falls back
to it."""

import pytest

from tgcheck.normalize import _all_clean, resolve_all

SWISS = [f"+4179123{i:04d}" for i in range(50)]
# Six countries' mobile numbers, as a mixed export holds them (+1's regex is NANP's).
MIXED = [*SWISS, "+4915123456789", "+447400123456", "+12015550123", "+33612345678",
         "+5511961234567"]


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
    MIXED,
    [*MIXED, "+4179123"],  # one too short, among several keys
    [*MIXED, "+99912345678"],  # a key no calling code starts
    [*MIXED, "+"],
    [*MIXED, "41791234567"],  # a lost "+"
    [*MIXED, None],
], ids=range(17))
def test_the_list_test_agrees_with_the_loop(values):
    got = resolve_all(values)
    assert got == resolve_all(iter(values))  # an iterator takes the loop
    assert got is not values


def test_a_clean_list_comes_back_as_it_is_in_a_new_list():
    got = resolve_all(SWISS)
    assert got == SWISS and got is not SWISS


def test_a_clean_list_of_several_countries_is_recognised_whole():
    """A mixed column of clean numbers is tested in C too, each value by its own
    key's regex; one value that is not clean sends the list to the loop."""
    assert _all_clean(MIXED)
    assert resolve_all(MIXED) == MIXED
    for bad in ("+4179123", "+99912345678", "+", "41791234567", "+4179123456a"):
        assert not _all_clean([*MIXED, bad]), bad
