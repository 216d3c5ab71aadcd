"""Every face of tgcheck with the plugin selected: the CLI (`--provider`, and
`--sandbox` starting the plugin's own sandbox), Python (`provider=`), SQL
(`register(provider=)`, `tgcheck sql --provider`) and Excel (TGCHECK_PROVIDER,
TGCHECK_TASK_TYPE)."""

import csv
import json
import os
import signal
import subprocess
import sys

import duckdb
import httpx
import pytest
from click.testing import CliRunner
from tgcheck_wscheck.sandbox import simulated_row

import tgcheck
import tgcheck_duckdb
import tgcheck_udfs
from conftest import numbers
from tgcheck.plugin import cli


def activated(nums):
    return [simulated_row(n, "ws")["activated"] for n in nums]


@pytest.fixture
def platform_env(platform, monkeypatch):
    """The platform's sandbox, through the environment as users set it."""
    for name, value in (("TGCHECK_PROVIDER", "wscheck"), ("TGCHECK_API_KEY", platform.api_key),
                        ("TGCHECK_BASE_URL", platform.url), ("TGCHECK_SANDBOX", "1"),
                        ("TGCHECK_POLL_MIN", "0.01"),
                        ("TGCHECK_POLL_MAX", "0.05"), ("TGCHECK_RETRY_BASE", "0.01")):
        monkeypatch.setenv(name, value)
    return platform


def test_cli_check_with_the_plugins_own_sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("TGCHECK_POLL_MIN", "0.01")
    nums = numbers(500)
    (tmp_path / "in.txt").write_text("\n".join(nums) + "\n")
    args = ["check", str(tmp_path / "in.txt"), "--provider", "wscheck", "--task-type", "ws",
            "--sandbox", "-o", str(tmp_path / "out.csv"), "--progress", "none"]
    done = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    with open(tmp_path / "out.csv", newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [r["number"] for r in rows] == nums
    assert [r["activated"] for r in rows] == activated(nums)
    # The plugin's sandbox kept its one task in its own folder; a re-run pays nothing.
    tasks = tmp_path / "home" / "sandbox-tasks" / "wscheck"
    assert len(list(tasks.glob("*.json"))) == 1
    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert again.exit_code == 0 and "0 billed calls" in again.output
    assert len(list(tasks.glob("*.json"))) == 1


def test_cli_check_and_balance_against_the_platform(platform_env, tmp_path, monkeypatch):
    monkeypatch.delenv("TGCHECK_PROVIDER")  # chosen by the option this time
    nums = numbers(500)
    (tmp_path / "in.txt").write_text("\n".join(nums) + "\n")
    done = CliRunner().invoke(cli, ["check", str(tmp_path / "in.txt"), "--provider",
                                    "wscheck", "--task-type", "ws", "--progress", "none"])
    assert done.exit_code == 0, done.output
    assert "yes" in done.output and platform_env.creates == 1
    balance = CliRunner().invoke(cli, ["balance", "--provider", "wscheck", "--json"])
    assert json.loads(balance.output.splitlines()[0]) == {"balance": "99.0", "currency": "USD"}


def test_cli_below_the_minimum_says_so_before_any_call(platform_env, tmp_path):
    (tmp_path / "in.txt").write_text("\n".join(numbers(10)) + "\n")
    done = CliRunner().invoke(cli, ["check", str(tmp_path / "in.txt"), "--task-type", "ws"])
    assert done.exit_code == 2 and "500" in done.output
    assert sum(platform_env.calls.values()) == 0


def test_python_provider_argument(platform_env, monkeypatch):
    monkeypatch.delenv("TGCHECK_PROVIDER")
    nums = numbers(500)
    answers = tgcheck.check(nums, task_type="ws", provider="wscheck")
    assert [a.value for a in answers] == activated(nums)
    assert platform_env.creates == 1


def test_sql_register_with_the_provider(platform_env, monkeypatch):
    monkeypatch.delenv("TGCHECK_PROVIDER")
    nums = numbers(500)
    con = tgcheck_duckdb.register(duckdb.connect(), task_type="ws", provider="wscheck")
    rows = con.sql(f"SELECT number, activated FROM telegram_check({nums!r}) "
                   "ORDER BY number").fetchall()
    assert rows == list(zip(nums, activated(nums), strict=True))
    assert platform_env.creates == 1


def test_excel_udf_with_the_provider_and_task_type_settings(platform_env, monkeypatch):
    monkeypatch.setenv("TGCHECK_TASK_TYPE", "ws")
    nums = numbers(500)
    result = tgcheck_udfs.tg_check([[n] for n in nums])
    assert result == [[a] for a in activated(nums)]
    assert platform_env.creates == 1


def test_tgcheck_sandbox_serves_the_plugins_sandbox_until_ctrl_c(tmp_path):
    server = subprocess.Popen([sys.executable, "-m", "tgcheck", "sandbox", "--provider",
                               "wscheck", "--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "TGCHECK_HOME": str(tmp_path)})
    try:
        said = [server.stdout.readline() for _ in range(4)]
        assert said[1].strip() == "export TGCHECK_PROVIDER=wscheck"
        url = said[2].strip().partition("=")[2]
        key = said[3].split("=")[1].split()[0]
        balance = httpx.get(f"{url}/v1/balance", headers={"X-API-Key": key})
        assert balance.json() == {"balance": 100.0}
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=30)
    assert "stopped; billed calls" in err


def test_tgcheck_sql_with_the_provider_and_its_sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("TGCHECK_POLL_MIN", "0.01")
    nums = numbers(500)
    (tmp_path / "in.csv").write_text("phone\n" + "\n".join(nums) + "\n")
    query = (f"SELECT number, activated FROM telegram_check('{tmp_path / 'in.csv'}', "
             "'phone') ORDER BY number")
    done = CliRunner().invoke(cli, ["sql", "--provider", "wscheck", "--task-type", "ws",
                                    "--sandbox", "--csv", query])
    assert done.exit_code == 0, done.output
    rows = list(csv.reader(line for line in done.output.splitlines() if line.startswith(
        ("number", "+"))))
    assert rows[0] == ["number", "activated"]
    assert rows[1:] == [[n, a] for n, a in zip(nums, activated(nums), strict=True)]


def test_cli_status_and_resume_reach_the_plugins_jobs(platform_env, monkeypatch):
    monkeypatch.delenv("TGCHECK_PROVIDER")  # chosen by the option
    platform_env.steps = 10**6  # the task stays `processing` until told otherwise
    short = tgcheck.Settings.from_env(provider="wscheck", timeout=0.5)
    with pytest.raises(tgcheck.DeadlineExceeded):  # the job stays open
        tgcheck.check(numbers(500), task_type="ws", settings=short)
    [task_id] = platform_env.tasks
    status = CliRunner().invoke(cli, ["status", task_id, "--provider", "wscheck", "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.output.splitlines()[0])["status"] == "processing"
    platform_env.steps = 1
    resumed = CliRunner().invoke(cli, ["resume", "--provider", "wscheck", "--progress", "none"])
    assert resumed.exit_code == 0, resumed.output
    assert "1 open job(s) finished" in resumed.output
    assert platform_env.creates == 1


def test_the_plugins_own_command():
    done = CliRunner().invoke(cli, ["wscheck-types"])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        "ws\tactivated\t500\t-",
        "ws_active\tactivedays\t1000\tactivated,activetime,business",
        "ws_avatar\tavatar\t500\tactivated,age,category,gender,hair_color,skin_color"]
    assert "wscheck-types" in CliRunner().invoke(cli, ["--help"]).output
