"""When to ask for a task's status next.

Every status call is billed, yet completion should be noticed promptly. The
task reports its own progress, so once a rate is known the next poll is aimed
at the estimated finish; before that, the interval doubles from the minimum.
"""

from __future__ import annotations

from .models import TaskStatus

# Aim this far into the remaining time when the finish is still far: a rate
# measured early can be off, and arriving a little early costs one call while
# arriving late costs the user waiting time.
FAR_FRACTION = 0.9


class PollSchedule:
    def __init__(self, poll_min: float, poll_max: float, started: float):
        self.poll_min = poll_min
        self.poll_max = poll_max
        self.started = started  # monotonic time the task was created
        self._first: tuple[float, int] | None = None  # first (time, processed) seen > 0
        self._growth = poll_min

    def _clamp(self, delay: float) -> float:
        return max(self.poll_min, min(self.poll_max, delay))

    def _grow(self) -> float:
        delay = self._clamp(self._growth)
        self._growth = min(self.poll_max, self._growth * 2)
        return delay

    def rate(self, processed: int, now: float) -> float | None:
        """Numbers per second, measured from the task's own progress."""
        if self._first is None:
            if processed > 0:
                self._first = (now, processed)
                # Progress since creation is the best estimate we have so far.
                elapsed = now - self.started
                return processed / elapsed if elapsed > 0 else None
            return None
        t0, p0 = self._first
        if now > t0 and processed > p0:
            return (processed - p0) / (now - t0)
        elapsed = now - self.started
        return processed / elapsed if elapsed > 0 and processed > 0 else None

    def next_delay(self, status: TaskStatus, now: float) -> float:
        if status.status == "completed":
            # Finished, file being written: usually seconds away.
            self._growth = max(self._growth, self.poll_min)
            return self._grow()
        total, processed = status.total, status.processed
        if status.status != "processing" or not total or processed is None:
            return self._grow()
        rate = self.rate(processed, now)
        if not rate:
            return self._grow()
        remaining = max(total - processed, 0) / rate
        elapsed = now - self.started
        self._growth = self.poll_min  # after a known finish, start small again
        if remaining <= max(2 * self.poll_min, 0.05 * elapsed):
            # Close: arrive just after the estimated finish.
            return self._clamp(remaining + 0.5 * self.poll_min)
        return self._clamp(FAR_FRACTION * remaining)
