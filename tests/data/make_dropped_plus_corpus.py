"""Writes dropped_plus.csv: a CRM-like export (id,phone,country) whose numbers lost
their "+" (Excel keeps +49 151... and 0049 151... as the number 49151...), with the
country named in its own language, in English or by code, and the expected E.164 and
reason code per row (issue 22 items 1 and 2).

Run once (`python tests/data/make_dropped_plus_corpus.py`); the CSV is committed.
The expectation comes from phonenumbers and the rule in docs/numbers.md, not from
tgcheck: digits that begin with the region's own calling code and are a valid
international number are that number; otherwise libphonenumber's national reading
when valid, else the international one; "ambiguous" where both are valid and differ.
"""

import csv
import random
from pathlib import Path

import phonenumbers
from babel import Locale, languages
from phonenumbers import PhoneNumberFormat as F
from phonenumbers import PhoneNumberType as T

REGIONS = ["DE", "ID", "BR", "AT", "CH", "FR", "IT", "ES", "NL", "PL", "RU", "TR", "IN",
           "GB", "US", "MX"]


def names(region: str) -> list[str]:
    """The region as CRMs write it: code, English name, its own language's name."""
    own = languages.get_official_languages(region, de_facto=True)[0]
    return [region, Locale("en").territories[region], Locale(own).territories[region]]


def valid(text: str, region: str | None) -> str | None:
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    e164 = phonenumbers.format_number(parsed, F.E164)
    return e164 if phonenumbers.is_valid_number(parsed) and len(e164) <= 16 else None


def expected(digits: str, region: str) -> tuple[str, str]:
    international = valid("+" + digits, None)
    national = valid(digits, region)
    own = str(phonenumbers.country_code_for_region(region))
    chosen = (international if international and digits.startswith(own)
              else national or international)
    ambiguous = international and national and international != national
    return chosen or "", "ambiguous" if ambiguous else ("ok" if chosen else "invalid")


def numbers(region: str, rng: random.Random) -> list[str]:
    """Four mobile and two fixed-line numbers: example numbers, last digits varied."""
    out: list[str] = []
    for kind, total in ((T.MOBILE, 4), (T.FIXED_LINE, 6)):
        example = phonenumbers.example_number_for_type(region, kind)
        nsn = phonenumbers.national_significant_number(example)
        for _ in range(200):
            if len(out) >= total:
                break
            e164 = valid(f"+{example.country_code}{nsn[:-4]}{rng.randrange(10000):04d}", None)
            if e164 and e164 not in out:
                out.append(e164)
    return out


def main() -> None:
    rng = random.Random(22)
    rows = []
    for region in REGIONS:
        for e164 in numbers(region, rng):
            digits = e164[1:]
            for text, note in ((digits, "the + dropped"), (digits + ".0", "a float via CSV")):
                country = rng.choice(names(region))
                rows.append([text, country, *expected(digits, region), note])
            other = rng.choice([r for r in REGIONS if r != region])
            rows.append([digits, rng.choice(names(other)), *expected(digits, other),
                         f"a number of {region} in a row of {other}"])
    rng.shuffle(rows)
    path = Path(__file__).with_name("dropped_plus.csv")
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "phone", "country", "expected", "expected_reason", "note"])
        for i, row in enumerate(rows, 1):
            w.writerow([i, *row])


if __name__ == "__main__":
    main()
