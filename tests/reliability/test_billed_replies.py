"""A billed reply counts from its status line (issue 20, item 1): a status reply
that arrives as 200 but is cut short, trickles past its deadline or is over the
body cap is billed by the vendor all the same. Against a stand-in on 127.0.0.1
that counts every 200 status line it sends, the journal's count equals the
stand-in's and the job stalls at TGCHECK_MAX_STATUS_CALLS."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading

import pytest

import tgcheck
from conftest import numbers
from hostile import HostileServer, drip, record
from tgcheck import Settings
from tgcheck.errors import JobStalled

CAP = 3


class BilledStandIn:
    """Status replies that are 200 and then break, in turn; each 200 sent counted."""

    def __init__(self, kinds):
        self.kinds = itertools.cycle(kinds)
        self.billed = 0
        self._lock = threading.Lock()

    def status(self, h) -> None:
        with self._lock:
            kind = next(self.kinds)
            self.billed += 1  # the status line below is what the vendor bills
        getattr(self, kind)(h)

    @staticmethod
    def cut_short(h) -> None:
        body = json.dumps(record("processing", total=3, success=1)).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body) + 100))
        h.end_headers()
        h.wfile.write(body[:10])
        h.wfile.flush()
        h.close_connection = True  # the connection closes before Content-Length bytes

    @staticmethod
    def trickling(h) -> None:
        # A byte every 0.2 s: each read is in time, the whole reply is not.
        drip(h, json.dumps(record("processing")).encode() * 10, h.server_stop, every=0.2)

    @staticmethod
    def oversize(h) -> None:
        body = b'{"task_id": "t1", "status": "processing", "pad": "' + b"x" * (1 << 20) + b'"}'
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        with contextlib.suppress(OSError):  # the client hangs up at the cap
            h.wfile.write(body)


def _engine(server, home) -> tgcheck.Engine:
    return tgcheck.Engine(Settings(
        api_key="k-billed-1", base_url=server.url, home=home, poll_min=0.01, poll_max=0.05,
        timeout=60, http_timeout=0.5, retry_base=0.01, max_status_calls=CAP))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kinds", [
    ("cut_short",), ("trickling",), ("oversize",), ("cut_short", "trickling", "oversize"),
])
def test_broken_200_status_replies_are_counted_and_the_job_stalls_at_the_cap(kinds,
                                                                            tmp_path):
    stand_in = BilledStandIn(kinds)
    with HostileServer(status=stand_in.status) as server:
        engine = _engine(server, tmp_path / "home")
        with pytest.raises(JobStalled, match=f"budget of {CAP}"):
            engine.check(numbers(3))
        [job] = engine.store.jobs(states=None)
        assert job.state == "stalled"
        # The journal counts what the vendor billed, and no more was billed than the cap.
        assert job.status_calls == stand_in.billed == CAP
        # A re-run does not pay again: the job is stalled until the user asks.
        with pytest.raises(JobStalled):
            engine.check(numbers(3))
        engine.close()
    assert stand_in.billed == CAP and server.calls["create"] == 1


@pytest.mark.timeout(60)
def test_a_cut_short_500_is_free_and_not_counted(tmp_path):
    """Only a 2xx status line is billed: a broken 500 is retried without counting."""
    replies = iter(["broken-500"])

    def status(h):
        if next(replies, None) == "broken-500":
            h.send_response(500)
            h.send_header("Content-Length", "100")
            h.end_headers()
            h.wfile.write(b"{")
            h.close_connection = True
            return
        body = json.dumps(record("failed", message="stopped")).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    with HostileServer(status=status) as server:
        engine = _engine(server, tmp_path / "home")
        with pytest.raises(tgcheck.TaskFailed):
            engine.check(numbers(3))
        [job] = engine.store.jobs(states=None)
        engine.close()
    assert server.calls["status"] == 2
    assert job.status_calls == 1  # the 200 only
