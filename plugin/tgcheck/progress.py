"""Job events shown to a person: a live bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from .models import JobEvent


class ProgressDisplay:
    """An on_event listener for the CLI. Writes to stderr only: stdout is for results."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self._bars: dict[str, int] = {}
        self._progress = None
        self._last_line: dict[str, tuple] = {}

    def __enter__(self) -> ProgressDisplay:
        if self.live:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[calls]} billed status calls"),
                console=Console(file=self.stream),
                transient=False,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, event: JobEvent) -> None:
        label = f"task {event.task_id or '(creating)'}"
        if event.simulated:
            label += " [simulated]"
        if self._progress is not None:
            bar = self._bars.get(event.job_key)
            total = event.total or event.numbers
            if bar is None:
                bar = self._bars[event.job_key] = self._progress.add_task(
                    label, total=total, calls=event.status_calls)
            done = total if event.kind == "done" else (event.processed or 0)
            self._progress.update(bar, description=f"{label} {event.status or ''}",
                                  total=total, completed=min(done, total),
                                  calls=event.status_calls)
            return
        # Plain lines: one per change of state, not one per poll.
        key = (event.kind, event.status)
        if self._last_line.get(event.job_key) == key and event.kind == "progress":
            return
        self._last_line[event.job_key] = key
        stamp = time.strftime("%H:%M:%S")
        counts = f" {event.processed}/{event.total}" if event.total else ""
        note = f" ({event.message})" if event.message else ""
        print(f"[{stamp}] {label}: {event.kind} {event.status or ''}{counts}{note}",
              file=self.stream, flush=True)
