"""The first pass's vectors, looked up in the memo once, for the second pass to take again.

A macro call reads its table twice (macros.py), and both passes need every
"+digits" row's integer looked up in the memo's snapshot: the same vectors, as
DuckDB reads a table in the same vectors each time, and the same snapshot, so
the same answers. The look-up is most of what a pass costs in Python over a
table the memo answers (docs/performance.md, "Random numbers"). So it is made
once: the first pass holds each vector's keys here (hold), FINISH looks them
all up at once (look_up_held), slices of LOOK_UP_SLICE keys two at a time on
two threads, while DuckDB's threads wait for it (a vector's look-up beside
DuckDB's scan on the other core cost two to three times as much CPU as the
same look-up alone: docs/performance.md, "The first pass's look-ups at once"),
and keeps each vector's result; the second pass takes it back by the vector's
keys, compared in full: a vector the second pass reads otherwise (another
order, a filter that cut it) is simply looked up again. A vector the budget
does not let the first pass hold is looked up there, and kept (put) if the
budget has room.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .key_table import MAX_PAYLOAD

# What a connection's calls hold and keep at most, together (their keys,
# copied, and results, reserved when a vector is held): 32 MiB is every vector
# of about 2,400,000 rows of telegram_check (8 bytes a key, 2 a payload, 4 a
# place) or 3,350,000 of telegram_enrich (no place); past it the first pass
# looks the rest up itself and the second again. Shared (Budget), so that a
# query of many calls (a UNION ALL of ten) keeps no more than one; a call gives
# its bytes back as its second pass takes its vectors, and what is left when it
# is closed or pushed out (streamed_check.QueryStates: a query stopped early by
# a LIMIT gives its back when the next query starts).
MAX_BYTES = 32 * 1024 * 1024
# A payload (an answer's code + 1) is kept in 2 bytes, a place in 4.
PAYLOAD_TYPE, PLACE_TYPE = np.int16, np.int32
assert np.iinfo(PAYLOAD_TYPE).max >= MAX_PAYLOAD
MAX_PLACES = int(np.iinfo(PLACE_TYPE).max) + 1  # a table with more is not kept
# Held keys looked up this many at a time (look_up_held), on this many threads:
# the look-ups' arrays (about 40 bytes a key, LOOK_UP_THREADS + 1 slices at
# most) stay at a few MiB however many rows are held. Two threads: the look-up
# reads memory at random and took 0.020 s for 1,000,000 keys on two against
# 0.031 s on one, and four did no better on a machine of two cores
# (docs/performance.md, "A thread state kept per DuckDB thread").
LOOK_UP_SLICE = 1 << 17
LOOK_UP_THREADS = 2


class Budget:
    """Bytes that VectorLookUps share (a connection's calls). Thread-safe."""

    def __init__(self, max_bytes: int = MAX_BYTES):
        self.max_bytes, self.used = max_bytes, 0
        self._lock = threading.Lock()

    def reserve(self, size: int) -> bool:
        with self._lock:
            if self.used + size > self.max_bytes:
                return False
            self.used += size
            return True

    def release(self, size: int) -> None:
        with self._lock:
            self.used -= size


class VectorLookUps:
    """Look-up results (a payload per key, and a place per key or None) of
    vectors of int64 keys, each taken back once by the same keys, within a
    Budget (a MAX_BYTES of its own when none is shared). Thread-safe: DuckDB's
    threads call at once."""

    def __init__(self, budget: Budget | None = None):
        self._budget = budget if budget is not None else Budget()
        self.held_bytes = 0
        self._lock = threading.Lock()
        # A vector's length and first and last key -> the vectors kept with them.
        self._kept: defaultdict[tuple, list] = defaultdict(list)
        # Vectors held, not looked up yet: (bytes reserved, with places, keys).
        self._held: list[tuple[int, bool, np.ndarray]] = []

    def hold(self, keys: np.ndarray, with_places: bool) -> bool:
        """Keep a copy of keys, to be looked up with every vector held
        (look_up_held) and its results then kept as put() keeps them (the bytes
        of both reserved now); False, keeping nothing, for no keys or past the
        bound: the caller looks the vector up itself."""
        if not len(keys):
            return False
        size = _size(len(keys), with_places)
        if not self._budget.reserve(size):
            return False
        with self._lock:
            self.held_bytes += size
            self._held.append((size, with_places, np.array(keys, np.int64)))
        return True

    def look_up_held(self, look_up: Callable[[np.ndarray, bool], tuple]
                     ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """Look the vectors held up, about LOOK_UP_SLICE keys at a time (of
        vectors held alike) by look_up(keys, with_places) -> (payloads, places
        or None), each vector's results kept for take(); yields each slice's
        keys, payloads and places, in the order held. Up to LOOK_UP_THREADS
        slices are looked up at once, on as many threads: DuckDB's own wait for
        FINISH, and numpy lets go of the GIL in the look-up's steps (no more
        slices ahead, so that their arrays stay a few MiB)."""
        with self._lock:
            held, self._held = self._held, []
        parts = list(_slices(held))
        if len(parts) < 2:  # no thread for one slice
            for part in parts:
                yield self._kept_part(part, _looked_up(look_up, part))
            return
        with ThreadPoolExecutor(LOOK_UP_THREADS) as pool:
            ahead: deque = deque()
            for part in parts:
                ahead.append((part, pool.submit(_looked_up, look_up, part)))
                if len(ahead) == LOOK_UP_THREADS:
                    first, found = ahead.popleft()
                    yield self._kept_part(first, found.result())
            while ahead:
                first, found = ahead.popleft()
                yield self._kept_part(first, found.result())

    def _kept_part(self, part: list, found: tuple) -> tuple:
        """A slice's look-up (_looked_up's keys, payloads and places), each of its
        vectors' results kept."""
        keys, payloads, places = found
        at = 0
        with self._lock:
            for size, _, k in part:
                end = at + len(k)
                self._add(size, k, payloads[at:end], None if places is None else places[at:end])
                at = end
        return keys, payloads, places

    def put(self, keys: np.ndarray, payloads: np.ndarray,
            places: np.ndarray | None = None) -> None:
        """Keep payloads (each at most key_table.MAX_PAYLOAD) and places (each
        under MAX_PLACES, or None) of keys, unless the bound is reached. The keys
        are copied: DuckDB's argument would keep its whole vector alive."""
        if not len(keys):
            return
        size = _size(len(keys), places is not None)
        if not self._budget.reserve(size):
            return
        with self._lock:
            self.held_bytes += size
            self._add(size, np.array(keys, np.int64), payloads, places)

    def _add(self, size: int, keys: np.ndarray, payloads: np.ndarray,
             places: np.ndarray | None) -> None:
        """Keep a vector's results for take(), size bytes reserved and counted
        (under the lock): payloads in 2 bytes, places in 4."""
        self._kept[_signature(keys)].append((size, (
            keys, payloads.astype(PAYLOAD_TYPE),
            None if places is None else places.astype(PLACE_TYPE))))

    def take(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray | None] | None:
        """The payloads (int64) and places (int64, or None) put with the very same
        keys, once; None when no vector was put with them."""
        if not len(keys):
            return None
        signature = _signature(keys)
        with self._lock:
            vectors = self._kept.get(signature) or []
            found = next((i for i, (_, kept) in enumerate(vectors)
                          if np.array_equal(kept[0], keys)), None)
            if found is None:
                return None
            size, (_, payloads, places) = vectors.pop(found)
            if not vectors:
                del self._kept[signature]
            self.held_bytes -= size
        self._budget.release(size)
        return (payloads.astype(np.int64),
                None if places is None else places.astype(np.int64))

    def clear(self) -> None:
        """Drop what is kept and held, its bytes back to the budget: a call that is
        closed, pushed out, or whose second pass will not come (a query stopped
        early). Never a call before its FINISH has run: the held vectors hold the
        numbers it has to check (QueryStates clears only another query's calls,
        whose FINISH has run or never will, and its own closed or dropped ones)."""
        with self._lock:
            held, self.held_bytes = self.held_bytes, 0
            self._kept.clear()
            self._held = []
        self._budget.release(held)


def _looked_up(look_up: Callable, part: list) -> tuple:
    """A slice of held vectors' keys, and their payloads and places."""
    keys = np.concatenate([k for _, _, k in part])
    return keys, *look_up(keys, part[0][1])


def _slices(held: list) -> Iterator[list]:
    """The held vectors in runs of about LOOK_UP_SLICE keys, each of vectors held
    alike (with places or without), in the order held."""
    while held:
        with_places, count, rows = held[0][1], 0, 0
        while count < len(held) and held[count][1] == with_places and (
                not rows or rows + len(held[count][2]) <= LOOK_UP_SLICE):
            rows += len(held[count][2])
            count += 1
        yield held[:count]
        held = held[count:]


def _size(rows: int, with_places: bool) -> int:
    """The bytes a vector of rows keeps: its keys, payloads and places."""
    per_row = np.dtype(np.int64).itemsize + np.dtype(PAYLOAD_TYPE).itemsize
    return rows * (per_row + (np.dtype(PLACE_TYPE).itemsize if with_places else 0))


def _signature(keys: np.ndarray) -> tuple[int, int, int]:
    return len(keys), int(keys[0]), int(keys[-1])
