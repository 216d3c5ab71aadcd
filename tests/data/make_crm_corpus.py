"""Writes crm_mixed.csv: a CRM-like export (id,name,phone,country) in many countries
and in the forms people type, with the expected E.164 (or reason code) per row.

Run once (`python tests/data/make_crm_corpus.py`); the CSV is committed. Numbers
are libphonenumber's example numbers with their last digits varied, each checked
valid by phonenumbers itself, so the expectation does not come from tgcheck.
"""

import csv
import random
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneNumberFormat as F
from phonenumbers import PhoneNumberType as T

COUNTRIES = {  # region -> the ways the country column names it
    "GB": ["GB", "United Kingdom", "UK", "44", "GBR", "England", "gb"],
    "US": ["US", "USA", "United States", "+1", "us"],
    "IN": ["IN", "India", "IND", "91"],
    "DE": ["DE", "Germany", "DEU", "+49", "de"],
    "FR": ["FR", "France", "FRA", "33"],
    "CH": ["CH", "Switzerland", "CHE", "41"],
    "TR": ["TR", "Turkey", "Türkiye", "TUR", "90"],
    "BR": ["BR", "Brazil", "BRA", "55"],
}
FIRST = ["Anna", "Ben", "Chloé", "Deniz", "Emre", "Farah", "Greta", "Hugo", "Ishaan", "Jonas"]
LAST = ["Meier", "Smith", "Patel", "Yılmaz", "Dubois", "Müller", "Silva", "O'Brien"]


def valid_numbers(region: str, rng: random.Random, n: int) -> list:
    out = []
    for kind in (T.MOBILE, T.FIXED_LINE):
        example = phonenumbers.example_number_for_type(region, kind)
        while len(out) < n * (1 if kind == T.MOBILE else 2) // 1:
            nsn = phonenumbers.national_significant_number(example)
            varied = nsn[:-4] + f"{rng.randrange(10000):04d}"
            num = phonenumbers.parse("+" + str(example.country_code) + varied)
            if phonenumbers.is_valid_number(num) and num not in out:
                out.append(num)
            if len(out) >= (n if kind == T.MOBILE else 2 * n):
                break
    return out


def forms(num, rng: random.Random) -> list[tuple[str, str]]:
    """(text as typed, note) for one valid number."""
    e164 = phonenumbers.format_number(num, F.E164)
    intl = phonenumbers.format_number(num, F.INTERNATIONAL)
    national = phonenumbers.format_number(num, F.NATIONAL)
    cc = str(num.country_code)
    nsn = phonenumbers.national_significant_number(num)
    out = [
        (national, "national format"),
        (intl, "international format"),
        (e164, "E.164"),
        ("00" + cc + " " + nsn, "00 prefix"),
        (national.replace(" ", "-"), "national with dashes"),
        (national.replace(" ", "."), "national with dots"),
        (phonenumbers.format_number(num, F.RFC3966), "tel: URI"),
        (f" {intl} ", "padded"),
        (intl + rng.choice([" x12", " ext. 345", " #7", ";ext=99"]), "extension"),
    ]
    meta = phonenumbers.PhoneMetadata.metadata_for_region(
        phonenumbers.region_code_for_number(num))
    if meta.national_prefix == "0":
        out.append((f"+{cc} 0 {nsn}", "trunk 0 after the country code"))
        out.append((f"+{cc} (0){nsn}", "(0) after the country code"))
    return out


def main() -> None:
    rng = random.Random(13)
    rows = []
    for region, names in COUNTRIES.items():
        for num in valid_numbers(region, rng, 6):
            for text, note in forms(num, rng):
                rows.append([text, rng.choice(names), phonenumbers.format_number(num, F.E164),
                             "ok", note])
    # Numbers a person cannot read as one valid number: never sent.
    rows += [
        ["+1 000 000 0000", "US", "", "invalid_number", "not a number in the plan"],
        ["+440000000000", "GB", "", "invalid_number", "not a number in the plan"],
        ["07911 123456 / 07922 123456", "GB", "", "several_numbers", "two numbers"],
        ["+41 79 828 46 51, +41 79 828 46 52", "CH", "", "several_numbers", "two numbers"],
        ["07911 123456", "Narnia", "", "unknown_region", "country names nothing"],
        ["call me", "FR", "", "not_a_number", "text"],
        ["123", "DE", "", "too_short", "too short"],
        ["0791 112", "GB", "", "invalid_for_region", "too few digits for GB"],
        ["", "IN", "", "blank", "empty"],
        ["4.47911E+11", "GB", "", "scientific_notation", "Excel lost digits"],
    ]
    rng.shuffle(rows)
    path = Path(__file__).with_name("crm_mixed.csv")
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "phone", "country", "expected", "expected_reason", "note"])
        for i, (text, country, expected, reason, note) in enumerate(rows, 1):
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            w.writerow([i, name, text, country, expected, reason, note])


if __name__ == "__main__":
    main()
