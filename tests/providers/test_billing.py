"""Billing per call kind, declared by the provider (issue 21 item 2) and honoured
by the engine: a create billed per task or per number, downloads and result pages
billed or free, status calls billed or free, a synchronous check billed only when
determined. Counted in the journal, shown by `tgcheck jobs`, in job events and by
`--dry-run`.

The shapes: the JSON batch provider (tests/json_batch_provider.py) declaring
other billing than ekycpro's, on its loopback stand-in; ekycpro on its sandbox,
declaring billed downloads."""

from __future__ import annotations

import dataclasses
import functools
import json
from urllib.parse import parse_qs, urlsplit

import json_batch_server
import pytest
from click.testing import CliRunner
from json_batch_provider import ANSWERS, JsonBatch
from json_batch_server import KEY, PAGE, JsonBatchServer, registered

import tgcheck
from conftest import numbers
from tgcheck import hookimpl, plugins
from tgcheck.cli import cli
from tgcheck.default_plugins.ekycpro import EkycproProvider
from tgcheck.default_plugins.ekycpro.words import BILLING
from tgcheck.errors import DeadlineExceeded, JobStalled
from tgcheck.plugin import (
    DETERMINED,
    FREE,
    PER_NUMBER,
    PER_TASK,
    Billing,
    Call,
    Provider,
    SyncCheck,
    SyncReply,
    Wire,
)
from tgcheck.sandbox import Sandbox
from tgcheck.wire import NoAnswer


class PerNumberPagedBatch(JsonBatch):
    """The JSON batch API of a vendor that bills each number of a batch and each
    page of results, and not its status calls."""

    name = "jsonbatch-billed"
    billing = Billing(create=PER_NUMBER, status=False, results=True)


class _Registered:
    @hookimpl
    def tgcheck_register_providers(self, register):
        register("jsonbatch-billed", PerNumberPagedBatch)


@pytest.fixture
def billed_batch(monkeypatch, tmp_path):
    plugins.pm.register(_Registered(), "jsonbatch-billed")
    yield
    plugins.pm.unregister(name="jsonbatch-billed")


def _settings(server, tmp_path, **changes):
    return tgcheck.Settings(provider="jsonbatch-billed", api_key=KEY, base_url=server.url,
                            home=tmp_path / "home", poll_min=0.02, poll_max=0.1,
                            retry_base=0.01, **changes)


def test_a_per_number_create_and_billed_pages_are_counted_in_the_journal_events_and_jobs(
        billed_batch, tmp_path, monkeypatch):
    nums = numbers(2 * PAGE + 500)  # three pages of records
    events = []
    with JsonBatchServer() as server:
        server.fail_next("results", "truncated")  # a billed page cut short: asked again
        engine = tgcheck.Engine(_settings(server, tmp_path))
        try:
            answers = engine.check(nums, on_event=events.append)
            (job,) = engine.store.jobs(states=None)
        finally:
            engine.close()
    assert [a.value for a in answers] == [ANSWERS[registered(n)] for n in nums]
    # Every page reply had a 2xx status line (the cut-short one too): each is billed.
    assert server.calls["results"] == 4 and server.calls["status"] >= 1
    assert job.status_calls == 4  # the pages; the free status calls are not counted
    billed = len(nums) + 4  # the create, one per number, and the pages
    assert engine.provider.billed_calls(job.status_calls, True, job.count) == billed
    assert events[-1].kind == "done" and events[-1].billed_calls == billed
    for name, value in (("TGCHECK_HOME", str(tmp_path / "home")),
                        ("TGCHECK_PROVIDER", "jsonbatch-billed"),
                        ("TGCHECK_BASE_URL", server.url)):
        monkeypatch.setenv(name, value)
    listed = CliRunner().invoke(cli, ["jobs", "--all", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)["billed_calls"] == billed
    table = CliRunner().invoke(cli, ["jobs", "--all"]).stdout.splitlines()
    row = dict(zip(table[0].split("\t"), table[1].split("\t"), strict=True))
    assert row["billed"] == str(billed) and row["status_calls"] == "4"


def test_the_same_api_declared_as_the_tutorial_does_bills_its_create_once(tmp_path):
    """The API of the test above, declared as the tutorial provider does (a create
    per task, free status calls and pages), against the per-number, paged billing:
    the counts follow the declaration, not the calls made."""
    counted = {}
    for provider in (JsonBatch, PerNumberPagedBatch):
        with JsonBatchServer() as server:
            server.fail_next("results", "truncated")
            settings = dataclasses.replace(_settings(server, tmp_path / provider.name),
                                           provider=provider.name)
            engine = tgcheck.Engine(settings, provider=provider(settings))
            events = []
            try:
                engine.check(numbers(2 * PAGE + 500), on_event=events.append)
                (job,) = engine.store.jobs(states=None)
            finally:
                engine.close()
        assert server.calls["results"] == 4
        counted[provider.name] = (job.status_calls, events[-1].billed_calls)
    assert counted == {"jsonbatch": (0, 1), "jsonbatch-billed": (4, 2 * PAGE + 500 + 4)}


def test_dry_run_itemises_the_declared_billing(billed_batch, tmp_path, monkeypatch):
    path = tmp_path / "in.txt"
    path.write_text("\n".join(numbers(30)) + "\n")
    for name, value in (("TGCHECK_HOME", str(tmp_path / "home")),
                        ("TGCHECK_PROVIDER", "jsonbatch-billed"),
                        ("TGCHECK_BASE_URL", "http://127.0.0.1:9")):
        monkeypatch.setenv(name, value)
    dry = CliRunner().invoke(cli, ["check", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert ("billed calls: 30 for the create (one a number), then each status call "
            "(free) and each result download or page (billed)") in dry.stderr
    monkeypatch.setenv("TGCHECK_PROVIDER", "ekycpro")
    dry = CliRunner().invoke(cli, ["check", str(path), "--dry-run"])
    assert ("billed calls: 1 for the create (one a task), then each status call "
            "(billed)") in dry.stderr and "page" not in dry.stderr


class BilledFiles(EkycproProvider):
    """ekycpro's protocol at a vendor that also bills each download of the file."""

    billing = dataclasses.replace(BILLING, results=True)


def test_a_billed_download_is_counted_from_its_status_line_like_a_status_reply(
        sandbox, settings):
    """Declared billed, each download with a 2xx status line is counted (one cut
    short and fetched again: twice); ekycpro's own downloads are free: none."""
    for start, provider, downloads_billed in ((0, BilledFiles, 2), (100, EkycproProvider, 0)):
        sandbox.fail_next("download", "truncated")  # a 200 cut short, fetched again
        before = sandbox.calls["download"], sandbox.billed["status"]
        engine = tgcheck.Engine(settings, provider=provider(settings))
        try:
            engine.check(numbers(5, start=start))
            job = max(engine.store.jobs(states=None), key=lambda j: j.id)
        finally:
            engine.close()
        status = sandbox.billed["status"] - before[1]
        assert sandbox.calls["download"] - before[0] == 2
        assert job.status_calls == status + downloads_billed, provider
        assert engine.provider.billed_calls(job.status_calls, True, job.count) == \
            1 + status + downloads_billed


def test_billed_downloads_count_against_the_cap_on_billed_replies(tmp_path):
    """A file that cannot be read is fetched again after the next poll: where the
    vendor bills both, TGCHECK_MAX_STATUS_CALLS counts both (the create never)."""
    with Sandbox(queue_seconds=0.01, export_seconds=0.01, speed=1_000_000) as sandbox:
        sandbox.fail_next("download", "nonjson", times=3)  # a 200 no reader takes
        capped = tgcheck.Settings(api_key=sandbox.api_key, base_url=sandbox.url,
                                  home=tmp_path / "home", poll_min=0.02, poll_max=0.1,
                                  retry_base=0.01, simulated=True, max_status_calls=3)
        engine = tgcheck.Engine(capped, provider=BilledFiles(capped))
        try:
            with pytest.raises(JobStalled):
                engine.check(numbers(5))
            (job,) = engine.store.jobs()
        finally:
            engine.close()
    # status, file, status, file: 4 billed replies, then stalled before a 3rd poll.
    assert (sandbox.billed["status"], sandbox.calls["download"]) == (2, 2)
    assert job.state == "stalled" and job.status_calls == 4


def test_a_status_asked_by_hand_is_not_counted_where_status_calls_are_free(tmp_path):
    with JsonBatchServer(stuck=True) as server:
        settings = dataclasses.replace(_settings(server, tmp_path), provider="jsonbatch",
                                       timeout=0.5)
        engine = tgcheck.Engine(settings, provider=JsonBatch(settings))
        try:
            with pytest.raises(DeadlineExceeded):
                engine.check(numbers(5))
            (job,) = engine.store.jobs()
            engine.poll_once(job.task_id)
            assert engine.store.job(job.id).status_calls == 0
        finally:
            engine.close()


# -- a synchronous check billed only when determined ------------------------------------


def _with_lookup(srv):
    """The JSON batch stand-in, plus GET /v1/lookup?number=N -> {"registered": ...}:
    a synchronous check whose replies never say whether they were billed."""

    class Handler(json_batch_server._handler(srv)):
        def do_GET(self):
            url = urlsplit(self.path)
            if url.path != "/v1/lookup":
                return super().do_GET()
            with srv._lock:
                srv.calls["lookup"] += 1
            number = parse_qs(url.query)["number"][0]
            self._reply(200, {"registered": registered(number)})

    return Handler


class Lookup(SyncCheck):
    task_types = frozenset({"tg"})

    def __init__(self, settings):
        self.identity = f"jsonbatch-lookup:{settings.base_url}"
        self._wire = Wire(settings, base_url=settings.base_url, secret=KEY,
                          secret_headers={"Authorization": f"Bearer {KEY}"})

    def check(self, number, task_type, *, context):
        call = Call("looking a number up", "GET", "/v1/lookup", params={"number": number})
        try:
            value = self._wire.once(call, deadline=context.deadline, refuse=self._wire.refuse,
                                    read=lambda r: ANSWERS[r.json()["registered"]])
        except NoAnswer:
            return SyncReply()
        return SyncReply(value=value)  # billed: not said, the declared rule decides

    def close(self):
        self._wire.close()


class LookupBatch(JsonBatch):
    def __init__(self, settings):
        super().__init__(settings)
        self.sync = functools.partial(Lookup, settings)
        self.sync.task_types = Lookup.task_types


class FreeLookupBatch(LookupBatch):
    billing = Billing(status=False, sync=FREE)


def _fast_path(provider, tmp_path, nums):
    """(answers, the fast path's job, the task's job, its last sync event)."""
    with JsonBatchServer() as server:
        server._server.RequestHandlerClass = _with_lookup(server)
        settings = dataclasses.replace(_settings(server, tmp_path), provider="jsonbatch",
                                       sync_max=20)
        engine = tgcheck.Engine(settings, provider=provider(settings))
        events = []
        try:
            answers = engine.check(nums, on_event=events.append)
            jobs = engine.store.jobs(states=None)
        finally:
            engine.close()
    assert server.calls["lookup"] == len(nums)
    [fast] = [j for j in jobs if j.status == "sync"]
    [task] = [j for j in jobs if j.status != "sync"]
    done = [e for e in events if e.job_key.endswith(":sync") and e.kind == "done"][-1]
    return answers, fast, task, done


def test_a_synchronous_check_is_billed_only_when_determined(tmp_path):
    """Replies that never say whether they were billed: the declared rule counts
    the determined ones only (sync=DETERMINED, the default), or none (FREE)."""
    nums = numbers(12)  # the two ending in 0 are undetermined: free, then to the task
    determined = [n for n in nums if registered(n) is not None]
    for provider, billed in ((LookupBatch, len(determined)), (FreeLookupBatch, 0)):
        answers, fast, task, done = _fast_path(provider, tmp_path / str(billed), nums)
        assert [a.value for a in answers] == [ANSWERS[registered(n)] for n in nums]
        assert task.count == len(nums) - len(determined)  # the undetermined: a task
        assert fast.status_calls == done.billed_calls == billed, provider


# -- the declaration itself ---------------------------------------------------------------


def test_billing_and_the_older_booleans_are_kept_in_step():
    class Old(Provider):
        status_is_billed = False
        balance_is_billed = True

    class New(Provider):
        billing = Billing(create=FREE, status=False, balance=False)

    class PerNumber(Provider):
        billing = Billing(create=PER_NUMBER)

    assert Old.billing == Billing(create=PER_TASK, status=False, balance=True)
    assert (New.create_is_billed, New.status_is_billed, New.balance_is_billed) == \
        (False, False, False)
    assert PerNumber().billed_calls(2, created=True, numbers=300) == 302
    assert New().billed_calls(2, created=True, numbers=300) == 2
    assert Provider().billing == Billing() and Billing().sync == DETERMINED
    for bad in (dict(create="per call"), dict(sync="always")):
        with pytest.raises(ValueError, match="one of"):
            Billing(**bad)
