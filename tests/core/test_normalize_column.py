"""resolve_all's test of a whole list in C (every value clean E.164, under one key of
the fast table or several) gives what the value-by-value loop gives, and falls back
to it."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tgcheck.e164_regex import FAST, lines_of
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


# Every region's example numbers (mobile and fixed-line ones, which the joined test's
# first regex takes, and toll-free and VoIP ones, which only its second does), and
# what a slip makes of them: a digit lost, one
# more, a national prefix kept ("+810..."), a newline inside one value.
def _pool() -> list[str]:
    import phonenumbers

    found = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in (phonenumbers.PhoneNumberType.MOBILE,
                     phonenumbers.PhoneNumberType.FIXED_LINE,
                     phonenumbers.PhoneNumberType.TOLL_FREE,
                     phonenumbers.PhoneNumberType.VOIP):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            number = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            cc = str(example.country_code)
            found |= {number, number[:-1], number + "5", f"+{cc}0{number[1 + len(cc):]}"}
    # Japan's national prefix rule ends in "$" (MULTILINE in the joined regex).
    found |= {"+81000212345", "+810002123456", "+81312345678"}
    return sorted(found)


POOL = _pool()


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(POOL), min_size=2, max_size=40))
def test_the_joined_test_agrees_with_each_values_own_regex(values):
    """The column test (one regex over the values joined by newlines) accepts a
    list exactly when every value's own fast regex accepts it."""
    expected = all(FAST[v[1:3]](v) for v in values)
    assert _all_clean(values) == expected
    if expected:
        assert resolve_all(values) == values


def test_a_value_with_a_newline_is_not_two_values():
    assert not _all_clean(["+41791234567\n+41791234568", "+4915123456789"])
    assert not _all_clean(["+41791234567", "+4915123456789\n"])


def test_every_regions_examples_pass_the_joined_test_together():
    valid = [v for v in POOL if FAST[v[1:3]](v)]
    assert len({v[1:3] for v in valid}) > 50
    assert _all_clean(valid)


def test_numbers_of_other_types_are_recognised_whole_too():
    """Toll-free numbers are no mobile or fixed-line ones: the joined test's first,
    smaller regex leaves them to its second, of all types."""
    toll_free = ["+41800123456", "+498001234567", "+448001234567", "+33801234567"]
    assert all(FAST[v[1:3]](v) for v in toll_free)
    assert _all_clean([*MIXED, *toll_free])
    assert not _all_clean([*MIXED, *toll_free, "+4180012345"])


@pytest.mark.parametrize("values", [
    ["+41 79 123 45 67", "+4915123456789"],  # a space
    ["+41-791234567", "+4915123456789"],
    ["+41791234567\n+41791234568", "+4915123456789"],
    ["+41791234567", "+４915123456789"],  # a full-width digit
])
def test_a_column_not_of_plus_and_digits_compiles_no_joined_regex(values):
    """Only a column of "+" and ASCII digits is worth the joined test's regex: any
    other goes to the loop before one is compiled (0.02 to 0.04 s each)."""
    lines_of.cache_clear()
    assert not _all_clean(values)
    assert lines_of.cache_info().misses == 0
    assert resolve_all(values) == resolve_all(iter(values))


def test_one_countrys_column_is_tested_joined_too():
    lines_of.cache_clear()
    assert _all_clean(SWISS) and _all_clean(SWISS[::-1])
    assert lines_of.cache_info().misses == 1  # one key, its mobile and fixed-line regex
