"""When to ask for a task's status next.

Every status call is billed, yet completion should be noticed promptly. The
schedule keeps an estimate of when the result file will be ready and a lag
budget (a small share of the task's estimated length, capped), and places each
poll at the *earliest plausible* finish plus that budget: if the task finished
that early, the lag stays within budget; if not, the next estimate is much
closer. Remaining time shrinks about threefold per call, so a 30-minute task
costs some seven status calls, a one-minute task a few more than its length in
poll_min steps would suggest, never a fixed-interval drip.

Phases are the provider's normalised states (`tgcheck.provider`), never its words:
- queued (`total` may read 0): nothing to measure. With the task's
  size known (the `numbers` prior, or `total`), the next poll is half the
  shortest plausible processing time away; without it, the wait grows
  geometrically with the time already waited.
- running: the rate is measured from the task's own progress over the
  longest baseline seen (its average drifts less than any recent slice).
- ready without a result file yet (or processed >= total; a provider once
  reported success > total): the file is seconds away; poll shortly, then at the
  lag budget.

The budget for a task that does not move: while a poll shows no progress (the
same state and processed count as the poll before, or a word the provider does not
know: no state), the next poll is at least as far away as the time since the
task last moved, so the intervals double (up to poll_max). A task stuck from its
creation is polled at about 2, 4, 8, 16 ... s: 6 calls in its first 2 minutes,
17 in 4 hours with poll_max 1800. A ready task without its file is allowed STUCK_EXPORT
seconds to write its file before the same rule applies. The engine adds a hard
cap per job (TGCHECK_MAX_STATUS_CALLS) on top of this.
"""

from __future__ import annotations

from .models import TaskStatus
from .provider import QUEUED, READY, RUNNING

# Numbers per second a task is assumed to run at when its provider names no
# typical rate. Providers set their own (Provider.typical_rate; ekycpro's is in
# its package): this neutral fallback is only a prior for the queued phase and
# the first sighting of progress; the task's own progress replaces it as soon as
# it is measured.
TYPICAL_RATE = 10.0
# A task may run up to this many times faster than typical (load varies).
RATE_SPREAD = 3.0
# The rate wanders (about +-30% over minutes): a remaining time extrapolated from
# the average so far can be this share too long. Polls aim this much early.
RATE_DRIFT = 0.35
# The lag we allow between "file ready" and noticing it: this share of the task's
# (estimated) length, at most LAG_CAP seconds. The goal is 5% and 60 s; the margin
# absorbs estimation error.
LAG_SHARE = 0.03
LAG_CAP = 40.0
# How far ahead of the measured baseline (time since progress was first seen) a
# poll may be placed.
MAX_REACH = 2.0
# A ready task's file (processed, being written) is usually there within seconds.
EXPORT_GUESS = 12.0
# Without a size prior, the next queued poll waits this many times the time
# already waited (3.0: calls at 2, 8, 32, 128 s ...).
PENDING_GROWTH = 3.0
# States in which a change (of state or count) is progress.
LIVE_STATES = frozenset({QUEUED, RUNNING, READY})
# A file being written (ready, no file yet) may take this long before ready with
# no change counts as a task that does not move (providers take seconds).
STUCK_EXPORT = 60.0


def shows_progress(seen: tuple[str | None, int], status: TaskStatus) -> bool:
    """Whether a record shows progress over seen (a state and a processed count):
    a live state with another state or count. status.state, not the word: a word
    without a state is never progress, so a task that does not move keeps its
    backoff, also across runs (the journal's moved_at)."""
    return status.state in LIVE_STATES and (status.state, status.processed or 0) != seen


class PollSchedule:
    """`delay = schedule.next_delay(status, now)` after each status call.

    poll_min, poll_max bound every delay; started is the monotonic time the task
    was created; numbers (optional) is the task's size, used before the provider
    reports `total`; typical_rate (numbers per second) is the provider's prior,
    TYPICAL_RATE when it names none. status.state (a normalised state) is all the
    schedule reads of the provider's record, besides its counts.
    """

    def __init__(self, poll_min: float, poll_max: float, started: float,
                 numbers: int | None = None, typical_rate: float | None = None):
        self.poll_min = poll_min
        self.poll_max = poll_max
        self.started = started
        self.numbers = numbers or None
        self.typical_rate = typical_rate or TYPICAL_RATE
        self._idle_at = started  # last time the task showed no progress
        self._first: tuple[float, int] | None = None  # first (time, processed) > 0
        self._ready_at: float | None = None
        # The last observation and when the task last moved: at creation it is
        # queued with nothing processed.
        self._seen: tuple[str, int] = (QUEUED, 0)
        self._moved_at = started

    def restore(self, state: str | None, processed: int | None, moved_at: float) -> None:
        """Go on from an earlier run's last poll: the state it saw, and when
        (monotonic) the task last moved; the doubling then continues instead of
        starting over."""
        self._seen = (state or QUEUED, processed or 0)
        self._moved_at = moved_at

    @property
    def moved_at(self) -> float:
        """When (monotonic) the task last showed progress (its creation if never)."""
        return self._moved_at

    # -- helpers -----------------------------------------------------------
    def _clamp(self, delay: float) -> float:
        return max(self.poll_min, min(self.poll_max, delay))

    def budget(self, length: float) -> float:
        """The lag allowed for a task expected to take `length` seconds in all."""
        return max(self.poll_min, min(LAG_CAP, LAG_SHARE * length))

    def rate(self, processed: int, now: float) -> float | None:
        """Numbers per second over the longest baseline seen (None: not measurable yet)."""
        if self._first is None:
            return None
        t0, p0 = self._first
        if now > t0 and processed > p0:
            return (processed - p0) / (now - t0)
        return None

    # -- the schedule --------------------------------------------------------
    def idle(self, status: TaskStatus, now: float) -> float:
        """Seconds the task has shown no progress (0 when this poll shows some)."""
        if shows_progress(self._seen, status):
            self._seen, self._moved_at = (status.state, status.processed or 0), now
        return max(now - self._moved_at, 0.0)

    def next_delay(self, status: TaskStatus, now: float) -> float:
        idle = self.idle(status, now)
        delay = self._next(status, now)
        if _state(status) == READY or (status.total and (status.processed or 0)
                                       >= status.total):
            idle -= STUCK_EXPORT
        # No progress: wait at least as long as the task has been still (doubling).
        return self._clamp(max(delay, idle))

    def _next(self, status: TaskStatus, now: float) -> float:
        total = status.total or self.numbers
        processed = status.processed or 0
        state = _state(status)
        if state == READY or (state == RUNNING and total and processed >= total):
            return self._clamp(self._finishing(now))
        if state == RUNNING and total and processed > 0:
            self._ready_at = None
            return self._clamp(self._processing(total, processed, now))
        # queued, or running without numbers yet
        self._idle_at = now
        return self._clamp(self._pending(total, now))

    def _pending(self, total: int | None, now: float) -> float:
        elapsed = max(now - self.started, 0.0)
        if total:
            shortest = total / (self.typical_rate * RATE_SPREAD)
            # Seen processing no later than half its shortest run: time to measure
            # the rate and still land on the finish.
            return max(0.5 * shortest, self.poll_min)
        return max(PENDING_GROWTH * elapsed, self.poll_min)

    def _processing(self, total: int, processed: int, now: float) -> float:
        elapsed = now - self.started
        left = max(total - processed, 0)
        if self._first is None:
            # First sight of progress: it began after the last idle poll, so
            # processed / that window is a lower bound of the rate. The earliest
            # plausible finish uses the fastest plausible rate.
            self._first = (now, processed)
            window = max(now - self._idle_at, 1e-9)
            fastest = RATE_SPREAD * max(processed / window, self.typical_rate)
            soonest = left / fastest
            return soonest + self.budget(elapsed + soonest)
        rate = self.rate(processed, now)
        if rate is None:  # stalled since the first sighting: back off gently
            return max(self.poll_min, 0.5 * (now - self._first[0]))
        processing = left / rate
        budget = self.budget(elapsed + processing + EXPORT_GUESS)
        # Aim at the export too, but never wait past the budget for it.
        ready = processing + min(EXPORT_GUESS, budget)
        # An average over a short baseline says little about a long future: never
        # extrapolate further ahead than MAX_REACH times the baseline.
        reach = MAX_REACH * (now - self._first[0])
        return min((1 - RATE_DRIFT) * processing + budget, ready, reach)

    def _finishing(self, now: float) -> float:
        budget = self.budget(now - self.started)
        if self._ready_at is None:
            self._ready_at = now
            return min(EXPORT_GUESS, budget)
        return budget


def _state(status: TaskStatus) -> str:
    # A record without a state (a word the provider does not know) is polled as
    # queued; idle() never counts it as progress.
    return status.state or QUEUED
