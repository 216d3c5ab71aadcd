"""`tgcheck sql` comes from the SQL face's command plugin (tgcheck_register_commands):
there with TGCHECK_LOAD_PLUGINS="", and without DuckDB it says what to install."""

from __future__ import annotations

import os
import subprocess
import sys

from paths import ROOT


def _tgcheck(tmp_path, *args, block_duckdb=False):
    block = "sys.modules['duckdb'] = None; " if block_duckdb else ""
    code = f"import sys; {block}from tgcheck.cli import main; main()"
    env = dict(os.environ, TGCHECK_HOME=str(tmp_path), TGCHECK_LOAD_PLUGINS="")
    return subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_sql_is_a_command_without_any_entry_point(tmp_path):
    done = _tgcheck(tmp_path, "sql", "--csv", "SELECT tg_normalize('+41 79 828 46 51') AS n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "n\n+41798284651\n"
    listed = _tgcheck(tmp_path, "plugins")
    assert "tgcheck_duckdb.commands" in listed.stdout
    assert "tgcheck_register_commands" in listed.stdout


def test_without_duckdb_sql_says_what_to_install(tmp_path):
    helped = _tgcheck(tmp_path, "--help", block_duckdb=True)
    assert helped.returncode == 0 and "sql" in helped.stdout
    done = _tgcheck(tmp_path, "sql", "SELECT 1", block_duckdb=True)
    assert done.returncode == 2
    assert "needs DuckDB" in done.stderr and "[duckdb]" in done.stderr
    assert "Traceback" not in done.stderr
    # From the checkout: tgcheck is not on PyPI, so no `pip install "tgcheck[...]"`.
    assert '-e ".[duckdb]"' in done.stderr and 'install "tgcheck' not in done.stderr


def test_a_fault_inside_the_sql_face_is_not_called_a_missing_extra(tmp_path):
    code = ("import sys; sys.modules['tgcheck_duckdb.registration'] = None; "
            "from tgcheck.cli import main; main()")
    env = dict(os.environ, TGCHECK_HOME=str(tmp_path), TGCHECK_LOAD_PLUGINS="")
    done = subprocess.run([sys.executable, "-c", code, "sql", "SELECT 1"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "needs DuckDB" not in done.stderr and "tgcheck_duckdb.registration" in done.stderr


def test_the_sql_package_imports_without_duckdb(tmp_path):
    code = ("import sys; sys.modules['duckdb'] = None; import tgcheck_duckdb; "
            "import tgcheck_duckdb.commands; print('imported')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0 and done.stdout == "imported\n", done.stderr


def test_a_udf_error_keeps_its_exit_code():
    """DuckDB passes on only a UDF exception's class name and text; `tgcheck sql`
    maps it back, so the exit code follows the one rule (docs/cli.md)."""
    from tgcheck.errors import NoApiKey, exit_code
    from tgcheck_duckdb.cli import _query_error

    def udf(kind: str) -> Exception:
        return RuntimeError("Invalid Input Error: Python exception occurred while "
                            f"executing the UDF: {kind}: it went wrong")

    assert isinstance(_query_error(udf("NoApiKey")), NoApiKey)
    assert exit_code(_query_error(udf("BelowMinimum"))) == 2
    assert exit_code(_query_error(udf("TaskFailed"))) == 1
    assert exit_code(_query_error(udf("ValueError"))) == 1
    assert exit_code(_query_error(RuntimeError("Catalog Error: no table"))) == 1
