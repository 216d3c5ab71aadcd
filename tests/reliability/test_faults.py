"""A server failing 30% of calls in every way, over 50 tasks; deadlines; hostile
responses (redirects, wrong JSON types) aimed at a public https base URL."""

from __future__ import annotations

import dataclasses
import json
import time

import httpx
import pytest

import tgcheck
from conftest import numbers
from shapes import FAULTS
from tgcheck import Settings
from tgcheck.default_plugins.ekycpro import EkycproProvider
from tgcheck.sandbox import Faults, Sandbox

ALL_KINDS = ("500", "429", "drop", "slow", "truncated", "nonjson")


@pytest.mark.slow
def test_fifty_tasks_through_thirty_percent_faults(tmp_path):
    faults = Faults(rate=0.3, kinds=ALL_KINDS, slow_seconds=0.5, retry_after=0.01, seed=11)
    with Sandbox(faults=faults, omit_rate=0.0, queue_seconds=0.01, export_seconds=0.01,
                 speed=1_000_000) as sb:
        settings = Settings(api_key=sb.api_key, base_url=sb.url, home=tmp_path,
                            poll_min=0.01, poll_max=0.05, http_timeout=0.3, timeout=20,
                            retry_base=0.01)
        engine = tgcheck.Engine(settings)
        t0, longest = time.monotonic(), 0.0
        for i in range(50):
            values = numbers(4, start=i * 4)
            started = time.monotonic()
            answers = engine.check(values)
            longest = max(longest, time.monotonic() - started)
            assert [a.value for a in answers] == [sb.expected(n) for n in values], i
        elapsed = time.monotonic() - t0
        assert sb.creates == 50 and len(sb.tasks) == 50
        calls = sum(sb.calls.values())
        failed = calls - sb.creates - sb.billed["status"] - 50  # 50 good downloads
        assert failed >= 0.15 * calls, (failed, calls)  # the faults did happen
        print(f"measured: 50 tasks, {calls} calls, ~{failed} faulted, {sb.creates} creates, "
              f"{elapsed:.1f}s, slowest task {longest:.2f}s")


def test_past_the_deadline_a_clear_error_and_a_job_a_later_run_resumes(tmp_path):
    with Sandbox(omit_rate=0.0) as sb:
        settings = Settings(api_key=sb.api_key, base_url=sb.url, home=tmp_path,
                            poll_min=0.01, poll_max=0.05, http_timeout=0.3, timeout=1.0,
                            retry_base=0.01)
        values = numbers(10)
        engine = tgcheck.Engine(settings)
        engine.check(values[:1])  # warm up: the deadline below measures retries only
        sb.faults = Faults(rate=1.0, kinds=("500", "429", "drop", "slow"), slow_seconds=0.5,
                           retry_after=0.01, create_kinds=())
        t0 = time.monotonic()
        with pytest.raises(tgcheck.DeadlineExceeded, match="stays open") as e:
            engine.check(values)
        overshoot = time.monotonic() - t0 - settings.timeout  # a figure: benchmarks/, 8
        assert "resume" in str(e.value)
        [job, _] = engine.store.jobs()
        assert job.state == "open" and job.task_id and job.owner is None
        sb.faults = Faults()
        later = tgcheck.Engine(dataclasses.replace(settings, timeout=30))
        assert later.resume() == 1
        assert sb.creates == 2  # the warm-up and this one: nothing created again
        answers = later.check(values)
        assert [a.value for a in answers] == [sb.expected(n) for n in values]
        print(f"measured: deadline overshoot {overshoot:.2f}s")


# -- hostile responses from a public https API ----------------------------------------

PUBLIC = "https://api.ekycpro.com"


def public_engine(tmp_path, handler, **overrides) -> tgcheck.Engine:
    settings = Settings(api_key="k-public", base_url=PUBLIC, home=tmp_path, poll_min=0.01,
                        poll_max=0.05, timeout=3, http_timeout=1, retry_base=0.01,
                        **overrides)
    provider = EkycproProvider(settings, transport=httpx.MockTransport(handler))
    return tgcheck.Engine(settings, provider=provider)


def api(status_record: dict, files=None):
    """A fake public API: create -> t1, status -> status_record, downloads from files."""
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/v1/tasks":
            return httpx.Response(200, json={"task_id": "t1", "status": "pending"})
        if request.url.path == "/v1/gettasks":
            return httpx.Response(200, json=status_record)
        for prefix, response in (files or {}).items():
            if str(request.url).startswith(prefix):
                return response(request) if callable(response) else response
        return httpx.Response(404)

    return handler, seen


@pytest.mark.parametrize("target", [
    "http://files.example.com/r.xlsx",  # a downgrade to plain http
    "https://127.0.0.1/r.xlsx",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/r.xlsx",
    "https://10.1.2.3/r.xlsx",
])
def test_a_redirect_to_a_private_or_plain_http_target_is_refused(tmp_path, target):
    handler, seen = api(
        {"task_id": "t1", "status": "exported", "result_url": "https://files.example.com/r"},
        {"https://files.example.com/r": httpx.Response(302, headers={"Location": target})})
    engine = public_engine(tmp_path, handler)
    with pytest.raises(tgcheck.ResultFileError, match="refusing"):
        engine.check(numbers(3))
    assert not any(url.startswith(target) for url in seen)  # never fetched
    assert engine.store.lookup("tg", numbers(3), max_age_days=30, unknown_retry_hours=24) == {}


def test_a_redirect_chain_is_bounded(tmp_path):
    hops = []

    def loop(request):
        hops.append(request)
        return httpx.Response(302, headers={"Location": f"https://files.example.com/{len(hops)}"})

    handler, _ = api({"task_id": "t1", "status": "exported",
                      "result_url": "https://files.example.com/0"},
                     {"https://files.example.com/": loop})
    with pytest.raises(tgcheck.ResultFileError, match="redirects"):
        public_engine(tmp_path, handler).check(numbers(3))
    assert len(hops) <= 3 * 6  # 5 redirects per try, three tries at a fresh link


@pytest.mark.parametrize("record", [
    {"task_id": "t1", "status": "processing", "total": {"n": 1}},
    {"task_id": "t1", "status": "processing", "success": "12%"},
    {"task_id": "t1", "status": "processing", "failure": [0]},
    {"task_id": "t1", "status": True},
    {"task_id": "t1", "status": "exported", "result_url": ["https://x/r"]},
    {"task_id": "t1", "status": "processing", "total": True},
    {"task_id": ["t1"], "status": "processing"},
    {"task_id": "another", "status": "exported"},
])
def test_wrong_json_types_in_a_status_reply_are_clear_errors(tmp_path, record):
    handler, _ = api(record)
    engine = public_engine(tmp_path, handler)
    with pytest.raises(tgcheck.ApiError):
        engine.check(numbers(3))
    [job] = engine.store.jobs()
    assert job.state == "open" and job.task_id == "t1"  # the paid task is not forgotten


@pytest.mark.parametrize("body", [b"[]", b'"ok"', b"null", b'{"data": 5}',
                                  json.dumps({"task_id": 7}).encode()])
def test_a_create_reply_of_the_wrong_shape_is_uncertain_not_retried(tmp_path, body):
    creates = []

    def handler(request):
        creates.append(request)
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    engine = public_engine(tmp_path, handler)
    with pytest.raises(tgcheck.UncertainCreate):
        engine.check(numbers(3))
    with pytest.raises(tgcheck.UncertainCreate):
        engine.check(numbers(3))
    assert len(creates) == 1


# -- every provider shape (tests/shapes.py): the same money rules under every fault ----


def _journal_billed(engine) -> int:
    """The billed replies the journal counted: status calls and determined checks."""
    return sum(job.status_calls for job in engine.store.jobs(states=None))


def test_every_fault_kind_one_create_right_answers_and_the_vendors_billed_count(
        provider_shape, tmp_path):
    """Free refusals on the create; every fault kind on the status calls, the
    download and (fast path) the checks: one create per set, the vendor's answers
    joined by number, a re-run free, and the journal counts exactly what the vendor
    billed, cut-short 200s included. (A reply slower than the client's deadline is
    billed by a vendor that answers it anyway, and no client can hear it: the
    `slow` kind is checked for the answers and the create only.)"""
    shape = provider_shape
    shape.slow_seconds(1.0)
    engine = tgcheck.Engine(shape.settings(tmp_path / "home", http_timeout=0.5))
    try:
        for start, kinds in ((0, [k for k in FAULTS if k != "slow"]), (100, ["slow"])):
            billed_before = shape.billed - shape.creates - _journal_billed(engine)
            for kind in ("500", "429"):
                shape.fault("create", kind)
            for kind in kinds:
                shape.fault("status", kind)
                if kind != "truncated":  # a result file cut short is retried, free
                    shape.fault("download", kind)
                if shape.shape.sync:
                    shape.fault("check", kind)
            values = numbers(12, start=start)
            creates = shape.creates
            answers = engine.check(values, task_type=shape.task_type)
            assert [a.value for a in answers] == [shape.expected(n) for n in values], kinds
            assert shape.creates == creates + 1, kinds
            assert shape.pending_faults() == [], kinds  # every fault was served
            if kinds != ["slow"]:
                assert shape.billed - shape.creates - _journal_billed(engine) == billed_before
            calls = sum(shape.calls.values())
            engine.check(values, task_type=shape.task_type)
            assert sum(shape.calls.values()) == calls  # a re-run pays nothing
    finally:
        engine.close()


def test_a_create_that_may_have_arrived_is_never_sent_again(provider_shape, tmp_path):
    """A create whose connection drops after it was sent, on every shape: uncertain,
    and neither that run nor the next sends it again."""
    shape = provider_shape
    shape.fault("create", "drop")
    engine = tgcheck.Engine(shape.settings(tmp_path / "home"))
    try:
        for _ in range(2):
            with pytest.raises(tgcheck.UncertainCreate):
                engine.check(numbers(12), task_type=shape.task_type)
        assert shape.calls["create"] == 1
    finally:
        engine.close()


def test_past_the_deadline_the_job_stays_open_and_a_later_run_collects_it(provider_shape,
                                                                          tmp_path):
    """Status calls that fail until the deadline, on every shape: a clear error,
    the paid task kept open in the journal, and a later run collects it without a
    second create."""
    shape = provider_shape
    settings = shape.settings(tmp_path / "home", timeout=1.0, http_timeout=0.3)
    values = numbers(10)
    shape.fault("status", "500", times=10_000)
    engine = tgcheck.Engine(settings)
    try:
        with pytest.raises(tgcheck.DeadlineExceeded, match="stays open"):
            engine.check(values, task_type=shape.task_type)
        [job] = [j for j in engine.store.jobs() if j.status != "sync"]
        assert job.state == "open" and job.task_id and job.owner is None
    finally:
        engine.close()
    shape.clear_faults()
    later = tgcheck.Engine(dataclasses.replace(settings, timeout=30))
    try:
        assert later.resume() == 1
        answers = later.check(values, task_type=shape.task_type)
    finally:
        later.close()
    assert shape.creates == 1
    assert [a.value for a in answers] == [shape.expected(n) for n in values]
