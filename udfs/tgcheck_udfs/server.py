"""The xlwings Server face (Office.js: Excel on the web, on Mac, on Windows).

Loaded instead of classic.py when XLWINGS_ON_SERVER=true. The API key lives in the
server's environment and never reaches the workbook.

- TG_CHECK(range, [region], [reasons], [task_type]): over HTTP. Answers at once when
  they are known; else it waits up to TGCHECK_EXCEL_WAIT seconds and then shows
  "pending" (the check runs on in the server, and a recalculation later answers
  from the store).
- TG_CHECK_LIVE(range, [region], [task_type]): streaming: "pending 6,724/20,000 ..."
  in the cell, then the answers. Its arguments travel over socket.io, which drops
  messages over about 1 MB: fine up to roughly 20,000 rows.
- TG_SUBMIT(range, [region], [task_type]) + TG_WATCH(job): for larger ranges.
  TG_SUBMIT takes the range over HTTP and returns a short job key; TG_WATCH streams
  progress and answers for that key, so only the key crosses socket.io.
A task type with fields (tg_active) spills them beside the answers, in each.
- check_selection: the macro as a script (button in the task pane or on the sheet).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import xlwings as xw

from tgcheck import Cancelled, Settings, plugins, settings_registry

from . import checking, macro
from .background import BackgroundCheck, Snapshot, range_check_key, start_check
from .checking import (
    ERROR_PREFIX,
    call_inputs,
    load_settings,
    range_function,
    safe_text,
    wants_reasons,
)
from .grid import flatten, fold, json_size, pending_cells

# How long an HTTP call (TG_CHECK, the script) waits before answering "pending":
# below the usual 30-100 s timeouts of proxies and of Excel's add-in runtime.
HTTP_WAIT = settings_registry.value("excel_wait")
# A streamed result must stay under socket.io's ~1 MB message limit.
STREAM_BUDGET = 900_000
JOB_KEY = re.compile(r"tgjob-[0-9a-f]{16}")


async def _wait(check: BackgroundCheck, timeout: float) -> Snapshot:
    async def until_finished() -> Snapshot:
        last = check.snapshot()
        async for snap in check.updates():
            last = snap
        return last

    try:
        return await asyncio.wait_for(until_finished(), timeout)
    except TimeoutError:
        return check.snapshot()


def _kind(task_type: object, settings: Settings) -> tuple[str | None, tuple[str, ...]]:
    """(the task type a function's argument names, None when it names none; the
    fields of the task type checked). An unknown name raises InputError."""
    kind = None if task_type is None else checking.task_type(task_type)
    names = plugins.get_task_type(checking.task_type(task_type), settings.provider).field_names
    return kind, names


def _beside(out: list[list[object]], columns, grid) -> list[list[object]]:
    """Each field as a block of the range's shape beside the answers (issue 24)."""
    for column in columns:
        out = [a + b for a, b in zip(out, fold(column, grid), strict=True)]
    return out


@range_function(reasons=True, task_types=True)
async def tg_check(numbers, region=None, reasons=None, task_type=None):
    """Telegram account? yes / no, invalid, unknown; blank cells stay blank. A task
    type with fields (tg_active) spills them beside the answers."""
    try:
        settings, grid, region = call_inputs(numbers, region)
        flat = flatten(grid)
        kind, names = _kind(task_type, settings)
        snap = await _wait(start_check(flat, region, settings, kind, names), HTTP_WAIT)
    except Exception as e:
        return [[safe_text(e)]]
    if not snap.finished:
        texts, beside = pending_cells(flat, region), [[""] * len(flat) for _ in names]
        why = [""] * len(flat)
    elif snap.error is not None:
        return [[safe_text(snap.error, settings)]]
    else:
        texts, beside, why = snap.texts, snap.fields or [], snap.reasons
    out = _beside(fold(texts, grid), beside, grid)
    if wants_reasons(reasons):
        out = [a + b for a, b in zip(out, fold(why, grid), strict=True)]
    return out


async def _stream(grid: list[list[object]], region: object, settings: Settings,
                  task_type: object = None) -> AsyncIterator[list[list[str]]]:
    kind, names = _kind(task_type, settings)
    check = start_check(flatten(grid), region, settings, kind, names)
    async for snap in check.updates():
        if not snap.finished:
            yield [[snap.progress]]
        elif snap.error is not None:
            yield [[safe_text(snap.error, settings)]]
        else:
            answers = _beside(fold(snap.texts, grid), snap.fields or [], grid)
            if json_size(answers) > STREAM_BUDGET:
                yield [[f"done: {len(snap.texts):,} answers are stored, too many for one "
                        "stream message; =TG_CHECK(range) shows them"]]
            else:
                yield answers


@range_function(task_types=True)
async def tg_check_live(numbers, region=None, task_type=None):
    """Like TG_CHECK, showing the task's progress in the cell until the answers come."""
    try:
        settings, grid, region = call_inputs(numbers, region)
        _kind(task_type, settings)  # an unknown task type: an error cell, no stream
    except Exception as e:
        yield [[safe_text(e)]]
        return
    async for result in _stream(grid, region, settings, task_type):
        yield result


def _job_path(settings: Settings, key: str) -> Path:
    return settings.home / "excel-jobs" / f"{key}.json"


@range_function(task_types=True)
async def tg_submit(numbers, region=None, task_type=None):
    """Start checking a large range; returns a short job key for TG_WATCH."""
    try:
        settings, grid, region = call_inputs(numbers, region)
        flat = flatten(grid)
        kind, names = _kind(task_type, settings)
        key = range_check_key(flat, region, settings, kind)
        # On disk so TG_WATCH finds the range (and its task type) again after a
        # server restart. Numbers only: the key is never written.
        path = _job_path(settings, key)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            saved = {"region": region, "grid": grid}
            if kind is not None:
                saved["task_type"] = kind
            tmp.write_text(json.dumps(saved, default=str))
            os.replace(tmp, path)
        start_check(flat, region, settings, kind, names)
        return key
    except Exception as e:
        return safe_text(e)


@xw.func
@xw.arg("job", doc="The job key TG_SUBMIT returned.")
async def tg_watch(job):
    """Progress, then the answers, of a range submitted with TG_SUBMIT."""
    try:
        settings = load_settings()
        key = str(job).strip()
        if not JOB_KEY.fullmatch(key):
            yield [[f"{ERROR_PREFIX}{key[:40]!r} is not a job key from TG_SUBMIT"]]
            return
        path = _job_path(settings, key)
        if not path.exists():
            yield [[f"{ERROR_PREFIX}unknown job: recalculate its TG_SUBMIT"]]
            return
        saved = json.loads(path.read_text())
        _kind(saved.get("task_type"), settings)  # no longer installed: an error cell
    except Exception as e:
        yield [[safe_text(e)]]
        return
    async for result in _stream(saved["grid"], saved["region"], settings,
                                saved.get("task_type")):
        yield result


def _checker_that_waits(timeout: float):
    """A macro checker for HTTP scripts: the check runs on in the server; the script
    stops waiting after `timeout` and says so instead of blocking the request."""

    def check(data, region, settings, *, on_event=None, cancel=None) -> list[str]:
        running = start_check(data, region, settings)
        if not running.wait(timeout):
            raise Cancelled(running.snapshot().progress)
        snap = running.snapshot()
        if snap.error is not None:
            raise snap.error
        return snap.texts

    return check


@xw.script
async def check_selection(book: xw.Book):
    """Check the selected column; write the answers into a column to its right."""
    target = macro.selection_of(book.selection)
    if isinstance(target, str):
        book.app.alert(target, title="tgcheck")
        return
    sheet = macro.XlwingsSheet(book.selection.sheet)
    outcome = await asyncio.to_thread(
        macro.run_check_selection, sheet, target, checker=_checker_that_waits(HTTP_WAIT),
        cancel=threading.Event(),
    )
    book.app.alert(outcome.message, title="tgcheck")
