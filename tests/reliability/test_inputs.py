"""Bad input, at scale: a corpus of real-spreadsheet cells with their right answers,
and property tests that the normaliser and the readers fail only in the project's
own, clear ways.

The corpus (tests/data/input_corpus.csv) holds what users paste: display formats,
Excel's float and scientific forms, national numbers with and without a region,
placeholders, junk.
"""

from __future__ import annotations

import csv
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paths import DATA
from tgcheck import normalise, plugins

CORPUS = DATA / "input_corpus.csv"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
TG = plugins.get_task_type("tg")


def corpus_rows() -> list:
    with CORPUS.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [pytest.param(row, id=f"{i:03d}") for i, row in enumerate(rows)]


def test_the_corpus_is_large_and_covers_every_outcome():
    rows = [p.values[0] for p in corpus_rows()]
    assert len(rows) >= 100
    assert {r["status"] for r in rows} == {"ok", "invalid", "blank"}
    assert sum(bool(r["region"]) for r in rows) >= 20


@pytest.mark.parametrize("row", corpus_rows())
def test_corpus_row(row):
    result = normalise(row["input"], row["region"] or None)
    assert (result.number or "", result.status) == (row["expected"], row["status"]), row["note"]
    if result.status == "invalid":
        assert result.reason  # every refusal says why


def test_corpus_through_the_engine_sends_only_valid_numbers(engine, sandbox):
    """The corpus, one column per region: only valid numbers are sent, each once."""
    rows = [p.values[0] for p in corpus_rows() if not p.marks]
    by_region: dict[str, list] = {}
    for row in rows:
        by_region.setdefault(row["region"].upper(), []).append(row)
    for region, group in sorted(by_region.items()):
        answers = engine.check([r["input"] for r in group], region=region or None)
        for row, answer in zip(group, answers, strict=True):
            assert answer.number == (row["expected"] or None), row["note"]
            if row["status"] != "ok":
                assert answer.status == row["status"]
    sent = {n for task in sandbox.tasks.values() for n in task.numbers}
    assert sent == {r["expected"] for r in rows if r["expected"]}
    # Each number paid for once: groups whose numbers were already answered send none.
    assert sum(len(task.numbers) for task in sandbox.tasks.values()) == len(sent)
    assert sandbox.creates == len(sandbox.tasks)


# -- the normaliser: properties beyond tests/core/test_normalize.py ----------------------

REGIONS = st.sampled_from([None, "", "CH", "ch", "TR", "US", "GB", "DE", "FR", "RU", "IN",
                           "XX", "ZZZ", "c h", "\u00df", "001"])
WILD = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(categories=["Nd", "Zs", "Pd", "Cf", "Ps", "Pe"]),
            max_size=40),
    st.from_regex(r"\A[+0]?[0-9 ().\-]{0,25}(\.0+|[eE][+-]?\d{1,3})?\Z"),
    st.integers(),
    st.floats(),
    st.decimals(allow_nan=True),
    st.binary(max_size=20),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=500, deadline=None)
@given(WILD, REGIONS)
def test_normaliser_never_raises_on_any_cell_or_region(value, region):
    # Issue 13: a region that names no country is a usage error (RegionError, a
    # ValueError), never silently "no region"; any cell with a known region is fine.
    from tgcheck.regions import RegionError, lookup

    if region and region.strip() and lookup(region) is None:
        with pytest.raises(RegionError):
            normalise(value, region)
        return
    result = normalise(value, region)
    assert result.status in ("ok", "invalid", "blank")
    assert (result.number is None) == (result.status != "ok")
    if result.number is not None:
        assert E164.match(result.number)
        again = normalise(result.number, region)  # idempotent, region-blind
        assert (again.number, again.status) == (result.number, result.status)


def test_normaliser_never_raises_on_huge_integers():
    assert normalise(10 ** 5000).status == "invalid"


valid_numbers = st.sampled_from([
    "+41798284651", "+905321234567", "+16502530000", "+447911123456", "+491711234567",
    "+33612345678", "+390669821234", "+79123456789", "+8613800138000", "+5511912345678",
])


@settings(max_examples=300, deadline=None)
@given(valid_numbers, st.lists(st.sampled_from([" ", "-", ".", "\u00a0", "\u2011", "/"]),
                               min_size=12, max_size=12),
       st.lists(st.booleans(), min_size=12, max_size=12), st.sampled_from(["+", "00", ""]))
def test_every_common_formatting_of_a_number_reads_back_the_same(number, seps, cuts, prefix):
    digits = number[1:]
    text = "".join(d + (s if cut else "") for d, s, cut in zip(digits, seps, cuts,
                                                                 strict=False))
    text += digits[len(seps):]
    assert normalise(prefix + text).number == number
    assert normalise(float(digits)).number == number  # how Excel hands it over
    assert normalise(int(digits)).number == number
    assert normalise(digits + ".0").number == number
