"""Every in-tree provider shape, for the guarantee suites (issue 21, item 4).

The money rules (one create per set, the journal's billed count equal to the
vendor's, the key never leaked, a crash leaving no second task) are the core's,
so the hostile-reply, fault, crash and concurrency suites run against each shape
through the `provider_shape` fixture (through conftest): a new shape added to
SHAPES inherits them, and a regression in one shape shows under its name.

- `ekycpro`: ekycpro's bulk task protocol, its sandbox;
- `ekycpro-sync`: the same sandbox with the /v1/check fast path on (sync_max
  above any test's set, so every check asks its numbers one by one first and
  its misses and undetermined numbers go to one task);
- `wscheck`: the sister platform's example plugin (examples/tgcheck-wscheck),
  imported from its source folder, its own sandbox. In this process the plugin
  is registered with the plugin manager for the test's length; a child process
  finds it by its entry point, from a dist-info folder written next to the test
  (no install, no network);
- `jsonbatch`: the test-only JSON batch provider (tests/json_batch_provider.py:
  Bearer auth, free status calls, cursor-paged JSON results), its loopback
  server (tests/json_batch_server.py), loaded the same way as wscheck. Its
  status calls are free, so the billed counts hold creates only; its results
  pages are the `download` endpoint.

`ProviderShape` is what a test needs: the running sandbox (`server`), Settings
and a child's environment aimed at it, its `creates` and `billed` counts (what
the vendor would charge: creates, status replies, determined checks), `fault()`
to switch a fault on, `expected()` answers. `shape` alone (a `Shape`) aims a
provider of that shape at another server (the hostile stand-in).

A new shape is one entry in SHAPES and, for a new sandbox, one Controls class
(how to start it, switch its faults on, hold its tasks, read its answers).
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from pathlib import Path

import pytest

from paths import EXAMPLES, TESTS
from tgcheck import Settings

WSCHECK_SRC = EXAMPLES / "tgcheck-wscheck" / "src"
# Fault kinds every shape's sandbox can be told to answer an endpoint with:
# free refusals (500, 429 with Retry-After), a dropped connection, a 200 cut
# short (billed: the status line came), a reply slower than http_timeout.
FAULTS = ("500", "429", "drop", "truncated", "slow")
# Above every set a shape-parametrised test checks: each takes the fast path.
SYNC_MAX = 1000
RETRY_AFTER = 0.05  # seconds, a 429's Retry-After


@dataclasses.dataclass(frozen=True)
class Shape:
    """How tgcheck is aimed at a provider of this shape."""

    name: str
    provider: str  # TGCHECK_PROVIDER
    task_type: str  # the task type its sandbox speaks
    controls: type  # its sandbox's Controls
    sync: bool = False  # the fast path on
    plugin: str | None = None  # a plugin outside tgcheck: registered while a test runs
    min_task_size: int | None = None  # overrides the task type's (a test checks few)
    wire: str = "ekycpro"  # the dialect a hostile stand-in speaks to it (hostile.DIALECTS)

    def env_for(self, url: str) -> dict[str, str]:
        """The variables, beyond key and base URL, that select this shape."""
        env = {"TGCHECK_PROVIDER": self.provider}
        if self.sync:
            env.update(TGCHECK_SYNC_MAX=str(SYNC_MAX), TGCHECK_SYNC_URL=url)
        if self.min_task_size is not None:
            env["TGCHECK_MIN_TASK_SIZE"] = str(self.min_task_size)
        return env

    def settings_for(self, url: str, api_key: str, home, **overrides) -> Settings:
        values = dict(provider=self.provider, api_key=api_key, base_url=url, home=home,
                      poll_min=0.01, poll_max=0.05, timeout=30, http_timeout=2,
                      retry_base=0.01)
        if self.sync:
            values.update(sync_max=SYNC_MAX, extra={"sync_url": url})
        if self.min_task_size is not None:
            values["min_task_size"] = self.min_task_size
        values.update(overrides)
        return Settings(**values)


class EkycproControls:
    """tgcheck's own sandbox (ekycpro's protocol, /v1/check included)."""

    def __init__(self):
        from tgcheck.sandbox import Faults, Sandbox

        self.server = Sandbox(omit_rate=0.0, queue_seconds=0.01, export_seconds=0.01,
                              speed=1_000_000, faults=Faults(retry_after=RETRY_AFTER))

    def fault(self, endpoint: str, kind: str, times: int) -> None:
        self.server.fail_next(endpoint, kind, times)

    def slow_seconds(self, seconds: float) -> None:
        self.server.faults.slow_seconds = seconds

    def hold_tasks(self, held: bool) -> None:
        self.server.speed = 1 if held else 1_000_000  # numbers per second

    def expected(self, number: str, task_type: str) -> str | None:
        return self.server.expected(number, task_type)


class WscheckControls:
    """The example plugin's own sandbox (WsSandbox)."""

    def __init__(self):
        from tgcheck_wscheck import WsSandbox

        # Not its demo key: a key is masked for the rest of the process wherever a
        # fragment of it appears, and "wscheck-sandbox-key" would mask "-sandbox".
        self.server = WsSandbox(api_key="wsk-7fQ3zL9m2Xv4", min_rows={}, steps=2,
                                retry_after=RETRY_AFTER)

    def fault(self, endpoint: str, kind: str, times: int) -> None:
        self.server.fail_next(endpoint, int(kind) if kind.isdigit() else kind, times)

    def slow_seconds(self, seconds: float) -> None:
        self.server.slow_seconds = seconds

    def hold_tasks(self, held: bool) -> None:
        self.server.steps = 10**9 if held else 1  # status calls a task takes

    def expected(self, number: str, task_type: str) -> str | None:
        from tgcheck_wscheck.sandbox import simulated_row

        return simulated_row(number, task_type)["activated"]


class JsonBatchControls:
    """The JSON batch stand-in (tests/json_batch_server.py); its results pages
    are the suites' `download`."""

    ENDPOINTS = {"download": "results"}

    def __init__(self):
        from json_batch_server import JsonBatchServer

        self.server = JsonBatchServer(retry_after=RETRY_AFTER)

    def fault(self, endpoint: str, kind: str, times: int) -> None:
        self.server.fail_next(self.ENDPOINTS.get(endpoint, endpoint), kind, times)

    def slow_seconds(self, seconds: float) -> None:
        self.server.slow_seconds = seconds

    def hold_tasks(self, held: bool) -> None:
        self.server.stuck = held

    def expected(self, number: str, task_type: str) -> str | None:
        from json_batch_provider import ANSWERS
        from json_batch_server import registered

        return ANSWERS[registered(number)]

    @property
    def calls(self) -> Counter:
        named = {v: k for k, v in self.ENDPOINTS.items()}
        return Counter({named.get(k, k): n for k, n in self.server.calls.items()})

    @property
    def tasks(self) -> list[list[str]]:
        return [list(numbers) for numbers in self.server.batches.values()]


SHAPES = {
    "ekycpro": Shape("ekycpro", "ekycpro", "tg", EkycproControls),
    "ekycpro-sync": Shape("ekycpro-sync", "ekycpro", "tg", EkycproControls, sync=True),
    # The platform's minimum is 500 rows a task.
    "wscheck": Shape("wscheck", "wscheck", "ws", WscheckControls, plugin="wscheck",
                     min_task_size=1),
    "jsonbatch": Shape("jsonbatch", "jsonbatch", "tg", JsonBatchControls, plugin="jsonbatch",
                       wire="jsonbatch"),
}


@dataclasses.dataclass
class ProviderShape:
    """A shape and its running sandbox."""

    shape: Shape
    controls: object  # the shape's Controls, holding its running sandbox
    plugin_env: dict[str, str]  # what a child process needs to load the shape's plugin

    @property
    def server(self):
        return self.controls.server

    @property
    def name(self) -> str:
        return self.shape.name

    @property
    def task_type(self) -> str:
        return self.shape.task_type

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def api_key(self) -> str:
        return self.server.api_key

    def settings(self, home, **overrides) -> Settings:
        return self.shape.settings_for(self.url, self.api_key, home, simulated=True,
                                       **overrides)

    def env(self, home, **extra: str) -> dict[str, str]:
        """A tgcheck child process's environment aimed at the sandbox, own store."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TGCHECK_")}
        env.update(TGCHECK_API_KEY=self.api_key, TGCHECK_BASE_URL=self.url,
                   TGCHECK_SANDBOX="1", TGCHECK_HOME=str(home), TGCHECK_POLL_MIN="0.01",
                   TGCHECK_POLL_MAX="0.1", TGCHECK_RETRY_BASE="0.01", TGCHECK_SYNC_MAX="0",
                   TGCHECK_LOAD_PLUGINS="")
        env.update(self.shape.env_for(self.url))
        env.update(self.plugin_env)
        if "PYTHONPATH" in self.plugin_env and os.environ.get("PYTHONPATH"):
            env["PYTHONPATH"] += os.pathsep + os.environ["PYTHONPATH"]
        env.update(extra)
        return env

    # -- what the vendor counts ---------------------------------------------------
    @property
    def creates(self) -> int:
        return self.server.billed["create"]

    @property
    def tasks(self) -> list[list[str]]:
        """Each task's numbers, as the vendor received them."""
        if hasattr(self.controls, "tasks"):
            return self.controls.tasks
        return [list(t.numbers) for t in self.server.tasks.values()]

    @property
    def billed(self) -> int:
        """Every reply the vendor would charge for: creates, status replies and
        determined synchronous checks."""
        return sum(self.server.billed.values())

    @property
    def calls(self):
        """Calls by endpoint, under the suites' names (a Controls may rename)."""
        return getattr(self.controls, "calls", self.server.calls)

    def expected(self, number: str) -> str | None:
        return self.controls.expected(number, self.task_type)

    # -- faults -------------------------------------------------------------------
    def fault(self, endpoint: str, kind: str, times: int = 1) -> None:
        """The next `times` calls to endpoint (create, status, download; check for
        the fast path) answer with this fault (one of FAULTS)."""
        assert kind in FAULTS, kind
        self.controls.fault(endpoint, kind, times)

    def clear_faults(self) -> None:
        """Forget the faults switched on and not yet served (the sandboxes keep
        them in one list under their lock)."""
        with self.server._lock:
            self.server._forced.clear()

    def pending_faults(self) -> list:
        """The faults switched on and not yet served: none once a test's calls ran
        (a fault never served tested nothing)."""
        with self.server._lock:
            return list(self.server._forced)

    def slow_seconds(self, seconds: float) -> None:
        """How long a `slow` fault holds its reply."""
        self.controls.slow_seconds(seconds)

    def hold_tasks(self, held: bool) -> None:
        """Tasks that do not finish while held (a child killed while polling)."""
        self.controls.hold_tasks(held)


def _dist_info(folder: Path, dist: str, entry: str) -> Path:
    """A dist-info naming a plugin's entry point (`name = module[:object]`), so that
    a child process finds it as an installed plugin (TGCHECK_LOAD_PLUGINS=name),
    from its source folder."""
    info = folder / f"{dist.replace('-', '_')}-0.0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\n"
                                   "Version: 0.0.0\n")
    (info / "entry_points.txt").write_text(f"[tgcheck]\n{entry}\n")
    return folder


@pytest.fixture
def wscheck_plugin(monkeypatch, tmp_path_factory):
    """The example plugin, registered in this process for the test's length; the
    environment a child needs to load it."""
    monkeypatch.syspath_prepend(str(WSCHECK_SRC))
    import tgcheck_wscheck

    from tgcheck import plugins

    manager = plugins.load()
    registered = not manager.is_registered(tgcheck_wscheck)
    if registered:
        manager.register(tgcheck_wscheck, "wscheck")
    site = _dist_info(tmp_path_factory.mktemp("wscheck-site"), "tgcheck-wscheck",
                      "wscheck = tgcheck_wscheck")
    yield {"PYTHONPATH": os.pathsep.join([str(site), str(WSCHECK_SRC)]),
           "TGCHECK_LOAD_PLUGINS": "wscheck"}
    if registered:
        manager.unregister(tgcheck_wscheck)


@pytest.fixture
def jsonbatch_plugin(tmp_path_factory):
    """The JSON batch provider, registered in this process for the test's length;
    the environment a child needs to load it (an entry point naming an instance)."""
    from json_batch_provider import JsonBatchPlugin

    from tgcheck import plugins

    manager = plugins.load()
    manager.register(JsonBatchPlugin(), "jsonbatch")
    site = _dist_info(tmp_path_factory.mktemp("jsonbatch-site"), "tgcheck-jsonbatch",
                      "jsonbatch = jsonbatch_entry:plugin")
    (site / "jsonbatch_entry.py").write_text(
        "from json_batch_provider import JsonBatchPlugin\n\nplugin = JsonBatchPlugin()\n")
    yield {"PYTHONPATH": os.pathsep.join([str(site), str(TESTS)]),
           "TGCHECK_LOAD_PLUGINS": "jsonbatch"}
    manager.unregister(name="jsonbatch")


@pytest.fixture(params=list(SHAPES))
def shape(request) -> Shape:
    """Each shape in turn, to aim at a server of the test's own (its plugin
    registered while the test runs)."""
    found = SHAPES[request.param]
    if found.plugin is not None:
        request.getfixturevalue(f"{found.plugin}_plugin")
    return found


@pytest.fixture
def provider_shape(shape, request):
    """Each shape in turn, with its sandbox running on 127.0.0.1."""
    plugin_env = request.getfixturevalue(f"{shape.plugin}_plugin") if shape.plugin else {}
    controls = shape.controls()
    with controls.server:
        yield ProviderShape(shape, controls, plugin_env)
