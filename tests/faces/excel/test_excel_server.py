"""The xlwings Server face, each case in its own process with XLWINGS_ON_SERVER=true
(xlwings reads it at import, so it cannot be switched on inside this process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import numbers
from tgcheck.sandbox import Sandbox

DRIVER = Path(__file__).with_name("excel_server_driver.py")


def run_driver(sandbox, home, scenario: str, args: list) -> dict:
    env = dict(
        os.environ,
        XLWINGS_ON_SERVER="true",
        # xlwings Server is PolyForm Noncommercial; this open-source suite may use it.
        XLWINGS_LICENSE_KEY="noncommercial",
        TGCHECK_API_KEY=sandbox.api_key,
        TGCHECK_BASE_URL=sandbox.url,
        TGCHECK_SANDBOX="1",
        TGCHECK_HOME=str(home),
        TGCHECK_POLL_MIN="0.02",
        TGCHECK_POLL_MAX="0.5",
        TGCHECK_LOAD_PLUGINS="",
    )
    done = subprocess.run([sys.executable, str(DRIVER), scenario, json.dumps(args)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sandbox.api_key not in done.stdout
    return json.loads(done.stdout.strip().splitlines()[-1])


def office_js_column(nums: list[str]) -> list[list]:
    """Numbers as Office.js sends them: JSON numbers without the "+"."""
    return [[int(n[1:])] for n in nums]


def expected(sandbox, number: str) -> str:
    answer = sandbox.expected(number)
    return "unknown" if answer is None else answer


@pytest.fixture
def slow_sandbox():
    # 2,000 numbers a second: a 3,000-number task is still running when cancelled.
    with Sandbox(speed=2000) as sb:
        yield sb


def test_meta_lists_the_functions_and_the_script(sandbox, tmp_path):
    out = run_driver(sandbox, tmp_path, "meta", [])
    functions = {f["name"]: f for f in out["meta"]["functions"]}
    assert set(functions) == {"TG_CHECK", "TG_CHECK_LIVE", "TG_SUBMIT", "TG_WATCH"}
    assert functions["TG_CHECK_LIVE"]["options"] == {"stream": True}
    assert functions["TG_WATCH"]["options"] == {"stream": True}
    assert [p["name"] for p in functions["TG_CHECK"]["parameters"]] == [
        "numbers", "region", "reasons", "task_type"]
    assert functions["TG_CHECK"]["parameters"][1]["optional"] is True
    assert functions["TG_CHECK"]["parameters"][2]["optional"] is True
    for name in ("TG_CHECK_LIVE", "TG_SUBMIT"):
        assert [p["name"] for p in functions[name]["parameters"]] == [
            "numbers", "region", "task_type"]
    assert [s["function_name"] for s in out["scripts"]] == ["check_selection"]


def test_custom_functions_call_answers_an_office_js_payload(sandbox, tmp_path):
    nums = numbers(5, start=200)
    grid = office_js_column(nums) + [[""], [None], ["hello"], [nums[0]]]
    out = run_driver(sandbox, tmp_path, "call", [grid, None])
    assert out["result"] == [[expected(sandbox, n)] for n in nums] + [
        [""], [""], ["invalid"], [expected(sandbox, nums[0])]]
    assert sandbox.billed["create"] == 1


def test_custom_functions_call_with_a_region(sandbox, tmp_path):
    out = run_driver(sandbox, tmp_path, "call", [[["0532 123 45 67"]], [["TR"]]])
    assert out["result"] == [[expected(sandbox, "+905321234567")]]


@pytest.mark.slow
def test_custom_functions_call_with_a_region_per_cell_and_reasons(sandbox, tmp_path):
    grid = [["07911 123456"], ["0612345678"], ["0612345678"], ["+41798284651"]]
    regions = [["UK"], ["France"], ["Narnia"], [None]]
    out = run_driver(sandbox, tmp_path, "call", [grid, regions, [[True]]])
    assert [row[0] for row in out["result"]] == [
        expected(sandbox, "+447911123456"), expected(sandbox, "+33612345678"), "invalid",
        expected(sandbox, "+41798284651")]
    assert out["result"][2][1].startswith("unknown_region: unknown region 'Narnia'")
    assert len(out["result"][0]) == 2


def test_custom_functions_call_with_a_task_type_spills_its_fields(sandbox, tmp_path):
    nums = numbers(6, start=260)
    out = run_driver(sandbox, tmp_path, "call", [office_js_column(nums), None, None,
                                                 "tg_active"])
    for n, row in zip(nums, out["result"], strict=True):
        value = sandbox.expected(n, "tg_active")
        days = "" if value in (None, "N/A") else int(value)
        assert row == ["unknown" if value is None else value, days]
    assert [t.task_type for t in sandbox.tasks.values()] == ["tg_active"]


def test_stream_shows_progress_then_the_answers(slow_sandbox, tmp_path):
    nums = numbers(1000, start=300)
    out = run_driver(slow_sandbox, tmp_path, "stream", [office_js_column(nums), None])
    progress = [r[0][0] for r in out["results"] if len(r) == 1]
    assert any(p.startswith("pending ") and p.endswith("/1,000 (sandbox)") for p in progress)
    assert out["results"][-1] == out["final"]
    assert out["final"] == [[expected(slow_sandbox, n)] for n in nums]
    assert slow_sandbox.billed["create"] == 1


@pytest.mark.slow
def test_a_cancelled_and_restarted_stream_creates_no_new_task(slow_sandbox, tmp_path):
    nums = numbers(3000, start=20_000)
    out = run_driver(slow_sandbox, tmp_path, "restart", [office_js_column(nums), None])
    assert out["cancelled"] is True
    assert not any(len(r) > 1 for r in out["before_restart"])  # cancelled before answers
    assert out["final"] == [[expected(slow_sandbox, n)] for n in nums]
    assert slow_sandbox.billed["create"] == 1


@pytest.mark.slow
def test_a_server_that_dies_mid_task_is_followed_by_one_that_attaches(slow_sandbox, tmp_path):
    grid = office_js_column(numbers(3000, start=40_000))
    first = run_driver(slow_sandbox, tmp_path, "exit_after_progress", [grid, None])
    assert first["results"][-1][0][0].startswith("pending ")
    assert slow_sandbox.billed["create"] == 1
    second = run_driver(slow_sandbox, tmp_path, "stream", [grid, None])
    assert len(second["final"]) == 3000
    assert slow_sandbox.billed["create"] == 1


def test_submit_over_http_then_watch_streams_only_the_key(slow_sandbox, tmp_path):
    nums = numbers(2000, start=60_000)
    out = run_driver(slow_sandbox, tmp_path, "submit_watch", [office_js_column(nums), None])
    key = out["key"][0][0]
    assert key.startswith("tgjob-") and len(key) == 22
    assert out["final"] == [[expected(slow_sandbox, n)] for n in nums]
    assert slow_sandbox.billed["create"] == 1
    # The range is kept on disk for a restarted server, without the key.
    saved = (tmp_path / "excel-jobs" / f"{key}.json").read_text()
    assert slow_sandbox.api_key not in saved


def test_live_and_submit_take_a_task_type_and_spill_its_fields(sandbox, tmp_path):
    """Issue 24: TG_CHECK_LIVE and TG_SUBMIT/TG_WATCH take the task type as TG_CHECK
    does and spill its fields beside the answers; the second costs no call."""
    nums = numbers(8, start=280)

    def want(n):
        value = sandbox.expected(n, "tg_active")
        return ["unknown" if value is None else value,
                "" if value in (None, "N/A") else int(value)]

    live = run_driver(sandbox, tmp_path, "stream", [office_js_column(nums), None,
                                                    "tg_active"])
    assert live["final"] == [want(n) for n in nums]
    creates = sandbox.billed["create"]
    watched = run_driver(sandbox, tmp_path, "submit_watch", [office_js_column(nums), None,
                                                             "tg_active"])
    assert watched["final"] == [want(n) for n in nums]
    assert sandbox.billed["create"] == creates == 1  # the second answered from the store
    assert [t.task_type for t in sandbox.tasks.values()] == ["tg_active"]
    key = watched["key"][0][0]
    saved = json.loads((tmp_path / "excel-jobs" / f"{key}.json").read_text())
    assert saved["task_type"] == "tg_active"


def test_the_check_selection_script_writes_the_fields_beside_the_answers(sandbox, tmp_path,
                                                                         monkeypatch):
    """The script's checker (it stops waiting on a server) and then the fields from
    the store, each in its own column after the answers, headed by its name."""
    monkeypatch.setenv("TGCHECK_TASK_TYPE", "tg_active")
    nums = numbers(6, start=290)
    out = run_driver(sandbox, tmp_path, "macro_fields", [nums])
    assert "B:C" in out["message"], out["message"]
    assert out["cells"][0][1] == "seen_within_days"
    for n, (value, days) in zip(nums, out["cells"][1:], strict=True):
        answer = sandbox.expected(n, "tg_active")
        assert value == ("unknown" if answer is None else answer)
        assert days == ("" if answer in (None, "N/A") else int(answer))
    assert sandbox.billed["create"] == 1  # the fields came from the store
