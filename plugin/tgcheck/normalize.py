"""Phone numbers as users hand them over -> E.164, or a local answer (invalid/blank).

Most real columns are already clean, so a cheap path (translate + a regex + a
country-code table) answers them; only national formats with a region go
through phonenumbers' full parser.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
from collections.abc import Iterable
from typing import NamedTuple

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

from .models import BLANK, INVALID, OK


class Normalised(NamedTuple):
    number: str | None
    status: str  # ok, invalid or blank
    reason: str | None = None


# re.ASCII: \d would otherwise accept Arabic-Indic and other Unicode digits.
E164 = re.compile(r"\+[1-9]\d{6,14}", re.ASCII)
# Separators people and spreadsheets put inside numbers: spaces of every kind
# (NBSP, narrow NBSP, tabs), dashes of every kind, dots, slashes, parentheses.
_SEPARATORS = str.maketrans(
    "", "", " \t\r\n\u00a0\u2007\u202f\u2009\u200b\ufeff-\u2010\u2011\u2012\u2013\u2014./()[]"
    # Direction marks that copy-paste from Outlook, Teams and web pages carries along.
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Space-like characters only: the second fast path removes just these.
_SPACES = str.maketrans("", "", " \t\r\n\u00a0\u2007\u202f\u2009\u200b\ufeff")
# Parentheses kept for one step, to spot the "(0)" below.
_SEPARATORS_BUT_PARENS = {**_SEPARATORS, ord("("): "(", ord(")"): ")"}
# "+49 (0)171 ...": the national trunk 0 written after the country code, not dialled.
_TRUNK_ZERO = re.compile(r"^([+]|00)([1-9]\d{0,2})\(0\)")
# "41,798,284,651": Excel's thousands separators.
_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+$")
_DATE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")
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


# Digit prefix -> the total digit counts (after "+") possible for that calling
# code, ANY_LENGTH without metadata, None when the prefix is no calling code.
# Filled lazily: a dict lookup per number is the whole cost of the clean path.
ANY_LENGTH = frozenset(range(_MIN_DIGITS, _MAX_DIGITS + 1))
_PREFIXES: dict[str, frozenset[int] | None] = {}


def _prefix_info(prefix: str) -> frozenset[int] | None:
    info = _PREFIXES.get(prefix, _PREFIXES)
    if info is _PREFIXES:
        cc = int(prefix)
        if cc in COUNTRY_CODE_TO_REGION_CODE:
            lengths = _possible_lengths(cc)
            info = frozenset(len(prefix) + n for n in lengths) if lengths else ANY_LENGTH
        else:
            info = None
        _PREFIXES[prefix] = info
    return info


def _check_international(digits: str, number: str | None = None) -> Normalised:
    """digits: the number after '+', only ASCII digits. number: '+' + digits, if at hand."""
    n = len(digits)
    if n < _MIN_DIGITS:
        return Normalised(None, INVALID, "too short")
    if n > _MAX_DIGITS:
        return Normalised(None, INVALID, "too long")
    if digits[0] == "0":
        return Normalised(None, INVALID, "no country code (starts with 0)")
    # Calling codes are prefix-free (ITU-T E.164), so the first match is the one.
    for size in (1, 2, 3):
        prefix = digits[:size]
        lengths = _prefix_info(prefix)
        if lengths is not None:
            if n in lengths:
                return _ok(number or "+" + digits)
            short = n < min(lengths)
            return Normalised(None, INVALID, f"too {'short' if short else 'long'} for +{prefix}")
    return Normalised(None, INVALID, "unknown country code")


def _ok(number: str) -> Normalised:
    # tuple.__new__ skips the namedtuple's Python-level __new__: this runs per cell.
    return tuple.__new__(Normalised, (number, OK, None))


@functools.cache
def _valid_e164():
    """One regex that accepts exactly the E.164 strings the slow path would accept:
    a known calling code followed by a possible length. Built once from
    phonenumbers' metadata, grouped by first digit to keep backtracking short."""
    by_first: dict[str, list[str]] = {}
    for cc in sorted(COUNTRY_CODE_TO_REGION_CODE, key=str):
        lengths = _possible_lengths(cc)
        prefix = str(cc)
        if lengths:
            tail = "|".join(f"\\d{{{n}}}" for n in sorted(lengths, reverse=True)
                            if _MIN_DIGITS <= len(prefix) + n <= _MAX_DIGITS)
        else:
            tail = f"\\d{{{max(0, _MIN_DIGITS - len(prefix))},{_MAX_DIGITS - len(prefix)}}}"
        if tail:
            by_first.setdefault(prefix[0], []).append(f"{prefix[1:]}(?:{tail})")
    groups = "|".join(f"{d}(?:{'|'.join(alts)})" for d, alts in by_first.items())
    return re.compile(rf"\+(?:{groups})", re.ASCII)


def resolve_all(values: Iterable[object], region: str | None = None) -> list:
    """Per value: its E.164 string when valid, else its Normalised (invalid/blank).

    The engine's hot path: clean input costs one regex call, no object per cell.
    """
    fast = _valid_e164().fullmatch
    cache: dict = {}
    out: list = []
    append = out.append
    for value in values:
        kind = type(value)
        if kind is str:
            if fast(value):
                append(value)
                continue
            # Second chance, still cheap: only spaces around and inside, then a
            # "+", a "00" or (without a region) a lost "+". Anything with other
            # separators, "(0)", ".0" or dates takes the full path below.
            spaced = value.translate(_SPACES)
            if spaced:
                if spaced[0] == "+":
                    candidate = spaced if spaced != value else None
                elif spaced[:2] == "00":
                    candidate = "+" + spaced[2:]
                elif region is None and spaced[0] != "0":
                    candidate = "+" + spaced
                else:
                    candidate = None
                if candidate and fast(candidate):
                    append(candidate)
                    continue
        # With a region, national reading comes first: only the slow path knows it.
        if kind is float and region is None and value.is_integer() and 1e6 <= value < 1e15:
            text = f"+{int(value)}"  # Excel's 41798284651.0
            if fast(text):
                append(text)
                continue
        key = (kind, value)  # the type too: 0 == False, 1.0 == 1
        try:
            hit = cache.get(key)
        except TypeError:  # an unhashable cell
            hit = None
        if hit is None:
            found = normalise(value, region)
            hit = found.number if found.status == OK else found
            with contextlib.suppress(TypeError):
                cache[key] = hit
        append(hit)
    return out


def _from_national(text: str, region: str) -> str | None:
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_valid_number(parsed):
        number = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        # phonenumbers calls some 17-digit German numbers valid; E.164 stops at 15.
        if E164.fullmatch(number):
            return number
    return None


def normalise(value: object, region: str | None = None) -> Normalised:
    """One cell -> Normalised. Never raises."""
    if value is None:
        return Normalised(None, BLANK)
    if isinstance(value, str):
        if E164.fullmatch(value):  # the fast path: already E.164
            return _check_international(value[1:], value)
        text = value
    elif isinstance(value, bool):
        return Normalised(None, INVALID, "not a phone number (boolean)")
    elif isinstance(value, int):
        if not -(10**20) < value < 10**20:
            return Normalised(None, INVALID, "too long")
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
    if _THOUSANDS.match(stripped):
        stripped = stripped.replace(",", "")
    compact = stripped.translate(_SEPARATORS_BUT_PARENS)
    compact = _TRUNK_ZERO.sub(r"\1\2", compact).translate(_SEPARATORS)
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
    # A bare digit string: E.164 whose "+" Excel dropped. Not a national layout with
    # parentheses, nor a dotted date: those are no lost "+".
    if stripped.startswith("(") or _DATE.match(stripped):
        return Normalised(None, INVALID, "national number: give a region" if not region
                          else f"not valid in {region}")
    result = _check_international(compact)
    if result.status != OK and compact.startswith("0"):
        hint = "national number: give a region" if not region else f"not valid in {region}"
        return Normalised(None, INVALID, hint)
    return result
