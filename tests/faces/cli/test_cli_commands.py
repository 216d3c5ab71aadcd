"""The other commands, run as a user runs them: dry-run, progress, status, export,
cache, plugins, config, resume, help and errors."""

import json
import os
import stat
import subprocess
import sys
import threading

import pytest
from python_calamine import CalamineWorkbook

from conftest import child_env, numbers
from paths import ROOT
from processes import cli_env, rows, run
from tgcheck.sandbox import Sandbox


@pytest.fixture
def env(sandbox, tmp_path):
    return cli_env(sandbox, tmp_path)


def listing(tmp_path, values, name="in.txt"):
    path = tmp_path / name
    path.write_text("\n".join(values) + "\n")
    return path


def no_key(env):
    return {k: v for k, v in env.items() if k not in ("TGCHECK_API_KEY", "TGCHECK_BASE_URL")}


@pytest.mark.slow
def test_dry_run_counts_without_a_key_or_a_call(env, sandbox, tmp_path):
    values = [*numbers(4), numbers(1)[0], "", "junk", "12"]
    path = listing(tmp_path, values)
    result = run("check", str(path), "--dry-run", "-f", "json", env=no_key(env))
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    # Issue 13: a breakdown by reason code, with counts and examples.
    assert counts.pop("reasons") == {
        "not_a_number": {"count": 1, "examples": ["junk"]},
        "too_short": {"count": 1, "examples": ["12"]},
        "blank": {"count": 1, "examples": [""]}}
    assert counts == {
        "inputs": 8, "valid": 5, "invalid": 2, "blank": 1, "duplicates": 1,
        "already_answered": 0, "to_send": 4, "tasks": 1}
    assert "no API call" in result.stderr
    # After a real check, the same numbers are already answered.
    assert run("check", str(path), "-q", env=env).returncode == 0
    again = run("check", str(path), "--dry-run", "-f", "json", env=env)
    assert json.loads(again.stdout)["already_answered"] == 4
    assert json.loads(again.stdout)["to_send"] == 0
    assert sandbox.creates == 1 and sum(sandbox.billed.values()) >= 2


def test_progress_json_is_one_object_a_line_on_stderr(env, sandbox, tmp_path):
    path = listing(tmp_path, numbers(20))
    out = tmp_path / "out.csv"
    result = run("check", str(path), "--progress", "json", "-o", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    events = [json.loads(line) for line in result.stderr.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "submitted" and "done" in kinds and kinds[-1] == "note"
    done = next(e for e in events if e["event"] == "done")
    # processed may exceed total by one: the vendor's own example does that
    assert done["total"] == 20 and done["processed"] >= 20
    # billed calls as the sandbox counted them: one create plus the status calls
    assert done["billed_calls"] == sandbox.billed["create"] + sandbox.billed["status"]
    assert f"{done['billed_calls']} billed calls" in events[-1]["message"]


def test_live_progress_on_a_terminal(env, sandbox, tmp_path):
    """stderr is a pseudo-terminal: the rich display shows state, counts and billed calls."""
    import pty

    path = listing(tmp_path, numbers(20))
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tgcheck", "check", str(path)], env=env,
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    chunks = []

    def drain():
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    stdout, _ = proc.communicate(timeout=60)
    reader.join(timeout=10)
    os.close(master)
    screen = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert len(rows(stdout)) == 20  # results only on stdout
    assert "20/20" in screen and "billed calls" in screen and "ETA" in screen


def test_max_age_zero_checks_again(env, sandbox, tmp_path):
    path = listing(tmp_path, numbers(3))
    assert run("check", str(path), "-q", env=env).returncode == 0
    assert run("check", str(path), "-q", env=env).returncode == 0
    assert sandbox.creates == 1
    assert run("check", str(path), "-q", "--max-age", "0", env=env).returncode == 0
    assert sandbox.creates == 2


def test_status_makes_exactly_one_call(env, sandbox, tmp_path):
    assert run("check", str(listing(tmp_path, numbers(3))), "-q", env=env).returncode == 0
    task_id = next(iter(sandbox.tasks))
    before = sandbox.billed["status"]
    result = run("status", task_id, "--json", env=env)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["task_id"] == task_id and record["total"] == 3 and record["job"] == 1
    assert sandbox.billed["status"] == before + 1
    assert sandbox.api_key not in result.stdout + result.stderr
    missing = run("status", "no-such-task", env=env)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr


def test_unwritable_output_then_export(env, sandbox, tmp_path):
    values = numbers(5)
    path = listing(tmp_path, values)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    # An output folder that cannot take the file is refused before any call (issue 14)...
    refused = run("check", str(path), "-o", str(blocker / "out.csv"), env=env)
    assert refused.returncode == 2 and sandbox.creates == 0
    # ...one that goes away while the task runs fails at the end, naming export.
    folder = tmp_path / "gone"
    folder.mkdir()
    sandbox.time_scale = 0.0  # the task waits until the folder is gone
    proc = subprocess.Popen([sys.executable, "-m", "tgcheck", "check", str(path), "-o",
                             str(folder / "out.csv"), "--progress", "json"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if '"event": "submitted"' in line:
                break
        folder.rmdir()
        sandbox.time_scale = 1.0
        proc.wait(timeout=60)
    finally:
        proc.kill()
    err = proc.stderr.read()
    assert proc.returncode == 1, err
    assert "`tgcheck export 1 -o FILE`" in err and "Traceback" not in err
    out = tmp_path / "answers.xlsx"
    exported = run("export", "1", "-o", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    sheet = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("answers").to_python()
    assert sheet[0] == ["number", "telegram", "status"]
    assert sorted(r[0] for r in sheet[1:]) == sorted(values)
    for number, value, status in sheet[1:]:
        assert (value or None) == sandbox.expected(number)
        assert status == ("ok" if value else "unknown")
    # by task id too, to stdout
    by_task = run("export", next(iter(sandbox.tasks)), env=env)
    assert len(rows(by_task.stdout)) == 5
    assert sandbox.creates == 1
    assert run("export", "99", env=env).returncode == 2


def test_export_after_a_cache_clear_and_doctor_on_a_healthy_store(env, sandbox, tmp_path):
    values = numbers(4, start=200)
    assert run("check", str(listing(tmp_path, values)), "-q", env=env).returncode == 0
    doctor = run("doctor", "--sandbox", env=env)
    assert doctor.returncode == 0, doctor.stderr
    assert "ok (integrity check passed)" in doctor.stdout
    assert "4 answers stored; jobs: 1 done" in doctor.stdout
    assert run("cache", "clear", "--yes", env=env).returncode == 0
    exported = run("export", "1", env=env)
    assert exported.returncode == 0, exported.stderr
    got = rows(exported.stdout)
    assert [r["number"] for r in got] == sorted(values)
    assert {r["status"] for r in got} == {"missing"} and {r["telegram"] for r in got} == {""}
    assert "4 answers; 4 no longer in the store (cache cleared)" in exported.stderr
    assert "0 answers stored; jobs: 1 done" in run("doctor", "--sandbox", env=env).stdout
    assert sandbox.creates == 1


def test_cache_stats_export_clear(env, sandbox, tmp_path):
    path = listing(tmp_path, numbers(6))
    assert run("check", str(path), "-q", env=env).returncode == 0
    stats = run("cache", "stats", env=env)
    assert stats.returncode == 0 and "tgcheck-sandbox.sqlite3" in stats.stdout
    per_status = {line.split("\t")[1]: int(line.split("\t")[2])
                  for line in stats.stdout.splitlines() if line.startswith("tg\t")}
    assert sum(per_status.values()) == 6 and "1 done" in stats.stdout
    exported = run("cache", "export", "-o", str(tmp_path / "all.json"), env=env)
    assert exported.returncode == 0
    records = [json.loads(x) for x in (tmp_path / "all.json").read_text().splitlines()]
    assert sorted(r["number"] for r in records) == numbers(6)
    assert {r["task_id"] for r in records} == set(sandbox.tasks)
    # where each answer came from: its provider, its task, when it was checked
    assert {r["provider"] for r in records} == {"ekycpro"}
    assert all(r["checked_at"] for r in records)
    # nothing is older than a day; without --yes and without a terminal, nothing goes
    old = run("cache", "clear", "--older-than", "1", "--yes", env=env)
    assert old.returncode == 0 and "deleted 0 answers" in old.stderr
    refused = run("cache", "clear", env=env)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    cleared = run("cache", "clear", "--yes", env=env)
    assert cleared.returncode == 0 and "deleted 6 answers" in cleared.stderr
    assert run("check", str(path), "-q", env=env).returncode == 0
    assert sandbox.creates == 2  # cleared answers are paid for again


def test_plugins_lists_builtins_with_their_hooks(env):
    result = run("plugins", "--json", env=env)
    assert result.returncode == 0, result.stderr
    found = {p["name"]: p for p in json.loads(result.stdout)}
    # One package for the provider, one hook: its client, settings and sandbox (its readers
    # are the provider's own, not a plugin of their own).
    assert found["tgcheck.default_plugins.ekycpro"]["hooks"] == [
        "tgcheck_register_providers"]
    assert found["tgcheck.default_plugins.task_types"]["version"] == "0.1.0"
    # The built-in output formats come through the hook a plugin's format uses.
    assert found["tgcheck.default_plugins.output_formats"]["hooks"] == [
        "tgcheck_register_output_formats"]
    text = run("plugins", env=env)
    assert "tgcheck_job_event" in text.stdout


def test_config_set_key_from_stdin_mode_0600_and_used_by_check(env, sandbox, tmp_path):
    home = tmp_path / "home"
    bare = dict(no_key(env), TGCHECK_BASE_URL=sandbox.url)
    assert run("config", "set-key", sandbox.api_key, env=bare).returncode == 2  # never argv
    result = run("config", "set-key", env=bare, stdin=sandbox.api_key + "\n")
    assert result.returncode == 0, result.stderr
    path = home / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    shown = run("config", env=bare)
    assert shown.returncode == 0
    assert f"config file {path}" in shown.stdout and sandbox.url in shown.stdout
    assert "tgcheck-sandbox.sqlite3" in shown.stdout
    assert sandbox.api_key not in shown.stdout + shown.stderr + result.stderr
    checked = run("check", str(listing(tmp_path, numbers(2))), env=bare)
    assert checked.returncode == 0, checked.stderr
    assert sandbox.creates == 1
    # the environment wins over the file
    with_env = run("config", env=dict(bare, TGCHECK_API_KEY="other"))
    assert "environment variable TGCHECK_API_KEY" in with_env.stdout
    assert "other" not in with_env.stdout.replace("other users", "")
    # a file others can read is refused, as ssh refuses such keys
    path.chmod(0o644)
    refused = run("check", str(listing(tmp_path, numbers(2))), env=bare)
    assert refused.returncode == 2 and "chmod 600" in refused.stderr
    assert run("config", "remove-key", env=bare).returncode == 0
    assert "none" in run("config", env=bare).stdout


def test_a_refused_key_file_stops_only_the_commands_that_need_the_key(env, sandbox, tmp_path):
    """A key file others can read is refused; config says so, and the commands that
    make no API call (jobs, cache, export, doctor, a dry run) still work."""
    bare = dict(no_key(env), TGCHECK_BASE_URL=sandbox.url)
    path = listing(tmp_path, numbers(3))
    assert run("check", str(path), "-q", env=env).returncode == 0  # job 1, done
    assert run("config", "set-key", env=bare, stdin=sandbox.api_key + "\n").returncode == 0
    key_file = tmp_path / "home" / "config.json"
    key_file.chmod(0o644)
    refused = run("check", str(listing(tmp_path, numbers(2, start=50), "more.txt")), env=bare)
    assert refused.returncode == 2 and "chmod 600" in refused.stderr
    shown = run("config", env=bare)
    assert shown.returncode == 0, shown.stderr
    assert "API key:" in shown.stdout and "none: " in shown.stdout
    assert "can be read by other users" in shown.stdout
    assert sandbox.api_key not in shown.stdout + shown.stderr
    for command in (["jobs", "--all"], ["cache", "stats"], ["cache", "export"],
                    ["export", "1"], ["doctor"], ["check", str(path), "--dry-run"]):
        result = run(*command, env=bare)
        assert result.returncode == 0, (command, result.stderr)
        assert "chmod 600" not in result.stdout + result.stderr, command
    assert len(rows(run("export", "1", env=bare).stdout)) == 3
    assert sandbox.creates == 1


def test_resume_finishes_a_job_left_open_by_a_timeout(tmp_path):
    with Sandbox(time_scale=0.001) as slow:  # the task barely moves until we say so
        env = child_env(slow, tmp_path / "home")
        path = listing(tmp_path, numbers(10))
        timed_out = run("check", str(path), "--timeout", "1", "-q", env=env)
        assert timed_out.returncode == 1 and "tgcheck resume" in timed_out.stderr
        jobs = run("jobs", "--json", env=env)
        [job] = [json.loads(line) for line in jobs.stdout.splitlines()]
        assert job["state"] == "open" and job["numbers"] == 10
        slow.time_scale = 1e6
        resumed = run("resume", "-q", env=env)
        assert resumed.returncode == 0 and "1 open job(s) finished" in resumed.stderr
        assert run("jobs", env=env).stdout.strip().count("\n") == 0  # header only
        assert len(rows(run("export", str(job["job"]), env=env).stdout)) == 10
        assert slow.creates == 1


@pytest.mark.parametrize("command", [
    ["check"], ["jobs"], ["resume"], ["status"], ["export"], ["cache"], ["cache", "stats"],
    ["cache", "show"], ["cache", "export"], ["cache", "clear"], ["plugins"], ["sandbox"],
    ["config"],
    ["config", "set-key"], ["config", "show"], ["config", "remove-key"], ["config", "path"],
    ["sql"], ["balance"], ["jobs", "abandon"], [],
])
def test_every_command_has_help_with_examples(command):
    # In-process (click's runner): 18 interpreters only to print help would be slow.
    from click.testing import CliRunner

    from tgcheck.cli import cli

    result = CliRunner().invoke(cli, [*command, "--help"], prog_name="tgcheck")
    assert result.exit_code == 0, result.output
    assert "Example" in result.output or "tgcheck sql" in result.output


def test_debug_shows_the_traceback_and_only_then(env, tmp_path):
    missing = str(tmp_path / "missing.txt")
    plain = run("check", missing, env=env)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    debug = run("check", missing, "--debug", env=env)
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "InputError" in debug.stderr


def test_doctor_has_examples_and_debug(env, tmp_path):
    """docs/cli.md: every command has examples in --help and takes --debug; a refused
    setting is exit 2 in the doctor too (one exit-code rule, no longer the doctor's 1)."""
    shown = run("doctor", "--help", env=env)
    assert shown.returncode == 0 and "Examples:" in shown.stdout and "--debug" in shown.stdout
    bad = dict(env, TGCHECK_BASE_URL="http://example.com")  # refused: http, not loopback
    plain = run("doctor", env=bad)
    assert plain.returncode == 2 and "https://" in plain.stderr
    assert "Traceback" not in plain.stderr
    debug = run("doctor", "--debug", env=bad)
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    assert "ConfigError" in debug.stderr


@pytest.mark.parametrize("command", [
    ["cache", "export"], ["cache", "export", "-o", "-"],
    ["export", "1"], ["export", "1", "-o", "-"],
])
def test_a_reader_that_leaves_early_is_not_an_error_message(env, tmp_path, command):
    """`tgcheck cache export | head -1`: exit 1 and nothing on stderr, not "cannot write
    None (Broken pipe)" nor a traceback from a cursor closed after its store."""
    from tgcheck.store import Store

    values = numbers(20_000, start=1000)
    store = Store(tmp_path / "home" / "tgcheck-sandbox.sqlite3")  # env's base URL: loopback
    try:
        role, job = store.claim("k", "ekycpro", "tg", values)
        assert role == "drive" and job.id == 1
        store.finish_job(job, "tg", [(n, "yes", "ok") for n in values])
    finally:
        store.close()
    proc = subprocess.Popen([sys.executable, "-m", "tgcheck", *command], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith(("task_type,", "number,"))
    proc.stdout.close()  # the reader leaves; 20,000 rows do not fit in the pipe
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 1
    assert "cannot write" not in stderr and "Traceback" not in stderr
    assert "Exception ignored" not in stderr


def test_another_task_type_writes_its_own_column(env, sandbox, tmp_path):
    values = numbers(40, start=700)
    result = run("check", str(listing(tmp_path, values)), "--task-type", "tg_active", "-q",
                 env=env)
    assert result.returncode == 0, result.stderr
    out = rows(result.stdout)
    assert [r["input"] for r in out] == values
    assert all(r["telegram_days"] == (sandbox.expected(r["number"], "tg_active") or "")
               for r in out)
    assert {t.task_type for t in sandbox.tasks.values()} == {"tg_active"}


def test_retry_unknown_resends_only_the_left_out_numbers(env, sandbox, tmp_path):
    values = numbers(300, start=900)
    left_out = {n for n in values if sandbox.expected(n) is None}
    assert left_out  # the sandbox leaves ~2% out of its result files
    path = listing(tmp_path, values)
    assert run("check", str(path), "-q", env=env).returncode == 0
    assert run("check", str(path), "-q", env=env).returncode == 0
    assert sandbox.creates == 1  # within the retry window: not paid again
    again = run("check", str(path), "-q", "--retry-unknown", env=env)
    assert again.returncode == 0, again.stderr
    assert sandbox.creates == 2
    assert set(list(sandbox.tasks.values())[-1].numbers) == left_out


@pytest.mark.slow
def test_cache_clear_older_than_deletes_only_old_answers(env, sandbox, tmp_path):
    import sqlite3
    import time

    path = listing(tmp_path, numbers(6))
    assert run("check", str(path), "-q", env=env).returncode == 0
    store = tmp_path / "home" / "tgcheck-sandbox.sqlite3"
    db = sqlite3.connect(store)
    with db:  # two answers checked 40 days ago
        db.execute("UPDATE answers SET checked_at = ? WHERE number IN (?, ?)",
                   (time.time() - 40 * 86400, *numbers(2)))
    db.close()
    cleared = run("cache", "clear", "--older-than", "30", "--yes", env=env)
    assert cleared.returncode == 0 and "deleted 2 answers" in cleared.stderr
    assert run("check", str(path), "-q", env=env).returncode == 0
    assert sandbox.creates == 2
    assert sorted(list(sandbox.tasks.values())[-1].numbers) == numbers(2)
