"""The sync fast path (tgcheck.fast_path, ekycpro's /v1/check): a few new numbers are
asked one by one before any task; misses go to one task; nothing is paid twice."""

from __future__ import annotations

import dataclasses
import json
import re
import signal
import time

import duckdb
import pytest
from click.testing import CliRunner

import tgcheck
import tgcheck_duckdb
from conftest import child_env, numbers, wait_for
from processes import journal, read_until, rows, run, started
from tgcheck.cli import cli
from tgcheck.default_plugins.ekycpro import sync
from tgcheck.default_plugins.ekycpro.words import BILLING
from tgcheck.errors import ConfigError, InsufficientBalance, KeyRefused
from tgcheck.sandbox import Faults, Sandbox, simulated_answer
from tgcheck.sandbox.embedded import sandbox_settings

HIT, MISS, UNDETERMINED = "hit", "miss", "undetermined"


@pytest.fixture
def fast(settings, sandbox):
    """Settings with the fast path on, /v1/check asked at the sandbox."""
    return dataclasses.replace(settings, sync_max=20, extra={"sync_url": sandbox.url})


def _engine(settings):
    return tgcheck.Engine(settings)


def _outcomes(sandbox, nums):
    return {n: sandbox.cached(n) for n in nums}


def test_ten_new_numbers_hits_answered_at_once_misses_in_one_task_rerun_free(fast, sandbox):
    nums = numbers(10)
    outcome = _outcomes(sandbox, nums)
    hits = [n for n in nums if outcome[n] == HIT]
    rest = [n for n in nums if outcome[n] != HIT]
    assert hits and rest  # the sandbox's cache has both, for these numbers
    events = []
    engine = _engine(fast)
    try:
        answers = engine.check(nums, on_event=events.append)
        # Every number asked once; billed only the hits; one task for the rest.
        assert dict(sandbox.checked) == dict.fromkeys(nums, 1)
        assert sandbox.billed["check"] == len(hits)
        assert sandbox.creates == 1
        (task,) = sandbox.tasks.values()
        assert sorted(task.numbers) == sorted(rest)
        by_number = {a.number: a for a in answers}
        for n in hits:  # joined by number, the sandbox's own answer
            assert (by_number[n].status, by_number[n].value) == ("ok", simulated_answer(n))
        # The billed calls are counted: in the journal and in the job events.
        sync_job = next(j for j in engine.store.jobs() if j.status == "sync")
        assert (sync_job.state, sync_job.status_calls, sync_job.count) == (
            "done", len(hits), len(nums))
        done = [e for e in events if e.kind == "done" and e.status == "sync"]
        assert done and done[-1].billed_calls == len(hits)
        calls = sum(sandbox.calls.values())
        # A re-run pays nothing: every answer is stored.
        again = engine.check(nums)
        assert sum(sandbox.calls.values()) == calls
        assert [a.value for a in again] == [a.value for a in answers]
    finally:
        engine.close()


def test_above_sync_max_or_zero_no_sync_call(fast, sandbox):
    for settings, count in ((dataclasses.replace(fast, sync_max=5), 6),
                            (dataclasses.replace(fast, sync_max=0), 3)):
        engine = _engine(settings)
        try:
            engine.check(numbers(count, start=100 * count))
        finally:
            engine.close()
    assert sandbox.calls["check"] == 0 and sandbox.creates == 2


def test_a_5xx_or_a_timeout_sends_the_number_to_the_task_never_asked_twice(fast):
    with Sandbox(faults=Faults(slow_seconds=1.5)) as sb:
        settings = dataclasses.replace(fast, base_url=sb.url, api_key=sb.api_key,
                                       http_timeout=0.5, extra={"sync_url": sb.url})
        nums = [n for n in numbers(40, start=500) if sb.cached(n) == HIT][:4]
        sb.fail_next("check", "500")
        sb.fail_next("check", "slow")
        engine = _engine(settings)
        try:
            answers = engine.check(nums)
        finally:
            engine.close()
        # Two hits went unanswered by /v1/check: they are in the one task, asked once.
        (task,) = sb.tasks.values()
        assert len(task.numbers) == 2
        assert sb.calls["check"] == len(nums)
        assert all(a.status in ("ok", "unknown") for a in answers)
        assert sum(a.status == "ok" for a in answers) >= 2


def test_429_retry_after_is_honoured_and_the_number_answered(fast):
    with Sandbox(faults=Faults(retry_after=0.2)) as sb:
        settings = dataclasses.replace(fast, base_url=sb.url, api_key=sb.api_key,
                                       extra={"sync_url": sb.url})
        nums = [n for n in numbers(40, start=900) if sb.cached(n) == HIT][:3]
        sb.fail_next("check", "429", times=2)
        engine = _engine(settings)
        try:
            answers = engine.check(nums)
        finally:
            engine.close()
        assert [a.status for a in answers] == ["ok"] * 3
        assert sb.creates == 0  # all answered at once, after the wait
        assert sb.calls["check"] == 5 and sb.billed["check"] == 3


def test_402_stops_with_insufficient_balance_and_keeps_what_was_paid(fast):
    with Sandbox(price="1", balance="2") as sb:
        settings = dataclasses.replace(fast, base_url=sb.url, api_key=sb.api_key,
                                       extra={"sync_url": sb.url})
        nums = [n for n in numbers(60, start=1300) if sb.cached(n) == HIT][:6]
        engine = _engine(settings)
        try:
            with pytest.raises(InsufficientBalance, match="insufficient balance") as caught:
                engine.check(nums)
            assert sb.api_key not in str(caught.value)
            assert sb.creates == 0
            # The two answers paid for are stored: asked again, they cost nothing.
            stored = engine.store.stored("tg", nums)
            assert len(stored) == 2 == sb.billed["check"]
        finally:
            engine.close()


def test_401_is_a_refused_key_and_the_key_never_shows(fast, sandbox):
    sandbox.fail_next("check", "401")
    engine = _engine(dataclasses.replace(fast, sync_max=1))
    try:
        with pytest.raises(KeyRefused) as caught:
            engine.check(numbers(1, start=2000))
    finally:
        engine.close()
    assert sandbox.api_key not in str(caught.value)
    checker = sync.EkycproSync(fast, sandbox.url)
    try:
        assert sandbox.api_key not in repr(checker)
    finally:
        checker.close()


def test_the_sync_url_never_leaves_a_sandbox_unless_asked(settings, sandbox):
    # A base URL on loopback: no fast path unless TGCHECK_SYNC_URL says where.
    assert sync.sync_url(settings) is None
    assert sync.sync_url(dataclasses.replace(settings, sandbox=True)) == settings.base_url
    assert sync.sync_url(dataclasses.replace(settings, extra={"sync_url": sandbox.url})) \
        == sandbox.url
    with pytest.raises(ConfigError, match="TGCHECK_SYNC_URL"):
        sync.sync_url(dataclasses.replace(settings, extra={"sync_url": "https://x.example"}))
    real = tgcheck.Settings(api_key="k", base_url="https://api.ekycpro.com")
    assert sync.sync_url(real) == sync.DEFAULT_SYNC_URL
    assert sync.sync_url(dataclasses.replace(real, sync_max=0)) is None


def test_sandbox_check_answers_hits_misses_and_undetermined(sandbox):
    import httpx

    nums = numbers(30, start=3000)
    outcome = _outcomes(sandbox, nums)
    assert {HIT, MISS, UNDETERMINED} <= set(outcome.values())
    with httpx.Client(base_url=sandbox.url, headers={"X-API-Key": sandbox.api_key}) as client:
        replies = {n: client.post("/v1/check", json={"service_type": "tg", "identifier": n})
                   for n in nums}
    for n, reply in replies.items():
        body = reply.json()
        assert reply.status_code == 200
        if outcome[n] == HIT:
            assert body["success"] is True and body["data"]["billed"] is True
            assert body["data"]["registered"] == (simulated_answer(n) == "yes")
        elif outcome[n] == MISS:
            assert body == {"success": False, "error": "identifier not found in cache"}
        else:
            assert body["success"] is False and body["data"]["billed"] is False
    assert sandbox.billed["check"] == sum(o == HIT for o in outcome.values())


def test_python_duckdb_and_excel_take_the_fast_path(sandbox_env, monkeypatch):
    monkeypatch.setenv("TGCHECK_SYNC_MAX", "20")
    monkeypatch.setenv("TGCHECK_SYNC_URL", sandbox_env.url)
    nums = numbers(10, start=4000)
    answers = tgcheck.check(nums)
    assert len(answers) == 10 and sandbox_env.calls["check"] == 10
    con = tgcheck_duckdb.register(duckdb.connect())
    more = numbers(10, start=4100)
    assert len(con.sql(f"FROM telegram_check({more!r})").fetchall()) == 10
    assert sandbox_env.calls["check"] == 20
    assert sandbox_env.creates == 2  # each check's misses: one task
    # Excel's TG_CHECK, its whole path but xlwings itself.
    from tgcheck_udfs.checking import check_range

    cells = numbers(10, start=4200)
    out = check_range([[n] for n in cells])
    assert len(out) == 10 and all(row[0] in ("yes", "no", "unknown") for row in out), out
    assert sandbox_env.calls["check"] == 30


def test_cli_dry_run_says_the_path_and_the_closing_line_counts_sync_calls(
        sandbox_env, monkeypatch, tmp_path):
    monkeypatch.setenv("TGCHECK_SYNC_MAX", "20")
    monkeypatch.setenv("TGCHECK_SYNC_URL", sandbox_env.url)
    nums = numbers(10, start=5000)
    path = tmp_path / "in.txt"
    path.write_text("\n".join(nums) + "\n")
    dry = CliRunner().invoke(cli, ["check", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "fast path" in dry.output and "one by one first" in dry.output
    assert sum(sandbox_env.calls.values()) == 0
    done = CliRunner().invoke(cli, ["check", str(path), "--progress", "json"])
    assert done.exit_code == 0, done.output
    hits = sandbox_env.billed["check"]
    lines = [json.loads(ln) for ln in done.output.splitlines() if ln.startswith("{")]
    sync_done = [ln for ln in lines if ln.get("event") == "done" and ln.get("status") == "sync"]
    assert sync_done and sync_done[-1]["billed_calls"] == hits
    assert f"{hits + sandbox_env.creates + sandbox_env.billed['status']} billed" in done.output


def test_sandbox_dry_run_says_the_fast_path_its_run_then_takes(tmp_path, monkeypatch):
    """`--sandbox --dry-run` tells the path a `--sandbox` run takes: the dry run's
    settings are the sandbox's (its /v1/check), no key and no server needed."""
    monkeypatch.setenv("TGCHECK_SYNC_MAX", "20")
    nums = numbers(2, start=5100)
    path = tmp_path / "in.txt"
    path.write_text("\n".join(nums) + "\n")
    dry = CliRunner().invoke(cli, ["check", str(path), "--sandbox", "--dry-run", "-f", "json"])
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.stdout)
    assert plan["to_send"] == 2 and plan["fast_path"] == 2
    assert "ask all 2 one by one first" in dry.stderr and "at most 1 task" in dry.stderr
    done = CliRunner().invoke(cli, ["check", str(path), "--sandbox", "--progress", "json"])
    assert done.exit_code == 0, done.output
    events = [json.loads(ln) for ln in done.stderr.splitlines() if ln.startswith("{")]
    assert [e["status"] for e in events if e.get("event") == "done"][0] == "sync"


@pytest.mark.parametrize("key", ["config file", "none"])
def test_dry_run_says_the_fast_path_with_a_stored_key_or_none(key, sandbox, monkeypatch,
                                                               tmp_path):
    """The plan is the provider's declaration, not the key's value: a key stored by
    `tgcheck config set-key` (not read by a dry run), or no key at all, still
    gives the fast path line; no call is made."""
    monkeypatch.setenv("TGCHECK_SYNC_MAX", "20")
    monkeypatch.setenv("TGCHECK_BASE_URL", sandbox.url)
    monkeypatch.setenv("TGCHECK_SANDBOX", "1")
    monkeypatch.setenv("TGCHECK_SYNC_URL", sandbox.url)
    if key == "config file":
        stored = CliRunner().invoke(cli, ["config", "set-key"], input=sandbox.api_key + "\n")
        assert stored.exit_code == 0, stored.output
    path = tmp_path / "in.txt"
    path.write_text("\n".join(numbers(3, start=5200)) + "\n")
    dry = CliRunner().invoke(cli, ["check", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert re.search(r"^fast path +3$", dry.stdout, re.MULTILINE), dry.stdout
    assert sum(sandbox.calls.values()) == 0
    assert sandbox.api_key not in dry.output


def test_embedded_sandbox_answers_check_at_its_own_url(tmp_path):
    with Sandbox(state_dir=tmp_path / "tasks") as sb:
        settings = sandbox_settings(sb, sync_max=20)
        assert sync.sync_url(settings) == sb.url


@pytest.mark.parametrize("then", ["check", "resume"])
def test_killed_during_the_fast_path_the_next_run_answers_every_number(sandbox, tmp_path,
                                                                        then):
    nums = numbers(6, start=7000)
    path = tmp_path / "in.txt"
    path.write_text("\n".join(nums) + "\n")
    env = child_env(sandbox, tmp_path / "home", TGCHECK_SYNC_MAX="20",
                    TGCHECK_SYNC_URL=sandbox.url)
    sandbox.faults.slow_seconds = 30
    sandbox.fail_next("check", "slow", times=4)  # the first 4 calls hang
    with started("check", str(path), "--progress", "json", env=env) as child:
        read_until(child, '"status": "sync"')
        wait_for(lambda: sandbox.calls["check"] >= 4, "4 sync calls on their way")
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert [j["state"] for j in journal(env)] == ["new"]  # the claim, before any call
    if then == "resume":  # the cut-off fast path is a job like any other: sent as a task
        resumed = run("resume", env=env)
        assert resumed.returncode == 0, resumed.stderr
        assert sandbox.creates == 1
        calls = sum(sandbox.calls.values())
    done = run("check", str(path), "--progress", "none", env=env)
    assert done.returncode == 0, done.stderr
    answered = {r["number"]: r["status"] for r in rows(done.stdout)}
    assert set(answered) == set(nums) and set(answered.values()) <= {"ok", "unknown"}
    assert sandbox.creates <= 1  # the misses' one task
    if then == "resume":
        assert sum(sandbox.calls.values()) == calls  # all answered by the task
    assert run("check", str(path), "--progress", "none", env=env).returncode == 0
    assert sandbox.creates <= 1


def test_threads_with_the_same_small_check_ask_each_number_once(fast, sandbox):
    import threading

    nums = numbers(8, start=8000)
    engine = _engine(fast)
    results, start = [], threading.Barrier(6)

    def one():
        start.wait()
        results.append(engine.check(nums))

    try:
        threads = [threading.Thread(target=one) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        engine.close()
    assert len(results) == 6 and all(r == results[0] for r in results)
    assert dict(sandbox.checked) == dict.fromkeys(nums, 1)  # never asked twice
    assert sandbox.creates <= 1


def test_two_processes_with_the_same_small_check_ask_each_number_once(sandbox, tmp_path):
    nums = numbers(6, start=8500)
    path = tmp_path / "in.txt"
    path.write_text("\n".join(nums) + "\n")
    env = child_env(sandbox, tmp_path / "home", TGCHECK_SYNC_MAX="20",
                    TGCHECK_SYNC_URL=sandbox.url)
    sandbox.faults.slow_seconds = 1.0
    sandbox.fail_next("check", "slow", times=4)  # the first process's calls take a while
    with started("check", str(path), "--progress", "none", env=env) as first:
        wait_for(lambda: sandbox.calls["check"] >= 1, "the first process asking")
        second = run("check", str(path), "--progress", "none", env=env)
        out = first.communicate(timeout=60)[0]
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert rows(out) == rows(second.stdout)
    assert dict(sandbox.checked) == dict.fromkeys(nums, 1)
    assert sandbox.creates <= 1


def test_the_fast_path_keeps_within_the_checks_timeout(fast, sandbox, monkeypatch):
    """A /v1/check that never answers holds a check no longer than TGCHECK_TIMEOUT
    (found by the hostile suite on the fast path's shape: it was the fast path's
    own 60 seconds): each call's deadline is within it."""
    left = []
    check = sync.EkycproSync.check

    def recorded(self, number, task_type, *, context):
        left.append(context.deadline - time.monotonic())
        return check(self, number, task_type, context=context)

    monkeypatch.setattr(sync.EkycproSync, "check", recorded)
    engine = _engine(dataclasses.replace(fast, timeout=5))
    try:
        engine.check(numbers(3))
    finally:
        engine.close()
    assert len(left) == 3 and max(left) <= 5


@pytest.mark.parametrize("body, value, billed", [
    ({"success": True, "data": {"identifier": "+41790000001", "registered": True,
                                "billed": True}}, "yes", True),
    ({"success": True, "data": {"registered": False}}, "no", True),  # billed: not said
    ({"success": True, "data": {"registered": False, "billed": False}}, "no", False),
    ({"success": False, "error": "identifier not found in cache"}, None, False),
    ({"success": False, "data": {"billed": False}}, None, False),  # undetermined
    ({"success": True, "data": {"identifier": "+41790000002", "registered": True}},
     None, True),  # another number's answer: none for ours, the call still paid
    ({"success": True, "data": {"registered": None}}, None, True),  # determined? not said
    (["not", "an", "object"], None, True),  # a paid 200 that says nothing readable
])
def test_a_check_reply_is_read_as_documented(body, value, billed):
    """billed: the reply's word, else ekycpro's declared rule (billed only when
    determined)."""
    reply = sync._reply(body, "+41790000001")
    charged = BILLING.sync_billed(reply.value, reply.billed)
    assert (reply.value, charged, reply.retry_after) == (value, billed, None)


def test_bad_sync_settings_are_clear_errors(monkeypatch):
    for raw in ("-1", "many"):
        monkeypatch.setenv("TGCHECK_SYNC_MAX", raw)
        with pytest.raises(ConfigError, match="TGCHECK_SYNC_MAX"):
            tgcheck.Settings.from_env()
    monkeypatch.setenv("TGCHECK_SYNC_MAX", "20")
    monkeypatch.setenv("TGCHECK_SYNC_URL", "http://api.ekycpro.ai")  # no TLS, not loopback
    settings = tgcheck.Settings.from_env(api_key="k")
    assert settings.sync_max == 20 and settings.extra["sync_url"] == "http://api.ekycpro.ai"
    engine = tgcheck.Engine(settings)
    try:
        with pytest.raises(ConfigError, match="TGCHECK_SYNC_URL must use https://"):
            engine.provider  # noqa: B018 (made on first use: the error comes here)
    finally:
        engine.close()
