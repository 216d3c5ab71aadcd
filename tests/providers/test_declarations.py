"""What a third-party provider declares, honoured by the core (issue 21's "Done when"):
free status calls, a Setting defaulting max_task_size, balance billing, and a
plugin sandbox that keeps the sandbox factory's contract (docs/plugins.md).

The provider here ("freebatch") speaks a small JSON batch API of its own, served on
127.0.0.1 by FreeBatchServer, which is also its sandbox."""

from __future__ import annotations

import json
import os
from collections import Counter
from http.server import BaseHTTPRequestHandler

import httpx
import pytest
from click.testing import CliRunner
from json_batch_server import LoopbackServer

import tgcheck
from conftest import numbers
from processes import finished, interrupt, started
from tgcheck import hookimpl, plugins
from tgcheck.cli import cli
from tgcheck.errors import ConfigError, DeadlineExceeded
from tgcheck.models import TaskStatus
from tgcheck.plugin_settings import Setting
from tgcheck.provider import QUEUED, READY, Provider
from tgcheck.readers import readers
from tgcheck.sandbox.embedded import embedded_sandbox

KEY = "freebatch-test-key"


class FreeBatchServer(LoopbackServer):
    """POST /batches {"numbers": [...]} -> {"id"}; GET /batches/ID -> {"state", "result"};
    GET /results/ID -> CSV; GET /balance. A batch is done once `together` batches
    exist (never, with stuck): tasks that must run side by side to finish."""

    def __init__(self, *, stuck: bool = False, together: int = 1, port: int = 0, **_options):
        self.stuck, self.together = stuck, together
        self.api_key = KEY
        self.batches: dict[str, list[str]] = {}
        self.billed: Counter = Counter()
        self.calls: Counter = Counter()
        super().__init__(_handler, port)


def _handler(srv: FreeBatchServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _reply(self, code, data, ctype="application/json"):
            body = data if isinstance(data, bytes) else json.dumps(data).encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            batch = f"b{len(srv.batches) + 1}"
            srv.batches[batch] = body["numbers"]
            srv.calls["create"] += 1
            srv.billed["create"] += 1
            self._reply(200, {"id": batch})

        def do_GET(self):
            kind, _, ident = self.path.strip("/").partition("/")
            srv.calls[kind] += 1
            if kind == "balance":
                return self._reply(200, {"balance": "5.00"})
            if kind == "batches":  # free: not billed
                done = not srv.stuck and len(srv.batches) >= srv.together
                return self._reply(200, {"state": "done" if done else "waiting",
                                         "result": f"{srv.url}/results/{ident}"})
            rows = "".join(f"{n},yes\n" for n in srv.batches[ident])
            return self._reply(200, ("number,telegram\n" + rows).encode(), "text/csv")

    return Handler


class FreeBatch(Provider):
    name = "freebatch"
    status_words = {"waiting": QUEUED, "done": READY}
    status_is_billed = False
    balance_is_billed = False
    readers = readers()  # the core's CSV reader among them

    def __init__(self, settings):
        self.identity = f"freebatch:{settings.base_url}"
        self._http = httpx.Client(base_url=settings.base_url,
                                  headers={"Authorization": f"Bearer {settings.require_key()}"})

    def create_task(self, numbers, task_type, *, deadline=None):
        batch = self._http.post("/batches", json={"numbers": list(numbers)}).json()["id"]
        return TaskStatus(task_id=batch, status="waiting", state=QUEUED)

    def get_status(self, task_id, *, deadline=None, on_billed=None):
        data = self._http.get(f"/batches/{task_id}").json()
        return TaskStatus(task_id=task_id, status=data["state"],
                          state=self.status_words[data["state"]],
                          result_url=data["result"] if data["state"] == "done" else None)

    def download(self, url, *, deadline=None, max_bytes=None):
        return self._http.get(url).content

    def balance(self, *, deadline=None):
        return self._http.get("/balance").json()["balance"], "USD"

    def close(self):
        self._http.close()


class FreeBatchPlugin:
    @hookimpl
    def tgcheck_register_providers(self, register):
        register("freebatch", FreeBatch)

    @hookimpl
    def tgcheck_register_settings(self, register):
        register(Setting("base_url", "TGCHECK_BASE_URL", "https://freebatch.example",
                         provider="freebatch"))
        register(Setting("max_task_size", "TGCHECK_FREEBATCH_MAX", 25_000, parse=int,
                         provider="freebatch", help="the API's largest batch"))

    @hookimpl
    def tgcheck_register_sandboxes(self, register):
        register("freebatch", FreeBatchServer)


@pytest.fixture
def freebatch():
    plugins.pm.register(FreeBatchPlugin(), "test-freebatch")
    yield
    plugins.pm.unregister(name="test-freebatch")


def _settings(server, tmp_path, **changes):
    return tgcheck.Settings(provider="freebatch", api_key=KEY, base_url=server.url,
                            home=tmp_path / "home", poll_min=0.02, poll_max=0.1, **changes)


def test_free_status_calls_are_polled_past_the_cap_until_the_timeout(freebatch, tmp_path):
    with FreeBatchServer(stuck=True) as server:
        engine = tgcheck.Engine(_settings(server, tmp_path, max_status_calls=3, timeout=1.5))
        events = []
        try:
            with pytest.raises(DeadlineExceeded, match="stays open"):
                engine.check(numbers(5), on_event=events.append)
            (job,) = engine.store.jobs()
        finally:
            engine.close()
    # Not stalled at the cap of 3: polled on (free) until TGCHECK_TIMEOUT, and none of
    # those calls counted as billed: only the create.
    assert server.calls["batches"] > 3
    assert job.state == "open" and job.status_calls == 0
    assert {e.billed_calls for e in events if e.billed_calls is not None} == {1}


def test_a_provider_setting_defaulting_max_task_size_splits_into_parallel_tasks(
        freebatch, tmp_path, monkeypatch):
    assert tgcheck.Settings.from_env(provider="freebatch").max_task_size == 25_000
    monkeypatch.setenv("TGCHECK_FREEBATCH_MAX", "30000")
    assert tgcheck.Settings.from_env(provider="freebatch").max_task_size == 30_000
    monkeypatch.setenv("TGCHECK_MAX_TASK_SIZE", "100")  # the user's word wins
    assert tgcheck.Settings.from_env(provider="freebatch").max_task_size == 100
    assert tgcheck.Settings(provider="freebatch").max_task_size == 25_000
    assert tgcheck.Settings().max_task_size == 100_000  # ekycpro declares none
    # 60,000 numbers: 3 tasks of 20,000, which finish only once all 3 exist, so
    # only tasks run side by side (not one after another) get answers at all.
    with FreeBatchServer(together=3) as server:
        engine = tgcheck.Engine(_settings(server, tmp_path, timeout=60))
        try:
            answers = engine.check(numbers(60_000))
        finally:
            engine.close()
    assert sorted(len(b) for b in server.batches.values()) == [20_000] * 3
    assert {a.value for a in answers} == {"yes"}


def test_balance_says_free_when_the_provider_declares_it(freebatch, monkeypatch):
    with FreeBatchServer() as server:
        monkeypatch.setenv("TGCHECK_API_KEY", KEY)
        monkeypatch.setenv("TGCHECK_BASE_URL", server.url)
        done = CliRunner().invoke(cli, ["balance", "--provider", "freebatch"])
    assert done.exit_code == 0, done.output
    assert "(free)" in done.output and "possibly" not in done.output


def test_a_plugin_sandbox_works_with_sandbox_and_tgcheck_sandbox(freebatch, jsonbatch_plugin,
                                                                  tmp_path):
    nums = numbers(3)
    (tmp_path / "in.txt").write_text("\n".join(nums) + "\n")
    done = CliRunner().invoke(cli, ["check", str(tmp_path / "in.txt"), "--provider",
                                    "freebatch", "--sandbox", "--progress", "none"])
    assert done.exit_code == 0, done.output
    assert all(f"{n},yes" in done.output for n in nums)

    # `tgcheck sandbox --provider`: a plugin's sandbox served by the command as a user
    # runs it (the JSON batch provider, loaded from its entry point), stopped by Ctrl-C.
    env = {**os.environ, "TGCHECK_HOME": str(tmp_path / "served"), **jsonbatch_plugin}
    with started("sandbox", "--provider", "jsonbatch", "--port", "0", env=env) as proc:
        listening = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in listening, listening + finished(proc)
        url = listening.rsplit(" ", 1)[-1].strip()
        assert httpx.get(url + "/batches").status_code == 401  # it serves: no key, refused
        said = interrupt(proc)
    assert proc.returncode == 0, said
    assert "stopped; billed calls: {}" in said


class _LateServer(FreeBatchServer):
    """Binds its port only in start(): its URL is unknown before."""

    def __init__(self, **options):
        self.api_key, self.billed, self._server = KEY, Counter(), None

    @property
    def url(self):
        if self._server is None:
            raise RuntimeError("not started")
        return super().url


class _BrokenSandboxes:
    @hookimpl
    def tgcheck_register_sandboxes(self, register):
        register("late", _LateServer)
        register("rigid", lambda speed=1: None)  # takes neither state_dir= nor port=


def test_a_sandbox_that_breaks_the_contract_is_a_clear_error_naming_the_plugin(monkeypatch):
    plugins.pm.register(_BrokenSandboxes(), "test-broken-sandbox")
    try:
        with pytest.raises(ConfigError, match="'test-broken-sandbox'.*'rigid'.*state_dir="):
            plugins.sandboxes()
    finally:
        plugins.pm.unregister(name="test-broken-sandbox")

    class OnlyLate:
        @hookimpl
        def tgcheck_register_sandboxes(self, register):
            register("late", _LateServer)

    plugins.pm.register(OnlyLate(), "test-late-sandbox")
    try:
        with pytest.raises(ConfigError, match=r"'test-late-sandbox'.*\.url before start"):
            embedded_sandbox("late")
        done = CliRunner().invoke(cli, ["sandbox", "--provider", "late"])
        assert done.exit_code == 2, done.output
        assert "test-late-sandbox" in done.output and "unexpected" not in done.output
    finally:
        plugins.pm.unregister(name="test-late-sandbox")
