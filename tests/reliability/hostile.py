"""A small misbehaving vendor stand-in on 127.0.0.1, for tricks the sandbox should
not learn (echoing the key, dripping bytes, bombs). Each endpoint is a function
given the request handler; `reply` and `drip` write the usual answers.

It speaks each in-tree provider shape's wire (tests/shapes.py, Shape.wire): a
Dialect routes a request to one of the three endpoints (create, status, files)
and writes a task record (`h.record(...)`) and result rows (`h.results(...)`) in
that wire's words, so one hostile behaviour meets every shape where it is meant:
ekycpro's bulk protocol (shared by the wscheck example, and the fast path's
/v1/check gets the status behaviour), and the JSON batch API (a status is GET
/v1/batches/ID, the result file its pages of records).

Also a tiny real CONNECT proxy on 127.0.0.1 (a threaded socket relay) and a
self-signed certificate made at test time, for the proxy tests. The proxy
resolves nothing: every tunnel, whatever host it names, is relayed to one target
on 127.0.0.1 (a TLS stand-in), so names like api.example.test never leave this
machine. It keeps what it was asked (CONNECT host:port) and every byte it relayed
from the client, to show what a proxy could read."""

from __future__ import annotations

import contextlib
import json
import select
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

Behaviour = Callable[[BaseHTTPRequestHandler], None]


def reply(h: BaseHTTPRequestHandler, code: int, body: bytes | dict | list | str,
          ctype: str = "application/json", headers: dict | None = None) -> None:
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    h.send_response(code)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        h.send_header(name, value)
    h.end_headers()
    h.wfile.write(body)


def drip(h: BaseHTTPRequestHandler, body: bytes, stop: threading.Event,
         every: float = 1.0, code: int = 200, length: int | None = None) -> bool:
    """Headers at once, then the body one byte per `every` seconds (a declared
    length the body never reaches keeps the client reading). True when the whole
    body went out: the client waited it out (HostileServer.waited_out counts it)."""
    h.send_response(code)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(length or len(body) * 1000))
    h.end_headers()
    h.wfile.flush()
    for byte in body:
        if stop.wait(every):
            return False
        try:
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
        except OSError:
            return False  # the client gave up: what the test wants
    return True


class Dialect:
    """ekycpro's wire: POST /v1/tasks creates, any other POST asks a status (or a
    /v1/check), a GET fetches the result file at a record's result_url."""

    name = "ekycpro"

    def endpoint(self, method: str, path: str) -> str:
        if method == "POST":
            return "create" if path.startswith("/v1/tasks") else "status"
        return "files"

    def record(self, server_url: str, status: str = "pending", **fields) -> dict:
        """A task record in this wire's words: ekycpro's, as the sister platform's."""
        return {"task_id": "t1", "status": status, **fields}

    def results(self, server_url: str, rows) -> tuple[bytes, str]:
        """The result file of (number, answer) rows, and its content type: the
        answer under `tg`'s column and under `ws`'s (the wscheck example's)."""
        text = "number,telegram,activated\n" + "".join(f"{n},{v},{v}\n" for n, v in rows)
        return text.encode(), "text/csv"

    def done(self, server_url: str) -> dict:
        """A finished task's record whose results are fetched from the files endpoint."""
        return self.record(server_url, "exported", result_url=server_url + "/r.csv")


class JsonBatchDialect(Dialect):
    """tests/json_batch_server.py's wire: POST /v1/batches creates, GET
    /v1/batches/ID is a status, GET /v1/batches/ID/results a page of records (the
    files endpoint: a paged result has no URL of its own)."""

    name = "jsonbatch"
    WORDS = {"pending": "queued", "processing": "running", "exported": "done",
             "completed": "done"}

    def endpoint(self, method: str, path: str) -> str:
        if method == "POST":
            return "create"
        return "files" if path.split("?")[0].rstrip("/").endswith("/results") else "status"

    def record(self, server_url: str, status: str = "pending", **fields) -> dict:
        # ekycpro's field names, said in this wire's: id, state, size, progress; a
        # field it does not have (message, created_at, result_url) is sent as is.
        batch = {"id": fields.pop("task_id", "t1"), "state": self.WORDS.get(status, status),
                 "size": fields.pop("total", 3),
                 "progress": 1.0 if self.WORDS.get(status) == "done" else 0.0}
        return {**batch, **fields}

    def results(self, server_url: str, rows) -> tuple[bytes, str]:
        # yes and no as the API says them; anything else as it is.
        said = {"yes": True, "no": False}
        page = {"results": [{"number": n, "registered": said.get(v, v)} for n, v in rows],
                "next": None}
        return json.dumps(page).encode(), "application/json"

    def done(self, server_url: str) -> dict:
        return self.record(server_url, "exported")


DIALECTS = {"ekycpro": Dialect(), "jsonbatch": JsonBatchDialect()}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that hangs up mid-bomb is what the tests want


class HostileServer:
    def __init__(self, *, create: Behaviour | None = None, status: Behaviour | None = None,
                 files: Behaviour | None = None, wire: str = "ekycpro"):
        self.dialect = DIALECTS[wire]
        self.create = create or (lambda h: reply(h, 200, h.record()))
        self.status = status or (lambda h: reply(h, 200, h.record()))
        self.files = files or (lambda h: reply(h, 404, b"", "text/plain"))
        self.stop = threading.Event()
        self.calls: dict[str, int] = {"create": 0, "status": 0, "files": 0}
        self.paths: list[str] = []
        # Replies whose behaviour returned True: sent in full, however slowly.
        self.waited_out: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            @property
            def server_url(self) -> str:  # for result URLs pointing back here
                return server.url

            @property
            def server_stop(self) -> threading.Event:  # set when the test is over
                return server.stop

            def record(self, status: str = "pending", **fields) -> dict:
                """A task record in the server's wire (Dialect.record)."""
                return server.dialect.record(server.url, status, **fields)

            def done(self) -> dict:
                """A finished task whose results the files endpoint serves."""
                return server.dialect.done(server.url)

            def results(self, rows) -> tuple[bytes, str]:
                """(body, content type) of these (number, answer) rows."""
                return server.dialect.results(server.url, rows)

            def _serve(self, method: str) -> None:
                if method == "POST":
                    length = int(self.headers.get("Content-Length") or 0)
                    self.rfile.read(length)
                kind = server.dialect.endpoint(method, self.path)
                server.calls[kind] += 1
                if kind == "files":
                    server.paths.append(self.path)
                if getattr(server, kind)(self) is True:
                    server.waited_out.append(kind)

            def do_POST(self):
                self._serve("POST")

            def do_GET(self):
                self._serve("GET")

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def record(status: str = "pending", **fields) -> dict:
    return {"task_id": "t1", "status": status, **fields}


def elapsed(action: Callable[[], object]) -> tuple[float, BaseException | None]:
    """How long action took, and what it raised."""
    t0 = time.monotonic()
    try:
        action()
    except BaseException as e:  # noqa: BLE001 - the caller asserts on it
        return time.monotonic() - t0, e
    return time.monotonic() - t0, None

def self_signed(folder: Path, *names: str) -> tuple[Path, Path]:
    """(certificate, key) for these DNS names, made by the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        import pytest

        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    san = ",".join(f"DNS:{n}" for n in names)
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={names[0]}",
                    "-addext", f"subjectAltName={san}"],
                   check=True, capture_output=True)
    return cert, key


class ConnectProxy:
    def __init__(self, target_port: int, refuse: bytes | None = None):
        self.target_port = target_port
        self.refuse = refuse  # e.g. b"407 Proxy Authentication Required": no tunnel
        self.hold = False  # True: a CONNECT is never answered (a proxy that hangs)
        self.connects: list[str] = []  # "host:port" of each tunnel asked for
        self.from_client = bytearray()  # every byte the clients sent through it
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> ConnectProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _seen(self, data: bytes) -> None:
        with self._lock:
            self.from_client += data

    def _tunnel(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            self._seen(head)
            line = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            if len(line) < 2 or line[0] != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Only CONNECT\r\nContent-Length: 0\r\n\r\n")
                return
            with self._lock:
                self.connects.append(line[1])
            if self.hold:
                self._stop.wait()
                return
            if self.refuse:
                client.sendall(b"HTTP/1.1 " + self.refuse + b"\r\nContent-Length: 0\r\n\r\n")
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            with upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                rest = head.split(b"\r\n\r\n", 1)[1]
                if rest:
                    upstream.sendall(rest)
                self._relay(client, upstream)

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        pair = {client: upstream, upstream: client}
        while not self._stop.is_set():
            ready, _, _ = select.select(list(pair), [], [], 0.5)
            for sock in ready:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                if sock is client:
                    self._seen(data)
                try:
                    pair[sock].sendall(data)
                except OSError:
                    return
