"""`tgcheck cache show NUMBER...`: a number's stored answer and where it came from
(provider, task id, checked_at), without an API call (issue 21 item 5)."""

from __future__ import annotations

from conftest import numbers
from processes import cli_env, run


def test_cache_show_tells_where_each_answer_came_from(sandbox, tmp_path):
    env = cli_env(sandbox, tmp_path)
    checked = numbers(3)
    source = tmp_path / "in.txt"
    source.write_text("\n".join(checked) + "\n")
    assert run("check", str(source), "-q", env=env).returncode == 0
    [task] = sandbox.tasks
    calls = dict(sandbox.calls)
    shown = run("cache", "show", checked[0], "079 000 00 01", numbers(1, 50)[0], "junk",
                "--region", "CH", env=env)
    assert shown.returncode == 0, shown.stderr
    header, *lines = [line.split("\t") for line in shown.stdout.splitlines()]
    assert header == ["input", "number", "value", "status", "checked_at", "task_id",
                      "provider"]
    for line, number in zip(lines[:2], checked[:2], strict=True):
        assert line[1] == number and line[3] in ("ok", "unknown")
        assert line[2] == (sandbox.expected(number) or "")
        assert line[4] and line[5:] == [task, "ekycpro"]
    assert lines[2][1:4] == [numbers(1, 50)[0], "", "not stored"]
    assert lines[3][0] == "junk" and lines[3][3] == "invalid"
    assert dict(sandbox.calls) == calls  # no API call


def test_cache_show_needs_a_number(sandbox, tmp_path):
    shown = run("cache", "show", env=cli_env(sandbox, tmp_path))
    assert shown.returncode == 2 and "NUMBERS" in shown.stderr
