"""Exponential backoff with full jitter, honouring Retry-After, bounded by a deadline."""

from __future__ import annotations

import random
import time

from .errors import DeadlineExceeded


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils  # here: an HTTP date is rare, and email costs 5 ms at every start

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Backoff:
    """One retry loop's state. `wait()` sleeps before the next attempt, or raises
    DeadlineExceeded when the next attempt could not start before the deadline."""

    def __init__(self, deadline: float, *, base: float = 0.5, cap: float = 60.0,
                 sleep=time.sleep, rng: random.Random | None = None, tell=None):
        self.deadline = deadline
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._sleep = sleep
        # tell(message): each retry said before its wait (a stderr line, a JSON event).
        self._tell = tell
        self._rng = rng or random.Random()

    def wait(self, what: str, retry_after: float | None = None, last_error: str = "") -> None:
        self.attempt += 1
        # Full jitter (AWS architecture blog): spreads concurrent clients apart.
        delay = self._rng.uniform(0, min(self.cap, self.base * 2 ** (self.attempt - 1)))
        if retry_after is not None:
            delay = max(delay, retry_after)
        remaining = self.deadline - time.monotonic()
        if delay >= remaining:
            raise DeadlineExceeded(
                f"{what}: gave up after {self.attempt} attempts, the deadline was reached"
                + (f" (last error: {last_error})" if last_error else "")
            )
        if self._tell is not None:
            self._tell(f"{what}: {last_error or 'failed'}; retry in {delay:.1f}s "
                       f"(attempt {self.attempt + 1})")
        self._sleep(delay)
