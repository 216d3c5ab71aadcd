"""The money commands and messages as a user meets them: stalled and lost jobs,
`jobs abandon`, `balance`, `status` on a stalled job, --top-up, minimum sizes,
402, cost in the closing line and in `jobs`, dry-run's billed count."""

from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import numbers
from processes import cli_env, interrupt, run, started
from tgcheck.sandbox import Sandbox


def listing(tmp_path, values, name="in.txt"):
    path = tmp_path / name
    path.write_text("\n".join(values) + "\n")
    return path


@pytest.mark.slow
def test_a_stalled_job_is_told_then_status_reopens_and_resume_collects(tmp_path):
    with Sandbox(stuck="pending", queue_seconds=0, export_seconds=0) as sb:
        env = cli_env(sb, tmp_path) | {"TGCHECK_MAX_STATUS_CALLS": "3"}
        path = listing(tmp_path, numbers(7))
        first = run("check", str(path), "-q", env=env)
        assert first.returncode == 1
        assert "stalled" in first.stderr and "tgcheck resume" in first.stderr
        assert sb.billed["status"] == 3
        job = json.loads(run("jobs", "--json", env=env).stdout)
        assert job["state"] == "stalled" and job["status_calls"] == 3
        again = run("check", str(path), "-q", env=env)
        assert again.returncode == 1 and "stalled" in again.stderr
        assert sb.billed["status"] == 3  # no poll without the user asking
        sb.unstick()
        status = run("status", job["task_id"], env=env)
        assert status.returncode == 0 and "open again" in status.stderr
        assert sb.billed["status"] == 4
        done = run("check", str(path), "-q", "-o", str(tmp_path / "out.csv"), env=env)
        assert done.returncode == 0, done.stderr
        assert sb.creates == 1


@pytest.mark.slow
def test_jobs_abandon_says_what_it_means_and_frees_the_numbers(tmp_path):
    with Sandbox(stuck="pending", queue_seconds=0, export_seconds=0) as sb:
        env = cli_env(sb, tmp_path) | {"TGCHECK_MAX_STATUS_CALLS": "1"}
        path = listing(tmp_path, numbers(4))
        assert run("check", str(path), "-q", env=env).returncode == 1
        out = run("jobs", "abandon", "1", env=env)
        assert out.returncode == 0, out.stderr
        assert "abandoned" in out.stderr and "paid" in out.stderr
        assert "new task, paid again" in out.stderr
        again = run("jobs", "abandon", "1", env=env)
        assert again.returncode == 2 and "abandoned" in again.stderr
        assert run("jobs", "abandon", "99", env=env).returncode == 2
        sb.unstick()
        assert run("check", str(path), "-q", env=env).returncode == 0
        assert sb.creates == 2


def test_a_lost_task_then_resubmit(tmp_path):
    with Sandbox(stuck="pending", queue_seconds=0, export_seconds=0) as sb:
        env = cli_env(sb, tmp_path) | {"TGCHECK_MAX_STATUS_CALLS": "1"}
        path = listing(tmp_path, numbers(4))
        assert run("check", str(path), "-q", env=env).returncode == 1
        sb.purge()
        sb.unstick()
        resumed = run("resume", "-q", env=env)
        assert resumed.returncode == 1 and "gone at the provider" in resumed.stderr
        refused = run("check", str(path), "-q", env=env)
        assert refused.returncode == 1 and "--resubmit" in refused.stderr
        assert sb.creates == 1
        assert run("check", str(path), "-q", "--resubmit", env=env).returncode == 0
        assert sb.creates == 2


def test_balance_and_costs_in_jobs_and_the_closing_line(tmp_path):
    with Sandbox(create_code=202, price="0.01", balance="1.00", omit_rate=0.0) as sb:
        env = cli_env(sb, tmp_path)
        before = run("balance", env=env)
        assert before.returncode == 0 and before.stdout.strip() == "1.0 USD"
        assert "possibly billed" in before.stderr
        # The provider's name, not one provider's path, in the core's text.
        assert "one call to ekycpro" in before.stderr and "/v1/" not in before.stderr
        path = listing(tmp_path, numbers(10))
        out = run("check", str(path), "-o", str(tmp_path / "out.csv"), "--progress", "none",
                  env=env)
        assert out.returncode == 0, out.stderr
        assert "cost 0.1000 USD" in out.stderr
        job = json.loads(run("jobs", "--all", "--json", env=env).stdout)
        assert job["estimated_amount"] == job["actual_amount"] == "0.1000"
        table = run("jobs", "--all", env=env).stdout.splitlines()
        assert table[0].endswith("estimated\tactual") and table[1].endswith("0.1000 USD")
        assert json.loads(run("balance", "--json", env=env).stdout)["balance"] == "0.9"


def test_insufficient_balance_exit_1_no_live_job(tmp_path):
    with Sandbox(price="1", balance="2") as sb:
        env = cli_env(sb, tmp_path)
        out = run("check", str(listing(tmp_path, numbers(5))), "-q", env=env)
        assert out.returncode == 1 and "insufficient balance" in out.stderr
        assert run("jobs", env=env).stdout.strip().count("\n") == 0  # no live job


def test_below_the_minimum_exit_2_then_top_up(tmp_path):
    with Sandbox(min_rows={"tg": 6}, omit_rate=0.0) as sb:
        env = cli_env(sb, tmp_path) | {"TGCHECK_MIN_TASK_SIZE": "6"}
        assert run("check", str(listing(tmp_path, numbers(8), "a.txt")), "-q",
                   env=env).returncode == 0
        path = listing(tmp_path, numbers(2, start=500))
        dry = run("check", str(path), "--dry-run", env=env)
        assert dry.returncode == 0 and "bill 2 numbers in 1 task" in dry.stderr
        assert "below the minimum of 6" in dry.stderr
        refused = run("check", str(path), "-q", env=env)
        assert refused.returncode == 2
        assert "2 new numbers; tg tasks take at least 6: add 4, or use --top-up" in \
            refused.stderr
        assert sb.creates == 1
        # The dry run says what the top-up check bills: 6, not 2.
        before = sum(sb.calls.values())
        dry = run("check", str(path), "--dry-run", "--top-up", env=env)
        assert dry.returncode == 0 and "bill 6 numbers in 1 task (4 of them stored" \
            in dry.stderr and "below the minimum" not in dry.stderr
        dry = run("check", str(path), "--dry-run", env=env | {"TGCHECK_TOP_UP": "1"})
        assert "bill 6 numbers in 1 task" in dry.stderr
        assert sum(sb.calls.values()) == before  # dry runs call nothing
        topped = run("check", str(path), "-q", "--top-up", env=env)
        assert topped.returncode == 0, topped.stderr
        assert sb.creates == 2 and len(list(sb.tasks.values())[-1].numbers) == 6
        # TGCHECK_TOP_UP=1 does the same for SQL and Excel (and here).
        other = listing(tmp_path, numbers(1, start=700), "b.txt")
        assert run("check", str(other), "-q", env=env | {"TGCHECK_TOP_UP": "1"}
                   ).returncode == 0
        assert sb.creates == 3


def test_the_sandbox_command_serves_the_platform_modes(tmp_path):
    import httpx

    bad = run("sandbox", "--port", "0", "--min-rows", "tg")
    assert bad.returncode == 2 and "TYPE=N" in bad.stderr
    with started("sandbox", "--port", "0", "--create-code", "202", "--price", "0.5",
                 "--balance", "1", "--min-rows", "tg=2", "--max-rows", "3") as proc:
        url = proc.stdout.readline().split()[-1]
        headers = {"X-API-Key": "sandbox-demo-key"}

        def create(n):
            body = "".join(f"{x}\n" for x in numbers(n))
            return httpx.post(url + "/v1/tasks", headers=headers, data={"task_type": "tg"},
                              files={"file": ("n.txt", body.encode())})

        assert create(1).status_code == 400 and "minimum of 2" in create(1).text
        assert create(4).status_code == 413
        made = create(2)
        assert made.status_code == 202
        assert made.json()["estimated_amount"] == {"amount": "1.0000", "currency": "USD"}
        assert create(2).status_code == 402  # the balance is spent
        assert httpx.get(url + "/v1/balance", headers=headers).json()["balance"] == 0
        lost = httpx.post(url + "/v1/gettasks", headers=headers,
                          files={"task_id": (None, "nope")})
        assert lost.status_code == 404 and "not found" in lost.text
        interrupt(proc, timeout=10)


def test_a_413_split_is_told_before_the_tasks_are_created(tmp_path):
    with Sandbox(max_rows=5, omit_rate=0.0) as sb:
        env = cli_env(sb, tmp_path)
        path = listing(tmp_path, numbers(8))
        out = run("check", str(path), "-o", str(tmp_path / "o.csv"), "--progress", "json",
                  env=env)
        assert out.returncode == 0, out.stderr
        lines = [json.loads(line) for line in out.stderr.splitlines()]
        note = next(i for i, r in enumerate(lines) if r["event"] == "note"
                    and "sending them as 2 tasks of up to 4" in r["message"])
        submitted = [i for i, r in enumerate(lines) if r["event"] == "submitted"]
        assert len(submitted) == 2 and note < min(submitted)
        assert sb.creates == 2
        plain = run("check", str(listing(tmp_path, numbers(8, start=50), "b.txt")),
                    "-o", str(tmp_path / "p.csv"), "--progress", "plain", env=env)
        assert plain.returncode == 0
        # Another process does not know the size: it is refused and split again, said
        # as a plain line.
        assert "tgcheck: the provider refused 8 numbers as too large" in plain.stderr
        assert sb.creates == 4


def test_status_against_another_server_leaves_the_job_alone(tmp_path):
    # The same task id asked of another server (here a second sandbox, which does
    # not know it) must not mark the first server's job lost, nor reopen it.
    with Sandbox(stuck="pending", queue_seconds=0, export_seconds=0) as sb, \
            Sandbox() as other:
        env = cli_env(sb, tmp_path) | {"TGCHECK_MAX_STATUS_CALLS": "1"}
        assert run("check", str(listing(tmp_path, numbers(4))), "-q", env=env).returncode == 1
        job = json.loads(run("jobs", "--json", env=env).stdout)
        assert job["state"] == "stalled"
        elsewhere = run("status", job["task_id"], env=env | {"TGCHECK_BASE_URL": other.url})
        assert elsewhere.returncode != 0
        assert f"job {job['job']} with task {job['task_id']} was made for another server" \
            in elsewhere.stderr
        after = json.loads(run("jobs", "--json", env=env).stdout)
        assert after["state"] == "stalled" and after["status_calls"] == 1


def test_status_that_sees_progress_ends_the_backoff_of_the_next_check(tmp_path):
    # A task still for an hour is polled rarely, across runs too; once
    # `tgcheck status` has seen it move (here: exported), the next check polls at
    # once instead of waiting out the backoff.
    with Sandbox(stuck="pending", queue_seconds=0, export_seconds=0) as sb:
        env = cli_env(sb, tmp_path) | {"TGCHECK_POLL_MAX": "1800", "TGCHECK_TIMEOUT": "1"}
        path = listing(tmp_path, numbers(4))
        assert run("check", str(path), "-q", env=env).returncode == 1  # timed out, open
        db = sqlite3.connect(tmp_path / "home" / "tgcheck-sandbox.sqlite3")
        with db:
            db.execute("UPDATE jobs SET created_at = created_at - 3600")
        db.close()
        job = json.loads(run("jobs", "--json", env=env).stdout)
        sb.unstick()
        assert run("status", job["task_id"], env=env).returncode == 0
        done = run("check", str(path), "-q", env=env | {"TGCHECK_TIMEOUT": "20"})
        assert done.returncode == 0, done.stderr
        assert sb.creates == 1
