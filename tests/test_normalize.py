"""Normalisation to E.164: what users paste, what Excel hands over."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tgcheck import normalise

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("+41798284651", "+41798284651"),
        (41798284651.0, "+41798284651"),  # Excel hands numbers over as floats
        (41798284651, "+41798284651"),
        ("41798284651", "+41798284651"),  # the + that Excel dropped
        ("41798284651.0", "+41798284651"),  # a float that went through CSV
        ("0041 79 828 46 51", "+41798284651"),
        ("+41 (79) 828-46.51", "+41798284651"),
        ("+41\u00a079\u00a0828\u00a046\u00a051", "+41798284651"),  # NBSP
        ("\t+41 79 828 46 51 \n", "+41798284651"),
        ("+1 (650) 253-0000", "+16502530000"),
        ("+44 7911 123456", "+447911123456"),
        ("+90\u2011532\u2011123\u20114567", "+905321234567"),  # non-breaking hyphens
    ],
)
def test_valid_inputs_become_e164(value, expected):
    result = normalise(value)
    assert (result.number, result.status) == (expected, "ok")


@pytest.mark.parametrize(
    "value, region, expected",
    [
        ("0798284651", "CH", "+41798284651"),
        ("079 828 46 51", "ch", "+41798284651"),
        ("798284651", "CH", "+41798284651"),
        ("0532 123 45 67", "TR", "+905321234567"),
        # National first, then the lost-plus reading when national is not valid:
        ("41798284651", "CH", "+41798284651"),
        ("+41798284651", "TR", "+41798284651"),
    ],
)
def test_region_reads_national_numbers(value, region, expected):
    assert normalise(value, region).number == expected


@pytest.mark.parametrize(
    "value, reason",
    [
        ("4.17983E+10", "scientific notation lost digits"),
        ("4,17983E+10", "scientific notation lost digits"),
        ("abc", "contains letters or symbols"),
        ("+41 79 CALL ME", "contains letters or symbols"),
        ("+4179", "too short"),
        ("+1234567890123456", "too long"),
        ("+999123456789", "unknown country code"),
        ("0798284651", "national number: give a region"),
        ("+41 7982846", "too short for +41"),
        (12.5, "not a whole number"),
        (True, "not a phone number (boolean)"),
        (float("inf"), "not a whole number"),
    ],
)
def test_invalid_inputs_have_reasons(value, reason):
    result = normalise(value)
    assert (result.number, result.status, result.reason) == (None, "invalid", reason)


@pytest.mark.parametrize("value", [None, "", "   ", "\u00a0", float("nan"), "-"])
def test_blank_inputs(value):
    assert normalise(value).status == "blank"


cells = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.text(alphabet="+0123456789 -().\u00a0\t", max_size=25),
    st.integers(min_value=-(10**17), max_value=10**17),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(cells, st.sampled_from([None, "CH", "TR", "US", "XX"]))
def test_normaliser_never_raises_and_returns_e164_or_none(value, region):
    result = normalise(value, region)
    assert result.status in ("ok", "invalid", "blank")
    if result.status == "ok":
        assert E164.match(result.number)
        # Idempotent: the E.164 form normalises to itself.
        assert normalise(result.number) == result
    else:
        assert result.number is None


@settings(max_examples=1500, deadline=None)
@given(st.lists(cells, max_size=8), st.sampled_from([None, "CH", "TR"]))
def test_the_fast_path_agrees_with_the_full_normaliser(values, region):
    from tgcheck.normalize import resolve_all

    for value, got in zip(values, resolve_all(values, region), strict=True):
        full = normalise(value, region)
        assert got == (full.number if full.status == "ok" else full)


@settings(max_examples=600, deadline=None)
@given(st.from_regex(r"\+[1-9][0-9]{5,15}", fullmatch=True))
def test_the_fast_regex_accepts_exactly_what_the_checks_accept(text):
    from tgcheck.normalize import _check_international, _valid_e164

    slow = _check_international(text[1:])
    assert bool(_valid_e164().fullmatch(text)) == (slow.status == "ok"), slow


@pytest.mark.parametrize("value, region, expected", [
    (5321234567.0, "TR", "+905321234567"),  # national first when a region is given
    (41798284651.0, None, "+41798284651"),
    (12.0, None, None),
])
def test_floats_take_the_fast_path_only_without_region(value, region, expected):
    from tgcheck.normalize import resolve_all

    [got] = resolve_all([value], region)
    assert (got if isinstance(got, str) else got.number) == expected


def test_national_parse_never_exceeds_fifteen_digits():
    # Found by hypothesis: phonenumbers accepts this as a valid German number.
    result = normalise(280_000_000_000_000, "DE")
    assert result.number is None or E164.match(result.number)
