"""Job events shown to a person or a program, on stderr only: stdout is for results.

- a live rich bar per job on a terminal: state, done/total, rate, ETA, billed calls;
- plain lines otherwise (one per change of state, not one per poll, and a
  "still waiting" line when nothing was said for TGCHECK_PROGRESS_EVERY seconds:
  polls of a long task can be half an hour apart, and a log or CI job that sees
  nothing for that long looks hung);
- JSON lines (`--progress json`) for programs, with a "waiting" event likewise.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from . import progress_text, redact
from .models import JobEvent


def billed_calls(event: JobEvent) -> int:
    """Calls this job was billed for so far, as its provider counts them (the
    engine puts Provider.billed_calls in each event). An event built elsewhere
    says nothing: the base rule then, its create (once it has a task id) and its
    status calls."""
    if event.billed_calls is not None:
        return event.billed_calls
    return event.status_calls + (1 if event.task_id else 0)


def billed_here(event: JobEvent) -> int:
    """Calls this process was billed for: none for a job another process (maybe on
    another machine) drives; this one only waited for it, through the journal."""
    return 0 if event.driven_by else billed_calls(event)


@dataclasses.dataclass
class CheckProgress:
    """One check's progress summed over its tasks: a set above the provider's
    maximum becomes several tasks whose events interleave, and a count taken
    from one event at a time would jump between them. Shared by the Excel and
    SQL faces, which each show one line per check."""

    _last: dict[str, JobEvent] = dataclasses.field(default_factory=dict)

    def update(self, event: JobEvent) -> None:
        if not event.job_key:
            return  # a note about no one task (a set split after a 413)
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
        """Status calls made here (a job another process drives made none here)."""
        return sum(e.status_calls for e in self._last.values() if not e.driven_by)


def _total(event: JobEvent) -> int:
    return event.total or event.numbers


# Off a terminal, a line at least this often while a job is waited for.
PROGRESS_EVERY = 60.0


class Ticker:
    """Calls say() on a daemon thread whenever nothing was said for `every`
    seconds (touch() says something was), until stop()."""

    def __init__(self, every: float, say: Callable[[float], None]):
        self.every, self.say = every, say
        self._last = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Ticker:
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="tgcheck-progress")
        self._thread.start()
        return self

    def touch(self) -> None:
        self._last = time.monotonic()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(max(0.05, self._last + self.every - time.monotonic())):
            quiet_for = time.monotonic() - self._last
            if quiet_for >= self.every:
                self.touch()
                try:
                    self.say(quiet_for)
                except Exception:  # pragma: no cover - a closed stream at exit
                    return


def _waiting(events: dict[str, JobEvent]) -> list[JobEvent]:
    """The jobs still waited for (their last event is not an end)."""
    return [e for e in events.values() if e.kind not in ("done", "failed")]


def _calls(event: JobEvent) -> str:
    """Who paid: "3 billed calls", or for a job another process drives "waited for
    host-b's task; 0 calls here (6 billed to that run)"."""
    if event.driven_by:
        return progress_text.waited_note(event, billed_calls(event))
    return f"{billed_calls(event)} billed calls"


class ProgressDisplay:
    """An on_event listener for the CLI."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None,
                 every: float = PROGRESS_EVERY):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self._bars: dict[str, int] = {}
        self._progress = None
        self._last_line: dict[str, tuple] = {}
        self._last_event: dict[str, JobEvent] = {}
        self._lock = threading.Lock()
        self._ticker = Ticker(every, self._still_waiting)

    def __enter__(self) -> ProgressDisplay:
        if not self.live:
            self._ticker.start()
        if self.live:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                ProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.table import Column
            from rich.text import Text

            class Description(ProgressColumn):
                """The task's label on one line, cut with an ellipsis on a narrow
                terminal (its column is the one rich shrinks); plain text, so the
                provider's words and "[simulated]" are never read as markup."""

                def render(self, task):
                    return Text(task.description, no_wrap=True, overflow="ellipsis")

            def kept(**options) -> dict:
                # Counts are never cut: on a narrow terminal (80 columns) rich
                # shortens the description (with an ellipsis) and the bar instead.
                return {"table_column": Column(no_wrap=True, **options)}

            self._progress = Progress(
                Description(table_column=Column(min_width=12)),
                BarColumn(bar_width=None, table_column=Column(min_width=5, ratio=1)),
                MofNCompleteColumn(**kept()),
                # rich measures the rate from the task's own processed counts, and
                # the ETA from that rate: both follow the provider, not our clock.
                TextColumn("{task.fields[rate]}", **kept()),
                TextColumn("ETA", **kept()),
                TimeRemainingColumn(**kept()),
                TextColumn("{task.fields[billed]}", **kept()),
                console=Console(file=self.stream),
                transient=False,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._ticker.stop()
        if self._progress is not None:
            self._progress.stop()

    @staticmethod
    def _label(event: JobEvent) -> str:
        # No task id: being created, or (failed) none was created.
        waiting = "(none created)" if event.kind == "failed" else "(creating)"
        label = f"task {redact.clean(event.task_id or waiting, 200)}"
        return label + " [simulated]" if event.simulated else label

    def __call__(self, event: JobEvent) -> None:
        label = self._label(event)
        if not event.job_key and event.message:
            # A note about no one job (a set split into tasks): a line, not a bar.
            console = self._progress.console if self._progress is not None else None
            line = f"tgcheck: {event.message}"
            if console is not None:
                console.print(line, markup=False, highlight=False)
            else:
                with self._lock:
                    print(line, file=self.stream, flush=True)
            return
        if event.kind == "retry":
            # A call is retried (unreachable, 5xx, 429, ...): said every time, in its own words.
            line = (f"[{time.strftime('%H:%M:%S')}] {label}: "
                    f"{redact.clean(event.message or '', None)}")
            if self._progress is not None:
                self._progress.console.print(line, markup=False, highlight=False)
            else:
                with self._lock:
                    self._ticker.touch()
                    print(line, file=self.stream, flush=True)
            return
        if self._progress is not None:
            self._live(event, label)
            return
        with self._lock:  # the tasks of a split check report from their own threads
            self._last_event[event.job_key] = event
            # Plain lines: one per change of state, not one per poll.
            key = (event.kind, event.status)
            if self._last_line.get(event.job_key) == key and event.kind == "progress":
                return
            self._last_line[event.job_key] = key
            self._ticker.touch()
            # The provider's words pass the redaction point: no escape reaches a terminal.
            # No status word yet (a create that failed): the kind alone, no dangling space.
            what = f"{event.kind} {redact.clean(event.status or '', 40)}".rstrip()
            self._print(event, label, what,
                        f" ({redact.clean(event.message, None)})" if event.message else "")

    def _print(self, event: JobEvent, label: str, what: str, note: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        counts = f" {progress_text.count(event.processed or 0, event.total)}" \
            if event.total else ""
        print(f"[{stamp}] {label}: {what}{counts}, {_calls(event)}{note}",
              file=self.stream, flush=True)

    def _still_waiting(self, quiet_for: float) -> None:
        with self._lock:
            if not self._last_event:  # before the first event (resume: the first poll)
                print(f"[{time.strftime('%H:%M:%S')}] still waiting (no news from the "
                      "provider yet)", file=self.stream, flush=True)
            for event in _waiting(self._last_event):
                self._print(event, self._label(event),
                            f"still waiting, {redact.clean(event.status or event.kind, 40)}",
                            "")

    def _live(self, event: JobEvent, label: str) -> None:
        total = event.total or event.numbers
        bar = self._bars.get(event.job_key)
        if bar is None:
            bar = self._bars[event.job_key] = self._progress.add_task(
                label, total=total, rate="", billed="0 billed calls")
        done = total if event.kind == "done" else (event.processed or 0)
        self._progress.update(bar, total=total, completed=min(done, total))
        speed = self._progress.tasks[self._bars[event.job_key]].speed
        state = redact.clean(event.status or event.kind, 40)
        self._progress.update(
            bar, description=f"{label} {state}",
            rate=f"{speed:,.0f}/s" if speed else "-/s",
            billed=(f"0 calls here ({progress_text.whose_task(event.driven_by)})"
                    if event.driven_by else f"{billed_calls(event)} billed calls"))


class JsonProgress:
    """`--progress json`: one JSON object a line on stderr, for programs."""

    def __init__(self, stream: TextIO | None = None, *, every: float = PROGRESS_EVERY):
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()
        self._last_event: dict[str, JobEvent] = {}
        self._ticker = Ticker(every, self._still_waiting)

    def __enter__(self) -> JsonProgress:
        self._ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._ticker.stop()

    def __call__(self, event: JobEvent) -> None:
        if not event.job_key and event.message:
            # A note about no one task (a split after a 413), as the CLI's own notes.
            self.write({"event": "note", "time": round(time.time(), 3),
                        "message": event.message})
            return
        self._last_event[event.job_key] = event
        self.write(self._record(event.kind, event))

    @staticmethod
    def _record(kind: str, event: JobEvent) -> dict:
        # billed_calls: made here; a job another process drives (driven_by) made
        # none here, its own count is billed_calls_there.
        record = {"event": kind, "time": round(time.time(), 3), **event.progress,
                  "billed_calls": billed_here(event)}
        if event.driven_by:
            record["billed_calls_there"] = billed_calls(event)
        if event.total and (event.processed or 0) > event.total:
            record["processed"] = event.total  # success can exceed total: not shown so
        return record

    def _still_waiting(self, quiet_for: float) -> None:
        # "waiting": the job's last known state again, so a reader sees it is alive.
        if not self._last_event:
            self.write({"event": "waiting", "time": round(time.time(), 3)})
        for event in _waiting(dict(self._last_event)):
            self.write(self._record("waiting", event))

    def write(self, record: dict) -> None:
        # JSON escapes control characters itself; the key is masked in the line.
        line = redact.mask(json.dumps(record))
        with self._lock:  # whole lines, whichever thread writes
            self.stream.write(line + "\n")
            self.stream.flush()
        self._ticker.touch()


class NoProgress:
    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def __call__(self, event: JobEvent) -> None:
        pass


def make_display(mode: str, quiet: bool, every: float = PROGRESS_EVERY):
    """auto: a live bar on a terminal, plain lines otherwise; json; none.
    every: off a terminal, the longest silence while a job is waited for."""
    if quiet or mode == "none":
        return NoProgress()
    if mode == "json":
        return JsonProgress(every=every)
    return ProgressDisplay(live=None if mode == "auto" else (mode == "rich"), every=every)
