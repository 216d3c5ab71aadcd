"""-o is checked (folder exists, takes a file) before any paid call."""

from __future__ import annotations

import os

import pytest

from conftest import numbers
from processes import cli_env, run


@pytest.fixture
def env(sandbox, tmp_path):
    return cli_env(sandbox, tmp_path)


@pytest.fixture
def listing(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("\n".join(numbers(3, start=950)) + "\n")
    return path


def test_a_missing_output_folder_is_refused_before_any_call(env, sandbox, listing, tmp_path):
    target = tmp_path / "nonexistent" / "dir" / "x.csv"
    result = run("check", str(listing), "-o", str(target), env=env)
    assert result.returncode == 2, result.stderr
    assert "does not exist" in result.stderr and str(target.parent) in result.stderr
    assert sandbox.creates == 0 and sum(sandbox.calls.values()) == 0


def test_an_output_folder_that_is_a_file_or_a_folder_as_target(env, sandbox, listing,
                                                                 tmp_path):
    (tmp_path / "afile").write_text("x")
    result = run("check", str(listing), "-o", str(tmp_path / "afile" / "x.xlsx"), env=env)
    assert result.returncode == 2 and "is not a folder" in result.stderr
    (tmp_path / "out.csv").mkdir()
    result = run("check", str(listing), "-o", str(tmp_path / "out.csv"), env=env)
    assert result.returncode == 2 and "is a directory" in result.stderr  # click says it
    assert sandbox.creates == 0


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_refused_before_any_call(env, sandbox, listing,
                                                                tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        result = run("check", str(listing), "-o", str(folder / "x.csv"), env=env)
    finally:
        folder.chmod(0o700)
    assert result.returncode == 2 and "cannot write in" in result.stderr
    assert sandbox.creates == 0


def test_sql_checks_its_output_folder_before_the_query(tmp_path):
    env = dict(os.environ, TGCHECK_HOME=str(tmp_path / "home"), TGCHECK_LOAD_PLUGINS="")
    env.pop("TGCHECK_API_KEY", None)
    result = run("sql", "--sandbox", "-o", str(tmp_path / "missing" / "x.csv"),
                 "SELECT * FROM telegram_enrich('examples/customers.csv', 'phone')", env=env)
    assert result.returncode == 2, result.stderr
    assert "does not exist" in result.stderr
    assert not (tmp_path / "home" / "sandbox-tasks").exists()  # no task was created


@pytest.fixture
def _dev_null_kept():
    """Should the code under test ever rename a file over /dev/null, put the device
    back: everything else on the machine (PostgreSQL's initdb, su) writes to it."""
    import stat

    yield
    if os.geteuid() == 0 and not stat.S_ISCHR(os.stat(os.devnull).st_mode):
        os.remove(os.devnull)
        os.mknod(os.devnull, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.chmod(os.devnull, 0o666)


@pytest.mark.usefixtures("_dev_null_kept")
@pytest.mark.parametrize("extra", [[], ["--format", "csv"], ["--format", "json"]])
def test_dev_null_is_an_output(env, sandbox, listing, extra):
    """Issue 22: `-o /dev/null` was refused (unknown extension). It takes CSV, or
    the --format given, and is written in place: /dev/null stays the device."""
    result = run("check", str(listing), "-o", os.devnull, *extra, env=env)
    assert result.returncode == 0, result.stderr
    assert f"wrote 3 rows to {os.devnull}" in result.stderr
    assert sandbox.creates == 1
    assert os.path.exists(os.devnull) and not os.path.isfile(os.devnull)
