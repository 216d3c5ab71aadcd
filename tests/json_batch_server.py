"""A loopback stand-in for a JSON batch API unlike ekycpro's (issue 21 item 3):
Bearer auth, JSON bodies, free status calls, progress as a fraction, results as
cursor-paged JSON records with an explicit `"registered": null` (unknown), at most
MAX_BATCH numbers a batch. tests/json_batch_provider.py speaks it; it is also that
provider's sandbox (the sandbox factory's contract, docs/plugins.md).

POST /v1/batches {"numbers": [...]}        -> 201 {"id", "state", "size"}; 413 past MAX_BATCH
GET  /v1/batches/ID                        -> {"id", "state", "size", "progress"} (free)
GET  /v1/batches/ID/results?cursor=C       -> {"results": [{"number", "registered",
                                                "last_seen"}], "next"}

Answers are a pure function of the number: its last digit even is registered,
odd is not, and a number ending in 0 is an explicit unknown (null); a registered
one was last seen on a day of November 2026 (last_seen), the others null.

fail_next() makes the next calls to an endpoint (create, status, results) answer
with a fault, for the guarantee suites (tests/shapes.py): 500, 429 with
Retry-After, a dropped connection, a 200 cut short, or a reply held slow_seconds."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

KEY = "jsonbatch-demo-key"
MAX_BATCH = 25_000
PAGE = 1_000


def registered(number: str) -> bool | None:
    """The stand-in's answer for a number: None (unknown) for a final 0."""
    return None if number.endswith("0") else int(number[-1]) % 2 == 0


def last_seen(number: str) -> str | None:
    """When a registered number was last seen (ISO 8601, UTC); None otherwise."""
    return f"2026-11-{1 + int(number[-3:-1]) % 28:02d}T10:00:00Z" if registered(number) \
        else None


class LoopbackServer:
    """A threaded HTTP stand-in on 127.0.0.1 (port 0: a free one), served while
    used as a context manager; handler(server) makes its request handler class."""

    def __init__(self, handler, port: int = 0):
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler(self))
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


class JsonBatchServer(LoopbackServer):
    """stuck: batches never finish. together: a batch finishes only once this many
    batches exist (so only batches run side by side get answers). leave_out: numbers
    its results have no record of (unlike an explicit null)."""

    def __init__(self, *, stuck: bool = False, together: int = 1, port: int = 0,
                 retry_after: float = 0.05, slow_seconds: float = 2.0,
                 leave_out: frozenset = frozenset(), **_options):
        self.stuck, self.together = stuck, together
        self.leave_out = leave_out  # numbers the results leave out (no record at all)
        self.retry_after, self.slow_seconds = retry_after, slow_seconds
        self._forced: list[tuple[str, str]] = []  # (endpoint, fault), served in order
        self.api_key = KEY
        self.batches: dict[str, list[str]] = {}
        self.billed: Counter = Counter()  # what the vendor bills: creates only
        self.calls: Counter = Counter()
        self._lock = threading.Lock()
        super().__init__(_handler, port)

    def fail_next(self, endpoint: str, kind: str, times: int = 1) -> None:
        """The next `times` calls to endpoint answer with kind: "500", "429",
        "drop", "truncated" or "slow"."""
        with self._lock:
            self._forced.extend([(endpoint, kind)] * times)

    def _take_fault(self, endpoint: str) -> str | None:
        with self._lock:
            for i, (name, kind) in enumerate(self._forced):
                if name == endpoint:
                    del self._forced[i]
                    return kind
        return None

    def state(self, batch: str) -> dict:
        done = not self.stuck and len(self.batches) >= self.together
        size = len(self.batches[batch])
        return {"id": batch, "state": "done" if done else "running", "size": size,
                "progress": 1.0 if done else 0.0}


def _handler(srv: JsonBatchServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _reply(self, code: int, data: dict, headers: dict | None = None) -> None:
            body = json.dumps(data).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _drop(self) -> None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

        def _faulted(self, endpoint: str) -> bool:
            """Counts the call; serves a forced fault (True: nothing more to send)."""
            with srv._lock:
                srv.calls[endpoint] += 1
            kind = srv._take_fault(endpoint)
            if kind == "slow":
                time.sleep(srv.slow_seconds)  # then answered, too late for the client
            elif kind == "drop":
                self._drop()
            elif kind == "truncated":  # a 200 whose body stops half way
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "64")
                self.end_headers()
                self.wfile.write(b'{"id": "b')
                self._drop()
            elif kind == "429":
                self._reply(429, {"error": "slow down"}, {"Retry-After": str(srv.retry_after)})
            elif kind is not None:
                self._reply(int(kind), {"error": f"simulated HTTP {kind}"})
            return kind not in (None, "slow")

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {srv.api_key}":
                return True
            self._reply(401, {"error": "invalid bearer token"})
            return False

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self._authorised():
                return
            if self._faulted("create"):
                return
            numbers = json.loads(body)["numbers"]
            if len(numbers) > MAX_BATCH:
                return self._reply(413, {"error": f"at most {MAX_BATCH} numbers a batch"})
            with srv._lock:
                batch = f"b{len(srv.batches) + 1}"
                srv.batches[batch] = list(numbers)
                srv.billed["create"] += 1
            self._reply(201, srv.state(batch))

        def do_GET(self):
            if not self._authorised():
                return
            url = urlsplit(self.path)
            parts = url.path.strip("/").split("/")  # v1, batches, ID[, results]
            batch = parts[2] if len(parts) > 2 else ""
            if batch not in srv.batches:
                return self._reply(404, {"error": "no such batch"})
            endpoint = "status" if len(parts) == 3 else "results"
            if self._faulted(endpoint):
                return
            if endpoint == "status":  # free: never billed
                return self._reply(200, srv.state(batch))
            start = int(parse_qs(url.query).get("cursor", ["0"])[0] or 0)
            numbers = srv.batches[batch][start:start + PAGE]
            after = start + PAGE
            self._reply(200, {
                "results": [{"number": n, "registered": registered(n),
                             "last_seen": last_seen(n)} for n in numbers
                            if n not in srv.leave_out],
                "next": str(after) if after < len(srv.batches[batch]) else None})

    return Handler
