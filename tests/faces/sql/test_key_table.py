"""key_table.KeyTable: every key found, with its own place and payload, and no other."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from tgcheck_duckdb import key_table
from tgcheck_duckdb.key_table import KEY_BITS, MAX_PAYLOAD, SORTED_AT_MOST, KeyTable

KEYS = st.integers(1, (1 << KEY_BITS) - 2)


def _check(table: KeyTable, held: dict[int, int], asked: list[int]) -> None:
    keys = np.array(list(held) + asked, np.int64)
    found, places = (a.tolist() for a in table.look_up(keys))
    payloads = table.payloads(keys).tolist()
    assert found == payloads  # look_up's payloads are payloads'
    for key, place, payload in zip(keys.tolist(), places, payloads, strict=True):
        if key in held:
            assert 0 <= place < table.places
            assert payload == held[key]
        else:
            assert place == -1
            assert payload == 0
    # One place per key held: a flag array indexed by place tells them apart.
    assert len(set(places[:len(held)])) == len(held)


@hyp_settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEYS, st.integers(1, MAX_PAYLOAD), max_size=400),
       st.lists(st.one_of(st.just(-1), st.just(0), KEYS), max_size=100),
       st.sampled_from([1, 2]), st.sampled_from([0, 3, SORTED_AT_MOST]))
def test_each_key_is_found_with_its_payload_and_no_other(held, asked, room, sorted_at_most):
    # sorted_at_most 0: every key in a level (as many levels as it takes, up to
    # the multipliers'), 3: a few left sorted, the default: small sets sorted.
    _check(KeyTable(np.array(list(held), np.int64), np.array(list(held.values())), room,
                    sorted_at_most), held, asked)


@hyp_settings(max_examples=50, deadline=None)
@given(st.integers(1, 10 ** 14), st.integers(1, 3000), st.integers(1, 7))
def test_runs_and_strided_numbers_are_found(first, count, stride):
    # A block of a country's numbers: consecutive, or a few apart.
    keys = first + stride * np.arange(count, dtype=np.int64)
    held = {k: 1 + k % 5 for k in keys.tolist()}
    _check(KeyTable(keys, keys % 5 + 1), held, [first - 1, int(keys[-1]) + stride + 1])


def test_keys_that_share_one_home_at_every_level_are_all_found(monkeypatch):
    # Every key's home is slot 0 at every level: one key holds it at each, the
    # rest are left sorted (given unsorted: the table sorts them).
    monkeypatch.setattr(key_table, "_homes", lambda keys, level: np.zeros(len(keys), np.int64))
    keys = np.random.default_rng(5).permutation(np.arange(10, 3010, 3, dtype=np.int64))
    held = {k: 1 + k % 7 for k in keys.tolist()}
    table = KeyTable(keys, keys % 7 + 1, sorted_at_most=0)
    assert len(table._levels) == len(key_table.MULTIPLIERS)
    _check(table, held, [8, 11, 3011, -1])


def test_a_key_out_of_range_is_refused():
    for bad in (0, -5, (1 << KEY_BITS) - 1, 1 << KEY_BITS):
        with pytest.raises(ValueError, match="KeyTable holds integers"):
            KeyTable(np.array([3, bad], np.int64))


def test_a_payload_out_of_range_or_of_another_length_is_refused():
    keys = np.array([3, 4], np.int64)
    for bad in ([1, MAX_PAYLOAD + 1], [-1, 1], [1]):
        with pytest.raises(ValueError, match="a payload per key"):
            KeyTable(keys, np.array(bad))
    assert KeyTable(keys, np.array([0, MAX_PAYLOAD])).payloads(keys).tolist() == [0, MAX_PAYLOAD]
