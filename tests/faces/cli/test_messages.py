"""Messages name the option actually used, fit the face they appear in, and -q is quiet."""

from __future__ import annotations

import pytest

import tgcheck
from processes import keyless_env, run

ROOT_EXAMPLE = "examples/numbers.txt"


def test_the_http_refusal_names_base_url_option_and_keeps_the_port(tmp_path):
    env = keyless_env(tmp_path, TGCHECK_API_KEY="k")
    result = run("check", ROOT_EXAMPLE, "--base-url", "http://api.example.com:8080", env=env)
    assert result.returncode == 2
    assert "--base-url must use https://" in result.stderr
    assert "TGCHECK_BASE_URL" not in result.stderr
    assert "http://api.example.com:8080" in result.stderr


def test_the_http_refusal_names_the_variable_when_it_was_the_variable(tmp_path):
    env = keyless_env(tmp_path, TGCHECK_API_KEY="k",
                   TGCHECK_BASE_URL="http://api.example.com:8080")
    result = run("check", ROOT_EXAMPLE, env=env)
    assert result.returncode == 2
    assert "TGCHECK_BASE_URL must use https://" in result.stderr
    assert "http://api.example.com:8080" in result.stderr


def test_the_python_refusal_names_base_url_and_keeps_the_port(monkeypatch):
    monkeypatch.delenv("TGCHECK_BASE_URL", raising=False)
    with pytest.raises(tgcheck.ConfigError, match=r"^base_url must .*example.com:81$"):
        tgcheck.Settings.from_env(base_url="http://example.com:81")


def test_the_no_key_message_fits_each_face(tmp_path, monkeypatch):
    env = keyless_env(tmp_path)
    cli = run("check", ROOT_EXAMPLE, env=env)
    assert cli.returncode == 2 and "`tgcheck check FILE --sandbox`" in cli.stderr

    sql = run("sql", "SELECT * FROM telegram_check(['+41798284651'])", env=env)
    # One exit-code rule: no key is a setting, exit 2 in `tgcheck sql` as in `check`.
    assert sql.returncode == 2 and "no API key" in sql.stderr
    assert "tgcheck sql --sandbox" in sql.stderr and "check FILE" not in sql.stderr

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("TGCHECK_API_KEY", raising=False)
    with pytest.raises(tgcheck.ConfigError) as caught:
        tgcheck.check(["+41798284651"])
    text = str(caught.value)
    assert text.startswith("no API key") and "check FILE" not in text
    assert "`tgcheck sandbox`" in text


def test_quiet_means_no_simulated_banner(tmp_path):
    env = keyless_env(tmp_path)
    result = run("check", ROOT_EXAMPLE, "--sandbox", "-q", env=env)
    assert result.returncode == 0
    assert result.stderr == ""
    loud = run("check", ROOT_EXAMPLE, "--sandbox", env=keyless_env(tmp_path))
    assert "SIMULATED" in loud.stderr


def test_hints_repeat_sandbox_when_it_chose_the_store(tmp_path):
    """Issue 22: `export 3 --sandbox` said "`tgcheck jobs --all` lists them", and a
    damaged sandbox store said "`tgcheck doctor`", which looks at the real store."""
    env = keyless_env(tmp_path)
    missing = run("export", "3", "--sandbox", env=env)
    assert missing.returncode == 2
    assert "`tgcheck jobs --all --sandbox` lists them" in missing.stderr

    store = tmp_path / "home" / "tgcheck-sandbox.sqlite3"
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_bytes(b"not a database, " * 512)
    damaged = run("jobs", "--sandbox", env=env)
    assert damaged.returncode != 0
    assert "`tgcheck doctor --sandbox`" in damaged.stderr, damaged.stderr
    # Without --sandbox the hints stay as they were.
    assert "`tgcheck jobs --all` lists them" in run("export", "3", env=env).stderr


def test_hints_gain_sandbox_only_for_commands_that_take_it():
    from tgcheck.hints import with_sandbox

    assert with_sandbox("run `tgcheck resume`; `tgcheck config set-key`; "
                        "`tgcheck jobs abandon 3`") == (
        "run `tgcheck resume --sandbox`; `tgcheck config set-key`; "
        "`tgcheck jobs abandon 3 --sandbox`")


def test_status_in_the_sandbox_says_nothing_is_billed(tmp_path):
    """Issue 22: `status TASK --sandbox` said "that was one billed status call"."""
    from processes import journal

    env = keyless_env(tmp_path, TGCHECK_POLL_MIN="0.05", TGCHECK_POLL_MAX="0.2")
    assert run("check", ROOT_EXAMPLE, "--sandbox", "-q", env=env).returncode == 0
    [job] = journal(env, "--sandbox")
    status = run("status", job["task_id"], "--sandbox", env=env)
    assert status.returncode == 0, status.stderr
    assert "nothing is billed" in status.stderr
    assert "billed status call" not in status.stderr


def test_a_run_that_waited_for_another_hosts_task_says_who_paid(sandbox, tmp_path):
    """Issue 22: a process that waited for another machine's task printed that task's
    billed calls as if it had paid them. It says whose task it waited for, and 0
    calls here (the two "machines" share one store, as through PostgreSQL)."""
    from conftest import child_env, numbers
    from processes import read_until, started

    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(numbers(20, start=700)) + "\n")
    home = tmp_path / "home"
    sandbox.speed = 1  # the task runs until the watcher is watching
    driver_env = child_env(sandbox, home, TGCHECK_HOST_NAME="host-b")
    waiter_env = child_env(sandbox, home, TGCHECK_HOST_NAME="host-a")
    with started("check", str(listing), "-o", str(tmp_path / "b.csv"), "--progress", "json",
                 env=driver_env) as driver:
        read_until(driver, '"event": "submitted"')
        with started("check", str(listing), "-o", str(tmp_path / "a.csv"), "--progress",
                     "plain", env=waiter_env) as waiter:
            seen = read_until(waiter, "driven by another process")
            sandbox.speed = 1_000_000  # now let the task finish
            _, rest = waiter.communicate(timeout=60)
        driver.communicate(timeout=60)
    said = "".join(seen) + rest
    assert waiter.returncode == 0, said
    assert "waited for host-b's task; 0 calls here" in said, said
    summary = [line for line in said.splitlines() if "wrote 20 rows" in line]
    assert summary and "; 0 billed calls" in summary[0], said
    assert "waited for host-b's task; 0 calls here" in summary[0], said
    assert sandbox.creates == 1
