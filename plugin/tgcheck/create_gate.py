"""Task creates in flight, for a prompt Ctrl-C that orphans no paid task.

A create whose request may have left is a task that may be paid for: the worker
sending it must finish that one HTTP call and journal the task id before the
process exits. Workers not yet sending must not start once a stop is asked for.
The gate tells the two apart without a race: the check of the stop and the count
of creates in flight move together under one lock, so whoever sets the stop and
then reads the count sees every create that can still land.
"""

from __future__ import annotations

import threading
import time


class CreateGate:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._in_flight: set[int] = set()  # job ids
        self.recorded = 0  # tasks created and journaled through this gate

    def enter(self, job_id: int, stopped) -> bool:
        """Before one create: False (send nothing) when stopped() (or None) says a
        stop was asked for; else the create counts as in flight until leave()."""
        with self._cond:
            if stopped is not None and stopped():
                return False
            self._in_flight.add(job_id)
            return True

    def leave(self, job_id: int) -> None:
        """After the create's outcome is in the journal (task id, or why not)."""
        with self._cond:
            self._in_flight.discard(job_id)
            self._cond.notify_all()

    def count_recorded(self) -> None:
        with self._cond:
            self.recorded += 1

    def in_flight(self, stop=None) -> list[int]:
        """The jobs whose create is on its way; with `stop`, set it first (under
        the lock): then no other create starts, and the list is complete."""
        with self._cond:
            if stop is not None:
                stop.set()
            return sorted(self._in_flight)

    def wait(self, timeout: float) -> bool:
        """Until no create is in flight (True), or timeout seconds (False)."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._in_flight:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                # Short waits: a Ctrl-C in the main thread is heard between them.
                self._cond.wait(min(left, 0.2))
            return True
