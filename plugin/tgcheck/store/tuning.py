"""The values a store runs by that a deployment or a test may set: one object,
passed to the store (`open_store(target, tuning=...)`, `Store(path, tuning=...)`,
`PostgresStore(url, tuning=...)`), never a module constant changed in place.

A store reads `store.tuning` at each use, so a store made with other values (a
second store on the same file or database) poses as another process or host:
its own owner name, its own idea of how long a lease runs.
"""

from __future__ import annotations

import dataclasses

from .owners import HOST, LEASE_SECONDS


@dataclasses.dataclass(frozen=True)
class StoreTuning:
    """How a store decides; the defaults are tgcheck's."""

    #: A driver on another host that stops heart-beating for this long is taken
    #: for dead, and its job taken over (on this host the process table decides).
    lease_seconds: float = LEASE_SECONDS
    #: This machine's name in job owners (TGCHECK_HOST_NAME, else the host name):
    #: an owner on this host is alive while its process is.
    host: str = HOST
    #: The owner this store writes into the jobs it drives; None: this process,
    #: "host:pid" (read at each claim: a forked child is another process).
    owner: str | None = None
    #: A lookup of at least scan_min numbers that are at least 1/scan_share of
    #: the task type's answers between its first and last number reads that
    #: range rather than matching number by number (SQLite: probing the index,
    #: 2.0 s against 0.8 s of CPU for 1,000,000 numbers that fill their range;
    #: PostgreSQL: matching a million-element array, 2.2 s against 0.9 s wall);
    #: the read returns at most scan_share answers per number asked. 2: on
    #: SQLite a read of twice the numbers asked costs what probing does
    #: (1.0-1.1x for a chunked check, which turns every number read into a key
    #: to drop the others; 0.75x for lookup()'s dict), of four times 1.3-1.8x;
    #: on PostgreSQL reading wins on wall time at 2x and 4x (docs/performance.md).
    scan_min: int = 20_000
    scan_share: int = 2
    #: SQLite: a scan aggregates one column per distinct (value, status) when
    #: there are at most this many (yes/no types); free-form values are grouped.
    filter_pairs_max: int = 16
    #: SQLite: such a scan takes its pairs from the range's first pair_sample
    #: rows, and reads the whole range's pairs only when a row of another pair
    #: is among the answers (at least 1).
    pair_sample: int = 1000
    #: PostgreSQL: a connection idle this long is pinged before use (and made
    #: anew if the server dropped it).
    idle_check_seconds: float = 30.0

    def __post_init__(self):
        for name in ("lease_seconds", "scan_min", "scan_share", "filter_pairs_max",
                     "idle_check_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"StoreTuning.{name} must not be negative")
        if self.pair_sample < 1:
            raise ValueError("StoreTuning.pair_sample must be at least 1")


DEFAULT_TUNING = StoreTuning()
