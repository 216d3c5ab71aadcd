"""Checks that run on in a thread while xlwings Server's event loop stays free.

One BackgroundCheck per (settings, region, cell values) and process: a recalculation,
a restarted stream or TG_WATCH of the same job meets the running one instead of
starting another. Behind it the engine dedupes again, across processes, by journal.
The thread is not stopped when a stream is cancelled: the task is paid for already,
and collecting its answers into the store makes the next recalculation free.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import threading
from collections.abc import AsyncIterator, Sequence

from tgcheck import JobEvent, Settings
from tgcheck.redact import url_without_userinfo
from tgcheck.store import describe_url

from .checking import check_answers, field_cells
from .grid import cell_texts, reason_texts
from .progress import Progress


@dataclasses.dataclass(frozen=True)
class Snapshot:
    version: int
    progress: str
    finished: bool
    texts: list[str] | None  # the answers, once finished without error
    error: BaseException | None
    reasons: list[str] | None = None  # each answer's reason ("" for none), with texts
    # Per field of the task type, its cell for each answer (checking.field_cells),
    # with texts; empty for a task type without fields.
    fields: list[list[object]] | None = None


def range_check_key(values: Sequence[object], region: object, settings: Settings,
                    kind: str | None = None) -> str:
    """Short and stable: the same range and region (and task type, when one is
    given) give the same key after a restart."""
    h = hashlib.sha256()
    if kind is not None:  # absent: the key of a check of the default task type as ever
        h.update(json.dumps(["task_type", kind]).encode())
    # The store: its file, or the shared store's URL with the password masked (the
    # key is shown in a cell; it must not carry a hash of a password), and the
    # base URL without any login, for the same reason.
    store = describe_url(settings.store_url) if settings.store_url else str(settings.store_path)
    h.update(json.dumps([url_without_userinfo(settings.base_url), store, region],
                          default=str).encode())
    h.update(json.dumps(list(values), default=repr).encode())
    return "tgjob-" + h.hexdigest()[:16]


class BackgroundCheck:
    def __init__(self, key: str, values: Sequence[object], region: object,
                 settings: Settings, kind: str | None = None, field_names: tuple = ()):
        self.key, self.values, self.region, self.settings = key, list(values), region, settings
        self.kind, self.field_names = kind, tuple(field_names)
        self._fields: list[list[object]] | None = None
        self._lock = threading.Lock()
        self._progress = Progress()
        self._version = 0
        self._texts: list[str] | None = None
        self._reasons: list[str] | None = None
        self._error: BaseException | None = None
        self._finished = threading.Event()
        self._watchers: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"tgcheck-excel-{key}")

    def start(self) -> BackgroundCheck:
        self._thread.start()
        return self

    # -- the thread ----------------------------------------------------------
    def _run(self) -> None:
        try:
            answers = check_answers(self.values, self.region, self.settings, kind=self.kind,
                                    on_event=self._on_event)
            texts, reasons = cell_texts(answers), reason_texts(answers)
            fields = field_cells(answers, self.field_names)
        except BaseException as e:  # handed to every waiter, never lost
            with self._lock:
                self._error = e
        else:
            with self._lock:
                self._texts, self._reasons, self._fields = texts, reasons, fields
        finally:
            _forget(self)
            self._finished.set()
            self._changed()

    def _on_event(self, event: JobEvent) -> None:
        with self._lock:
            self._progress.update(event)
        self._changed()

    def _changed(self) -> None:
        with self._lock:
            self._version += 1
            watchers = list(self._watchers)
        for loop, wake in watchers:
            # A closed loop's watcher is gone with it.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    # -- readers -------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(self._version, self._progress.text(), self._finished.is_set(),
                            self._texts, self._error, self._reasons, self._fields)

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    async def updates(self) -> AsyncIterator[Snapshot]:
        """Every change from now on (starting with the current state), until finished."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        with self._lock:
            self._watchers.append((loop, wake))
        try:
            seen = -1
            while True:
                wake.clear()  # before reading: a change after this still wakes us
                snap = self.snapshot()
                if snap.version != seen or snap.finished:
                    seen = snap.version
                    yield snap
                if snap.finished:
                    return
                await wake.wait()
        finally:
            with self._lock:
                self._watchers.remove((loop, wake))


_running: dict[str, BackgroundCheck] = {}
_running_lock = threading.Lock()


def start_check(values: Sequence[object], region: object,
                settings: Settings, kind: str | None = None,
                field_names: tuple = ()) -> BackgroundCheck:
    """The running check for these values, or a new one. kind: the task type a
    function's argument named (None: TGCHECK_TASK_TYPE's); field_names: its
    fields, kept as cells with the answers."""
    key = range_check_key(values, region, settings, kind)
    with _running_lock:
        check = _running.get(key)
        if check is None:
            check = _running[key] = BackgroundCheck(key, values, region, settings, kind,
                                                    field_names)
            check.start()
        return check


def _forget(check: BackgroundCheck) -> None:
    # Finished: the answers are in the store, the next call reads them from there.
    with _running_lock:
        if _running.get(check.key) is check:
            del _running[check.key]
