"""The benchmarks' numbers (benchmarks/sample_numbers.py): distinct, valid, spread
as random ones are, and the same from SQL as from numpy."""

import duckdb
import numpy as np
import phonenumbers

from benchmarks import sample_numbers as sn


def test_row_numbers_are_distinct_and_in_no_order():
    drawn = sn.suffixes(200_000)
    assert len(np.unique(drawn)) == len(drawn)
    assert drawn.min() >= 0 and drawn.max() <= sn.MASK
    # Consecutive rows are far apart, as a random draw's: about half go down.
    assert 0.4 < float(np.mean(np.diff(drawn) < 0)) < 0.6


def test_the_bijection_holds_over_its_whole_range_in_slices():
    # Distinct within each slice and across two far apart: no fold of the range.
    a, b = sn.suffixes(1 << 18), sn.suffixes(sn.MASK + 1, sn.MASK + 1 - (1 << 18))
    assert len(np.unique(np.concatenate([a, b]))) == 2 << 18


def test_every_number_is_a_valid_e164_number():
    rows = np.linspace(0, sn.MASK, 200, dtype=np.int64)
    for s in sn.scramble(rows).tolist():
        number = phonenumbers.parse(sn.phone(s))
        assert phonenumbers.is_valid_number(number)
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) \
            == sn.phone(s)


def test_sql_makes_the_same_numbers():
    got = duckdb.sql(f"SELECT {sn.scramble_sql('i')} FROM range(5000) r(i) ORDER BY i"
                     ).fetchnumpy()
    assert np.array_equal(next(iter(got.values())), sn.suffixes(5000))


def test_write_numbers_writes_rows_in_order(tmp_path):
    path = tmp_path / "n.txt"
    sn.write_numbers(path, 250_001)  # three blocks and one line
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines == [sn.phone(s) for s in sn.suffixes(250_001).tolist()]
