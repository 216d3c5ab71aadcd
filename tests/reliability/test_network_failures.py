"""A provider that cannot be reached at all: nothing was sent, so nothing is
uncertain; retries are told and bounded by TGCHECK_CONNECT_BUDGET, then one clear
error naming the host and the cause; no raw log line on any stream."""

from __future__ import annotations

import json
import socket
import ssl

import httpx
import pytest

from conftest import child_env, numbers
from processes import interrupt, journal, read_until, started
from processes import run as tg
from tgcheck.connect import cause_of


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: connections are refused


def unreachable_env(sandbox, tmp_path, **extra) -> tuple[dict, str]:
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    env = child_env(sandbox, tmp_path / "home", TGCHECK_BASE_URL=url, **extra)
    return env, f"127.0.0.1:{port}"


@pytest.fixture
def listing(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("\n".join(numbers(5, start=800)) + "\n")
    return path


def test_an_unreachable_provider_fails_within_the_budget_naming_host_and_cause(
        sandbox, tmp_path, listing):
    env, host = unreachable_env(sandbox, tmp_path, TGCHECK_CONNECT_BUDGET="2")
    result = tg("check", str(listing), "--progress", "json", env=env)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    # Every line but the final error is a JSON object: no raw log line broke in.
    *progress, error = lines
    events = [json.loads(line) for line in progress]
    retries = [e for e in events if e["event"] == "retry"]
    assert retries and all(host in e["message"] and "refused" in e["message"]
                           for e in retries)
    assert error.startswith("tgcheck: error: ") and f"cannot reach {host}" in error
    assert "refused" in error and "Nothing was sent" in error
    assert "task=None" not in result.stderr + result.stdout
    # Never uncertain, and no failed job either: the create reached no one (issue 22:
    # each failed DNS attempt left a failed job in `jobs --all`).
    assert journal(env) == []
    again = tg("check", str(listing), "--progress", "json", env=env)
    assert again.returncode == 1 and journal(env) == []


def test_plain_progress_shows_each_retry_and_no_log_line(sandbox, tmp_path, listing):
    env, host = unreachable_env(sandbox, tmp_path, TGCHECK_CONNECT_BUDGET="1")
    result = tg("check", str(listing), "--progress", "plain", env=env)
    assert result.returncode == 1
    assert "retry" in result.stderr and f"cannot reach {host}" in result.stderr
    assert "job " not in result.stderr.replace("(job", "")  # the log_events line
    assert "WARNING" not in result.stderr


def test_ctrl_c_while_retrying_the_connect_leaves_the_job_new_not_uncertain(
        sandbox, tmp_path, listing):
    env, host = unreachable_env(sandbox, tmp_path, TGCHECK_CONNECT_BUDGET="60")
    with started("check", str(listing), "--progress", "json", env=env) as proc:
        read_until(proc, '"event": "retry"')
        interrupt(proc)
    assert proc.returncode == 130
    [job] = journal(env)
    assert job["state"] == "new"
    # Reachable again: the next run creates the task once, no --resubmit needed.
    env["TGCHECK_BASE_URL"] = sandbox.url
    again = tg("check", str(listing), env=env)
    assert again.returncode == 0, again.stderr
    assert sandbox.creates == 1


def test_status_calls_give_up_on_an_unreachable_provider_and_the_job_stays_open(
        tmp_path, listing):
    from tgcheck.sandbox import Sandbox

    gone = Sandbox().start()
    host = gone.url.removeprefix("http://")
    env = child_env(gone, tmp_path / "home", TGCHECK_POLL_MIN="30", TGCHECK_POLL_MAX="30",
                    TGCHECK_CONNECT_BUDGET="1")
    try:
        with started("check", str(listing), "--progress", "json", env=env) as proc:
            read_until(proc, '"event": "submitted"')
            interrupt(proc)
    finally:
        gone.stop()  # the provider is gone: every connection is refused
    env.update(TGCHECK_POLL_MIN="0.05", TGCHECK_POLL_MAX="0.2")
    result = tg("resume", "--progress", "json", env=env)
    assert result.returncode == 1
    assert f"cannot reach {host}" in result.stderr and "refused" in result.stderr
    assert '"event": "retry"' in result.stderr
    assert [j["state"] for j in journal(env)] == ["open"]  # for the next resume


@pytest.mark.parametrize("error, words", [
    (socket.gaierror(-2, "Name or service not known"), "does not resolve"),
    (ConnectionRefusedError(111, "Connection refused"), "refused"),
    (ssl.SSLCertVerificationError(1, "certificate verify failed"), "certificate"),
    (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "TLS"),
])
def test_the_cause_is_told_in_words(error, words):
    wrapped = httpx.ConnectError("connect failed")
    wrapped.__cause__ = error
    assert words in cause_of(wrapped)
