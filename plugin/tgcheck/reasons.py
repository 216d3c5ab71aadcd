"""Why a row is not `ok`, or what was changed on the way: "code: text".

The code is short and stable (scripts filter on it: `reason LIKE 'too_short%'`,
`code_of(answer.reason)`); the text says it for a person and may change.
docs/numbers.md lists the codes.
"""

from __future__ import annotations

# Invalid: never sent.
BLANK = "blank"  # the cell is empty
NOT_A_NUMBER = "not_a_number"  # letters, symbols, a fraction, a boolean
SCIENTIFIC = "scientific_notation"  # 4.17983E+10: the digits are lost
SEVERAL = "several_numbers"  # two numbers in one cell
TOO_SHORT = "too_short"
TOO_LONG = "too_long"
NO_COUNTRY_CODE = "no_country_code"  # +0...
UNKNOWN_COUNTRY_CODE = "unknown_country_code"
INVALID_NUMBER = "invalid_number"  # a calling code and a length, but no such number
NO_REGION = "no_region"  # a national number and no region to read it with
UNKNOWN_REGION = "unknown_region"  # the row's region names no country
INVALID_FOR_REGION = "invalid_for_region"  # not a number of the row's region
# Noted on ok rows: the number was sent, and this is worth knowing.
EXTENSION_REMOVED = "extension_removed"  # sent without its extension
AMBIGUOUS = "ambiguous"  # national and dropped-"+" readings both valid (docs/numbers.md)
REGION_IGNORED = "region_ignored"  # an unknown region cell beside an international number
# Unknown: sent, no answer.
LEFT_OUT = "left_out"  # the result file left the number out
ANSWERED_UNKNOWN = "answered_unknown"  # the provider answered that it cannot tell
NO_ANSWER = "no_answer"

CODES = (BLANK, NOT_A_NUMBER, SCIENTIFIC, SEVERAL, TOO_SHORT, TOO_LONG, NO_COUNTRY_CODE,
         UNKNOWN_COUNTRY_CODE, INVALID_NUMBER, NO_REGION, UNKNOWN_REGION, INVALID_FOR_REGION,
         EXTENSION_REMOVED, AMBIGUOUS, REGION_IGNORED, LEFT_OUT, ANSWERED_UNKNOWN, NO_ANSWER)


def reason(code: str, text: str) -> str:
    return f"{code}: {text}"


# The full reasons of the unknown rows, built once (they are set per row).
LEFT_OUT_REASON = reason(LEFT_OUT, "left out of the result file")
NO_ANSWER_REASON = reason(NO_ANSWER, "no answer")
ANSWERED_UNKNOWN_REASON = reason(ANSWERED_UNKNOWN, "the provider answered that it cannot tell")


def code_of(text: str | None) -> str | None:
    """The code of a reason ("too_short: ..." -> "too_short"); None for None."""
    if text is None:
        return None
    return text.split(":", 1)[0]


def reason_breakdown(values: list, found: list, examples: int = 3) -> dict[str, dict]:
    """code -> {"count": n, "examples": [a few inputs]} over resolve_all's answer:
    the rows not sent and the noted ones, most frequent first."""
    return most_frequent_first(tally_reasons({}, values, found, examples))


def tally_reasons(out: dict[str, dict], values: list, found: list,
                  examples: int = 3) -> dict[str, dict]:
    """reason_breakdown's counting added to out (codes in the order first met),
    which it returns: an input read in chunks tallies each chunk in turn."""
    for value, f in zip(values, found, strict=True):
        if type(f) is str or f.reason is None:
            continue
        entry = out.get(code := code_of(f.reason))
        if entry is None:
            entry = out[code] = {"count": 0, "examples": []}
        entry["count"] += 1
        if len(entry["examples"]) < examples and value not in entry["examples"]:
            entry["examples"].append(value)
    return out


def most_frequent_first(tally: dict[str, dict]) -> dict[str, dict]:
    """tally_reasons' codes, most frequent first (a tie in the order first met)."""
    return dict(sorted(tally.items(), key=lambda kv: -kv[1]["count"]))
