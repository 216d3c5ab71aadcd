"""tgcheck's engine through the plugin, loaded by its entry point, against the
platform's sandbox: answers by number, one create per set, every refusal clear."""

import dataclasses
import socket

import pytest
from tgcheck_wscheck import WscheckProvider, WsSandbox
from tgcheck_wscheck.sandbox import simulated_row

import tgcheck
from conftest import numbers
from tgcheck.plugin import (
    BelowMinimum,
    InsufficientBalance,
    KeyRefused,
    ResultFileError,
    TaskLost,
    Unreachable,
    plugins,
)


def test_the_plugin_is_loaded_by_its_entry_point():
    pm = plugins.load()
    assert pm.get_plugin("wscheck") is not None  # the entry point's name
    assert plugins.get_provider_factory("wscheck") is WscheckProvider
    # Its `ws` and ekycpro's coexist: the selected provider decides (issue 24).
    assert plugins.get_task_type("ws", "wscheck").column == "activated"
    assert plugins.get_task_type("ws", "ekycpro").column == "whatsapp"
    assert plugins.get_task_type("ws_active").min_task_size == 1000
    assert plugins.sandboxes()["wscheck"] is WsSandbox


@pytest.mark.parametrize(("task_type", "column"), [("ws", "activated"),
                                                   ("ws_active", "activedays"),
                                                   ("ws_avatar", "avatar")])
def test_answers_are_joined_by_number_and_paid_once(settings, platform, task_type, column):
    nums = numbers(1000)
    answers = tgcheck.check(nums, task_type=task_type, settings=settings)
    assert [a.number for a in answers] == nums  # the file came in another order
    assert [a.value for a in answers] == [simulated_row(n, task_type)[column] for n in nums]
    assert {a.status for a in answers} == {"ok"}
    assert platform.creates == 1
    calls = sum(platform.calls.values())
    assert tgcheck.check(nums, task_type=task_type, settings=settings)[5] == answers[5]
    assert sum(platform.calls.values()) == calls  # from the store: nothing paid again


def test_ws_avatar_answers_carry_the_platforms_declared_fields(settings, platform):
    """ws_avatar declares the platform's columns (age, avatar, category, gender,
    hair_color, skin_color): each answer carries them, read from the sandbox's file."""
    declared = plugins.get_task_type("ws_avatar", "wscheck").field_names
    assert set(declared) == {"age", "avatar", "category", "gender", "hair_color", "skin_color"}
    nums = numbers(500)
    answers = tgcheck.check(nums, task_type="ws_avatar", settings=settings)
    for answer in answers:
        row = simulated_row(answer.number, "ws_avatar")
        want = {name: row[name] or None for name in declared}
        if want["avatar"] == "N/A":
            want["avatar"] = None  # not a URL: unknown
        assert answer.fields == want, answer
    assert {a.fields["gender"] for a in answers} == {"female", "male", None}


def test_a_number_missing_from_the_result_file_is_unknown_not_no(settings):
    nums = numbers(500)
    with WsSandbox(omit=frozenset(nums[:3])) as sb:
        s = dataclasses.replace(settings, api_key=sb.api_key, base_url=sb.url)
        answers = tgcheck.check(nums, task_type="ws", settings=s)
    assert [a.status for a in answers[:4]] == ["unknown"] * 3 + ["ok"]
    assert answers[0].value is None


def test_below_the_platforms_minimum_nothing_is_sent(settings, platform):
    with pytest.raises(BelowMinimum, match="500"):
        tgcheck.check(numbers(499), task_type="ws", settings=settings)
    assert sum(platform.calls.values()) == 0


def test_the_estimated_and_actual_amounts_reach_the_journal(settings, platform):
    engine = tgcheck.Engine(settings)
    try:
        engine.check(numbers(500), task_type="ws")
        [job] = engine.store.jobs()
    finally:
        engine.close()
    assert (job.estimated_amount, job.actual_amount, job.currency) == ("1.0000", "1.0000",
                                                                       "USD")
    assert job.provider == "wscheck:" + platform.url


def test_insufficient_balance_creates_nothing(settings):
    with WsSandbox(balance="0.5") as sb:
        s = dataclasses.replace(settings, api_key=sb.api_key, base_url=sb.url)
        with pytest.raises(InsufficientBalance, match="nothing was created"):
            tgcheck.check(numbers(500), task_type="ws", settings=s)
        assert sb.creates == 0


def test_a_refused_key_is_said_and_never_shown(settings, platform):
    bad = dataclasses.replace(settings, api_key="not-the-key-12345")
    with pytest.raises(KeyRefused) as caught:
        tgcheck.check(numbers(500), task_type="ws", settings=bad)
    assert "not-the-key-12345" not in str(caught.value)
    assert platform.creates == 0


def test_free_errors_on_create_are_retried_without_paying_twice(settings, platform):
    platform.fail_next("create", 500)
    platform.fail_next("create", 429)
    tgcheck.check(numbers(500), task_type="ws", settings=settings)
    assert platform.calls["create"] == 3 and platform.creates == 1


def test_a_gateway_timeout_on_create_is_uncertain_and_not_created_again(settings, platform):
    platform.fail_next("create", 504)
    with pytest.raises(tgcheck.UncertainCreate):
        tgcheck.check(numbers(500), task_type="ws", settings=settings)
    with pytest.raises(tgcheck.UncertainCreate):
        tgcheck.check(numbers(500), task_type="ws", settings=settings)
    assert platform.calls["create"] == 1


def test_a_task_the_platform_forgot_is_lost(settings, platform):
    engine = tgcheck.Engine(settings)
    platform.steps = 100  # the task stays pending while it is purged
    seen = []

    def purge(event):
        if event.kind == "submitted" and not seen:
            seen.append(event.task_id)
            platform.purge(event.task_id)

    try:
        with pytest.raises(TaskLost):
            engine.check(numbers(500), task_type="ws", on_event=purge)
        assert [j.state for j in engine.store.jobs()] == ["lost"]
    finally:
        engine.close()


def test_a_failed_task_fails_the_check(settings, platform):
    platform.fail_next("create", "failed")
    with pytest.raises(tgcheck.TaskFailed, match="simulated failure"):
        tgcheck.check(numbers(500), task_type="ws", settings=settings)


def test_balance(settings, platform):
    with WscheckProvider(settings) as provider:
        assert provider.balance() == ("100.0", "USD")


@pytest.mark.parametrize("url", ["https://169.254.169.254/latest/meta-data",
                                 "http://203.0.113.5/results.zip", "file:///etc/passwd"])
def test_result_links_to_private_hosts_or_without_https_are_refused(settings, platform, url):
    with WscheckProvider(settings) as provider, pytest.raises(ResultFileError,
                                                              match="refusing"):
        provider.download(url)
    assert platform.calls["download"] == 0


def test_the_platforms_base_url_is_the_default_while_it_is_selected(monkeypatch):
    assert tgcheck.Settings(provider="wscheck").base_url == "https://api.checknumber.ai"
    assert tgcheck.Settings.from_env(provider="wscheck").base_url == "https://api.checknumber.ai"
    assert tgcheck.Settings().base_url != "https://api.checknumber.ai"  # ekycpro's own
    monkeypatch.setenv("TGCHECK_BASE_URL", "https://eu.checknumber.example")
    assert tgcheck.Settings.from_env(provider="wscheck").base_url == (
        "https://eu.checknumber.example")


def test_an_unreachable_platform_is_said_within_the_connect_budget(settings):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = dataclasses.replace(settings, base_url=f"http://127.0.0.1:{port}",
                                 connect_budget=0.3)
    engine = tgcheck.Engine(closed)
    try:
        with pytest.raises(Unreachable, match="cannot reach.*Nothing was sent"):
            engine.check(numbers(500), task_type="ws")
        # Not uncertain, and no job at all: nothing reached the platform, so the
        # journal keeps nothing of it; the next run creates the task.
        assert engine.store.jobs(states=None) == []
    finally:
        engine.close()


def test_the_platforms_words_map_to_states_and_text_is_redacted():
    from tgcheck_wscheck.provider import parse_task

    states = {w: parse_task({"task_id": "t1", "status": w}).state
              for w in ("pending", "Processing", "exported", "failed", "on_hold")}
    assert states == {"pending": "queued", "Processing": "running", "exported": "ready",
                      "failed": "failed", "on_hold": None}  # None: polled as queued
    with pytest.raises(tgcheck.ApiError, match="plausible"):
        parse_task({"task_id": "a\tb", "status": "pending"})
    record = parse_task({"task_id": "t1", "total": 10**30, "actual_amount": {"amount": "-1"}})
    assert (record.total, record.actual_amount, record.state) == (None, None, "queued")


def test_a_file_too_large_for_the_platform_is_sent_again_in_parts(settings):
    nums = numbers(1000)
    with WsSandbox(max_rows=600) as sb:  # a 413 above 600 rows, nothing created
        s = dataclasses.replace(settings, api_key=sb.api_key, base_url=sb.url)
        answers = tgcheck.check(nums, task_type="ws", settings=s)
        assert sb.calls["create"] == 3 and sb.creates == 2
        assert sorted(len(t.numbers) for t in sb.tasks.values()) == [500, 500]
    assert [a.value for a in answers] == [simulated_row(n, "ws")["activated"] for n in nums]


def test_a_charged_status_reply_cut_short_is_counted_and_retried(settings, platform):
    """The core's wire counts a 200 from its status line, whatever its body does."""
    platform.fail_next("status", "truncated")
    platform.fail_next("status", "drop")
    engine = tgcheck.Engine(settings)
    try:
        answers = engine.check(numbers(500), task_type="ws")
        [job] = engine.store.jobs()
    finally:
        engine.close()
    assert {a.status for a in answers} == {"ok"} and platform.creates == 1
    assert job.status_calls == platform.billed["status"] == 3  # 2 whole, 1 cut short
