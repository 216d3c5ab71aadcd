"""Phone numbers as users hand them over -> E.164, or a local answer (invalid/blank).

One validity rule: a number is valid when libphonenumber calls it valid, whether
it came international (`+44 ...`, `0044 ...`) or national with a region. Most
real columns are already clean, so a cheap path answers them: one regex built
from libphonenumber's own metadata that accepts exactly the E.164 strings its
parser and validator would return unchanged (e164_regex.py; tests prove the two
agree). Everything
else goes through phonenumbers, once per distinct (value, region).

Every non-ok result and every change worth noting carries a reason "code: text"
(see reasons.py).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import operator
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from . import reasons as R
from . import regions
from .e164_regex import ALL_TYPES as _ALL_TYPES
from .e164_regex import COMMON_TYPES as _COMMON_TYPES
from .e164_regex import FAST as _FAST
from .e164_regex import MAX_DIGITS as _MAX_DIGITS
from .e164_regex import MIN_DIGITS as _MIN_DIGITS
from .e164_regex import lines_of as _lines_of
from .e164_regex import valid_e164 as _valid_e164
from .errors import InputError
from .input_limits import MAX_CELL_CHARS
from .models import BLANK, INVALID, OK

# One region for all values, or one per value (see resolve_all).
Region = str | Sequence[object] | None


class Normalised(NamedTuple):
    number: str | None
    status: str  # ok, invalid or blank
    # "code: text" (reasons.py): why not ok, or what was changed (ok with a note).
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
_SCIENTIFIC = re.compile(r"^([0-9.,]+)[eE]([+-]?\d+)$")
# "-41797000001" (a negative number that went through text), also with a real minus;
# not "- 079 828 46 51", a list's bullet.
_NEGATIVE = re.compile(r"^[-\u2212]\d")
# A float that went through text: "41798284651.0" (CSV exports of Excel cells).
_FLOAT_TEXT = re.compile(r"^(\+?\d+)\.0+$")
# "tel:+1-415-598-1332;ext=12" (RFC 3966), as CRMs and web pages export links.
_TEL = re.compile(r"^tel:", re.IGNORECASE)
# An extension at the end: "x123", "ext. 12", "extension 5", "#12", ";ext=12".
_EXTENSION = re.compile(
    r"(?:\s*;\s*ext\s*=\s*|\s*(?:extension|ext\.?|x|#)\s*)(\d{1,7})\s*$", re.IGNORECASE)
# Between two numbers in one cell: a list separator, "or"/"and", or a second "+".
_BETWEEN = re.compile(r"[,;|/&\n]|\b(?:or|and|oder|ou|o|y|et)\b|\s(?=\+)", re.IGNORECASE)
_DIGITS_IN = str.maketrans("", "", "0123456789")


def _invalid(code: str, text: str) -> Normalised:
    return Normalised(None, INVALID, R.reason(code, text))


def _ok(number: str) -> Normalised:
    # tuple.__new__ skips the namedtuple's Python-level __new__: this runs per cell.
    return tuple.__new__(Normalised, (number, OK, None))


# -- the slow path (the fast regex is e164_regex.py) ----------------------------------
def _region_of_cc(cc: int) -> str:
    import phonenumbers  # here, not at import: a column the store answers as written never needs it
    region = phonenumbers.region_code_for_country_code(cc)
    return f"+{cc} ({region})" if region not in ("ZZ", "001") else f"+{cc}"


def _check_international(digits: str, number: str | None = None) -> Normalised:
    """digits: the number after '+', only ASCII digits. number: '+' + digits, if at hand.

    libphonenumber's parse + is_valid_number: the trunk prefix some people write
    after the country code (+33 0 6...) is dropped as it would be when dialling.
    """
    import phonenumbers
    from phonenumbers import ValidationResult
    n = len(digits)
    if n < _MIN_DIGITS:
        return _invalid(R.TOO_SHORT, "too short")
    if n > _MAX_DIGITS + 2:  # room for a trunk prefix libphonenumber drops
        return _invalid(R.TOO_LONG, "too long")
    if digits[0] == "0":
        return _invalid(R.NO_COUNTRY_CODE, "no country code (starts with 0)")
    try:
        parsed = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException as e:
        if e.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            return _invalid(R.UNKNOWN_COUNTRY_CODE, "unknown country code")
        if e.error_type == phonenumbers.NumberParseException.TOO_LONG:
            return _invalid(R.TOO_LONG, "too long")
        return _invalid(R.TOO_SHORT, "too short")
    cc = parsed.country_code
    if phonenumbers.is_valid_number(parsed):
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        # phonenumbers calls some 17-digit German numbers valid; E.164 stops at 15.
        if E164.fullmatch(e164):
            return _ok(number if number and e164 == number else e164)
        return _invalid(R.TOO_LONG, f"too long for {_region_of_cc(cc)}")
    possible = phonenumbers.is_possible_number_with_reason(parsed)
    if possible in (ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        return _invalid(R.TOO_SHORT, f"too short for {_region_of_cc(cc)}")
    if possible == ValidationResult.TOO_LONG:
        return _invalid(R.TOO_LONG, f"too long for {_region_of_cc(cc)}")
    if possible == ValidationResult.INVALID_COUNTRY_CODE:
        return _invalid(R.UNKNOWN_COUNTRY_CODE, "unknown country code")
    return _invalid(R.INVALID_NUMBER, f"no such number in {_region_of_cc(cc)}")


def _from_national(text: str, region: str) -> str | None:
    import phonenumbers
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    number = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    # The result must read back as itself (E.164 stops at 15 digits; a national
    # number must not turn into one the international reading changes again).
    if _valid_e164().fullmatch(number) or _check_international(number[1:]).number == number:
        return number
    return None


# -- resolve_all: the engine's hot path ------------------------------------------------
_UNKNOWN = object()  # a per-row region value that names no region


def resolve_all(values: Iterable[object], region: object = None) -> list:
    """Per value: its E.164 string when valid, else its Normalised (invalid, blank,
    or ok with a note such as a removed extension).

    region: None, one region for all values (any form regions.py accepts; an
    unknown one raises RegionError), or a sequence aligned with values, one region
    per value (empty: none; unknown: that value is invalid, reason unknown_region).

    The engine's hot path: clean input costs one regex call, no object per cell;
    a region column adds one dict lookup per row.
    """
    if for_every_row(region):
        return _resolve_fixed(values, regions.fixed_region(region))
    return _resolve_per_row(values, region)


def for_every_row(region: Region) -> bool:
    """Whether resolve_all's region is one for every value (None too), not a
    sequence of one per value."""
    return region is None or isinstance(region, (str, int, float))


def resolve_rest(values: list, known: Iterable[bool], region: Region = None) -> list:
    """resolve_all's reading of values, where the values marked known are taken as
    they stand (already E.164 numbers: sent, or answered by the store) and only the
    rest are read; region is resolve_all's, one for every value."""
    out = list(values)
    rest = list(itertools.compress(range(len(out)), map(operator.not_, known)))
    if rest:
        for at, reading in zip(rest, resolve_all([out[at] for at in rest], region),
                               strict=True):
            out[at] = reading
    return out


def _resolve_fixed(values: Iterable[object], region: str | None) -> list:
    if type(values) is list and _all_clean(values):
        return values.copy()
    table = _FAST
    cache: dict = {}
    out: list = []
    append = out.append
    for value in values:
        kind = type(value)
        if kind is str:
            if table[value[1:3]](value):
                append(value)
                continue
            # Second chance, still cheap: only spaces around and inside, then a
            # "+", a "00" or (without a region) a lost "+". Anything with other
            # separators, "(0)", ".0" or dates takes the full path below.
            spaced = value.translate(_SPACES) if len(value) <= MAX_CELL_CHARS else ""
            if spaced:
                if spaced[0] == "+":
                    candidate = spaced if spaced != value else None
                elif spaced[:2] == "00":
                    candidate = "+" + spaced[2:]
                elif region is None and spaced[0] != "0":
                    candidate = "+" + spaced
                else:
                    candidate = None
                if candidate and table[candidate[1:3]](candidate):
                    append(candidate)
                    continue
        # With a region, national reading comes first: only the slow path knows it.
        if kind is float and region is None and value.is_integer() and 1e6 <= value < 1e15:
            text = f"+{int(value)}"  # Excel's 41798284651.0
            if table[text[1:3]](text):
                append(text)
                continue
        append(_slow(value, kind, region, cache))
    return out


def _all_clean(values: list) -> bool:
    """Every value an E.164 string the fast regex accepts (a clean column, or a
    re-run on tgcheck's output): then each value is its own answer, and the test
    runs in C instead of a Python loop: the column joined by newlines, matched
    whole by one regex of its calling codes' patterns (e164_regex.lines_of; each
    distinct set of keys compiled once). 200,000 values of six countries: the
    regex test 0.092 s to 0.068 s, the keys and the join 0.018 s more, the
    compiling 0.048 s to 0.021 s (mobile and fixed-line numbers' regex first);
    of one country (+41): 0.079 s to 0.055 s. A column of "+" and digits with an
    invalid number in it pays for these regexes, then for its keys' own in the
    loop."""
    text = _plus_digits_lines(values)
    if text is None:
        return False
    keys = tuple(sorted(set(map(_KEY, values))))
    # Mobile and fixed-line numbers first (a regex half the size to compile, what
    # most columns hold), then all types: the first accepts a subset of the second.
    for kinds in (_COMMON_TYPES, _ALL_TYPES):
        check = _lines_of(keys, kinds)
        if check is not None and check(text) is not None:
            return True
    return False


# A value's key in _FAST.
_KEY = operator.itemgetter(slice(1, 3))


def _plus_digits_lines(values: list) -> str | None:
    """values joined by newlines (one after each) when every value is a str that
    starts with "+" followed by ASCII digits only ("+" alone too); else None.
    The test runs in C, a few passes over the joined text (200,000 values: no
    min() and max() of the strings, which cost 0.01 s), before any regex is
    compiled."""
    # Exactly str, every value (a str subclass such as numpy.str_ is not one the
    # rest of the path takes as a number): 2 ms for 200,000.
    if not values or set(map(type, values)) != {str}:
        return None
    text = "\n".join(values) + "\n"
    # Only "+", digits and the newlines put in (one a value, none of a value's
    # own), each value's first character a "+" (the text's, and each one after
    # a newline but the last) and no other "+": anything else (a space, a dash)
    # is no such column.
    n = len(values)
    if (not text.isascii() or text.count("\n") != n or text[0] != "+"
            or text.count("\n+") != n - 1 or text.count("+") != n
            or text.encode().translate(None, b"+0123456789\n")):
        return None
    return text


def all_e164_form(values: list) -> bool:
    """Every value a str written as an E.164 number would be: "+", then ASCII
    digits, the first not 0 (nothing else: no space, no separator). Not whether
    it is valid: a number the store answered in this very form was normalised
    and validated before it was sent, so such a cell is that number (see
    Planning._known); any other goes through resolve_all. A fixed region never
    changes the reading of such a cell (it is read internationally: the fast
    regex and _normalise's E164 test come before any region); in C, 0.005 s for
    200,000 values."""
    if type(values) is not list:
        return False
    text = _plus_digits_lines(values)
    return text is not None and not text.startswith("+0") and "\n+0" not in text


def _slow(value: object, kind: type, region: str | None, cache: dict):
    key = (kind, value, region)  # the type too: 0 == False, 1.0 == 1
    try:
        hit = cache.get(key)
    except TypeError:  # an unhashable cell
        hit = None
    if hit is None:
        found = _normalise(value, region)
        # str(): a str subclass (numpy.str_) must come back a plain str, which is how
        # the engine tells a number from an answer object.
        hit = str(found.number) if found.status == OK and found.reason is None else found
        with contextlib.suppress(TypeError):
            cache[key] = hit
    return hit


def _resolve_per_row(values: Iterable[object], per_row: Iterable[object]) -> list:
    values = values if isinstance(values, list) else list(values)
    per_row = per_row if isinstance(per_row, list) else list(per_row)
    if len(per_row) != len(values):
        raise InputError(f"region: {len(per_row)} regions for {len(values)} numbers; give "
                         "one region, or one per number in the same order")
    table = _FAST
    codes: dict = {}  # raw region value -> its code, None (empty) or _UNKNOWN
    cache: dict = {}
    out: list = []
    append = out.append
    for value, raw in zip(values, per_row, strict=True):
        try:
            code = codes[raw]
        except KeyError:
            code = codes[raw] = _row_region(raw)
        except TypeError:  # an unhashable region cell
            code = _row_region(raw)
        kind = type(value)
        if code is _UNKNOWN:
            append(_unknown_row_region(value, raw))
            continue
        if kind is str and table[value[1:3]](value):
            append(value)
            continue
        append(_slow(value, kind, code, cache))
    return out


def _unknown_row_region(value: object, raw: object) -> Normalised:
    """A row whose region cell names no region. A number written internationally
    needs none: it is read as it is, the region noted; any other number is invalid
    (its national reading is unknown, and guessing a dropped "+" could pay for
    another number)."""
    found = _normalise(value, None)
    if found.status == BLANK:
        return found
    if not _written_international(value):
        return _invalid(R.UNKNOWN_REGION, regions.unknown_text(raw))
    if found.status != OK:
        return found  # the number's own fault; no region would have helped
    shown = str(raw).strip()
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    note = f"region {shown!r} names no region; not needed: the number is international"
    if found.reason is not None:  # an extension removed: say both
        return Normalised(found.number, OK, f"{found.reason}; {note}")
    return Normalised(found.number, OK, R.reason(R.REGION_IGNORED, note))


def _written_international(value: object) -> bool:
    """The cell's text starts with "+" or "00" (after spaces, separators, "tel:")."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    if _TEL.match(text):
        text = text[4:]
    text = text.translate(_SEPARATORS)
    return text.startswith(("+", "00"))


def _row_region(raw: object):
    if regions.is_empty(raw):
        return None
    code = regions.lookup(raw)
    return _UNKNOWN if code is None else code


# -- one value -------------------------------------------------------------------------
def normalise(value: object, region: object = None) -> Normalised:
    """One cell -> Normalised. Never raises for a value; an unknown region raises
    RegionError (any form regions.py accepts is fine: "GB", "UK", "44")."""
    return _normalise(value, regions.fixed_region(region))


def _several(text: str, region: str | None) -> bool:
    """Two phone numbers in one cell: at least two parts that are each a valid number
    on their own. ("0090532/1234567" is one number with a slash in it.)"""
    if not _BETWEEN.search(text):
        return False
    parts = [p for p in _BETWEEN.split(text)
             if len(p) - len(p.translate(_DIGITS_IN)) >= _MIN_DIGITS]
    return len(parts) >= 2 and sum(_read(p.strip(), region).status == OK for p in parts) >= 2


def _normalise(value: object, region: str | None) -> Normalised:
    """normalise() with region already a two-letter code or None."""
    if value is None:
        return Normalised(None, BLANK, R.reason(R.BLANK, "empty cell"))
    if isinstance(value, str):
        if E164.fullmatch(value):  # already E.164: only validity to check
            return _check_international(value[1:], value)
        text = value
    elif isinstance(value, bool):
        return _invalid(R.NOT_A_NUMBER, "not a phone number (boolean)")
    elif isinstance(value, int):
        if value < 0:
            return _negative()
        if value >= 10**20:
            return _invalid(R.TOO_LONG, "too long")
        text = str(value)
    elif isinstance(value, float):
        # Excel hands every number over as a float: 41798284651.0
        if math.isnan(value):
            return Normalised(None, BLANK, R.reason(R.BLANK, "empty cell"))
        if math.isinf(value) or value != int(value):
            return _invalid(R.NOT_A_NUMBER, "not a whole number")
        if value < 0:
            return _negative()
        text = str(int(value))
    else:
        text = str(value)

    if len(text) > MAX_CELL_CHARS:  # no phone number is; reading it on would cost its size
        return _invalid(R.TOO_LONG, f"the cell holds more than {MAX_CELL_CHARS:,} characters")
    stripped = text.strip()
    if not stripped.translate(_SEPARATORS):
        return Normalised(None, BLANK, R.reason(R.BLANK, "empty cell"))
    if _NEGATIVE.match(stripped):  # a numpy/Decimal value, or text from a number column
        return _negative()
    if _TEL.match(stripped):
        stripped, _, params = stripped[4:].partition(";")
        ext = re.search(r"(?:^|;)\s*ext\s*=\s*(\d{1,7})", params, re.IGNORECASE)
        if ext:  # read below like any other ";ext=12"; other parameters say nothing
            stripped += f";ext={ext.group(1)}"
        stripped = stripped.strip()
    extension = None
    found_ext = _EXTENSION.search(stripped)
    if found_ext and any(c.isdigit() for c in stripped[:found_ext.start()]):
        extension = found_ext.group(1)
        stripped = stripped[:found_ext.start()].strip()
    if _several(stripped, region):
        return _invalid(R.SEVERAL, "more than one number in the cell")
    result = _read(stripped, region)
    if extension is not None:
        if result.status == OK:
            return Normalised(result.number, OK, R.reason(
                R.EXTENSION_REMOVED, f"extension {extension} removed; the main number is sent"))
        return result
    return result


def _negative() -> Normalised:
    # A phone number has no sign: -41797000001 is a sum or a sign error, and
    # dropping the "-" could pay for a number nobody gave.
    return _invalid(R.NOT_A_NUMBER, "a negative number")


def _scientific(text: str) -> str | Normalised:
    """4.41234567890E+11 -> "441234567890" when the mantissa holds every digit;
    4.17983E+10 lost the last ones (Excel rounded them away): invalid."""
    mantissa, exponent = _SCIENTIFIC.match(text).groups()
    try:
        value = Decimal(f"{mantissa.replace(',', '.')}E{exponent}")
    except InvalidOperation:  # "4.1.2E+10"
        return _invalid(R.SCIENTIFIC, "scientific notation lost digits")
    # The tuple's exponent is the place of the last digit written: above the
    # units, digits were rounded away; "4.41234567890E+11" ends at the units.
    if value.as_tuple().exponent > 0:
        return _invalid(R.SCIENTIFIC, "scientific notation lost digits")
    if value.adjusted() >= 20:  # before int(): a 5,000-digit mantissa is no number
        return _invalid(R.TOO_LONG, "too long")
    if value != value.to_integral_value():
        return _invalid(R.NOT_A_NUMBER, "not a whole number")
    return str(int(value))


def _read(stripped: str, region: str | None) -> Normalised:
    if _SCIENTIFIC.match(stripped.replace(" ", "")):
        digits = _scientific(stripped.replace(" ", ""))
        if not isinstance(digits, str):
            return digits
        stripped = digits
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
            return _invalid(R.NOT_A_NUMBER, "contains letters or symbols")
        return _check_international(body)
    if compact.startswith("00") and compact.isdigit() and compact.isascii():
        return _check_international(compact[2:])
    if not (compact.isdigit() and compact.isascii()):
        return _invalid(R.NOT_A_NUMBER, "contains letters or symbols")
    if region:
        national = _from_national(compact, region)
        if national:
            return _national_or_dropped_plus(compact, stripped, national, region)
    # A bare digit string: E.164 whose "+" Excel dropped. Not a national layout with
    # parentheses, nor a dotted date: those are no lost "+".
    if stripped.startswith("(") or _DATE.match(stripped):
        return _not_national(region)
    result = _check_international(compact)
    if result.status == OK:
        return result
    if region:
        return _too_short_for(compact, region) or _not_national(region)
    # "8 (912) 345-67-54": digits that start with no calling code are a national
    # number, not an unknown country's.
    if compact.startswith("0") or R.code_of(result.reason) == R.UNKNOWN_COUNTRY_CODE:
        return _not_national(region)
    return result


def _national_or_dropped_plus(compact: str, stripped: str, national: str,
                              region: str) -> Normalised:
    """Digits with a valid national reading in region: is it one, or an
    international number whose "+" was dropped (Excel keeps 0049... and +49...
    as the number 49...)? Digits that begin with the region's own calling code
    and read validly as international are that number (+49 151..., not the
    Leer number 0491 51...); otherwise the national reading, libphonenumber's.
    When both readings are valid numbers and differ, the reason says so."""
    import phonenumbers
    if compact[0] == "0" or stripped.startswith("(") or _DATE.match(stripped):
        return _ok(national)  # a trunk 0, an area code in parentheses: national
    dropped = _check_international(compact)
    if dropped.status != OK or dropped.number == national:
        return _ok(national)
    own = str(phonenumbers.country_code_for_region(region))
    if compact.startswith(own):
        return Normalised(dropped.number, OK, R.reason(R.AMBIGUOUS, (
            f"read as {dropped.number} ({own} is {region}'s calling code and the + "
            f"was dropped); as a national number of {region} it is {national}")))
    return Normalised(national, OK, R.reason(R.AMBIGUOUS, (
        f"read as {national}, a national number of {region}; with a dropped + it is "
        f"{dropped.number}")))


def _too_short_for(compact: str, region: str) -> Normalised | None:
    import phonenumbers
    from phonenumbers import ValidationResult
    try:
        parsed = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException:
        return _invalid(R.TOO_SHORT, f"too short for {region}")
    if phonenumbers.is_possible_number_with_reason(parsed) in (
            ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        return _invalid(R.TOO_SHORT, f"too short for {region}")
    return None


def _not_national(region: str | None) -> Normalised:
    if region:
        return _invalid(R.INVALID_FOR_REGION,
                        f"not a valid number of {region} ({regions.name_of(region)})")
    return _invalid(R.NO_REGION, "national number: give a region")
