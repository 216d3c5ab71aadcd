"""Job events shown to a person or a program, on stderr only: stdout is for results.

- a live rich bar per job on a terminal: state, done/total, rate, ETA, billed calls;
- plain lines otherwise (one per change of state, not one per poll);
- JSON lines (`--progress json`) for programs.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from typing import TextIO

from . import redact
from .models import JobEvent


def billed_calls(event: JobEvent) -> int:
    """Calls this job was billed for so far: its create (once it has a task id) and
    its status calls. Downloads are not billed."""
    return event.status_calls + (1 if event.task_id else 0)


@dataclasses.dataclass
class CheckProgress:
    """One check's progress summed over its tasks: a set above the provider's
    maximum becomes several tasks whose events interleave, and a count taken
    from one event at a time would jump between them. Shared by the Excel and
    SQL faces, which each show one line per check."""

    _last: dict[str, JobEvent] = dataclasses.field(default_factory=dict)

    def update(self, event: JobEvent) -> None:
        self._last[event.job_key] = event  # each event carries its task's totals

    @property
    def tasks(self) -> int:
        return len(self._last)

    @property
    def numbers(self) -> int:
        return sum(e.numbers for e in self._last.values())

    @property
    def total(self) -> int:
        return sum(_total(e) for e in self._last.values())

    @property
    def processed(self) -> int:
        # success can exceed total at this provider: min() keeps "20,001/20,000" away.
        return sum(_total(e) if e.kind == "done" else min(e.processed or 0, _total(e))
                   for e in self._last.values())

    @property
    def counted(self) -> bool:
        """Whether the provider has reported a total yet (before that, total is
        only the count of numbers sent)."""
        return any(e.total for e in self._last.values())

    @property
    def status_calls(self) -> int:
        return sum(e.status_calls for e in self._last.values())

    @property
    def billed_calls(self) -> int:
        return sum(billed_calls(e) for e in self._last.values())


def _total(event: JobEvent) -> int:
    return event.total or event.numbers


class ProgressDisplay:
    """An on_event listener for the CLI."""

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
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                # rich measures the rate from the task's own processed counts, and
                # the ETA from that rate: both follow the provider, not our clock.
                TextColumn("{task.fields[rate]}"),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[billed]} billed calls"),
                console=Console(file=self.stream),
                transient=False,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, event: JobEvent) -> None:
        label = f"task {redact.clean(event.task_id or '(creating)', 200)}"
        if event.simulated:
            label += " [simulated]"
        if self._progress is not None:
            self._live(event, label)
            return
        # Plain lines: one per change of state, not one per poll.
        key = (event.kind, event.status)
        if self._last_line.get(event.job_key) == key and event.kind == "progress":
            return
        self._last_line[event.job_key] = key
        stamp = time.strftime("%H:%M:%S")
        counts = f" {event.processed or 0}/{event.total}" if event.total else ""
        note = f" ({redact.clean(event.message, None)})" if event.message else ""
        status = redact.clean(event.status or "", 40)
        print(f"[{stamp}] {label}: {event.kind} {status}{counts}, "
              f"{billed_calls(event)} billed calls{note}", file=self.stream, flush=True)

    def _live(self, event: JobEvent, label: str) -> None:
        total = event.total or event.numbers
        bar = self._bars.get(event.job_key)
        if bar is None:
            bar = self._bars[event.job_key] = self._progress.add_task(
                label, total=total, rate="", billed=0)
        done = total if event.kind == "done" else (event.processed or 0)
        self._progress.update(bar, total=total, completed=min(done, total))
        speed = self._progress.tasks[self._bars[event.job_key]].speed
        state = redact.clean(event.status or event.kind, 40)
        self._progress.update(
            bar, description=f"{label} {state}",
            rate=f"{speed:,.0f}/s" if speed else "-/s", billed=billed_calls(event))


class JsonProgress:
    """`--progress json`: one JSON object a line on stderr, for programs."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr

    def __enter__(self) -> JsonProgress:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def __call__(self, event: JobEvent) -> None:
        record = {"event": event.kind, "time": round(time.time(), 3),
                  **event.progress, "billed_calls": billed_calls(event)}
        self.write(record)

    def write(self, record: dict) -> None:
        # JSON escapes control characters itself; the key is masked in the line.
        self.stream.write(redact.mask(json.dumps(record)) + "\n")
        self.stream.flush()


class NoProgress:
    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def __call__(self, event: JobEvent) -> None:
        pass


def make_display(mode: str, quiet: bool):
    """auto: a live bar on a terminal, plain lines otherwise; json; none."""
    if quiet or mode == "none":
        return NoProgress()
    if mode == "json":
        return JsonProgress()
    return ProgressDisplay(live=None if mode == "auto" else (mode == "rich"))
