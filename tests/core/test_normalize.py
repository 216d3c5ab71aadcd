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
        ("4.17983E+10", "scientific_notation: scientific notation lost digits"),
        ("4,17983E+10", "scientific_notation: scientific notation lost digits"),
        ("abc", "not_a_number: contains letters or symbols"),
        ("+41 79 CALL ME", "not_a_number: contains letters or symbols"),
        ("+4179", "too_short: too short"),
        ("+1234567890123456789", "too_long: too long"),
        ("+999123456789", "unknown_country_code: unknown country code"),
        ("0798284651", "no_region: national number: give a region"),
        ("+41 7982846", "too_short: too short for +41 (CH)"),
        (12.5, "not_a_number: not a whole number"),
        (True, "not_a_number: not a phone number (boolean)"),
        (float("inf"), "not_a_number: not a whole number"),
        # One validity rule: international numbers are checked as national ones are.
        ("+10000000000", "invalid_number: no such number in +1 (US)"),
        ("+1 000 000 0000", "invalid_number: no such number in +1 (US)"),
        ("+440000000000", "invalid_number: no such number in +44 (GB)"),
        ("+44 7911 123456, +44 7922 123456", "several_numbers: more than one number in the cell"),
        ("+41 79 828 46 51 / +41 79 828 46 52",
         "several_numbers: more than one number in the cell"),
        ("+447911123456 +447922123456", "several_numbers: more than one number in the cell"),
    ],
)
def test_invalid_inputs_have_reasons(value, reason):
    result = normalise(value)
    assert (result.number, result.status, result.reason) == (None, "invalid", reason)


@pytest.mark.parametrize(
    "value, expected, note",
    [
        # A trunk prefix written after the country code is dropped, as when dialling.
        ("+33 0 6 12 34 56 78", "+33612345678", None),
        ("+44 (0)20 7946 0958", "+442079460958", None),
        ("+44 0 7911 123456", "+447911123456", None),
        ("tel:+14155981332", "+14155981332", None),
        ("TEL:+1-415-598-1332", "+14155981332", None),
        ("+44 7911 123456 x123", "+447911123456", "extension 123"),
        ("+1 415 598 1332 ext. 12", "+14155981332", "extension 12"),
        ("+1 415 598 1332 Ext 12", "+14155981332", "extension 12"),
        ("+44 7911 123456 #12", "+447911123456", "extension 12"),
        ("+14155981332;ext=12", "+14155981332", "extension 12"),
        ("tel:+1-415-598-1332;ext=77", "+14155981332", "extension 77"),
    ],
)
def test_messy_forms_are_read_and_changes_noted(value, expected, note):
    result = normalise(value)
    assert (result.number, result.status) == (expected, "ok")
    if note is None:
        assert result.reason is None
    else:
        assert result.reason.startswith("extension_removed: ") and note in result.reason


def test_an_extension_on_an_invalid_number_keeps_the_numbers_reason():
    result = normalise("+10000000000 x12")
    assert result.status == "invalid" and result.reason.startswith("invalid_number:")


@pytest.mark.parametrize("region", ["GB", "gb", "GBR", "UK", "United Kingdom", "England",
                                    "44", "+44"])
def test_any_form_of_a_region_reads_national_numbers(region):
    assert normalise("07911 123456", region).number == "+447911123456"


def test_an_unknown_region_is_an_error_with_a_suggestion():
    from tgcheck.regions import RegionError

    with pytest.raises(RegionError, match="did you mean GB"):
        normalise("07911 123456", "Untied Kingdom")
    with pytest.raises(ValueError, match="unknown region 'XX'"):
        normalise("07911 123456", "XX")


def test_a_national_number_invalid_in_its_region_says_so():
    result = normalise("07911 12345", "GB")
    assert result.status == "invalid"
    assert result.reason == "invalid_for_region: not a valid number of GB (United Kingdom)"


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
@given(cells, st.sampled_from([None, "CH", "TR", "US", "GB", "AR", "RU"]))
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
@given(st.lists(cells, max_size=8), st.sampled_from([None, "CH", "TR", "GB", "AR"]))
def test_the_fast_path_agrees_with_the_full_normaliser(values, region):
    from tgcheck.normalize import resolve_all

    for value, got in zip(values, resolve_all(values, region), strict=True):
        full = normalise(value, region)
        # A clean answer comes back as its E.164 string; one with a note (ambiguous,
        # region_ignored) as the Normalised that carries it.
        assert got == (full.number if full.status == "ok" and full.reason is None else full)


def _fast_and_slow_agree(text):
    """The fast regex accepts text only when the slow path (phonenumbers' parse and
    is_valid_number) returns text unchanged, and accepts every such text except
    those it leaves to the slow path on purpose: numbers that begin with their
    country's national prefix (parse may strip it), and all numbers of calling
    codes whose national prefix has a transform rule (Argentina's 0..15 -> 9..)."""
    import re

    import phonenumbers

    from tgcheck.normalize import _check_international, _valid_e164

    slow = _check_international(text[1:])
    fast = bool(_valid_e164().fullmatch(text))
    if fast:
        assert slow.number == text and slow.status == "ok", (text, slow)
    elif slow.number == text:
        parsed = phonenumbers.parse(text)
        main = phonenumbers.PhoneMetadata.metadata_for_region(
            phonenumbers.region_code_for_country_code(parsed.country_code))
        nsn = text[1 + len(str(parsed.country_code)):]
        npp = main.national_prefix_for_parsing if main is not None else None
        assert main is not None and (main.national_prefix_transform_rule
                                     or (npp and re.match(npp, nsn))), (text, slow)


@settings(max_examples=600, deadline=None)
@given(st.from_regex(r"\+[1-9][0-9]{5,15}", fullmatch=True))
def test_the_fast_regex_accepts_exactly_what_the_checks_accept(text):
    _fast_and_slow_agree(text)


_CCS = sorted(__import__("phonenumbers").COUNTRY_CODE_TO_REGION_CODE)


@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(_CCS), st.text(alphabet="0123456789", min_size=4, max_size=13))
def test_the_fast_regex_agrees_on_every_calling_code(cc, rest):
    _fast_and_slow_agree(f"+{cc}{rest}")


def test_the_fast_regex_agrees_on_every_example_number_and_its_neighbours():
    import phonenumbers

    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in phonenumbers.PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            text = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            cc = str(example.country_code)
            for variant in (text, text[:-1], text + "5", f"+{cc}0{text[1 + len(cc):]}",
                            f"+{cc}8{text[1 + len(cc):]}", f"+{cc}1{text[1 + len(cc):]}"):
                _fast_and_slow_agree(variant)


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


@settings(max_examples=800, deadline=None)
@given(st.lists(st.tuples(cells, st.sampled_from(
    [None, "", "CH", "United Kingdom", "44", "TUR", "Narnia", float("nan"), "AR"])),
    max_size=8))
def test_a_region_per_value_agrees_with_normalise_value_by_value(pairs):
    from tgcheck.normalize import _written_international, resolve_all
    from tgcheck.regions import is_empty, lookup

    values = [v for v, _ in pairs]
    regions = [r for _, r in pairs]
    for (value, region), got in zip(pairs, resolve_all(values, regions), strict=True):
        if not is_empty(region) and lookup(region) is None:  # a row's unknown region
            full = normalise(value)
            if full.status == "blank":
                assert got == full
            elif not _written_international(value):
                assert got.status == "invalid" and got.reason.startswith("unknown_region: ")
            elif full.status != "ok":  # the number's own fault: its own reason
                assert got == full
            else:  # an international number needs no region: kept, the region noted
                assert (got.number, got.status) == (full.number, "ok")
                assert "names no region; not needed" in got.reason
            continue
        else:
            full = normalise(value, None if is_empty(region) else region)
        assert got == (full.number if full.status == "ok" and full.reason is None else full)


def test_a_slash_inside_one_number_is_not_two_numbers():
    assert normalise("0090532/1234567").number == "+905321234567"
    assert normalise("07911 123456 / 07922 123456", "GB").reason == (
        "several_numbers: more than one number in the cell")


def test_a_numpy_column_gives_plain_strings(sandbox_env):
    # numpy.str_ is a str subclass: it must come back a plain str (the engine tells
    # numbers from answer objects by type), so a numpy column checks like a list.
    import numpy as np

    import tgcheck
    from tgcheck.normalize import resolve_all

    column = np.array(["+41798284651", "+41 79 828 46 52", "nonsense"])
    found = resolve_all(column)
    assert [type(x) for x in found[:2]] == [str, str]
    answers = tgcheck.check(column)
    assert [a.number for a in answers] == ["+41798284651", "+41798284652", None]
    assert [a.status for a in answers][:2] == ["ok", "ok"] and answers[2].status == "invalid"


# -- issue 22 item 1: a dropped "+" must not become another number ------------------
@pytest.mark.parametrize("value, region, expected, reason", [
    # Excel keeps +49 151... and 0049 151... as the number 49151...: DE's own code
    # leads and the international reading is valid, so it wins; the German national
    # reading (0491 51234567, Leer) is valid too, and the reason says so.
    ("4915123456789", "DE", "+4915123456789", "ambiguous: read as +4915123456789"),
    (4915123456789.0, "DE", "+4915123456789", "ambiguous: read as +4915123456789"),
    (4915123456789, "Germany", "+4915123456789", "ambiguous: read as +4915123456789"),
    ("62812345678", "ID", "+62812345678", "ambiguous: read as +62812345678"),
    (62812345678.0, "ID", "+62812345678", "ambiguous: read as +62812345678"),
    # Another country's code: the national reading, libphonenumber's, flagged.
    ("62812345678", "DE", "+4962812345678",
     "ambiguous: read as +4962812345678, a national number of DE; with a dropped + it "
     "is +62812345678"),
    # Only one reading valid: no ambiguity.
    ("41798284651", "CH", "+41798284651", None),
    ("0491 51234567", "DE", "+4949151234567", None),  # a trunk 0: national
    ("015123456789", "DE", "+4915123456789", None),
])
def test_a_dropped_plus_with_the_regions_own_calling_code_is_read_as_international(
        value, region, expected, reason):
    from tgcheck.normalize import resolve_all

    result = normalise(value, region)
    assert (result.number, result.status) == (expected, "ok")
    if reason is None:
        assert result.reason is None
    else:
        assert result.reason.startswith(reason)
    # The same through the engine's paths: one region, and a region per row.
    for got in (resolve_all([value], region)[0], resolve_all([value], [region])[0]):
        assert got == (expected if reason is None else result)


def test_the_issue_rows_say_both_readings():
    result = normalise("4915123456789", "DE")
    assert result.reason == (
        "ambiguous: read as +4915123456789 (49 is DE's calling code and the + was "
        "dropped); as a national number of DE it is +494915123456789")


def _corpus_numbers() -> list[str]:
    """Valid E.164 numbers of the corpora in tests/data, and libphonenumber's example
    numbers of every region and type."""
    import csv

    import phonenumbers

    from paths import DATA

    found = set()
    with (DATA / "input_corpus.csv").open(encoding="utf-8") as f:
        found |= {r["expected"] for r in csv.DictReader(f) if r["expected"]}
    with (DATA / "crm_mixed.csv").open(encoding="utf-8") as f:
        found |= {r["expected"] for r in csv.DictReader(f) if r["expected"].startswith("+")}
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in phonenumbers.PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                found.add(phonenumbers.format_number(example, 0))
    return sorted(n for n in found if E164.match(n))


def _expected_with_region(digits: str, region: str):
    """The rule of docs/numbers.md, from phonenumbers alone: (number, ambiguous)."""
    import phonenumbers

    def valid(text, default):
        try:
            parsed = phonenumbers.parse(text, default)
        except phonenumbers.NumberParseException:
            return None
        e164 = phonenumbers.format_number(parsed, 0)
        return e164 if phonenumbers.is_valid_number(parsed) and E164.match(e164) else None

    international = valid("+" + digits, None)
    national = valid(digits, region)  # libphonenumber's parse with a default region
    both = bool(international and national and international != national)
    own = str(phonenumbers.country_code_for_region(region))
    if international and digits.startswith(own):
        return international, both
    return national or international, both


@settings(max_examples=700, deadline=None)
@given(st.sampled_from(_corpus_numbers()),
       st.sampled_from(["own", "DE", "ID", "CH", "US", "GB", "RU", "IT", "NO", "BR"]),
       st.sampled_from([str, int, float]))
def test_dropped_plus_readings_match_phonenumbers_parse_over_the_corpus(number, region,
                                                                      form):
    """The fast path (resolve_all) and normalise() read a number whose "+" was dropped
    as phonenumbers.parse does, except that the region's own calling code wins when
    the international reading is valid, and flag both-valid rows as ambiguous."""
    import phonenumbers

    from tgcheck.normalize import resolve_all

    digits = number[1:]
    if region == "own":
        region = phonenumbers.region_code_for_number(phonenumbers.parse(number))
        if region in ("001", "ZZ"):
            return
    if form is float and len(digits) > 15:
        return
    value = form(digits)
    expected, ambiguous = _expected_with_region(digits, region)
    full = normalise(value, region)
    assert full.number == expected, (value, region, full)
    assert (full.reason or "").startswith("ambiguous: ") == ambiguous, (value, region, full)
    for got in (resolve_all([value], region)[0], resolve_all([value], [region])[0]):
        assert got == (full.number if full.status == "ok" and full.reason is None else full)


# -- issue 22 item 2: a region only matters for national numbers ----------------------
@pytest.mark.parametrize("value", ["+55 11 96123-4243", "0055 11 96123 4243",
                                   "tel:+55-11-96123-4243"])
def test_an_unknown_region_cell_beside_an_international_number_keeps_it(value):
    from tgcheck.normalize import resolve_all

    [got] = resolve_all([value], ["Narnia"])
    assert (got.number, got.status) == ("+5511961234243", "ok")
    assert got.reason == ("region_ignored: region 'Narnia' names no region; not needed: "
                          "the number is international")


def test_an_unknown_region_cell_still_invalidates_a_number_that_needs_it():
    from tgcheck.normalize import resolve_all

    got = resolve_all(["011 96123 4243", "5511961234243", "+55 11 9612"],
                      ["Narnia", "Narnia", "Narnia"])
    assert [g.status for g in got] == ["invalid", "invalid", "invalid"]
    assert got[0].reason.startswith("unknown_region: unknown region 'Narnia'")
    # Bare digits: a national number or a dropped "+"; without the region, unknown.
    assert got[1].reason.startswith("unknown_region: ")
    # Written internationally but wrong on its own: the number's reason.
    assert got[2].reason.startswith("too_short: ")


# -- issue 22 item 3: scientific notation that kept every digit ------------------------
@pytest.mark.parametrize("value, expected", [
    ("4.41234567890E+11", "+441234567890"),
    ("4.47400127326E+11", "+447400127326"),
    ("4,47400127326E+11", "+447400127326"),
    ("4.47400127326e11", "+447400127326"),
    (" 4.47400127326E+11 ", "+447400127326"),
])
def test_scientific_notation_with_every_digit_is_the_number(value, expected):
    assert normalise(value) == (expected, "ok", None)


@pytest.mark.parametrize("value, reason", [
    ("4.4740012732E+11", "scientific_notation: scientific notation lost digits"),
    ("4.47E+11", "scientific_notation: scientific notation lost digits"),
    ("4.474001273261E+11", "not_a_number: not a whole number"),
    ("4.4.7E+11", "scientific_notation: scientific notation lost digits"),
    # int() of it would raise: under the cell limit, too long for a number ...
    ("9" * 1000 + "E+0", "too_long: too long"),
    # ... over it, too long for a cell (input_limits), never parsed at all
    ("9" * 5000 + "E+0", "too_long: the cell holds more than 1,024 characters"),
])
def test_scientific_notation_that_lost_digits_is_refused(value, reason):
    assert normalise(value).reason == reason


def test_scientific_notation_with_a_region_reads_like_its_digits():
    assert normalise("4.915123456789E+12", "DE").number == "+4915123456789"


# -- issue 20 item 8: negative numbers --------------------------------------------------
def _negatives():
    from decimal import Decimal

    import numpy as np

    return [-41797000001.0, -41797000001, "-41797000001", " -41 797 000 001",
            "\u221241797000001", np.float64(-41797000001), np.int64(-41797000001),
            Decimal("-41797000001")]


@pytest.mark.parametrize("value", _negatives(), ids=lambda v: f"{type(v).__name__}")
def test_a_negative_number_is_invalid_with_a_reason(value):
    from tgcheck.normalize import resolve_all

    result = normalise(value)
    assert result == (None, "invalid", "not_a_number: a negative number")
    for region in (None, "CH", ["CH"]):
        assert resolve_all([value], region) == [result]


def test_a_dash_that_is_a_separator_is_not_a_minus():
    assert normalise("+41-79-828-46-51").number == "+41798284651"
    assert normalise("079-828-46-51", "CH").number == "+41798284651"
    assert normalise("- 079 828 46 51", "CH").number == "+41798284651"  # a bullet
    assert normalise("-").status == "blank"


# -- issue 22 item 6: a national number without a region ------------------------------
@pytest.mark.parametrize("value", ["8 (912) 345-67-54", "89123456754", 89123456754.0])
def test_digits_with_no_calling_code_are_a_national_number_needing_a_region(value):
    assert normalise(value).reason == "no_region: national number: give a region"
    assert normalise(value, "RU").number == "+79123456754"


def test_a_written_unknown_calling_code_stays_unknown_country_code():
    assert normalise("+89123456754").reason == "unknown_country_code: unknown country code"
    assert normalise("0089123456754").reason == "unknown_country_code: unknown country code"


@settings(max_examples=500, deadline=None)
@given(st.from_regex(r"[0-9]{1,3}[.,][0-9]{0,16}[eE][+-]?[0-9]{1,3}", fullmatch=True))
def test_scientific_notation_is_read_only_when_its_value_is_exactly_the_digits(text):
    from decimal import Decimal

    result = normalise(text)  # never raises
    exact = Decimal(text.replace(",", "."))
    if result.status == "ok":
        # Every digit was written down to the units, and the number is that value.
        assert exact.as_tuple().exponent <= 0 and exact == int(result.number[1:])
    else:
        assert result.status in ("invalid", "blank") and result.number is None


def test_resolve_rest_reads_only_the_values_not_known():
    from tgcheck.normalize import resolve_all, resolve_rest

    values = ["+41798284651", "079 828 46 51", "not a number", "+41 79 828 46 51"]
    known = [True, False, False, False]
    rest = resolve_rest(values, known, "CH")
    assert rest[0] is values[0]  # taken as it stands, not read
    assert rest[1:] == resolve_all(values[1:], "CH")
    assert resolve_rest(values, [True] * 4, "CH") == values
