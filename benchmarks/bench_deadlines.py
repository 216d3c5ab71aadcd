"""Figure 8: how promptly a wait ends when it must: past TGCHECK_TIMEOUT, under a
reply that drips in, on an uncertain earlier create, on an interrupt.

The test suite checks each of these by behaviour (the error that only a kept
deadline gives, a dripping reply never waited out, the interrupted query's
error); how long each takes on this machine is measured here, not asserted there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from benchmarks.common import Row


def _numbers(n: int, start: int = 0) -> list[str]:
    return [f"+4179{i:07d}" for i in range(start, start + n)]


def _settings(url: str, api_key: str, home: str, **overrides):
    import tgcheck

    values = dict(api_key=api_key, base_url=url, home=home, poll_min=0.01, poll_max=0.05,
                  http_timeout=0.3, timeout=1.0, retry_base=0.01)
    values.update(overrides)
    return tgcheck.Settings(**values)


def _until_raised(action) -> float:
    """Seconds until action raised a TgcheckError (it must)."""
    import tgcheck

    start = time.perf_counter()
    try:
        action()
    except tgcheck.TgcheckError:
        return time.perf_counter() - start
    raise RuntimeError("the wait ended without an error")


def create_refused_overshoot() -> float:
    """Every create answered 500 (nothing created): seconds past a 1 s timeout."""
    import tgcheck
    from tgcheck.sandbox import Faults, Sandbox

    with Sandbox(faults=Faults(rate=1.0, kinds=("500",), create_kinds=("500",))) as sb, \
            tempfile.TemporaryDirectory() as home:
        settings = _settings(sb.url, sb.api_key, home, http_timeout=5)
        return _until_raised(lambda: tgcheck.Engine(settings).check(_numbers(5))) - 1.0


def polling_faults_overshoot() -> float:
    """Every status call faulted (500, 429, dropped, slow): seconds past a 1 s timeout."""
    import tgcheck
    from tgcheck.sandbox import Faults, Sandbox

    with Sandbox(omit_rate=0.0) as sb, tempfile.TemporaryDirectory() as home:
        engine = tgcheck.Engine(_settings(sb.url, sb.api_key, home))
        try:
            engine.check(_numbers(1))  # warm up: what is measured is the retries only
            sb.faults = Faults(rate=1.0, kinds=("500", "429", "drop", "slow"),
                               slow_seconds=0.5, retry_after=0.01, create_kinds=())
            return _until_raised(lambda: engine.check(_numbers(10))) - 1.0
        finally:
            engine.close()


class _Dripping(BaseHTTPRequestHandler):
    """Creates at once; answers every status call one byte a second, never completely."""

    protocol_version = "HTTP/1.1"
    stop = threading.Event()

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"task_id": "t1", "status": "processing"}).encode()
        if self.path.startswith("/v1/tasks"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) * 1000))
        self.end_headers()
        for byte in body:
            if self.stop.wait(1.0):
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return


def dripping_status_end(timeout: float = 3.0) -> float:
    """A status reply at 1 byte/s (each byte resets a read timeout of 10 s): seconds
    until the check gives up, with TGCHECK_TIMEOUT = timeout."""
    import tgcheck

    handler = type("Dripping", (_Dripping,), {"stop": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory() as home:
            url = f"http://127.0.0.1:{server.server_address[1]}"
            engine = tgcheck.Engine(_settings(url, "k-bench-1", home, timeout=timeout,
                                              http_timeout=10))
            try:
                return _until_raised(lambda: engine.check(_numbers(3)))
            finally:
                engine.close()
    finally:
        handler.stop.set()
        server.shutdown()
        server.server_close()


def uncertain_superset_refusal() -> float:
    """A create another process died in (uncertain), then a check of one more
    number: seconds until it is refused as uncertain (timeout 5 s)."""
    import tgcheck
    from tgcheck.engine import number_set_key
    from tgcheck.sandbox import Sandbox

    with Sandbox() as sb, tempfile.TemporaryDirectory() as home:
        engine = tgcheck.Engine(_settings(sb.url, sb.api_key, home, timeout=5.0))
        try:
            values = _numbers(10)
            key = number_set_key(engine.provider.identity, "tg", values)
            engine.store.claim(key, engine.provider.identity, "tg", values)
            job = engine.store.live_job(key)
            engine.store.update_job(job.id, state="submitting")
            with engine.store._tx() as db:  # its owner died on another host
                db.execute("UPDATE jobs SET owner = ?, heartbeat = 0 WHERE id = ?",
                           ("otherhost:1", job.id))
            return _until_raised(lambda: engine.check(_numbers(11)))
        finally:
            engine.close()


def duckdb_interrupt_end() -> float:
    """A DuckDB query waiting on a task that takes minutes: seconds from
    con.interrupt() to the query's end."""
    import duckdb

    import tgcheck
    import tgcheck_duckdb
    from tgcheck.sandbox import Sandbox

    with Sandbox(speed=0.01) as sb, tempfile.TemporaryDirectory() as home:
        settings = tgcheck.Settings(api_key=sb.api_key, base_url=sb.url, home=home,
                                    poll_min=0.02, poll_max=0.5, timeout=60, http_timeout=5)
        submitted = threading.Event()
        con = tgcheck_duckdb.register(duckdb.connect(), settings,
                                      on_event=lambda e: e.kind == "submitted" and submitted.set())
        ended: list[float] = []

        def run():
            with contextlib.suppress(Exception):  # the interrupt is what ends it
                con.execute("SELECT * FROM telegram_check(['+41790000011'])").fetchall()
            ended.append(time.perf_counter())

        worker = threading.Thread(target=run)
        worker.start()
        if not submitted.wait(30):
            raise RuntimeError("the task was never submitted")
        start = time.perf_counter()
        con.interrupt()
        worker.join(60)
        return ended[0] - start


@dataclasses.dataclass
class _Case:
    figure: str
    measure: object
    goal: str
    limit: float


CASES = (
    _Case("8 deadline: create answered 500 only, seconds past a 1 s timeout",
          create_refused_overshoot, "< 4 s", 4.0),
    _Case("8 deadline: every status call faulted, seconds past a 1 s timeout",
          polling_faults_overshoot, "< 0.8 s (http_timeout 0.3 + 0.5)", 0.8),
    _Case("8 deadline: status reply at 1 byte/s, seconds to the error (timeout 3 s)",
          dripping_status_end, "< 13 s (timeout + 10)", 13.0),
    _Case("8 uncertain create, a superset refused, seconds (timeout 5 s)",
          uncertain_superset_refusal, "< 3 s", 3.0),
    _Case("8 DuckDB con.interrupt() to the query's end, seconds",
          duckdb_interrupt_end, "< 2 s", 2.0),
)


def fig_deadlines(quick: bool) -> list[Row]:
    repeat = 1 if quick else 3
    rows = []
    for case in CASES:
        seconds = statistics.median(case.measure() for _ in range(repeat))
        rows.append(Row(case.figure, seconds, None, goal=case.goal, met=seconds < case.limit))
    return rows
