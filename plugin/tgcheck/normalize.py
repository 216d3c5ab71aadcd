"""Phone numbers as users hand them over -> E.164, or a local answer (invalid/blank).

Most real columns are already clean, so a cheap path (translate + a regex + a
country-code table) answers them; only national formats with a region go
through phonenumbers' full parser.
"""

from __future__ import annotations

import functools
import math
import re
from typing import NamedTuple

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

from .models import BLANK, INVALID, OK


class Normalised(NamedTuple):
    number: str | None
    status: str  # ok, invalid or blank
    reason: str | None = None


E164 = re.compile(r"\+[1-9]\d{6,14}")
# Separators people and spreadsheets put inside numbers: spaces of every kind
# (NBSP, narrow NBSP, tabs), dashes of every kind, dots, slashes, parentheses.
_SEPARATORS = str.maketrans(
    "", "", " \t\r\n\u00a0\u2007\u202f\u2009\u200b\ufeff-\u2010\u2011\u2012\u2013\u2014./()[]"
)
_SCIENTIFIC = re.compile(r"^[0-9.,]+[eE][+-]?\d+$")
# A float that went through text: "41798284651.0" (CSV exports of Excel cells).
_FLOAT_TEXT = re.compile(r"^(\+?\d+)\.0+$")
_MIN_DIGITS, _MAX_DIGITS = 7, 15


@functools.cache
def _possible_lengths(cc: int) -> frozenset[int] | None:
    """National-number lengths possible for a calling code (None: no metadata)."""
    lengths: set[int] = set()
    for region in COUNTRY_CODE_TO_REGION_CODE.get(cc, ()):
        if region == "001":
            meta = PhoneMetadata.metadata_for_nongeo_region(cc)
        else:
            meta = PhoneMetadata.metadata_for_region(region)
        if meta and meta.general_desc and meta.general_desc.possible_length:
            lengths.update(x for x in meta.general_desc.possible_length if x > 0)
    return frozenset(lengths) or None


def _check_international(digits: str) -> Normalised:
    """digits: the number after '+', only digits."""
    n = len(digits)
    if n < _MIN_DIGITS:
        return Normalised(None, INVALID, "too short")
    if n > _MAX_DIGITS:
        return Normalised(None, INVALID, "too long")
    if digits[0] == "0":
        return Normalised(None, INVALID, "no country code (starts with 0)")
    for size in (1, 2, 3):
        cc = int(digits[:size])
        if cc in COUNTRY_CODE_TO_REGION_CODE:
            lengths = _possible_lengths(cc)
            rest = n - size
            if lengths and rest not in lengths:
                short = rest < min(lengths)
                return Normalised(
                    None, INVALID, f"too {'short' if short else 'long'} for +{cc}"
                )
            return Normalised("+" + digits, OK)
    return Normalised(None, INVALID, "unknown country code")


def _from_national(text: str, region: str) -> str | None:
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_valid_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None


def normalise(value: object, region: str | None = None) -> Normalised:
    """One cell -> Normalised. Never raises."""
    if value is None:
        return Normalised(None, BLANK)
    if isinstance(value, str):
        if E164.fullmatch(value):  # the fast path: already E.164
            return _check_international(value[1:])
        text = value
    elif isinstance(value, bool):
        return Normalised(None, INVALID, "not a phone number (boolean)")
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        # Excel hands every number over as a float: 41798284651.0
        if math.isnan(value):
            return Normalised(None, BLANK)
        if math.isinf(value) or value != int(value):
            return Normalised(None, INVALID, "not a whole number")
        text = str(int(value))
    else:
        text = str(value)

    stripped = text.strip()
    if not stripped.translate(_SEPARATORS):
        return Normalised(None, BLANK)
    if _SCIENTIFIC.match(stripped.replace(" ", "")):
        return Normalised(None, INVALID, "scientific notation lost digits")
    whole = _FLOAT_TEXT.match(stripped)
    if whole:
        stripped = whole.group(1)
    compact = stripped.translate(_SEPARATORS)
    if compact.startswith("+"):
        body = compact[1:]
        if not body.isdigit() or not body.isascii():
            return Normalised(None, INVALID, "contains letters or symbols")
        return _check_international(body)
    if compact.startswith("00") and compact.isdigit() and compact.isascii():
        return _check_international(compact[2:])
    if not (compact.isdigit() and compact.isascii()):
        return Normalised(None, INVALID, "contains letters or symbols")
    if region:
        national = _from_national(compact, region.upper())
        if national:
            return Normalised(national, OK)
    # A bare digit string: E.164 whose "+" Excel dropped.
    result = _check_international(compact)
    if result.status != OK and compact.startswith("0"):
        hint = "national number: give a region" if not region else f"not valid in {region}"
        return Normalised(None, INVALID, hint)
    return result
