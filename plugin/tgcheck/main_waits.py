"""How the main thread waits for its worker threads: MAIN_WAIT at a time.

A process's SIGINT may be handed by the system to any of its threads; Python
then raises KeyboardInterrupt in the main thread, but only when that thread runs
Python code again. A lock waited on with no timeout never lets it, until the
worker is done: a `tgcheck resume` whose next poll was a minute away ignored
Ctrl-C for that minute. Every wait of the main thread for workers is therefore a
series of short ones (tests/core/test_ctrl_c_reaches_the_wait.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait

MAIN_WAIT = 0.5  # seconds: the longest a Ctrl-C waits to be raised


def completed(futures: Iterable[Future]) -> Iterator[Future]:
    """futures as they complete (as_completed does the same in one wait)."""
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=MAIN_WAIT, return_when=FIRST_COMPLETED)
        yield from done
