"""The guarantees on a shape unlike ekycpro's (issue 21 item 3): the JSON batch
provider of tests/json_batch_provider.py (Bearer auth, JSON bodies, free status
calls, progress as a fraction, cursor-paged JSON results with an explicit null)
against its loopback stand-in, through the engine and the CLI."""

from __future__ import annotations

import warnings

import pytest
from click.testing import CliRunner
from json_batch_provider import JsonBatch, JsonBatchPlugin
from json_batch_server import KEY, PAGE, JsonBatchServer, last_seen, registered

import tgcheck
from conftest import numbers
from paths import ROOT
from tgcheck import plugins
from tgcheck.answer_column import ANSWERED_UNKNOWN
from tgcheck.cli import cli
from tgcheck.errors import DeadlineExceeded, KeyRefused
from tgcheck.models import OK, UNKNOWN
from tgcheck.plugin import CallContext, Provider, TaskStatus
from tgcheck.reasons import code_of

NAME = "test-jsonbatch"


@pytest.fixture
def jsonbatch():
    plugins.pm.register(JsonBatchPlugin(), NAME)
    yield
    plugins.pm.unregister(name=NAME)


def _settings(server, tmp_path, **changes):
    return tgcheck.Settings(provider="jsonbatch", api_key=KEY, base_url=server.url,
                            home=tmp_path / "home", poll_min=0.02, poll_max=0.1, **changes)


def _check(server, tmp_path, nums, **changes):
    engine = tgcheck.Engine(_settings(server, tmp_path, **changes))
    try:
        return engine.check(nums), engine.store.jobs()
    finally:
        engine.close()


def _want(number: str):
    answer = registered(number)
    return (None, UNKNOWN) if answer is None else ("yes" if answer else "no", OK)


def test_a_check_reads_every_page_and_a_rerun_makes_no_call(jsonbatch, tmp_path):
    nums = numbers(2 * PAGE + 500)  # three pages of records
    with JsonBatchServer() as server:
        answers, (job,) = _check(server, tmp_path, nums)
        assert server.calls["results"] == 3
        before = sum(server.calls.values())
        again, _ = _check(server, tmp_path, nums)
        assert sum(server.calls.values()) == before  # a re-run: 0 calls
    assert [(a.number, a.value, a.status) for a in answers] == [
        (n, *_want(n)) for n in nums]
    assert [(a.value, a.status) for a in again] == [_want(n) for n in nums]
    assert job.state == "done" and job.status_calls == 0  # free status calls
    assert server.billed == {"create": 1}


def test_an_explicit_unknown_is_an_answer_not_a_broken_file(jsonbatch, tmp_path):
    # Every number ends in 0: the vendor answers each with "registered": null. A
    # file answering none of its numbers would be refused as broken (and the job
    # left open); explicit unknowns are answers, stored as unknown.
    nums = [f"+4179{i:06d}0" for i in range(5)]
    with JsonBatchServer() as server:
        answers, (job,) = _check(server, tmp_path, nums)
        engine = tgcheck.Engine(_settings(server, tmp_path))
        try:
            stored = engine.store.stored("tg", nums)
        finally:
            engine.close()
    assert job.state == "done"
    assert {a.status for a in answers} == {UNKNOWN}
    # Stored as the vendor's unknown, not as a number left out (tgcheck.answer_column).
    assert stored == {n: (ANSWERED_UNKNOWN, UNKNOWN) for n in nums}
    assert {code_of(a.reason) for a in answers} == {"answered_unknown"}


def test_a_stuck_batch_is_polled_for_free_until_the_timeout_not_stalled(jsonbatch, tmp_path):
    with JsonBatchServer(stuck=True) as server:
        engine = tgcheck.Engine(_settings(server, tmp_path, max_status_calls=3, timeout=1.5))
        try:
            with pytest.raises(DeadlineExceeded, match="stays open"):
                engine.check(numbers(5))
            (job,) = engine.store.jobs()
        finally:
            engine.close()
    assert server.calls["status"] > 3  # past the cap on billed status calls
    assert job.state == "open" and job.status_calls == 0
    assert job.success == 0 and job.total == 5  # progress read from a fraction


def test_sixty_thousand_numbers_go_as_three_parallel_batches(jsonbatch, tmp_path):
    # A batch finishes only once 3 exist: batches sent one after another never would.
    with JsonBatchServer(together=3) as server:
        answers, jobs = _check(server, tmp_path, numbers(60_000), timeout=120)
    assert sorted(len(b) for b in server.batches.values()) == [20_000] * 3
    assert len(jobs) == 3 and {j.state for j in jobs} == {"done"}
    assert sum(a.status == OK for a in answers) == sum(
        registered(a.number) is not None for a in answers)


def test_a_refused_key_is_said_without_the_key(jsonbatch, tmp_path):
    with JsonBatchServer() as server:
        server.api_key = "another-key"
        with pytest.raises(KeyRefused, match="HTTP 401") as refused:
            _check(server, tmp_path, numbers(3))
    assert KEY not in str(refused.value) and server.batches == {}


def test_the_cli_checks_and_rechecks_with_no_call(jsonbatch, tmp_path, monkeypatch):
    nums = numbers(4, start=10)
    (tmp_path / "in.txt").write_text("\n".join(nums) + "\n")
    with JsonBatchServer() as server:
        monkeypatch.setenv("TGCHECK_API_KEY", KEY)
        monkeypatch.setenv("TGCHECK_BASE_URL", server.url)
        monkeypatch.setenv("TGCHECK_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("TGCHECK_POLL_MIN", "0.02")
        args = ["check", str(tmp_path / "in.txt"), "--provider", "jsonbatch",
                "--progress", "none"]
        done = CliRunner().invoke(cli, args)
        calls = sum(server.calls.values())
        again = CliRunner().invoke(cli, args)
        assert sum(server.calls.values()) == calls
    assert done.exit_code == 0, done.output
    assert again.exit_code == 0, again.output
    for n in nums:
        value = _want(n)[0] or ""
        assert f"{n},{value}" in done.output and f"{n},{value}" in again.output


def test_the_cli_polls_a_stuck_batch_until_the_timeout_and_says_unknowns(
        jsonbatch, tmp_path, monkeypatch):
    nums = [f"+4179{i:06d}0" for i in range(3)]  # answered null: explicit unknowns
    (tmp_path / "in.txt").write_text("\n".join(nums) + "\n")
    args = ["check", str(tmp_path / "in.txt"), "--provider", "jsonbatch",
            "--progress", "none"]
    for name, value in (("HOME", str(tmp_path / "home")), ("POLL_MIN", "0.02"),
                        ("POLL_MAX", "0.1"), ("MAX_STATUS_CALLS", "3"), ("TIMEOUT", "1.5"),
                        ("API_KEY", KEY)):
        monkeypatch.setenv(f"TGCHECK_{name}", value)
    with JsonBatchServer(stuck=True) as server:
        monkeypatch.setenv("TGCHECK_BASE_URL", server.url)
        stuck = CliRunner().invoke(cli, args)
        server.stuck = False
        done = CliRunner().invoke(cli, args)
    assert stuck.exit_code == 1 and "stays open" in stuck.output, stuck.output
    assert server.calls["status"] > 3 and server.billed == {"create": 1}
    assert done.exit_code == 0, done.output  # the open batch collected, not created again
    assert server.calls["create"] == 1
    assert all(f"{n}," in done.output for n in nums)


def test_one_hook_brings_the_sandbox_and_settings(jsonbatch, tmp_path, monkeypatch):
    assert plugins.sandboxes()["jsonbatch"] is JsonBatchServer
    assert tgcheck.Settings(provider="jsonbatch").max_task_size == 25_000
    monkeypatch.setenv("TGCHECK_JSONBATCH_MAX", "30000")
    assert tgcheck.Settings.from_env(provider="jsonbatch").max_task_size == 30_000
    monkeypatch.setenv("TGCHECK_HOME", str(tmp_path / "home"))
    nums = numbers(3, start=20)
    (tmp_path / "in.txt").write_text("\n".join(nums) + "\n")
    done = CliRunner().invoke(cli, ["check", str(tmp_path / "in.txt"), "--provider",
                                    "jsonbatch", "--sandbox", "--progress", "none"])
    assert done.exit_code == 0, done.output
    assert all(f"{n},{_want(n)[0] or ''}" in done.output for n in nums)


def test_the_provider_is_under_100_lines_with_no_loop_of_its_own():
    source = (ROOT / "tests" / "json_batch_provider.py").read_text()
    assert len(source.splitlines()) < 100
    assert "httpx" not in source and "status_code" not in source and "sleep" not in source


def test_the_old_calling_convention_still_works_with_a_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        class Old(Provider):
            def get_status(self, task_id, *, deadline=None, on_billed=None):
                on_billed()
                return TaskStatus(task_id, f"until {deadline}")

            def create_task(self, numbers, task_type, *, deadline=None):
                error = KeyboardInterrupt()
                error.request_sent = False
                raise error

    assert {str(w.message).split(" takes")[0] for w in caught} == {
        "test_the_old_calling_convention_still_works_with_a_warning.<locals>.Old.get_status",
        "test_the_old_calling_convention_still_works_with_a_warning.<locals>.Old.create_task"}
    billed = []
    context = CallContext(deadline=5.0, on_billed=lambda: billed.append(1))
    assert Old().get_status("t", context=context).status == "until 5.0" and billed == [1]
    with pytest.raises(KeyboardInterrupt):
        Old().create_task(["+41798284651"], "tg", context=context)
    assert context.request_sent is False  # said on the exception, read into the context


def test_json_batch_is_a_provider():
    assert issubclass(JsonBatch, Provider)


def test_records_carry_the_fields_their_task_type_declares(jsonbatch, tmp_path):
    """Issue 24: a provider whose results are pages of records passes each record's
    fields; the engine keeps the declared ones typed (tg_seen's last_seen), like a
    file's columns, and a re-run answers them from the store with no call."""
    import datetime

    nums = numbers(PAGE + 20, start=500)  # two pages of records
    with JsonBatchServer() as server:
        engine = tgcheck.Engine(_settings(server, tmp_path))
        try:
            answers = engine.check(nums, task_type="tg_seen")
            before = sum(server.calls.values())
            again = engine.check(nums, task_type="tg_seen")
            assert sum(server.calls.values()) == before  # a re-run: 0 calls
        finally:
            engine.close()

    def seen(number):
        text = last_seen(number)
        return text and datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))

    assert [(a.value, a.status) for a in answers] == [_want(n) for n in nums]
    assert [a.fields for a in answers] == [
        {"last_seen": seen(n)} if registered(n) is not None else None for n in nums]
    assert any(a.fields and a.fields["last_seen"] for a in answers)
    assert [a.fields for a in again] == [a.fields for a in answers]
