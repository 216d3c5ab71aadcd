"""tgcheck.compact_answers: a check's distinct numbers as int64 keys that sort as the
str numbers sort, and the answer each got, read back as groups joined by number."""

import random

import numpy as np
import pytest

from tgcheck import compact_answers
from tgcheck.compact_answers import (
    DIGITS,
    CompactAnswers,
    Decoded,
    KeyParts,
    NotCompact,
    as_array,
    as_strs,
    distinct,
    keys_of_cells,
    positions,
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


@pytest.mark.parametrize("merge_every", [2, 3, compact_answers.MERGE_EVERY])
def test_key_parts_merged_over_levels_are_every_key_once(monkeypatch, merge_every):
    # Parts merged level by level (a merge tree), then all at once: each key of
    # every part, once, sorted, however many levels the parts filled.
    monkeypatch.setattr(compact_answers, "MERGE_EVERY", merge_every)
    rng = np.random.default_rng(3)
    parts = [distinct([rng.integers(1, 5_000, rng.integers(0, 60))]) for _ in range(300)]
    held = KeyParts()
    for part in parts:
        held.add(part)
    assert held.merged().tolist() == sorted(set(np.concatenate(parts).tolist()))
    assert held.merged().tolist() == []  # taken: nothing left behind


def test_positions_find_each_key_or_say_none():
    sorted_keys = np.array([3, 7, 9], np.int64)
    assert positions(sorted_keys, np.array([9, 1, 7, 10, 3, 8], np.int64)).tolist() == [
        2, -1, 1, -1, 0, -1]
    assert positions(np.array([], np.int64), np.array([1], np.int64)).tolist() == [-1]
