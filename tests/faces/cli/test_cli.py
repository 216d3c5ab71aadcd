"""The real `tgcheck` command, run as a user runs it."""

import os
import subprocess
import sys

import pytest

from conftest import numbers
from paths import ROOT
from processes import cli_env, interrupt, read_until, rows, run, started


@pytest.fixture
def env(sandbox, tmp_path):
    return cli_env(sandbox, tmp_path)


def test_readme_main_job_runs_against_the_embedded_sandbox(tmp_path):
    env = dict(os.environ, TGCHECK_HOME=str(tmp_path))
    env.pop("TGCHECK_API_KEY", None)
    result = run("check", "examples/numbers.txt", "--sandbox", env=env)
    assert result.returncode == 0, result.stderr
    lines = (ROOT / "examples/numbers.txt").read_text().splitlines()
    out = rows(result.stdout)
    assert [r["input"] for r in out] == lines
    assert {"ok", "invalid", "blank"} <= {r["status"] for r in out}
    assert "SIMULATED" in result.stderr
    assert all(r["telegram"] in ("yes", "no") for r in out if r["status"] == "ok")


def readme_commands() -> list[str]:
    """The two commands the README opens with (its first code block)."""
    text = (ROOT / "README.md").read_text()
    block = text.split("```\n", 2)[1]
    return [line for line in block.splitlines() if line.strip()]


def test_the_readme_main_command_is_the_one_tested_here(tmp_path):
    """The README's first command, read from the README and run as written (after
    its install step): it must keep working as the README changes."""
    import shlex

    main, tests = readme_commands()
    install, _, command = main.partition(" && ")
    assert install == "python -m pip install -e ."
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "tgcheck"]
    env = dict(os.environ, TGCHECK_HOME=str(tmp_path))
    env.pop("TGCHECK_API_KEY", None)
    result = run(*argv[3:], env=env)
    assert result.returncode == 0, result.stderr
    assert "SIMULATED" in result.stderr and len(rows(result.stdout)) > 10
    # The second is what CI runs.
    assert tests.partition(" && ")[2] in (ROOT / ".ci" / "run").read_text()


def test_check_writes_csv_in_input_order(env, sandbox, tmp_path):
    values = numbers(30) + ["", "abc", numbers(1)[0]]
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(values) + "\n")
    out = tmp_path / "out.csv"
    result = run("check", str(listing), "-o", str(out), "-q", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # nothing but results on stdout, and they went to -o
    got = rows(out.read_text())
    assert [r["input"] for r in got] == values
    assert list(got[0]) == ["input", "number", "telegram", "status", "reason"]
    for r in got:
        if r["status"] == "ok":
            assert r["telegram"] == sandbox.expected(r["number"])
    assert sandbox.creates == 1
    again = run("check", str(listing), env=env)
    assert rows(again.stdout) == got and sandbox.creates == 1


def test_stdin_and_region(env, sandbox):
    result = run("check", "-", "--region", "CH", env=env, stdin="079 828 46 51\n0798284652\n")
    assert result.returncode == 0, result.stderr
    assert [r["number"] for r in rows(result.stdout)] == ["+41798284651", "+41798284652"]


def _missing(p):
    return p / "missing.txt"


def _empty(p):
    (p / "empty.txt").write_text("\n\n")
    return p / "empty.txt"


def _binary(p):
    (p / "bin.dat").write_bytes(b"\x00\x01PK\x03")
    return p / "bin.dat"


@pytest.mark.parametrize("setup, message", [
    (_missing, "no such file"),
    (_empty, "is empty"),
    (lambda p: p, "is a directory"),
    (_binary, "binary"),
])
def test_bad_input_exits_2_with_one_line(env, tmp_path, setup, message):
    path = setup(tmp_path)
    result = run("check", str(path), env=env)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_task_type_and_missing_key_exit_2(env, tmp_path):
    listing = tmp_path / "in.txt"
    listing.write_text("+41798284651\n")
    assert run("check", str(listing), "--task-type", "nope", env=env).returncode == 2
    no_key = {k: v for k, v in env.items() if k != "TGCHECK_API_KEY"}
    result = run("check", str(listing), env=no_key)
    assert result.returncode == 2 and "TGCHECK_API_KEY" in result.stderr


def test_failed_task_exits_1(env, sandbox, tmp_path):
    sandbox.fail_next("create", "task_failed")
    listing = tmp_path / "in.txt"
    listing.write_text("+41798284651\n")
    result = run("check", str(listing), env=env)
    assert result.returncode == 1 and "failed" in result.stderr


def test_unwritable_output_keeps_the_answers(env, sandbox, tmp_path):
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(numbers(5)) + "\n")
    result = run("check", str(listing), "-o", str(tmp_path / "nope" / "out.csv"), env=env)
    # A missing folder is found before any call now (issue 14): nothing paid at all.
    # (A write that fails after the task: test_unwritable_output_then_export.)
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert sandbox.creates == 0
    again = run("check", str(listing), "-o", str(tmp_path / "out.csv"), env=env)
    assert again.returncode == 0 and sandbox.creates == 1


def test_jobs_lists_the_journal(env, sandbox, tmp_path):
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(numbers(5)) + "\n")
    run("check", str(listing), env=env)
    result = run("jobs", "--all", env=env)
    assert result.returncode == 0
    [header, line] = result.stdout.strip().splitlines()
    assert header.startswith("job\ttask_id\tstate")
    assert next(iter(sandbox.tasks)) in line and "\tdone\t" in line


@pytest.mark.slow
def test_sandbox_command_prints_url_and_demo_key(tmp_path):
    with started("sandbox", "--port", "0") as proc:
        first = proc.stdout.readline()
        assert "SIMULATED" in first and "http://127.0.0.1:" in first
        url = first.split()[-1]
        key_line = [proc.stdout.readline() for _ in range(2)][1]
        assert "sandbox-demo-key" in key_line
        import httpx

        assert "SIMULATED" in httpx.get(url + "/health").text
        interrupt(proc, timeout=10)


def test_help_has_examples():
    result = run("check", "--help")
    assert result.returncode == 0 and "Examples:" in result.stdout


def _reordered(values):
    return [values[1], values[0], *values[2:]]


@pytest.mark.parametrize("change, to_stdout", [
    (_reordered, False),                            # sorted: same rows, other order
    (lambda values: [*values, numbers(1, start=90)[0]], True),   # a row added
    (lambda values: values[:-1], False),            # a row deleted
])
def test_an_input_changed_during_the_wait_is_refused_not_misaligned(
        env, sandbox, tmp_path, change, to_stdout):
    """Answers are attached by position on a second read: a file rewritten while the
    task runs must stop the write, not pair answers with other rows."""
    values = numbers(6, start=500)
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(values) + "\n")
    out = tmp_path / "out.csv"
    sandbox.time_scale = 0.0  # the task stays pending until the file has been rewritten
    args = ["check", str(listing), "--progress", "json"] + ([] if to_stdout else ["-o", str(out)])
    with started(*args, env=env) as proc:
        # "submitted" comes after the first read of the input and the create.
        read_until(proc, '"event": "submitted"')
        listing.write_text("\n".join(change(values)) + "\n")
        sandbox.time_scale = 1.0
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr  # numbers were sent: not "bad input" (2)
    message = stderr.strip().splitlines()[-1]
    assert "changed while it was being checked" in message
    assert "answers are stored" in message and "nothing is paid again" in message
    assert stdout == "" and not out.exists()  # nothing half-written, nothing misaligned
    assert sandbox.creates == 1
    # Run again: the answers come from the store, each on its own row.
    again = run("check", str(listing), env=env)
    assert again.returncode == 0, again.stderr
    got = rows(again.stdout)
    assert [r["input"] for r in got] == change(values)
    for r in got:
        if r["status"] == "ok":
            assert r["telegram"] == sandbox.expected(r["number"])
            assert r["number"] == r["input"]
    assert sandbox.creates == (2 if len(change(values)) > len(values) else 1)


def _no_duckdb_run(*args, env):
    """The real CLI in a Python where DuckDB cannot be imported (it is an optional extra)."""
    code = "import sys; sys.modules['duckdb'] = None; from tgcheck.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def _huge_listing(p):
    # One row more than an xlsx sheet holds under its header row.
    path = p / "huge.txt"
    with path.open("w") as f:
        f.writelines(f"+4179{i % 5000:07d}\n" for i in range(1_048_576))
    return path


@pytest.mark.parametrize("output_args, make_input, runner, message", [
    (["-f", "xlsx"], None, run, "cannot go to stdout"),
    (["-o", "-", "-f", "parquet"], None, run, "cannot go to stdout"),
    (["-o", "out.parquet"], None, _no_duckdb_run, "needs DuckDB"),
    (["-o", "out.xlsx"], _huge_listing, run, "do not fit in an xlsx sheet"),
])
def test_an_output_that_cannot_be_written_fails_before_any_call(
        env, sandbox, tmp_path, output_args, make_input, runner, message):
    """Exit 2 means nothing was sent: an output write_table would refuse is refused
    before the task is created, not after it was paid for."""
    if make_input is None:
        listing = tmp_path / "in.txt"
        listing.write_text("\n".join(numbers(3)) + "\n")
    else:
        listing = make_input(tmp_path)
    args = [str(tmp_path / a) if a.startswith("out.") else a for a in output_args]
    result = runner("check", str(listing), *args, env=env)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert sandbox.creates == 0 and sum(sandbox.calls.values()) == 0
    assert result.stdout == "" and not list(tmp_path.glob("out.*"))
