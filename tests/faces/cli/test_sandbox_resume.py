"""`--sandbox` work continues: a re-run attaches to its open job, `resume --sandbox`
finishes it, `status --sandbox` asks the sandbox, `doctor --sandbox` names the
sandbox's commands; `resume` names the jobs it leaves alone."""

from __future__ import annotations

import json

from conftest import child_env, numbers
from processes import interrupt, journal, keyless_env, read_until, started
from processes import run as tg


def interrupted_sandbox_check(tmp_path, listing) -> dict:
    """A `check --sandbox` stopped by Ctrl-C once its task is created (it would wait
    a minute before its first poll): an open job in the sandbox's journal."""
    env = keyless_env(tmp_path, TGCHECK_POLL_MIN="60", TGCHECK_POLL_MAX="60")
    with started("check", str(listing), "--sandbox", "--progress", "json", env=env) as proc:
        read_until(proc, '"event": "submitted"')
        err = interrupt(proc)
    assert proc.returncode == 130, err
    return keyless_env(tmp_path, TGCHECK_POLL_MIN="0.05", TGCHECK_POLL_MAX="0.2")


def test_a_rerun_of_a_sandbox_check_attaches_to_its_open_job(tmp_path):
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(numbers(20, start=300)) + "\n")
    env = interrupted_sandbox_check(tmp_path, listing)
    [job] = journal(env, "--sandbox")
    assert job["state"] == "open" and job["task_id"]
    again = tg("check", str(listing), "--sandbox", "--progress", "json", env=env)
    assert again.returncode == 0, again.stderr
    assert '"event": "submitted"' not in again.stderr  # no second task
    assert len(again.stdout.splitlines()) == 21
    [job_after] = journal(env, "--sandbox")
    assert job_after["state"] == "done" and job_after["task_id"] == job["task_id"]


def test_resume_sandbox_finishes_the_open_job_and_status_sandbox_shows_it(tmp_path):
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(numbers(10, start=400)) + "\n")
    env = interrupted_sandbox_check(tmp_path, listing)
    [job] = journal(env, "--sandbox")
    result = tg("resume", "--sandbox", env=env)
    assert result.returncode == 0, result.stderr
    assert "1 open job(s) finished" in result.stderr
    assert journal(env, "--sandbox")[0]["state"] == "done"
    status = tg("status", job["task_id"], "--sandbox", "--json", env=env)
    assert status.returncode == 0, status.stderr
    record = json.loads(status.stdout)
    assert record["status"] == "exported" and record["job"] == job["job"]
    # The answers are in the sandbox's store: a re-run pays nothing.
    again = tg("check", str(listing), "--sandbox", "--progress", "json", env=env)
    assert again.returncode == 0 and "; 0 billed calls" in again.stderr


def test_doctor_sandbox_names_the_sandbox_commands(tmp_path):
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(numbers(5, start=500)) + "\n")
    env = interrupted_sandbox_check(tmp_path, listing)
    result = tg("doctor", "--sandbox", env=env)
    assert result.returncode == 0, result.stderr
    assert "`tgcheck resume --sandbox`" in result.stdout
    assert "`tgcheck jobs --sandbox`" in result.stdout


def test_resume_names_the_jobs_it_leaves_alone_and_why(sandbox, tmp_path):
    import tgcheck

    env = child_env(sandbox, tmp_path / "home")
    settings = tgcheck.Settings(home=tmp_path / "home", base_url=sandbox.url, simulated=True)
    store = tgcheck.Engine(settings, provider=object()).store
    try:
        # A job of another server, and one whose create may have landed.
        _, other = store.claim("k1", "ekycpro:https://other.example", "tg",
                               numbers(3, start=600))
        store.release(other.id)
        _, unsure = store.claim("k2", f"ekycpro:{sandbox.url}", "tg", numbers(3, start=700))
        store.update_job(unsure.id, state="submitting")
        store.update_job(unsure.id, state="uncertain", owner=None)
        # One made against another sandbox server (`tgcheck sandbox --port ...`).
        _, local = store.claim("k3", "ekycpro:http://127.0.0.1:1", "tg",
                               numbers(3, start=750))
        store.release(local.id)
    finally:
        store.close()
    result = tg("resume", env=env)
    assert result.returncode == 0, result.stderr
    assert f"skipped job {other.id}" in result.stderr and "other.example" in result.stderr
    assert f"skipped job {unsure.id}" in result.stderr and "--resubmit" in result.stderr
    assert f"skipped job {local.id}" in result.stderr
    assert "made against the local server at http://127.0.0.1:1" in result.stderr
    assert "0 open job(s) finished, 3 skipped" in result.stderr
    assert sandbox.creates == 0
