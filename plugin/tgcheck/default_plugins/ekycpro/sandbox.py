"""The sandbox: the vendor's protocol and quirks, on 127.0.0.1, with no network and no key.

Tasks progress in (optionally scaled) time, answers are a pure function of the
number (sandbox_answers.py), results come as xlsx or zip, faults can be switched
on, and every call the vendor would bill is counted so tests can prove "one
create". This module keeps the state and the test controls; sandbox_http.py
speaks the protocol.
"""

from __future__ import annotations

import csv
import dataclasses
import decimal
import io
import json
import os
import random
import threading
import time
import uuid
import zipfile
from collections import Counter
from pathlib import Path

# The answers and the HTTP side live in modules of their own; their public names
# stay importable from here (tests and scripts import them from the sandbox).
from .sandbox_answers import (  # noqa: F401
    CACHE_MISS,
    COLUMNS,
    E164,
    HIT,
    LABEL,
    MISS,
    UNDETERMINED,
    _digest,
    _xlsx,
    cache_outcome,
    simulated_answer,
    xlsx_file,
)
from .sandbox_http import HOLD_LIMIT, QuietServer, make_handler  # noqa: F401

DEMO_KEY = "sandbox-demo-key"
FAULT_KINDS = ("500", "429", "drop", "slow", "truncated", "nonjson")


@dataclasses.dataclass
class Faults:
    """Random faults on a share of calls. Creates only ever get the free, harmless
    kinds (500, 429) unless create_kinds says otherwise: a dropped create would be
    an uncertain create, which tests provoke on purpose with fail_next()."""

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    create_kinds: tuple[str, ...] = ("500", "429")
    slow_seconds: float = 2.0
    retry_after: float = 0.05
    seed: int = 0


@dataclasses.dataclass
class _Task:
    task_id: str
    task_type: str
    numbers: list[str]
    created: float  # monotonic
    created_at: str
    outcome: str = "exported"  # or "failed"
    stuck: str | None = None  # a status word the task never leaves


class Sandbox:
    """Run with `with Sandbox() as sb:`; sb.url, sb.api_key, sb.billed."""

    def __init__(
        self,
        *,
        api_key: str = DEMO_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 5000.0,  # numbers per (sandbox) second
        queue_seconds: float = 0.1,
        export_seconds: float = 0.1,
        time_scale: float = 1.0,  # sandbox seconds per real second
        result_format: str = "xlsx",  # xlsx | zip | zip-xlsx
        shape: str = "full",  # full | short create replies
        omit_rate: float = 0.02,
        quirks: bool = True,
        faults: Faults | None = None,
        # The vendor platform's documented behaviours (api notes, section 7):
        create_code: int = 200,  # 202 on current deployments
        price: str | None = None,  # USD per number: estimated_amount / actual_amount
        balance: str | None = None,  # GET /v1/balance; a create costing more is a 402
        min_rows: dict[str, int] | None = None,  # per task type: fewer rows is a 400
        max_rows: int | None = None,  # a larger file is a 413
        stuck: str | None = None,  # every new task shows this status word for ever
        failed_message: str = "simulated failure",
        state_dir: str | os.PathLike | None = None,
        # POST /v1/check: shares of numbers in the cache and undetermined (cache_outcome)
        hit_rate: float = 0.7,
        undetermined_rate: float = 0.1,
    ):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the sandbox only listens on loopback")
        self.api_key = api_key
        self.speed, self.queue_seconds, self.export_seconds = speed, queue_seconds, export_seconds
        self.time_scale = time_scale
        self.result_format, self.shape = result_format, shape
        self.omit_rate, self.quirks = omit_rate, quirks
        self.faults = faults or Faults()
        self.create_code, self.max_rows, self.stuck = create_code, max_rows, stuck
        self.price = decimal.Decimal(price) if price is not None else None
        self.balance = decimal.Decimal(balance) if balance is not None else None
        self.min_rows = dict(min_rows or {})
        self.failed_message = failed_message
        self.hit_rate, self.undetermined_rate = hit_rate, undetermined_rate
        # /v1/check: how often each number was asked (tests prove "never twice").
        self.checked: Counter = Counter()
        # With a state folder, tasks outlive this server: the next sandbox on this
        # folder (another run of `tgcheck check --sandbox`, on another port) still
        # answers for them, as the real provider would.
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.tasks: dict[str, _Task] = {}
        self.billed: Counter = Counter()  # create / status: 200s the vendor would charge
        self.calls: Counter = Counter()  # every request, by endpoint
        self.result_override: bytes | None = None
        # Set to an Event: creates are received but answered only once it is set
        # (at most HOLD_LIMIT seconds), as a slow provider would: a create on its
        # way for as long as a test needs it to be.
        self.hold_creates: threading.Event | None = None
        self._forced: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._rng = random.Random(self.faults.seed)
        self._server = QuietServer((host, port), make_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Sandbox:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True, name="tgcheck-sandbox")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Sandbox {self.url} tasks={len(self.tasks)} billed={dict(self.billed)}>"

    # -- test controls -------------------------------------------------------
    def fail_next(self, endpoint: str, kind: str, times: int = 1) -> None:
        """Force a fault on the next calls to endpoint (create, status, download).
        Extra kinds: 400, 401, 502-504 (a gateway), 'drop_after' (create: task made,
        reply lost), 'task_failed' (create: the task will report failed)."""
        with self._lock:
            self._forced.extend([(endpoint, kind)] * times)

    def purge(self, task_id: str | None = None) -> None:
        """Forget a task (the newest by default): gettasks answers 404 for it."""
        with self._lock:
            if task_id is None:
                task_id = max(self.tasks, key=lambda t: self.tasks[t].created)
            self.tasks.pop(task_id)
        if self.state_dir is not None:
            (self.state_dir / f"{task_id}.json").unlink(missing_ok=True)

    def unstick(self) -> None:
        """Let stuck tasks (and new ones) progress from now on."""
        with self._lock:
            self.stuck = None
            for task in self.tasks.values():
                if task.stuck is not None:
                    task.stuck, task.created = None, self._now()

    def cost(self, count: int) -> decimal.Decimal | None:
        return None if self.price is None else self.price * count

    def charge(self, count: int) -> bool:
        """Take count numbers' price from the balance; False (nothing taken) when it
        is short. Without a price or a balance every charge goes through."""
        cost = self.cost(count)
        with self._lock:
            if self.balance is None or cost is None:
                return True
            if cost > self.balance:
                return False
            self.balance -= cost
            return True

    @property
    def creates(self) -> int:
        return self.billed["create"]

    def expected(self, number: str, task_type: str = "tg") -> str | None:
        return simulated_answer(number, task_type, self.omit_rate)

    def cached(self, number: str) -> str:
        """/v1/check's outcome for this number: HIT, MISS or UNDETERMINED."""
        return cache_outcome(number, self.hit_rate, self.undetermined_rate)

    # -- behaviour -----------------------------------------------------------
    def _now(self) -> float:
        return time.monotonic()

    def pick_fault(self, endpoint: str) -> str | None:
        with self._lock:
            for i, (ep, kind) in enumerate(self._forced):
                if ep == endpoint:
                    del self._forced[i]
                    return kind
            f = self.faults
            if f.rate and self._rng.random() < f.rate:
                kinds = f.create_kinds if endpoint == "create" else f.kinds
                if kinds:
                    return self._rng.choice(kinds)
        return None

    def create(self, numbers: list[str], task_type: str, outcome: str) -> _Task:
        task = _Task(
            task_id="cs" + uuid.uuid4().hex[:18],
            task_type=task_type,
            numbers=numbers,
            created=self._now(),
            created_at=_rfc3339(),
            outcome=outcome,
            stuck=self.stuck,
        )
        with self._lock:
            self.tasks[task.task_id] = task
        if self.state_dir is not None:
            self._save(task)
        return task

    def _save(self, task: _Task) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        record = {"task_id": task.task_id, "task_type": task.task_type,
                  "numbers": task.numbers, "created_at": task.created_at,
                  "created_wall": time.time() - (self._now() - task.created),
                  "outcome": task.outcome}
        tmp = self.state_dir / f".{task.task_id}.tmp"
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self.state_dir / f"{task.task_id}.json")

    def task(self, task_id: str) -> _Task | None:
        """A task of this server, or of an earlier one on the same state folder."""
        task = self.tasks.get(task_id)
        if task is not None or self.state_dir is None or not task_id.isalnum():
            return task
        try:
            record = json.loads((self.state_dir / f"{task_id}.json").read_text())
        except (OSError, ValueError):
            return None
        # Its age carries over: a task created 10 minutes ago is as far along.
        age = max(0.0, time.time() - record["created_wall"])
        task = _Task(task_id=record["task_id"], task_type=record["task_type"],
                     numbers=record["numbers"], created=self._now() - age,
                     created_at=record["created_at"], outcome=record["outcome"])
        with self._lock:
            return self.tasks.setdefault(task_id, task)

    def record(self, task: _Task, *, created: bool = False) -> dict:
        elapsed = (self._now() - task.created) * self.time_scale
        total = len(task.numbers)
        base = {"created_at": task.created_at, "updated_at": _rfc3339(), "task_id": task.task_id,
                "user_id": "sandbox", "status": "pending", "total": 0, "success": 0,
                "failure": 0}
        cost = self.cost(total)
        if cost is not None:
            base["estimated_amount"] = {"amount": f"{cost:.4f}", "currency": "USD"}
        if created:
            if self.shape == "short":
                short = {"task_id": task.task_id, "status": "pending", "total": total,
                         "message": "Task created successfully", "created_at": task.created_at}
                if cost is not None:
                    short["estimated_amount"] = base["estimated_amount"]
                return short
            return base
        if task.stuck is not None:
            base["status"] = task.stuck
            return base
        working = elapsed - self.queue_seconds
        if working < 0:
            return base
        processed = min(total, int(working * self.speed))
        base.update(total=total, success=processed, status="processing")
        if processed < total:
            return base
        if task.outcome == "failed":
            base.update(status="failed", message=self.failed_message)
            return base
        finished_at = self.queue_seconds + total / self.speed
        if elapsed - finished_at < self.export_seconds:
            base["status"] = "completed"
            return base
        base["status"] = "exported"
        if cost is not None:
            base["actual_amount"] = {"amount": f"{cost:.4f}", "currency": "USD"}
        base["result_url"] = f"{self.url}/results/{task.task_id}.{_extension(self.result_format)}"
        if self.quirks and total and _digest(task.task_id, "quirk") % 3 == 0:
            base["success"] = total + 1  # the vendor's own example did this once
        return base

    def result_file(self, task: _Task) -> bytes:
        if self.result_override is not None:
            return self.result_override
        rows = []
        for number in task.numbers:
            value = simulated_answer(number, task.task_type, self.omit_rate)
            if value is not None:
                if self.quirks and _digest(number, "case") % 5 == 0 \
                        and task.task_type != "tg_avatar":  # a URL's path is case-sensitive
                    value = f" {value.upper()} "
                rows.append((number, value))
        rng = random.Random(task.task_id)
        rng.shuffle(rows)  # results are not in input order
        if self.quirks:
            rows.append(("+41000000000" if task.numbers else "+41000000001", "yes"))  # an extra
        column = COLUMNS.get(task.task_type, task.task_type)
        header = (" Number ", column.capitalize()) if self.quirks else ("Number", column)
        if self.result_format == "xlsx":
            return _xlsx(header, rows)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            if self.result_format == "zip-xlsx":
                z.writestr(f"{task.task_id}.xlsx", _xlsx(header, rows))
            else:
                text = io.StringIO()
                writer = csv.writer(text)
                writer.writerow(header)
                writer.writerows(rows)
                z.writestr(f"{task.task_id}.csv", "\ufeff" + text.getvalue())
        return buf.getvalue()


def _extension(fmt: str) -> str:
    return "xlsx" if fmt == "xlsx" else "zip"


def _rfc3339() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"
