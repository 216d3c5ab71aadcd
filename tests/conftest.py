"""Shared fixtures: a real sandbox on 127.0.0.1 and a fresh store per test."""

from __future__ import annotations

import gc
import os
import socket
import threading
import time
from pathlib import Path

import hypothesis
import pytest

import tgcheck

# PostgreSQL for the store contract suite: a throwaway cluster per session.
from postgres_cluster import any_store, postgres_cluster, postgres_url, store_target  # noqa: F401

# Every in-tree provider shape, for the guarantee suites (tests/shapes.py).
from shapes import jsonbatch_plugin, provider_shape, shape, wscheck_plugin  # noqa: F401
from tgcheck import Settings
from tgcheck.sandbox import Sandbox

# CI (CI=true) draws Hypothesis' examples from a fixed seed: a run there is the run
# a developer can repeat with CI=true; elsewhere each run explores new examples.
hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis.settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test reads the developer's real key, store or base URL."""
    for name in ("TGCHECK_API_KEY", "TGCHECK_BASE_URL", "TGCHECK_PROVIDER", "TGCHECK_POLL_MIN",
                 "TGCHECK_POLL_MAX", "TGCHECK_MAX_AGE_DAYS", "TGCHECK_TIMEOUT",
                 "TGCHECK_MAX_TASK_SIZE", "TGCHECK_UNKNOWN_RETRY_HOURS", "TGCHECK_RETRY_BASE",
                 "TGCHECK_MAX_STATUS_CALLS", "TGCHECK_MIN_TASK_SIZE", "TGCHECK_TOP_UP",
                 "TGCHECK_CONNECT_BUDGET", "TGCHECK_PROGRESS_EVERY", "TGCHECK_STORE_URL",
                 "TGCHECK_SANDBOX",
                 "PGPASSWORD", "PGPASSFILE", "PGSERVICE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TGCHECK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TGCHECK_LOAD_PLUGINS", "")
    # The sync fast path is off unless a test turns it on (tests/core/test_fast_path.py):
    # the other tests count a task's calls. (Settings(...) aimed at a sandbox has none
    # without a sync_url anyway.)
    monkeypatch.setenv("TGCHECK_SYNC_MAX", "0")
    monkeypatch.delenv("TGCHECK_SYNC_URL", raising=False)


@pytest.fixture(autouse=True)
def _own_secrets():
    """The secrets a test registers for masking (tgcheck.redact: a key, a database
    password) are masked for that test only. The registry lives as long as the
    process: a password "not-the-password" one test registered masked "PASSWORD" in
    PGPASSWORD in a later test's message. Which tests share a process varies from
    run to run under pytest-xdist, so such a leak would fail at random."""
    from tgcheck import redact

    with redact.secrets_scope():
        yield


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    """Network traffic goes to loopback only: any other address fails the test."""
    real_connect = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost") \
                and not host.startswith("127.") and self.family != socket.AF_UNIX:
            raise AssertionError(f"a test tried to reach {host}: loopback only")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def sandbox():
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def settings(sandbox, tmp_path):
    """Settings aimed at the sandbox, polling fast (the sandbox's tasks are short).
    simulated: it is a sandbox (its store, its label); a loopback URL alone is not."""
    return Settings(api_key=sandbox.api_key, base_url=sandbox.url, home=tmp_path / "home",
                    poll_min=0.02, poll_max=0.5, timeout=60, http_timeout=5,
                    retry_base=0.01, simulated=True)


@pytest.fixture
def sandbox_env(sandbox, monkeypatch, tmp_path):
    """The same, through the environment, for the CLI and tgcheck.check()."""
    monkeypatch.setenv("TGCHECK_API_KEY", sandbox.api_key)
    monkeypatch.setenv("TGCHECK_BASE_URL", sandbox.url)
    monkeypatch.setenv("TGCHECK_SANDBOX", "1")  # a sandbox: its store, its label
    monkeypatch.setenv("TGCHECK_POLL_MIN", "0.02")
    monkeypatch.setenv("TGCHECK_POLL_MAX", "0.5")
    monkeypatch.setenv("TGCHECK_TIMEOUT", "60")
    monkeypatch.setenv("TGCHECK_RETRY_BASE", "0.01")
    return sandbox


@pytest.fixture
def engine(settings):
    e = tgcheck.Engine(settings)
    yield e
    e.close()


def numbers(n: int, start: int = 0, prefix: str = "+4179") -> list[str]:
    """n distinct valid Swiss mobile numbers."""
    return [f"{prefix}{i:07d}" for i in range(start, start + n)]


def compact_checks(monkeypatch) -> list[int]:
    """The numbers each Planning.check_compact call is given from now on (the
    SQL face's and chunked checks' one engine check), as they are made."""
    from tgcheck.engine.planning import Planning

    sizes: list[int] = []
    check_compact = Planning.check_compact

    def counted(self, answers, request, lookup_size):
        sizes.append(len(answers))
        return check_compact(self, answers, request, lookup_size)

    monkeypatch.setattr(Planning, "check_compact", counted)
    return sizes


def child_env(sandbox, home, **extra: str) -> dict:
    """The environment of a tgcheck child process aimed at the sandbox, own store."""
    env = dict(os.environ, TGCHECK_API_KEY=sandbox.api_key, TGCHECK_BASE_URL=sandbox.url,
               TGCHECK_SANDBOX="1", TGCHECK_HOME=str(home), TGCHECK_POLL_MIN="0.02",
               TGCHECK_POLL_MAX="0.2", TGCHECK_LOAD_PLUGINS="", TGCHECK_RETRY_BASE="0.01")
    env.update(extra)
    return env


def wait_for(condition, what: str, timeout: float = 30.0):
    """Wait for a state another process or thread reaches; fails with a reason."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def let_go_of(store_path) -> None:
    """Close every SQLite connection this process still holds on store_path, so
    that a test may damage the file as a crash or a bad disk would.

    Engine.close() closes the calling thread's connection only: those the job and
    heartbeat threads opened stay open until the cyclic garbage collector frees
    them (on Python 3.11 a sqlite3 connection and its statement cache refer to
    each other). Whenever that happens, the last one to close checkpoints its WAL
    into the file: written after the damage, it makes the file sound again, and
    the test then checks a store that is not damaged. Collected here, the WAL is
    folded in and removed first; a connection still in use fails the test.

    A job or heartbeat thread of an engine that gave up (DeadlineExceeded) may still
    be ending: on a loaded machine (the suite in parallel) a moment later. Waited
    for, collecting again, rather than failed at the first look."""
    wal = Path(f"{store_path}-wal")

    def released() -> bool:
        gc.collect()
        return not wal.exists()

    wait_for(released, f"every connection to {store_path} to close")


def interrupted_query(con, query: str, submitted) -> dict:
    """Run query on con in a thread, interrupt it once submitted (a threading.Event
    the caller's event listener sets) is set, and return its outcome ("error",
    or "rows" if it finished): the query must have stopped."""
    outcome = {}

    def run():
        try:
            outcome["rows"] = con.execute(query).fetchall()
        except Exception as e:
            outcome["error"] = e

    worker = threading.Thread(target=run)
    worker.start()
    assert submitted.wait(10), "the task was never submitted"
    con.interrupt()
    worker.join(10)
    assert not worker.is_alive(), "the query did not stop"
    return outcome
