"""Stopping and waiting: the caller's cancel, Ctrl-C, the job's deadline.

Every wait of the engine goes through here, so a stop is heard the same way
everywhere: at once where the caller gave a cancel event, between short waits
elsewhere, and a deadline always ends the wait with DeadlineExceeded.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future

from ..errors import Cancelled, DeadlineExceeded
from ..main_waits import MAIN_WAIT

# A process waiting on another's job reads the local journal this often (free).
WATCH_EVERY = 0.25
# The same with a store that announces changes: the wait ends at once on a change.
WATCH_NOTIFIED = 2.0


def _on_main_thread() -> bool:
    """Whether a Ctrl-C (KeyboardInterrupt) can reach this thread."""
    return threading.current_thread() is threading.main_thread()


class _Stop:
    """The caller's cancel event, or an interrupt seen by the thread that started
    the workers: whichever comes first. Quacks like the threading.Event it wraps."""

    def __init__(self, cancel: threading.Event | None):
        self._cancel = cancel
        self._own = threading.Event()

    def set(self) -> None:
        self._own.set()

    def interrupted(self) -> bool:
        """The interrupt (not the caller's cancel, which means "stop waiting": a
        create it comes before still goes ahead, and the next call attaches)."""
        return self._own.is_set()

    def is_set(self) -> bool:
        return self._own.is_set() or (self._cancel is not None and self._cancel.is_set())

    def wait(self, timeout: float | None = None) -> bool:
        if self._cancel is None:
            return self._own.wait(timeout)
        end = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = 0.1 if end is None else min(0.1, end - time.monotonic())
            if left <= 0:
                return False
            self._own.wait(left)
        return True


def _wait_future(future: Future, cancel: threading.Event | None):
    """future's result, waited for MAIN_WAIT at a time (main_waits.py: Ctrl-C and
    cancel heard)."""
    while True:
        try:
            return future.result(timeout=MAIN_WAIT)
        except TimeoutError:
            if cancel is not None and cancel.is_set():
                raise Cancelled("stopped waiting; the job goes on") from None


def _sleep(seconds: float, deadline: float, cancel: threading.Event | None) -> None:
    """Sleep, honouring cancel and the deadline."""
    left = min(time.monotonic() + seconds, deadline) - time.monotonic()
    if left > 0:
        if cancel is not None:
            if cancel.wait(left):
                raise Cancelled("stopped waiting; the task runs on and the next call attaches")
        else:
            time.sleep(left)
    if time.monotonic() >= deadline:
        raise DeadlineExceeded("waited longer than the timeout")


def _await_change(store, deadline: float, cancel: threading.Event | None) -> None:
    """Between reads of a job another process drives: woken by the store's own
    announcement where it has one (PostgreSQL's NOTIFY, across machines), the
    driver's lease still looked at every WATCH_NOTIFIED seconds; else WATCH_EVERY."""
    if not getattr(store, "notifies", False) or cancel is not None:
        return _sleep(WATCH_EVERY, deadline, cancel)
    left = deadline - time.monotonic()
    if left > 0:
        store.wait_for_change(min(left, WATCH_NOTIFIED))
    if time.monotonic() >= deadline:
        raise DeadlineExceeded("waited longer than the timeout")
