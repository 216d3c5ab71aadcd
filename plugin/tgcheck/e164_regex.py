"""The fast check: libphonenumber's validity for E.164 text, as regexes.

Most real columns are already clean E.164. This module builds, from
libphonenumber's own metadata, regexes that accept exactly the E.164 strings its
parser and validator would return unchanged, so normalize.py answers those with
one regex call per value and leaves the rest to phonenumbers
(tests/core/test_normalize.py proves the two agree).
"""

from __future__ import annotations

import functools
import re

# E.164: 7 to 15 digits after the "+" (shorter ones are no real number).
MIN_DIGITS, MAX_DIGITS = 7, 15


def _desc(desc) -> str | None:
    """A PhoneNumberDesc as a lookahead at the national number: its possible lengths
    and its pattern, both to the end of the string (as _is_number_matching_desc)."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = [n for n in desc.possible_length if n > 0]
    if desc.possible_length and not lengths:
        return None  # [-1]: no numbers of this type
    length = "|".join(_digits(low, high) for low, high in _runs(sorted(set(lengths))))
    ahead = f"(?=(?:{length})\\Z)" if length else ""
    return f"{ahead}(?=(?:{desc.national_number_pattern})\\Z)"


def _runs(lengths: list[int]) -> list[tuple[int, int]]:
    """Sorted lengths as runs of consecutive ones: [4, 5, 6, 9] -> [(4, 6), (9, 9)]."""
    runs: list[tuple[int, int]] = []
    for n in lengths:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def _digits(low: int, high: int) -> str:
    r"""low to high digits: one greedy \d{4,15} instead of twelve alternatives
    (\d{4}|\d{5}|..., each tried from the start): a German number's check
    costs about a third less."""
    return f"\\d{{{low}}}" if low == high else f"\\d{{{low},{high}}}"


# Any type makes a number valid, so the order is free: the common ones first, where
# the regex stops trying.
_TYPES = ("mobile", "fixed_line", "toll_free", "premium_rate", "shared_cost", "voip",
          "personal_number", "pager", "uan", "voicemail")


# The types most numbers checked are: lines_of tries a regex of these first (it
# compiles in 0.021 s for six calling codes, against 0.036 s for all types).
COMMON_TYPES = ("mobile", "fixed_line")
ALL_TYPES = _TYPES


def _valid_for(meta, kinds: tuple[str, ...] = _TYPES) -> str | None:
    """phonenumbers' _number_type_helper(n, meta) != UNKNOWN, as a lookahead; with
    kinds, valid as one of those types (a subset of the numbers it accepts)."""
    general = _desc(meta.general_desc)
    types = [d for d in (_desc(getattr(meta, t)) for t in kinds) if d]
    if general is None or not types:
        return None
    return general + "(?:" + "|".join(types) + ")"


def _metadata(region: str, cc: int):
    import phonenumbers  # here, not at import: a column the store answers as written never needs it
    if region == "001":
        return phonenumbers.PhoneMetadata.metadata_for_nongeo_region(cc)
    return phonenumbers.PhoneMetadata.metadata_for_region(region)


def _cc_pattern(cc: int, kinds: tuple[str, ...] = _TYPES) -> str | None:
    """The national numbers phonenumbers calls valid for calling code cc and would
    keep unchanged when parsing "+<cc><nsn>" (no national prefix stripped); with
    kinds, only those valid as one of those types (each region's branch keeps its
    guards, so the regex accepts a subset of what the full one accepts)."""
    import phonenumbers
    regions_of = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc, ())
    branches = []
    if len(regions_of) == 1:
        meta = _metadata(regions_of[0], cc)
        valid = _valid_for(meta, kinds) if meta else None
        if valid:
            branches.append(valid)
    else:
        # region_code_for_number: the first region that claims the number decides,
        # by its leading digits if it has them, else by validity.
        earlier: list[str] = []
        for region in regions_of:
            meta = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
            if meta is None:
                continue
            valid = _valid_for(meta, kinds)
            lead = f"(?:{meta.leading_digits})" if meta.leading_digits is not None else None
            guard = "".join(f"(?!{x})" for x in earlier)
            if valid:
                branches.append(guard + (f"(?={lead})" if lead else "") + valid)
            if lead:
                earlier.append(lead)
    if not branches:
        return None
    # parse("+<cc>...") strips the main region's national prefix when it can: such
    # numbers change on the way, so the regex leaves them to the slow path.
    main = _metadata(phonenumbers.region_code_for_country_code(cc), cc)
    npp = main.national_prefix_for_parsing if main is not None else None
    if not npp:
        prefix_guard = ""
    elif main.national_prefix_transform_rule or not main.general_desc.national_number_pattern:
        prefix_guard = f"(?!{npp})"
    else:
        # _maybe_strip_national_prefix_carrier_code keeps a number its main region
        # finds viable when what follows the prefix is not: only the others are
        # left to the slow path (so +7 812... stays fast: 8 is Russia's prefix).
        general = f"(?:{main.general_desc.national_number_pattern})"
        prefix_guard = f"(?!(?:{npp}){general}\\Z)"
        if len(regions_of) > 1:
            # Valid for another region of the code, but maybe not viable for the
            # main one: then any prefix match strips.
            prefix_guard += f"(?:(?={general}\\Z)|(?!{npp}))"
    return prefix_guard + "(?:" + "|".join(branches) + ")\\d+"


def _no_match(text: str) -> None:
    return None


class _FastTable(dict):
    """The two characters after the "+" ("+41...": "41") -> the fullmatch of the
    regex for the calling codes those digits start (41; 1 for "12"; 420 to 429
    for "42"), compiled on first use.

    One regex per two digits, not one for all: compiling libphonenumber's
    patterns and loading their regions' metadata takes about half a second, and
    a file of Swiss numbers needs only +41's (0.025 s for all of +4x's). Calling
    codes are prefix-free, so the two digits name one code or the codes under
    it. A lookup is one dict access per value, in C."""

    def __missing__(self, key: str):
        codes = _codes_under(key)
        found = _fast_for(codes) if codes else _no_match
        self[key] = found
        return found


def _codes_under(key: str) -> tuple[str, ...]:
    """The calling codes a number whose first two digits are key can have (none for
    a key that is not two digits, or that no code starts)."""
    import phonenumbers
    if not (len(key) == 2 and "1" <= key[0] <= "9" and "0" <= key[1] <= "9"):
        return ()
    return tuple(str(cc) for cc in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE, key=str)
                 if str(cc).startswith(key) or key.startswith(str(cc)))


@functools.cache
def _fast_for(codes: tuple[str, ...]):
    """The fullmatch of "+" and one of these calling codes and a number valid for
    it; cached: "12" to "19" share +1's."""
    alternatives = [f"{cc}{body}" for cc in codes if (body := _cc_pattern(int(cc)))]
    if not alternatives:
        return _no_match
    return re.compile(rf"\+(?=\d{{{MIN_DIGITS},{MAX_DIGITS}}}\Z)(?:{'|'.join(alternatives)})",
                      re.ASCII | re.MULTILINE).fullmatch


FAST = _FastTable()


@functools.cache
def lines_of(keys: tuple[str, ...], kinds: tuple[str, ...] = _TYPES):
    """The fullmatch of a text of lines, each "+", a number FAST[key] accepts for
    one of keys, and "\\n" (the last one too); None when a key has no regex.

    One call over a whole column joined by newlines, in C: no call and no match
    object per value, a quarter less than FAST's regexes value by value (200,000
    numbers of six countries, 0.092 s to 0.068 s). The same alternatives as
    FAST's (a number's key names all the codes it can have), each value's end
    \\Z now the newline after it; libphonenumber's own "$" (a national prefix
    rule) matches there too under MULTILINE. The caller makes sure no value holds
    a newline of its own. kinds: the number types it accepts (COMMON_TYPES: a
    smaller regex, compiled in about half the time, for a first try)."""
    codes = [_codes_under(key) for key in keys]
    if not all(codes):
        return None
    alternatives = []
    for cc in dict.fromkeys(cc for under in codes for cc in under):  # "12", "13": +1 once
        body = _cc_pattern(int(cc), kinds)
        if body:
            alternatives.append(f"{cc}{body}")
    if not alternatives:
        return None
    line = "|".join(alternatives).replace("\\Z", "(?=\\n)")
    return re.compile(rf"(?:\+(?=\d{{{MIN_DIGITS},{MAX_DIGITS}}}\n)(?:{line})\n)*+",
                      re.ASCII | re.MULTILINE).fullmatch


class _ValidE164:
    """The fast check as one object with .fullmatch, for callers off the hot loop."""

    @staticmethod
    def fullmatch(text: str):
        return FAST[text[1:3]](text) if text[:1] == "+" else None


@functools.cache
def valid_e164() -> _ValidE164:
    """Accepts exactly the E.164 strings the slow path returns as they are:
    libphonenumber-valid, nothing stripped, 7 to 15 digits. Built from
    phonenumbers' metadata, one regex per first two digits of the calling code."""
    return _ValidE164()
