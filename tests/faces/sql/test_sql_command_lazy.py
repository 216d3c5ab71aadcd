"""`tgcheck --help` and `--version` start without DuckDB, Arrow or numpy (issue 25
item 4): the SQL face's command is listed by name and loads its module only when
it runs. Fresh interpreters, so nothing a test imported before can hide an import."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from paths import ROOT

HEAVY = ("duckdb", "pyarrow", "numpy", "tgcheck_duckdb.cli", "tgcheck_duckdb.registration")


def _imported_after(*args: str, block_duckdb: bool = False) -> tuple[list[str], str]:
    block = "sys.modules['duckdb'] = None\n" if block_duckdb else ""
    code = (f"import sys\n{block}"
            f"sys.argv = ['tgcheck', *{list(args)!r}]\n"
            "from tgcheck.cli import main\n"
            "try:\n"
            "    main()\n"
            "except SystemExit:\n"
            "    pass\n"
            f"print('LOADED', *[m for m in {HEAVY!r} if sys.modules.get(m)])\n")
    env = dict(os.environ, TGCHECK_LOAD_PLUGINS="")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=env, check=True)
    *shown, loaded = done.stdout.strip().splitlines()
    return loaded.split()[1:], "\n".join(shown)


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["sql", "--help"]])
def test_start_up_imports_duckdb_only_for_the_sql_command(args):
    loaded, shown = _imported_after(*args)
    if args[0] == "sql":
        # Its own help is the real command's: its options, DuckDB loaded.
        assert "--database" in shown and "duckdb" in loaded
    else:
        assert loaded == []
        if args == ["--help"]:
            assert "sql" in shown and "telegram_enrich" in shown


def test_without_duckdb_the_listing_says_what_the_command_needs():
    loaded, shown = _imported_after("--help", block_duckdb=True)
    assert loaded == [] and "needs the [duckdb] extra" in shown
