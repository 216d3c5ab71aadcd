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
