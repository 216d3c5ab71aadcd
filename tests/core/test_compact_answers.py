"""tgcheck.compact_answers: a check's distinct numbers as int64 keys that sort as the
str numbers sort, and the answer each got, read back as groups joined by number."""

import random

import numpy as np
import pytest

from tgcheck.compact_answers import (
    DIGITS,
    CompactAnswers,
    Decoded,
    NotCompact,
    as_array,
    as_strs,
    distinct,
    keys_of_cells,
)


def test_keys_round_trip_and_sort_as_the_strs_sort():
    rng = random.Random(7)
    values = [f"+{rng.randrange(1, 10 ** rng.randint(1, 15))}" for _ in range(20_000)]
    values += ["+1", "+10", "+100", "+19", "+2", "+999999999999999999"]
    keys = as_array(values)
    assert keys.dtype == np.int64 and as_strs(keys) == values
    # Sorted keys are sorted() strs: chunks cut from them are the tasks a list gives.
    assert as_strs(distinct([keys, keys[:100]])) == sorted(set(values))
    assert Decoded(distinct([keys]))[3:7] == sorted(set(values))[3:7]


@pytest.mark.parametrize("odd", ["41791234567", "+4179 123", "+41a", "+" + "1" * 19, "+٤١"])
def test_a_number_without_a_key_is_refused_not_cut(odd):
    with pytest.raises(NotCompact):
        as_array(["+41791234567", odd])


def test_answers_are_recorded_and_read_back_by_number():
    asked = ["+41791234567", "+41791234568", "+41791234569", "+4179123457"]
    answers = CompactAnswers(distinct([as_array(asked)]))
    # A scan's group holds numbers not asked for, one of them with no key at all.
    answers.record([("yes", "ok", ["+41791234567", "+41790000000", "not E.164"]),
                    (None, "unknown", ["+4179123457"])])
    assert as_strs(answers.missing(0, len(answers))) == ["+41791234568", "+41791234569"]
    answers.record([("no", "ok", ["+41791234568"])])
    groups = answers.groups_for(["+4179123457", "+41791234567", "+41791234569",
                                 "+41791234567"])
    assert sorted(groups, key=str) == sorted([
        ("yes", "ok", ["+41791234567", "+41791234567"]),
        (None, "unknown", ["+4179123457"])], key=str)  # +41791234569: no answer, no group


def test_keys_of_cells_read_a_padded_buffer_as_as_array_reads_str():
    numbers = ["+41791234567", "+1", "+123456789012345678", "+447911123456"]
    raw = "".join(n.ljust(DIGITS + 1, "\0") for n in numbers).encode()
    cells = np.frombuffer(raw, np.uint8).reshape(len(numbers), DIGITS + 1)
    assert keys_of_cells(cells).tolist() == as_array(numbers).tolist()
    with pytest.raises(NotCompact):
        keys_of_cells(np.frombuffer(b"41791234567".ljust(DIGITS + 1, b"\0"),
                                    np.uint8).reshape(1, DIGITS + 1))
