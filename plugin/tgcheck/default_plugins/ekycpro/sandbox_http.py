"""The sandbox's HTTP side: ekycpro's routes, replies and faults over a Sandbox's state.

sandbox.py keeps the tasks, counters and controls; this module only reads a
request, asks the Sandbox, and writes the vendor's reply (or the fault asked for).
"""

from __future__ import annotations

import contextlib
import decimal
import json
import re
import socket
import time
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from .sandbox_answers import (
    CACHE_MISS,
    COLUMNS,
    E164,
    LABEL,
    MISS,
    UNDETERMINED,
    simulated_answer,
)

if TYPE_CHECKING:
    from .sandbox import Sandbox

# The longest a held create waits (Sandbox.hold_creates) before it is answered.
HOLD_LIMIT = 60.0


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # Clients that give up (timeouts, faults on purpose) are routine here.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


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


def make_handler(sandbox: Sandbox) -> type[BaseHTTPRequestHandler]:
    """The request handler class of one Sandbox: its routes, replies and faults."""

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
