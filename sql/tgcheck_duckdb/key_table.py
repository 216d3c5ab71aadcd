"""Distinct integers in a hash table, each found in a few steps whatever the integers.

The SQL face looks up every row of a query a vector at a time: a "+digits" cell's
integer in the memo's answers (answer_memo.MemoSnapshot), whose place then also
marks it answered (telegram_check's first rows). A binary search of a
sorted array takes twenty cache misses a row in a million integers when the
rows are in random order, as a customer table's numbers are; linear probing
took as many rounds per vector as its longest chain.

Here each integer has a home slot (Fibonacci hashing); one of the integers of a
home holds it, and the others of that home (at most a fifth of random integers
in a table of twice their number, none of a run of consecutive ones) go to a
second level, a smaller table with another hash; the few left after it are
kept sorted and found by a binary search. A look-up reads one slot for most
rows and a slot of the smaller table for most of the rest: a few steps per
vector, each over fewer rows.
"""

from __future__ import annotations

import numpy as np

from tgcheck.compact_answers import positions

# Integers under 2**KEY_BITS - 1 (10**15 < 2**50: every E.164 number's digits);
# a slot may carry a payload in the 13 bits above.
KEY_BITS = 50
KEY_MASK = np.int64((1 << KEY_BITS) - 1)
MAX_PAYLOAD = (1 << (63 - KEY_BITS)) - 1
# A free slot: the one integer of KEY_BITS bits a table never holds (fits), so
# that no key looked up (0, -1 for a row without digits, any other that fits)
# matches it.
EMPTY = KEY_MASK
# Each level's hash multiplier (odd): keys that share a home at one level are
# spread at the next. The first is Fibonacci hashing's (2**64 / the golden ratio).
# Two levels: the second leaves one key in 30 to 60 of random ones (1,000,000
# to 5,000,000 keys), and a third cost more in fixed steps per vector than it
# saved the binary search.
MULTIPLIERS = tuple(np.uint64(m) for m in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F))
# No level for this many keys or fewer: a binary search in a few is cheap.
SORTED_AT_MOST = 512


def fits(keys: np.ndarray) -> bool:
    """Whether every key is one a KeyTable holds: 1 to 2**KEY_BITS - 2."""
    return not len(keys) or bool(keys.min() >= 1 and keys.max() < KEY_MASK)


class KeyTable:
    """keys (distinct, each fits()), each with an optional payload (0 to
    MAX_PAYLOAD: an answer's code, say) packed with it in one int64: a look-up
    reads one slot, one cache miss rather than two. A level has 2**bits >=
    room * its keys slots, and one is made while more than sorted_at_most keys
    are left (up to one per multiplier); those left after the last are kept
    sorted. A key looked up is at least 1 and under 2**KEY_BITS - 1, or
    negative (a row without one: never here); SQL's integers of "+digits"
    cells are under 10**15."""

    def __init__(self, keys: np.ndarray, payload: np.ndarray | None = None, room: int = 2,
                 sorted_at_most: int = SORTED_AT_MOST):
        keys = np.ascontiguousarray(keys, np.int64)
        if not fits(keys):  # a key's high bits would be taken for a payload's
            raise ValueError(f"a KeyTable holds integers from 1 to 2**{KEY_BITS} - 2")
        if payload is not None and (len(payload) != len(keys) or len(payload) and (
                payload.min() < 0 or payload.max() > MAX_PAYLOAD)):
            raise ValueError(f"a payload per key, each from 0 to {MAX_PAYLOAD}")
        values = keys if payload is None else keys | (payload.astype(np.int64) << KEY_BITS)
        # Each level: its slots, its hash's multiplier and shift, and the place
        # (look_up) of its first slot.
        self._levels: list[tuple[np.ndarray, np.uint64, np.uint64, int]] = []
        places = 0
        while len(keys) > sorted_at_most and len(self._levels) < len(MULTIPLIERS):
            bits = max(4, int(room * len(keys) - 1).bit_length())
            level = (np.full(1 << bits, EMPTY, np.int64),
                     MULTIPLIERS[len(self._levels)], np.uint64(64 - bits), places)
            homes = _homes(keys, level)
            # Of the keys of one home, one is written last and holds it (which one
            # does not matter); the others go to the next level.
            level[0][homes] = values
            left = (level[0].take(homes) & KEY_MASK) != keys
            del homes
            self._levels.append(level)
            places += len(level[0])
            keys, values = keys[left], values[left]
        order = np.argsort(keys, kind="stable")
        self._sorted_keys, self._sorted = keys[order], values[order]
        # How many places look_up gives: the size of an array indexed by them.
        self.places = places + len(keys)

    def _look_up(self, keys: np.ndarray, with_places: bool = True
                 ) -> tuple[np.ndarray, np.ndarray | None]:
        """Each key's value (0 for a key not here: no payload) and, with_places,
        place (-1 likewise)."""
        rows = np.arange(len(keys))  # the rows still looked for
        values = np.zeros(len(keys), np.int64)
        places = np.full(len(keys), -1, np.int64) if with_places else None
        for depth, level in enumerate(self._levels):
            homes = _homes(keys, level)
            held = level[0].take(homes)
            hit = (held & KEY_MASK) == keys
            if depth == 0:  # every row: whole arrays, no scattered writes
                if hit.all():  # every key at its first home (places from 0)
                    return held, homes
                values = np.where(hit, held, 0)
                places = np.where(hit, homes, -1) if with_places else None
            else:
                values[rows[hit]] = held[hit]
                if with_places:
                    places[rows[hit]] = homes[hit] + level[3]
            # A home held by another key: this one, if here, is at a later
            # level. (An empty home: not here, as every key's home is held.)
            on = ~hit & (held != EMPTY)
            rows, keys = rows[on], keys[on]
            if not len(rows):
                return values, places
        found = positions(self._sorted_keys, keys)
        there = found >= 0
        values[rows[there]] = self._sorted.take(found[there])
        if with_places:
            places[rows[there]] = self.places - len(self._sorted) + found[there]
        return values, places

    def look_up(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each key's payload (int64; 0 for a key not here: payloads of at least 1
        tell the two apart) and place (under self.places, one per key; -1 for a
        key not here)."""
        values, places = self._look_up(keys)
        return values >> KEY_BITS, places

    def payloads(self, keys: np.ndarray) -> np.ndarray:
        """look_up's payloads alone."""
        return self._look_up(keys, with_places=False)[0] >> KEY_BITS


def _homes(keys: np.ndarray, level: tuple) -> np.ndarray:
    """Each key's home slot at level: the high bits of its product with the
    level's multiplier."""
    # Views, not copies: the slot is under 2**bits, the same as int64 (and
    # take() is twice as fast with int64 indices as with uint64 ones).
    product = np.ascontiguousarray(keys, np.int64).view(np.uint64) * level[1]
    return (product >> level[2]).view(np.int64)
