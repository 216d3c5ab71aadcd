"""Region values as people write them -> the two-letter region phonenumbers knows.

One check for every face (CLI, Python, SQL, Excel). Accepted: ISO 3166 alpha-2 and
alpha-3 codes (`GB`, `GBR`), English country names (`United Kingdom`, `Côte
d'Ivoire`, `Cote d'Ivoire`), common aliases (`UK`, `England`, `USA`), country names
in the languages of the countries themselves (`Brasil`, `Deutschland`, `España`,
`Österreich`, `Frankreich`, `Россия`: CLDR's, as Babel ships them), and calling codes
(`44`, `+44`, `0044`; a shared code gives its main country: `1` is US).

A fixed region (`--region`, `region=`, the Excel argument) that is unknown is a
usage error with a suggestion (RegionError); a per-row value that is unknown makes
that row invalid (the caller decides: lookup() returns None).

Country data comes from pycountry (ISO 3166: codes, English and official names),
Babel (CLDR's names in other languages) and phonenumbers (which regions have a
numbering plan, calling codes); only English aliases neither lists are kept here.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import unicodedata
from collections.abc import Sequence

from .errors import InputError

# Names people use that ISO 3166 does not list (its names are added from pycountry).
ALIASES = {
    "uk": "GB", "u k": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "northern ireland": "GB", "great britain": "GB", "britain": "GB",
    "united kingdom of great britain": "GB",
    "usa": "US", "us": "US", "america": "US", "united states of america": "US",
    "the united states": "US", "the us": "US", "the usa": "US",
    "uae": "AE", "emirates": "AE", "russia": "RU", "holland": "NL",
    "the netherlands": "NL", "czech republic": "CZ", "turkey": "TR", "turkiye": "TR",
    "ivory coast": "CI", "macedonia": "MK", "cape verde": "CV", "swaziland": "SZ",
    "burma": "MM", "vatican": "VA", "vatican city": "VA", "brunei": "BN",
    "kosovo": "XK", "palestine": "PS", "dr congo": "CD", "drc": "CD",
    "democratic republic of the congo": "CD", "republic of congo": "CG",
    "micronesia": "FM", "south korea": "KR", "korea": "KR", "north korea": "KP",
    "ascension": "AC", "ascension island": "AC", "tristan da cunha": "TA",
    "hong kong": "HK", "macau": "MO", "macao": "MO", "the philippines": "PH",
    "ksa": "SA", "saudi": "SA",
}


class RegionError(InputError, ValueError):
    """An unknown fixed region: a usage error (exit 2), a ValueError to Python callers."""


def _key(text: str) -> str:
    """A lookup key: no accents, lower case, letters and digits, single spaces.

    "Côte d'Ivoire" and "cote d'ivoire" meet; "U.S.A." becomes "usa".
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("&", " and ").replace(".", "").replace("'", "").replace("\u2019", "")
    # Letters of any script stay ("Россия", "日本"); everything else separates words.
    return " ".join(re.split(r"[\W_]+", text)).strip()


@functools.cache
def _table() -> dict[str, str]:
    """key -> two-letter region, for every name and code this module accepts."""
    import phonenumbers  # here, not at import: a column the store answers as written never needs it
    supported = phonenumbers.SUPPORTED_REGIONS
    table: dict[str, str] = {}
    heads: dict[str, set[str]] = {}

    def add(name: str | None, code: str) -> None:
        if name:
            table.setdefault(_key(name), code)

    import pycountry  # here: a check without regions never needs its tables

    for country in pycountry.countries:
        code = country.alpha_2
        add(code, code)
        add(country.alpha_3, code)
        names = [country.name, getattr(country, "official_name", None),
                 getattr(country, "common_name", None)]
        for name in filter(None, names):
            add(name, code)
            # "Korea, Republic of" -> "Republic of Korea"; "Holy See (Vatican City
            # State)" -> "Holy See" and "Vatican City State".
            if ", " in name:
                head, tail = name.split(", ", 1)
                add(f"{tail} {head}", code)
                heads.setdefault(_key(head), set()).add(code)
            if "(" in name:
                add(name.split("(")[0], code)
                add(name[name.index("(") + 1:].rstrip(")"), code)
    for head, codes in heads.items():
        if len(codes) == 1:  # "Iran" alone, but not "Korea" or "Virgin Islands"
            table.setdefault(head, next(iter(codes)))
    for code in supported:  # XK, AC, TA: numbering plans without an ISO entry
        table.setdefault(code.lower(), code)
    for alias, code in ALIASES.items():
        table[_key(alias)] = code
    return table


@functools.cache
def _other_languages() -> dict[str, str]:
    """key -> two-letter region for the country names of CLDR (through Babel) in
    every language that is official somewhere: "Brasil", "Deutschland", "Suisse",
    "Frankreich". Consulted only when _table() has no match: loading 100-odd
    languages takes most of a second. A name two languages give to different
    countries ("Kongo") names neither."""
    import phonenumbers
    from babel import languages, localedata  # here: most checks never need it

    supported = phonenumbers.SUPPORTED_REGIONS
    spoken = {lang for region in supported
              for lang in languages.get_official_languages(region, de_facto=True)}
    found: dict[str, set[str]] = {}
    for lang in sorted(spoken):
        if not localedata.exists(lang):
            continue
        for code, name in localedata.load(lang).get("territories", {}).items():
            if code in supported and (key := _key(name)):
                found.setdefault(key, set()).add(code)
    return {key: next(iter(codes)) for key, codes in found.items() if len(codes) == 1}


@functools.cache
def _names() -> dict[str, str]:
    """two-letter region -> a display name."""
    import pycountry

    out = {c.alpha_2: getattr(c, "common_name", None) or c.name for c in pycountry.countries}
    out.update({"XK": "Kosovo", "AC": "Ascension Island", "TA": "Tristan da Cunha"})
    return out


def name_of(code: str) -> str:
    return _names().get(code, code)


# "44.0": a calling code that passed through a float and back to text (SQL CAST).
_CALLING_CODE = re.compile(r"(?:\+|00)?\s*([1-9]\d{0,2})(?:\.0+)?")


@functools.lru_cache(maxsize=4096)
def _lookup_text(text: str) -> str | None:
    import phonenumbers
    calling = _CALLING_CODE.fullmatch(text)
    if calling:
        region = phonenumbers.region_code_for_country_code(int(calling.group(1)))
        return region if region in phonenumbers.SUPPORTED_REGIONS else None
    key = _key(text)
    code = _table().get(key)
    if code is None and key:
        code = _other_languages().get(key)
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def is_empty(value: object) -> bool:
    """No region given: None, "", spaces, NaN (an empty spreadsheet or DataFrame cell)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def per_row(cells: Sequence[object], default: str | None = None) -> str | list | None:
    """Each row's own region (a region column or range, in any face), default
    where a row's cell is empty; default alone when no row has one. A value that
    names no country is left for the engine, which makes that row invalid."""
    if all(is_empty(c) for c in cells):
        return default
    return [default if is_empty(c) else c for c in cells]


def lookup(value: object) -> str | None:
    """The region for a value, or None when it names none (see is_empty for no value).

    Excel hands a calling code typed in a cell over as a float: 44.0 is 44.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    return _lookup_text(value.strip())


def suggestions(value: object, n: int = 3) -> list[str]:
    """Closest accepted names or codes, as "GB (United Kingdom)"."""
    import phonenumbers
    key = _key(str(value))
    table = _table()
    out: list[str] = []
    for match in difflib.get_close_matches(key, list(table), n=8, cutoff=0.6):
        code = table[match]
        if code not in phonenumbers.SUPPORTED_REGIONS:
            continue
        shown = f"{code} ({name_of(code)})"
        if shown not in out:
            out.append(shown)
    return out[:n]


def unknown_text(value: object) -> str:
    """Why value is no region, with the closest matches: for errors and row reasons."""
    import phonenumbers
    shown = str(value).strip()
    if len(shown) > 40:
        shown = shown[:37] + "..."
    code = _table().get(_key(str(value)))
    if code and code not in phonenumbers.SUPPORTED_REGIONS:
        return f"region {shown!r} ({name_of(code)}) has no phone numbering plan of its own"
    close = suggestions(value)
    hint = f"did you mean {' or '.join(close)}?" if close else (
        "use an ISO code (GB, GBR), a country name or a calling code (44)")
    return f"unknown region {shown!r}: {hint}"


def fixed_region(value: object) -> str | None:
    """A region given once for all numbers -> its two-letter code, None when empty.

    Raises RegionError (exit 2, a ValueError) naming the closest matches when the
    value names no region: a typo must not silently read numbers with no region.
    """
    if is_empty(value):
        return None
    code = lookup(value)
    if code is None:
        raise RegionError(unknown_text(value))
    return code
