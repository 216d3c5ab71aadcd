"""The ekycpro provider against the sandbox: errors, retries, quirks, billing safety."""

import dataclasses

import httpx
import pytest

import tgcheck
from conftest import numbers
from tgcheck import Settings
from tgcheck.default_plugins.ekycpro import EkycproProvider, parse_task
from tgcheck.sandbox import Faults, Sandbox


def test_bad_request_is_clear_and_not_retried(engine, sandbox):
    sandbox.fail_next("create", "400")
    with pytest.raises(tgcheck.BadRequest, match="invalid file format"):
        engine.check(numbers(5))
    assert sandbox.calls["create"] == 1


def test_refused_key_says_so(settings, sandbox):
    bad = dataclasses.replace(settings, api_key="wrong-key")
    with pytest.raises(tgcheck.KeyRefused, match="refused the API key"):
        tgcheck.Engine(bad).check(numbers(5))
    assert sandbox.creates == 0


def test_uncertain_create_is_not_retried_blindly(engine, sandbox):
    sandbox.fail_next("create", "drop_after")  # the task is made, the reply is lost
    with pytest.raises(tgcheck.UncertainCreate, match="--resubmit"):
        engine.check(numbers(5))
    assert sandbox.creates == 1
    # A re-run refuses too, without calling the API.
    calls = sum(sandbox.calls.values())
    with pytest.raises(tgcheck.UncertainCreate, match="may already exist"):
        engine.check(numbers(5))
    assert sum(sandbox.calls.values()) == calls
    [job] = engine.store.jobs()
    assert job.state == "uncertain"
    # Deliberately resubmitting creates again, once.
    answers = engine.check(numbers(5), resubmit=True)
    assert sandbox.creates == 2
    assert all(a.status in ("ok", "unknown") for a in answers)
    assert [j.state for j in engine.store.jobs()] == ["done", "abandoned"]


def test_free_errors_on_create_are_retried(engine, sandbox):
    sandbox.fail_next("create", "500", times=2)
    sandbox.fail_next("create", "429")
    engine.check(numbers(5))
    assert sandbox.calls["create"] == 4 and sandbox.creates == 1


def test_a_gateway_timeout_on_create_is_uncertain_not_retried(engine, sandbox):
    """A 502/504 comes from a proxy that gave up: the provider may have created the
    task behind it, so retrying could pay twice. A 503 is refused up front: retried."""
    sandbox.fail_next("create", "504")
    with pytest.raises(tgcheck.UncertainCreate, match="gateway"):
        engine.check(numbers(5))
    assert sandbox.calls["create"] == 1
    [job] = engine.store.jobs()
    assert job.state == "uncertain"
    with pytest.raises(tgcheck.UncertainCreate):
        engine.check(numbers(5))  # not sent again without --resubmit
    assert sandbox.calls["create"] == 1
    sandbox.fail_next("create", "503")
    engine.check(numbers(5, start=100))
    assert sandbox.calls["create"] == 3 and sandbox.creates == 1


def test_status_replies_that_cannot_be_read_stop_after_a_few(engine, sandbox):
    """Each unreadable 200 is billed: a maintenance page must not be polled for hours."""
    sandbox.fail_next("status", "nonjson", times=50)
    with pytest.raises(tgcheck.ApiError, match="could not be read"):
        engine.check(numbers(5))
    assert sandbox.calls["status"] == 5
    assert engine.store.jobs()[0].state == "open"  # the next run picks it up


def test_status_and_download_faults_are_retried(engine, sandbox):
    for kind in ("500", "429", "drop", "truncated", "nonjson"):
        sandbox.fail_next("status", kind)
    for kind in ("500", "drop"):
        sandbox.fail_next("download", kind)
    answers = engine.check(numbers(20))
    assert sandbox.creates == 1
    assert all(a.status in ("ok", "unknown") for a in answers)


def test_slow_replies_time_out_and_are_retried(settings, sandbox):
    sandbox.faults = Faults(slow_seconds=1.0)
    sandbox.fail_next("status", "slow")
    quick = dataclasses.replace(settings, http_timeout=0.3)
    tgcheck.Engine(quick).check(numbers(5))
    assert sandbox.creates == 1 and sandbox.calls["status"] >= 2


def test_thirty_percent_faults_over_many_tasks(tmp_path):
    faults = Faults(rate=0.3, kinds=("500", "429", "drop", "truncated", "nonjson"), seed=7,
                    retry_after=0.01)
    with Sandbox(faults=faults, omit_rate=0.0) as sb:
        settings = Settings(api_key=sb.api_key, base_url=sb.url, home=tmp_path,
                            poll_min=0.01, poll_max=0.1, http_timeout=5, timeout=60,
                            retry_base=0.01)
        engine = tgcheck.Engine(settings)
        for i in range(12):
            values = numbers(10, start=i * 10)
            answers = engine.check(values)
            assert [a.value for a in answers] == [sb.expected(n) for n in values]
        assert sb.creates == 12
        assert sum(sb.calls.values()) > sb.creates + sb.billed["status"]  # faults happened


def test_retries_stop_at_the_deadline(settings, sandbox):
    sandbox.faults = Faults(rate=1.0, kinds=("500",), create_kinds=("500",))
    short = dataclasses.replace(settings, timeout=1.0)
    # DeadlineExceeded, not the 5-minute server-error budget's error: the deadline
    # ended the retries (how long past it: benchmarks/, figure 8).
    with pytest.raises(tgcheck.DeadlineExceeded, match="deadline"):
        tgcheck.Engine(short).check(numbers(5))
    assert sandbox.creates == 0
    # Nothing was created, so a later run may create.
    sandbox.faults = Faults()
    tgcheck.Engine(settings).check(numbers(5))
    assert sandbox.creates == 1


@pytest.mark.parametrize("url", [
    "http://files.example.com/r.xlsx",
    "https://127.0.0.1/r.xlsx",
    "https://10.0.0.5/r.xlsx",
    "https://169.254.169.254/latest/meta-data",
    "https://localhost/r.xlsx",
    "ftp://files.example.com/r.xlsx",
])
def test_result_urls_to_private_hosts_are_refused_for_a_public_api(url, tmp_path):
    settings = Settings(api_key="k", base_url="https://api.ekycpro.com", home=tmp_path)
    calls = []

    def handler(request):  # never reached: refused before any connection
        calls.append(request)
        return httpx.Response(200, content=b"x")

    provider = EkycproProvider(settings, transport=httpx.MockTransport(handler))
    with pytest.raises(tgcheck.ResultFileError, match="refusing"):
        provider.download(url)
    assert calls == []


def test_redirects_are_bounded(tmp_path):
    settings = Settings(api_key="k", base_url="https://api.ekycpro.com", home=tmp_path)
    provider = EkycproProvider(settings, transport=httpx.MockTransport(
        lambda r: httpx.Response(302, headers={"Location": "https://files.example.com/loop"})))
    with pytest.raises(tgcheck.ResultFileError, match="too many redirects"):
        provider.download("https://files.example.com/start")


def test_download_does_not_carry_the_key(tmp_path):
    seen = []
    settings = Settings(api_key="topsecret", base_url="https://api.ekycpro.com", home=tmp_path)

    def handler(request):
        seen.append(dict(request.headers))
        return httpx.Response(200, content=b"data")

    provider = EkycproProvider(settings, transport=httpx.MockTransport(handler))
    assert provider.download("https://bucket.s3.amazonaws.com/r.zip") == b"data"
    assert "x-api-key" not in {k.lower() for k in seen[0]}


@pytest.mark.parametrize("record, message", [
    ({"task_id": 5, "status": "pending"}, "no task_id"),
    ({"task_id": "t", "status": ["x"]}, "status is not text"),
    ({"task_id": "t", "status": "processing", "total": "many"}, "'total' is not a number"),
    ({"task_id": "t", "status": "exported", "result_url": 7}, "result_url is not text"),
    ([1, 2], "not a task record"),
])
def test_wrong_field_types_are_clear_errors(record, message):
    with pytest.raises(tgcheck.ApiError, match=message):
        parse_task(record)


def test_both_documented_shapes_parse():
    full = parse_task({"created_at": "2024-10-19T18:24:56.450567423Z", "task_id": "cs9",
                       "user_id": "test", "status": "pending", "total": 0, "success": 0,
                       "failure": 0})
    short = parse_task({"task_id": "cs9", "status": "pending", "total": 20000,
                        "message": "Task created successfully"})
    assert (full.task_id, full.status, short.total) == ("cs9", "pending", 20000)
    done = parse_task({"task_id": "cs9", "status": "Exported", "total": 20000,
                       "success": 20001, "failure": 0, "result_url": "https://x/r.xlsx"})
    assert done.status == "exported" and done.processed == 20001  # success > total happens


def test_an_api_redirect_is_a_clear_error_and_never_followed(tmp_path):
    settings = Settings(api_key="k-secret-123", base_url="https://api.ekycpro.com",
                        home=tmp_path)
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(301, headers={"Location": "https://api2.example.com/v1/gettasks"})

    provider = EkycproProvider(settings, transport=httpx.MockTransport(handler))
    with pytest.raises(tgcheck.ApiError, match="redirects .*api2.example.com.*TGCHECK_BASE_URL"):
        provider.get_status("t1")
    with pytest.raises(tgcheck.ApiError, match="redirects"):
        provider.create_task(["+41798284651"], "tg")
    assert [r.url.host for r in calls] == ["api.ekycpro.com"] * 2


def test_a_refusal_that_echoes_the_key_does_not_show_it(tmp_path):
    key = "k-secret-123"
    settings = Settings(api_key=key, base_url="https://api.ekycpro.com", home=tmp_path)
    provider = EkycproProvider(settings, transport=httpx.MockTransport(
        lambda r: httpx.Response(400, json={"message": f"bad file for key {key}"})))
    with pytest.raises(tgcheck.BadRequest, match="bad file for key") as e:
        provider.create_task(["+41798284651"], "tg")
    assert key not in str(e.value)
