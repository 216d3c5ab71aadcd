"""The sister platform on 127.0.0.1: its protocol, its rules, simulated answers.

What it speaks (api notes, section 7): `POST /v1/tasks` answers 202 with the task
and its estimated amount; `POST /v1/gettasks` moves `pending` -> `processing` ->
`exported` (or `failed`), with the actual amount and a `result_url` at the end;
`GET /v1/balance`; a zip holding one CSV (`number`, `activated`, and the task
type's extra columns). It refuses as the platform does: 400 for a bad task type,
file or row count (each task type has its minimum), 401, 402 when the balance
does not cover the estimate, 404 for an unknown task, 413 for too many rows.

A task advances one step per status call, not with the clock: tests need no
sleeps and read exactly how many calls were billed (`billed`).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import decimal
import hashlib
import io
import json
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

DEMO_KEY = "wscheck-sandbox-key"
# Fewest and most rows per task type, as the platform publishes them.
MIN_ROWS = {"ws": 500, "ws_active": 1000, "ws_avatar": 500}
MAX_ROWS = 10_000_000
COLUMNS = {
    "ws": ("activated",),
    "ws_active": ("activated", "activetime", "activedays", "business"),
    "ws_avatar": ("activated", "age", "avatar", "category", "gender", "hair_color",
                  "skin_color"),
}
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_TASK_ID = re.compile(r"[a-z0-9]{1,40}")


def _pick(number: str, salt: str, choices: tuple[str, ...]) -> str:
    digest = hashlib.sha256(f"{salt}:{number}".encode()).digest()
    return choices[int.from_bytes(digest[:4], "big") % len(choices)]


def simulated_row(number: str, task_type: str) -> dict[str, str]:
    """The sandbox's answer for a number: a pure function of it (tests compare)."""
    activated = _pick(number, "activated", ("yes", "yes", "yes", "no", "no"))
    row = {"number": number, "activated": activated}
    on = activated == "yes"
    if task_type == "ws_active":
        row["activedays"] = _pick(number, "days", ("1", "7", "30", "90")) if on else "N/A"
        row["activetime"] = "2026-11-29T10:00:00Z" if on else ""
        row["business"] = _pick(number, "business", ("yes", "no", "no")) if on else "no"
    elif task_type == "ws_avatar":
        row["avatar"] = (f"https://avatars.invalid/{hashlib.sha256(number.encode()).hexdigest()[:16]}"
                         f".jpg" if on else "N/A")
        for column, choices in (("age", ("18-24", "25-34", "35-44", "45+")),
                                ("category", ("person", "business")),
                                ("gender", ("female", "male")),
                                ("hair_color", ("black", "brown", "blond")),
                                ("skin_color", ("light", "medium", "dark"))):
            row[column] = _pick(number, column, choices) if on else ""
    return row


@dataclasses.dataclass
class _Task:
    task_id: str
    task_type: str
    numbers: list[str]
    cost: decimal.Decimal
    polls: int = 0
    outcome: str = "exported"


class WsSandbox:
    """`with WsSandbox() as sb:` -> sb.url, sb.api_key, sb.billed, sb.calls.

    steps: status calls a task takes from `pending` to its end (at least 1).
    state_dir: tasks are kept there too, so the next sandbox on that folder (the
    next `tgcheck check --sandbox`, on another port) still answers for them.
    """

    def __init__(self, *, api_key: str = DEMO_KEY, steps: int = 2, price: str = "0.002",
                 balance: str = "100", min_rows: dict[str, int] | None = None,
                 max_rows: int = MAX_ROWS, omit: frozenset[str] = frozenset(),
                 state_dir: str | Path | None = None, port: int = 0,
                 retry_after: float = 0.05, slow_seconds: float = 2.0):
        self.api_key, self.steps = api_key, max(1, steps)
        self.price, self.balance = decimal.Decimal(price), decimal.Decimal(balance)
        self.min_rows = dict(MIN_ROWS if min_rows is None else min_rows)
        self.max_rows = max_rows
        self.omit = omit  # numbers the result file leaves out
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.retry_after = retry_after  # a forced 429's Retry-After, seconds
        self.slow_seconds = slow_seconds  # how long a forced "slow" reply waits
        self.tasks: dict[str, _Task] = {}
        self.billed: Counter = Counter()  # replies the platform charges for
        self.calls: Counter = Counter()  # every request, by endpoint
        self._forced: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def creates(self) -> int:
        return self.billed["create"]

    def __enter__(self) -> WsSandbox:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True,
                         name="wscheck-sandbox").start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # What tgcheck_register_sandboxes asks of a sandbox besides `with`.
    start, stop = __enter__, __exit__

    def __repr__(self) -> str:
        return f"<WsSandbox {self.url} tasks={len(self.tasks)} billed={dict(self.billed)}>"

    def fail_next(self, endpoint: str, code: int | str, times: int = 1) -> None:
        """Answer the next calls to endpoint (create, status, download) with this
        code (a 429 with Retry-After), or: 'drop' (the connection closed unanswered),
        'truncated' (a 200, charged, cut short), 'slow' (the reply after
        slow_seconds); 'failed' makes the next created task end `failed`."""
        with self._lock:
            self._forced.extend([(endpoint, code)] * times)

    def _forced_code(self, endpoint: str):
        with self._lock:
            for i, (name, code) in enumerate(self._forced):
                if name == endpoint:
                    del self._forced[i]
                    return code
        return None

    def purge(self, task_id: str) -> None:
        """Forget a task: gettasks answers 404 for it."""
        with self._lock:
            self.tasks.pop(task_id, None)
        if self.state_dir is not None:
            (self.state_dir / f"{task_id}.json").unlink(missing_ok=True)

    # -- the platform's rules ----------------------------------------------
    def create(self, task_type: str, numbers: list[str], outcome: str) -> tuple[int, dict]:
        if task_type not in COLUMNS:
            return 400, {"message": f"invalid task_type {task_type!r}"}
        bad = next((n for n in numbers if not _E164.fullmatch(n)), None)
        if not numbers or bad is not None:
            return 400, {"message": f"invalid file: {bad!r} is not an E.164 number"}
        if len(numbers) < self.min_rows.get(task_type, 1):
            return 400, {"message": f"row count {len(numbers)} is below the minimum of "
                                    f"{self.min_rows[task_type]} rows for {task_type}"}
        if len(numbers) > self.max_rows:
            return 413, {"message": f"file too large: at most {self.max_rows} rows"}
        cost = self.price * len(numbers)
        with self._lock:
            if cost > self.balance:
                return 402, {"message": f"insufficient balance: {self.balance} USD left, "
                                        f"{cost} USD needed"}
            self.balance -= cost
            task = _Task(uuid.uuid4().hex[:20], task_type, numbers, cost, outcome=outcome)
            self.tasks[task.task_id] = task
        self._save(task)
        return 202, self.record(task)

    def status(self, task_id: str) -> tuple[int, dict]:
        task = self._task(task_id)
        if task is None:
            return 404, {"message": "task not found"}
        with self._lock:
            task.polls += 1
        self._save(task)
        return 200, self.record(task)

    def record(self, task: _Task) -> dict:
        money = {"amount": f"{task.cost:.4f}", "currency": "USD"}
        record = {"task_id": task.task_id, "status": "pending", "total": len(task.numbers),
                  "success": 0, "failure": 0, "estimated_amount": money}
        if task.polls == 0:
            return record
        if task.polls < self.steps:
            record.update(status="processing", success=len(task.numbers) * task.polls
                          // self.steps)
        elif task.outcome == "failed":
            record.update(status="failed", message="simulated failure")
        else:
            record.update(status="exported", success=len(task.numbers), actual_amount=money,
                          result_url=f"{self.url}/results/{task.task_id}.zip")
        return record

    def result_file(self, task: _Task) -> bytes:
        columns = ("number", *COLUMNS[task.task_type])
        text = io.StringIO()
        writer = csv.DictWriter(text, columns, lineterminator="\n")
        writer.writeheader()
        # Not in input order, as the platform does not promise it.
        for number in sorted(task.numbers, reverse=True):
            if number not in self.omit:
                writer.writerow(simulated_row(number, task.task_type))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(f"{task.task_id}.csv", text.getvalue())
        return buf.getvalue()

    def _task(self, task_id: str) -> _Task | None:
        with self._lock:
            task = self.tasks.get(task_id)
        if task is not None or self.state_dir is None or not _TASK_ID.fullmatch(task_id):
            return task
        try:
            task = _Task(**json.loads((self.state_dir / f"{task_id}.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None
        task.cost = decimal.Decimal(task.cost)
        with self._lock:
            return self.tasks.setdefault(task_id, task)

    def _save(self, task: _Task) -> None:
        if self.state_dir is None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = dataclasses.asdict(task) | {"cost": str(task.cost)}
        (self.state_dir / f"{task.task_id}.json").write_text(json.dumps(data))


def _form(content_type: str, body: bytes) -> dict[str, bytes]:
    """The fields of a multipart/form-data body ({} for anything else)."""
    if not content_type.lower().startswith("multipart/form-data"):
        return {}
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    return {part.get_param("name", header="content-disposition"):
            part.get_payload(decode=True) or b"" for part in message.iter_parts()}


def _handler(sb: WsSandbox):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # tests read counters, not logs
            pass

        def _reply(self, endpoint: str, code: int, data: dict | bytes,
                   headers: dict | None = None) -> None:
            body = data if isinstance(data, bytes) else json.dumps(data).encode()
            if 200 <= code < 300 and endpoint in ("create", "status"):
                with sb._lock:
                    sb.billed[endpoint] += 1
            self.send_response(code)
            self.send_header("Content-Type", "application/zip" if isinstance(data, bytes)
                             else "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _drop(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def _truncated(self, endpoint: str) -> None:
            """A 200 whose body stops short of its Content-Length: charged all the same."""
            if endpoint in ("create", "status"):
                with sb._lock:
                    sb.billed[endpoint] += 1
            body = b'{"task_id": "' + b"x" * 40
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) * 2))
            self.end_headers()
            self.wfile.write(body)
            self._drop()

        def _answer(self, endpoint: str, handle) -> None:
            with sb._lock:
                sb.calls[endpoint] += 1
            forced = sb._forced_code(endpoint)
            if forced == "slow":
                time.sleep(sb.slow_seconds)  # then answered, too late for the client
            if endpoint != "download" and self.headers.get("X-API-Key") != sb.api_key:
                self._reply(endpoint, 401, {"message": "missing or invalid API key"})
            elif forced == "drop":
                self._drop()
            elif forced == "truncated":
                self._truncated(endpoint)
            elif forced == 429:
                self._reply(endpoint, 429, {"message": "slow down"},
                            {"Retry-After": str(sb.retry_after)})
            elif isinstance(forced, int):
                self._reply(endpoint, forced, {"message": f"simulated HTTP {forced}"})
            else:
                self._reply(endpoint, *handle(forced))

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            form = _form(self.headers.get("Content-Type", ""), body)
            if self.path == "/v1/tasks":
                lines = form.get("file", b"").decode("utf-8", "replace").splitlines()
                numbers = [line.strip() for line in lines if line.strip()]
                task_type = form.get("task_type", b"").decode().strip()
                self._answer("create", lambda forced: sb.create(
                    task_type, numbers, "failed" if forced == "failed" else "exported"))
            elif self.path == "/v1/gettasks":
                self._answer("status", lambda _: sb.status(form.get("task_id", b"").decode()))
            else:
                self._reply("", 404, {"message": "not found"})

        def do_GET(self):
            found = re.fullmatch(r"/results/([a-z0-9]+)\.zip", self.path)
            task = sb._task(found.group(1)) if found else None
            if self.path == "/v1/balance":
                self._answer("balance", lambda _: (200, {"balance": float(sb.balance)}))
            elif task is not None:
                self._answer("download", lambda _: (200, sb.result_file(task)))
            else:
                self._reply("", 404, {"message": "not found"})

    return Handler
