"""VectorLookUps (sql/tgcheck_duckdb/vector_look_ups.py): the first pass's memo
look-up of a vector, taken back once by the second pass for the very same keys."""

import sys
import threading

import numpy as np
import pytest

from tgcheck_duckdb import streamed_check, vector_look_ups
from tgcheck_duckdb.key_table import MAX_PAYLOAD
from tgcheck_duckdb.vector_look_ups import MAX_PLACES, Budget, VectorLookUps


def _vector(seed: int, n: int = 2048) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    keys = rng.integers(1, 10 ** 12, n).astype(np.int64)
    return keys, rng.integers(0, 3, n).astype(np.int64), rng.integers(-1, 10 ** 6, n)


def test_a_vector_is_taken_back_once_with_its_results():
    kept = VectorLookUps()
    keys, payloads, places = _vector(1)
    kept.put(keys, payloads, places)
    kept.put(*_vector(2)[:2])  # no places
    got = kept.take(keys.copy())
    assert np.array_equal(got[0], payloads) and np.array_equal(got[1], places)
    assert got[0].dtype == got[1].dtype == np.int64
    assert kept.take(keys) is None  # once
    other = kept.take(_vector(2)[0])
    assert other[1] is None and np.array_equal(other[0], _vector(2)[1])
    assert kept.held_bytes == 0


def test_other_keys_with_the_same_ends_are_not_taken():
    # Same length, first and last key: compared in full, so a vector DuckDB
    # cut or ordered otherwise in the second pass is looked up again.
    kept = VectorLookUps()
    keys, payloads, _ = _vector(3)
    kept.put(keys, payloads)
    changed = keys.copy()
    changed[1000] += 1
    assert kept.take(changed) is None
    swapped = keys.copy()
    swapped[[5, 6]] = swapped[[6, 5]]
    assert kept.take(swapped) is None
    assert np.array_equal(kept.take(keys)[0], payloads)


def test_equal_vectors_are_each_taken_once():
    kept = VectorLookUps()
    keys, payloads, places = _vector(4)
    kept.put(keys, payloads, places)
    kept.put(keys, payloads, places)
    assert kept.take(keys) is not None and kept.take(keys) is not None
    assert kept.take(keys) is None


def test_what_is_kept_is_bounded():
    keys, payloads, places = _vector(5)
    one = keys.nbytes + 2 * len(keys) + 4 * len(keys)  # int64, int16, int32
    kept = VectorLookUps(Budget(2 * one))
    for seed in range(5, 10):
        kept.put(*_vector(seed))
    assert kept.held_bytes == 2 * one
    assert kept.take(_vector(5)[0]) is not None and kept.take(_vector(6)[0]) is not None
    assert kept.take(_vector(7)[0]) is None  # past the bound: looked up again
    assert kept.held_bytes == 0


def test_an_empty_vector_is_never_kept():
    kept = VectorLookUps()
    empty = np.empty(0, np.int64)
    kept.put(empty, empty)
    assert kept.take(empty) is None and kept.held_bytes == 0


def test_threads_put_and_take_at_once():
    # DuckDB's threads call at once. Vectors that share one signature (length,
    # first and last key) share a list, and a thread switch after every few
    # bytecodes makes a missing lock show: a vector lost or taken twice, or
    # the bytes held miscounted (without the lock this failed every time).
    vectors = [_vector(seed, 64) for seed in range(400)]
    for keys, _, _ in vectors:
        keys[0], keys[-1] = 1, 2
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(3):
            kept, found = VectorLookUps(), []

            def put(part, kept=kept):
                for vector in part:
                    kept.put(*vector)

            def take(part, kept=kept, found=found):
                for keys, payloads, places in part:
                    got = kept.take(keys)
                    found.append(got is not None and np.array_equal(got[0], payloads)
                                 and np.array_equal(got[1], places))

            for work in (put, take):
                threads = [threading.Thread(target=work, args=(vectors[i::4],))
                           for i in range(4)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            assert found == [True] * len(vectors) and kept.held_bytes == 0
    finally:
        sys.setswitchinterval(interval)


def test_the_keys_are_copied():
    # The caller's array is DuckDB's argument, whose whole vector a view would
    # keep alive; and a later change to it must not change what is found.
    kept = VectorLookUps()
    keys, payloads, places = _vector(6)
    given = keys.copy()
    kept.put(given, payloads, places)
    given[:] = 7
    assert kept.take(given) is None
    got = kept.take(keys)
    assert np.array_equal(got[0], payloads) and np.array_equal(got[1], places)


def test_the_largest_payload_and_place_come_back_whole():
    kept = VectorLookUps()
    keys = np.array([5, 6, 7], np.int64)
    payloads = np.array([0, 1, MAX_PAYLOAD], np.int64)
    places = np.array([-1, 0, MAX_PLACES - 1], np.int64)
    kept.put(keys, payloads, places)
    got = kept.take(keys)
    assert got[0].tolist() == payloads.tolist() and got[1].tolist() == places.tolist()


def test_look_ups_that_share_a_budget_keep_no_more_than_it():
    # A connection's calls share one budget: a query of many calls keeps no
    # more than one would, and what one call takes back or drops is another's.
    keys, payloads, places = _vector(7)
    one = keys.nbytes + 2 * len(keys) + 4 * len(keys)
    budget = Budget(2 * one)
    first, second = VectorLookUps(budget), VectorLookUps(budget)
    first.put(keys, payloads, places)
    second.put(*_vector(8))
    second.put(*_vector(9))  # past the budget: not kept
    assert (first.held_bytes, second.held_bytes, budget.used) == (one, one, 2 * one)
    assert second.take(_vector(9)[0]) is None
    assert first.take(keys) is not None and budget.used == one
    second.put(*_vector(9))
    assert second.held_bytes == budget.used == 2 * one
    second.clear()  # a call whose second pass will not come
    assert second.held_bytes == budget.used == 0
    assert second.take(_vector(8)[0]) is None


def test_a_new_query_drops_what_a_query_stopped_early_kept():
    # A connection runs one query at a time: another query's state still open
    # was stopped early (a LIMIT), and its second pass will not come.
    states = streamed_check.QueryStates()

    def opened(query):
        state = object.__new__(streamed_check.QueryState)
        state._look_ups = VectorLookUps(states.look_up_budget)
        states.open(state, query)
        state._look_ups.put(*_vector(len(states)))
        return state

    stopped = opened("a query with a LIMIT")
    beside = opened("a query with a LIMIT")  # one query's calls keep theirs
    assert stopped._look_ups.held_bytes > 0 and beside._look_ups.held_bytes > 0
    later = opened("the next query")
    assert stopped._look_ups.held_bytes == beside._look_ups.held_bytes == 0
    assert states.look_up_budget.used == later._look_ups.held_bytes > 0


def _table_look_up(asked: list):
    """A look-up of keys as look_up_held calls it: payload key % 3, place key %
    1000 (or None), each call's keys recorded in asked."""
    def look_up(keys, with_places):
        asked.append(keys.copy())
        return keys % 3, (keys % 1000 if with_places else None)
    return look_up


@pytest.mark.parametrize("with_places", [True, False])
def test_held_vectors_are_looked_up_at_once_and_taken_back_each(monkeypatch, with_places):
    # The first pass holds each vector's keys; FINISH looks them up at once, a
    # slice of whole vectors at a time (here 5,000 keys: two vectors of 2,048
    # and what is left, each slice at most that unless one vector is more),
    # and the second pass takes each vector's results back, once.
    monkeypatch.setattr(vector_look_ups, "LOOK_UP_SLICE", 5000)
    budget, asked = Budget(), []
    kept = VectorLookUps(budget)
    vectors = [_vector(seed)[0] for seed in range(5)] + [_vector(9, 6000)[0]]
    for keys in vectors:
        assert kept.hold(keys, with_places)
    per_key = 8 + 2 + (4 if with_places else 0)
    assert kept.held_bytes == budget.used == per_key * sum(map(len, vectors))
    look_up = _table_look_up(asked)
    found = list(kept.look_up_held(look_up))  # asked with places as held
    # Yielded in the order held (the slices are looked up on two threads).
    assert [len(k) for k, _, _ in found] == [4096, 4096, 2048, 6000]
    assert np.array_equal(np.concatenate([k for k, _, _ in found]), np.concatenate(vectors))
    assert sorted(map(len, asked)) == [2048, 4096, 4096, 6000]
    assert sorted(np.concatenate(asked).tolist()) == sorted(np.concatenate(vectors).tolist())
    assert list(kept.look_up_held(look_up)) == []  # each held vector looked up once
    for keys in vectors:
        payloads, places = kept.take(keys.copy())
        assert np.array_equal(payloads, keys % 3)
        assert places is None if not with_places else np.array_equal(places, keys % 1000)
        assert kept.take(keys) is None
    assert kept.held_bytes == budget.used == 0


def test_a_vector_past_the_budget_is_not_held():
    keys = _vector(10)[0]
    kept = VectorLookUps(Budget(len(keys) * 14))
    assert kept.hold(keys, True)
    assert not kept.hold(_vector(11)[0], True)  # the caller looks it up itself
    assert not kept.hold(np.empty(0, np.int64), True)
    asked = []
    list(kept.look_up_held(_table_look_up(asked)))
    assert [len(a) for a in asked] == [len(keys)]


def test_held_keys_are_copied_and_dropped_with_the_rest():
    budget = Budget()
    kept = VectorLookUps(budget)
    keys = _vector(12)[0]
    given = keys.copy()
    kept.hold(given, False)
    given[:] = 7  # DuckDB's argument, reused: what was held stays
    kept.put(*_vector(13)[:2])
    kept.clear()  # a call whose second pass will not come: held ones too
    assert kept.held_bytes == budget.used == 0
    asked = []
    assert list(kept.look_up_held(_table_look_up(asked))) == [] and not asked
    assert kept.take(keys) is None
    kept.hold(keys, False)
    asked = []
    list(kept.look_up_held(_table_look_up(asked)))
    assert np.array_equal(asked[0], keys)


def test_threads_hold_at_once():
    # DuckDB's threads hold their vectors at once: each is looked up once.
    vectors = [_vector(seed, 64)[0] for seed in range(400)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        kept = VectorLookUps()

        def hold(part):
            for keys in part:
                kept.hold(keys, True)

        threads = [threading.Thread(target=hold, args=(vectors[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    asked = []
    list(kept.look_up_held(_table_look_up(asked)))
    assert sorted(np.concatenate(asked).tolist()) == sorted(np.concatenate(vectors).tolist())
    assert kept.held_bytes == 400 * 64 * 14


def test_a_closed_or_pushed_out_call_gives_its_look_ups_back():
    # What a call's second pass did not take back (a filter cut a vector) goes
    # when the call is closed, or pushed out by its own query's later calls
    # (MAX_PER_QUERY), not only when another query starts.
    states = streamed_check.QueryStates(max_per_query=2)

    def opened(query):
        state = object.__new__(streamed_check.QueryState)
        state._look_ups = VectorLookUps(states.look_up_budget)
        states.open(state, query)
        state._look_ups.put(*_vector(len(states) + 20))
        state._look_ups.hold(_vector(len(states) + 40)[0], True)
        return state

    closed = opened("a query")
    states.close(closed)
    assert closed._look_ups.held_bytes == states.look_up_budget.used == 0
    first, second, third = (opened("another query") for _ in range(3))
    assert first._look_ups.held_bytes == 0  # pushed out by the third
    assert states.look_up_budget.used == second._look_ups.held_bytes \
        + third._look_ups.held_bytes > 0


def test_vectors_held_with_and_without_places_are_looked_up_apart():
    # Each slice is of vectors held alike: a vector held without places gets none.
    kept, modes = VectorLookUps(), []
    vectors = [(_vector(seed)[0], seed != 32) for seed in (30, 31, 32, 33)]
    for keys, with_places in vectors:
        kept.hold(keys, with_places)
    look_up = _table_look_up([])
    found = list(kept.look_up_held(lambda keys, with_places: modes.append(with_places)
                                   or look_up(keys, with_places)))
    assert sorted(modes) == [False, True, True]
    assert [places is not None for _, _, places in found] == [True, False, True]
    for keys, with_places in vectors:
        assert (kept.take(keys)[1] is not None) == with_places


def test_held_slices_are_looked_up_on_two_threads_and_no_more_ahead(monkeypatch):
    # FINISH's look-up runs while DuckDB's threads wait: two slices at once, on
    # two threads (each look-up waits for the other at a barrier: one at a
    # time, the barrier breaks and the test fails), and no slice is looked up
    # before the one two ahead of it has been handed on, so that the
    # look-ups' arrays stay a few slices' worth.
    monkeypatch.setattr(vector_look_ups, "LOOK_UP_SLICE", 2048)
    assert vector_look_ups.LOOK_UP_THREADS == 2
    kept = VectorLookUps()
    vectors = [_vector(seed)[0] for seed in range(50, 56)]
    for keys in vectors:
        kept.hold(keys, False)
    both = threading.Barrier(2, timeout=20)
    lock, started, threads = threading.Lock(), [], set()
    look_up = _table_look_up([])

    def at_once(keys, with_places):
        with lock:
            index = len(started)
            started.append(index)
            threads.add(threading.get_ident())
        if index < 4:
            both.wait()  # the first four slices: two and two at once
        return look_up(keys, with_places)

    found = kept.look_up_held(at_once)
    first = next(found)
    assert len(started) <= 2  # the third slice not yet begun
    rest = list(found)
    assert len(threads) == 2 and len(started) == len(vectors)
    assert all(np.array_equal(k, v) for (k, _, _), v in zip([first, *rest], vectors,
                                                             strict=True))
