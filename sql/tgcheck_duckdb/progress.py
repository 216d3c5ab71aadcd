"""Progress of the engine's job, shown where DuckDB's own progress bar cannot look.

DuckDB sees the UDF as one opaque call, so its bar sits still while a task
runs. The engine's job events say how far the task is: a live line on an
interactive stderr, log records otherwise (a notebook, a scheduled job), with a
"still waiting" record when nothing was logged for TGCHECK_PROGRESS_EVERY seconds
(`tgcheck sql` shows these records on stderr).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TextIO

import tgcheck
from tgcheck.progress import PROGRESS_EVERY, CheckProgress, Ticker
from tgcheck.progress_text import check_line

log = logging.getLogger("tgcheck.duckdb")

# Unattended runs log progress at most this often; a 30-minute task would
# otherwise leave hundreds of near-identical lines.
LOG_EVERY = 30.0


class ProgressReporter:
    """A JobEvent listener for one check. Call finish() when the wait ends, to end
    the live line."""

    def __init__(self, stream: TextIO | None = None, *, interactive: bool | None = None,
                 every: float = PROGRESS_EVERY):
        self.stream = stream if stream is not None else sys.stderr
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self._lock = threading.Lock()
        self._live = False
        self._last_log = 0.0
        self._check = CheckProgress()
        self._last_event: tgcheck.JobEvent | None = None
        self._ticker = Ticker(every, self._still_waiting)
        if not interactive:
            self._ticker.start()

    def _still_waiting(self, quiet_for: float) -> None:
        with self._lock:
            event = self._last_event
            if event is None:
                log.info("waiting: tgcheck: the check is starting")
            elif event.kind not in ("done", "failed"):
                log.info("still waiting: %s", check_line(event, self._check))

    def __call__(self, event: tgcheck.JobEvent) -> None:
        with self._lock:  # the tasks of a split check report from their own threads
            self._last_event = event
            self._check.update(event)
            text = check_line(event, self._check)
            if self.interactive:
                # \r + clear-to-end: one line that updates in place.
                self.stream.write(f"\r\x1b[K{text}")
                self.stream.flush()
                self._live = True
                return
            now = time.monotonic()
            if event.kind != "progress" or now - self._last_log >= LOG_EVERY:
                self._last_log = now
                self._ticker.touch()
                # INFO even for "failed": the engine logs failures as warnings
                # already, and the query itself fails with the message.
                log.info("%s: %s", event.kind, text)

    def finish(self) -> None:
        self._ticker.stop()
        with self._lock:
            if self._live:
                self.stream.write("\n")
                self.stream.flush()
                self._live = False
