"""The sandbox: the vendor's protocol and quirks, on 127.0.0.1, with no network and no key.

Tasks progress in (optionally scaled) time, answers are a pure function of the
number, results come as xlsx or zip, faults can be switched on, and every call
the vendor would bill is counted so tests can prove "one create".
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import decimal
import hashlib
import io
import json
import os
import random
import re
import socket
import threading
import time
import uuid
import zipfile
from collections import Counter
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import xlsxwriter

DEMO_KEY = "sandbox-demo-key"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# The longest a held create waits (Sandbox.hold_creates) before it is answered.
HOLD_LIMIT = 60.0
FAULT_KINDS = ("500", "429", "drop", "slow", "truncated", "nonjson")
LABEL = "SIMULATED by the tgcheck sandbox: not real Telegram data"


def _digest(number: str, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}:{number}".encode()).digest()[:8], "big")


def simulated_answer(number: str, task_type: str = "tg", omit_rate: float = 0.0) -> str | None:
    """The sandbox's answer for a number; None when its result file leaves it out."""
    if omit_rate and (_digest(number, "omit") % 10_000) < omit_rate * 10_000:
        return None
    h = _digest(number, task_type)
    if task_type == "tg_active":
        return ("1", "7", "30", "N/A")[h % 4]
    if task_type == "tg_avatar":
        # A profile picture's URL (a reserved .invalid host: never fetched), or
        # N/A for a number without an account or without a picture.
        return f"https://avatars.invalid/tg/{h:016x}.jpg" if h % 100 < 45 else "N/A"
    return "yes" if h % 100 < 55 else "no"


# The result column of each task type the sandbox answers (its headline, which
# the rich types' typed fields are read from too: docs/task-types.md).
COLUMNS = {"tg": "telegram", "ws": "whatsapp", "tg_active": "telegram_days",
           "tg_avatar": "avatar"}


# POST /v1/check, the synchronous check (api notes, section 8): a share of numbers
# is in the vendor's cache (answered and billed), some are undetermined (free),
# the rest are misses (free): each a pure function of the number.
HIT, MISS, UNDETERMINED = "hit", "miss", "undetermined"
CACHE_MISS = "identifier not found in cache"


def cache_outcome(number: str, hit_rate: float = 0.7, undetermined_rate: float = 0.1) -> str:
    """Whether the sandbox's /v1/check answers this number (hit), not (miss), or
    cannot tell (undetermined)."""
    share = (_digest(number, "cache") % 10_000) / 10_000
    if share < hit_rate:
        return HIT
    return UNDETERMINED if share < hit_rate + undetermined_rate else MISS


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
        self._server = _QuietServer((host, port), _make_handler(self))
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


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # Clients that give up (timeouts, faults on purpose) are routine here.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _extension(fmt: str) -> str:
    return "xlsx" if fmt == "xlsx" else "zip"


def _rfc3339() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def xlsx_file(header, rows) -> bytes:
    """An xlsx result file of these rows (for tests: result_override)."""
    return _xlsx(header, rows)


def _xlsx(header, rows) -> bytes:
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    sheet = book.add_worksheet("Results")
    sheet.write_row(0, 0, header)
    for i, row in enumerate(rows, start=1):
        sheet.write_string(i, 0, row[0])
        sheet.write_string(i, 1, row[1])
    notes = book.add_worksheet("About")
    notes.write(0, 0, LABEL)
    book.close()
    return buf.getvalue()


def _parse_form(content_type: str, body: bytes) -> dict[str, bytes] | None:
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    msg = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    if not msg.is_multipart():
        return None
    fields = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[name] = part.get_payload(decode=True) or b""
    return fields


def _make_handler(sandbox: Sandbox):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "tgcheck-sandbox"

        def log_message(self, format, *args):  # quiet: tests read counters, not logs
            pass

        # -- replies -----------------------------------------------------
        def _send(self, code: int, body: bytes, ctype="application/json", headers=None):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Simulated", "true")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, code: int, data: dict, endpoint: str | None = None):
            if 200 <= code < 300 and endpoint:
                with sandbox._lock:
                    sandbox.billed[endpoint] += 1
            self._send(code, json.dumps(data).encode())

        def _drop(self):
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def _fault(self, endpoint: str, kind: str | None) -> bool:
            """Apply a fault; True when the request is answered by it."""
            if kind is None or kind in ("drop_after", "task_failed"):
                return False
            if kind == "500":
                self._json(500, {"message": "internal error (simulated)"})
            elif kind == "429":
                self._send(429, b'{"message": "slow down"}',
                           headers={"Retry-After": str(sandbox.faults.retry_after)})
            elif kind == "400":
                self._json(400, {"message": "invalid file format (simulated)"})
            elif kind == "401":
                self._json(401, {"message": "invalid api key"})
            elif kind in ("502", "503", "504"):
                self._send(int(kind), b"<html><body>gateway error</body></html>", "text/html")
            elif kind == "drop":
                self._drop()
            elif kind == "slow":
                time.sleep(sandbox.faults.slow_seconds)
                return False  # then answer normally, too late for the client
            elif kind == "truncated":
                if endpoint != "download":  # a 200 is billed from its status line
                    with sandbox._lock:
                        sandbox.billed[endpoint] += 1
                body = b'{"task_id": "' + b"x" * 40
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) * 2))
                self.end_headers()
                self.wfile.write(body)
                self._drop()
            elif kind == "nonjson":
                self._send(200, b"<html><body>Bad gateway</body></html>", "text/html")
                if endpoint != "download":
                    with sandbox._lock:
                        sandbox.billed[endpoint] += 1
            else:
                return False
            return True

        def _authorised(self) -> bool:
            if self.headers.get("X-API-Key") == sandbox.api_key:
                return True
            self._json(401, {"message": "invalid or missing X-API-Key"})
            return False

        # -- routes --------------------------------------------------------
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            endpoint = {"/v1/tasks": "create", "/v1/gettasks": "status",
                        "/v1/check": "check"}.get(path)
            if endpoint is None:
                return self._json(404, {"message": "not found"})
            with sandbox._lock:
                sandbox.calls[endpoint] += 1
            if not self._authorised():
                return None
            fault = sandbox.pick_fault(endpoint)
            if self._fault(endpoint, fault):
                return None
            if endpoint == "check":
                return self._check(body)
            hold = sandbox.hold_creates
            if endpoint == "create" and hold is not None:
                hold.wait(HOLD_LIMIT)
            form = _parse_form(self.headers.get("Content-Type", ""), body)
            if form is None:
                return self._json(400, {"message": "expected multipart/form-data"})
            if endpoint == "create":
                return self._create(form, fault)
            return self._status(form)

        def _create(self, form, fault):
            task_type = form.get("task_type", b"").decode().strip()
            if task_type not in COLUMNS:
                return self._json(400, {"message": f"unsupported task_type {task_type!r}"})
            if "file" not in form:
                return self._json(400, {"message": "missing file"})
            lines = [ln.strip() for ln in form["file"].decode("utf-8", "replace").splitlines()]
            numbers = [ln for ln in lines if ln]
            bad = next((n for n in numbers if not E164.match(n)), None)
            if not numbers or bad is not None:
                return self._json(400, {"message": f"invalid file format: {bad!r}"})
            least = sandbox.min_rows.get(task_type)
            if least and len(numbers) < least:
                return self._json(400, {"message": f"row count {len(numbers)} is below the "
                                        f"minimum of {least} for task type {task_type}"})
            if sandbox.max_rows is not None and len(numbers) > sandbox.max_rows:
                return self._json(413, {"message": "uploaded file too large"})
            if not sandbox.charge(len(numbers)):
                return self._json(402, {"message": "insufficient balance"})
            task = sandbox.create(numbers, task_type,
                                  "failed" if fault == "task_failed" else "exported")
            if fault == "drop_after":
                with sandbox._lock:
                    sandbox.billed["create"] += 1
                return self._drop()
            return self._json(sandbox.create_code, sandbox.record(task, created=True), "create")

        def _check(self, body: bytes):
            """POST /v1/check: one number from the cache; billed only when answered."""
            try:
                asked = json.loads(body)
            except ValueError:
                asked = None
            if not isinstance(asked, dict):
                return self._json(400, {"success": False, "error": "expected a JSON object"})
            number, service = asked.get("identifier"), asked.get("service_type")
            if service != "tg":
                return self._json(400, {"success": False,
                                        "error": f"unsupported service_type {service!r}"})
            if not isinstance(number, str) or not E164.match(number):
                return self._json(400, {"success": False, "error": "invalid identifier"})
            with sandbox._lock:
                sandbox.checked[number] += 1
            outcome = sandbox.cached(number)
            if outcome == MISS:
                return self._json(200, {"success": False, "error": CACHE_MISS})
            if outcome == UNDETERMINED:
                return self._json(200, {"success": False, "pricingStrategy": "FREE",
                                        "error": "result undetermined",
                                        "data": {"identifier": number, "billed": False,
                                                 "cost": 0}})
            if not sandbox.charge(1):
                return self._json(402, {"success": False, "error": "insufficient balance"})
            registered = simulated_answer(number, "tg") == "yes"
            return self._json(200, {
                "success": True, "pricingStrategy": "PAY",
                "transactionId": "tx" + uuid.uuid4().hex[:16],
                "data": {"id": "chk_" + uuid.uuid4().hex[:12], "identifier": number,
                         "registered": registered, "billed": True, "cost": 1,
                         "cost_usd": float(cost) if (cost := sandbox.cost(1)) is not None
                         else None}}, "check")

        def _status(self, form):
            task_id = form.get("task_id", b"").decode().strip()
            task = sandbox.task(task_id)
            if task is None:
                return self._json(404, {"message": "task not found"})
            return self._json(200, sandbox.record(task), "status")

        def do_GET(self):
            path = self.path.split("?")[0]
            if path in ("/", "/health"):
                return self._send(200, (LABEL + "\n").encode(), "text/plain")
            if path == "/v1/balance":
                with sandbox._lock:
                    sandbox.calls["balance"] += 1
                if not self._authorised():
                    return None
                left = sandbox.balance if sandbox.balance is not None else decimal.Decimal(100)
                return self._json(200, {"balance": float(left), "currency": "USD"})
            m = re.fullmatch(r"/results/([A-Za-z0-9]+)\.(xlsx|zip)", path)
            task = sandbox.task(m.group(1)) if m else None
            if task is None:
                return self._send(404, b"not found", "text/plain")
            with sandbox._lock:
                sandbox.calls["download"] += 1
            if self._fault("download", sandbox.pick_fault("download")):
                return None
            data = sandbox.result_file(task)
            ctype = ("application/zip" if m.group(2) == "zip" else
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            return self._send(200, data, ctype)

    return Handler
