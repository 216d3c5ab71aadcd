"""Choosing the provider on each face: `--provider`, provider=, TGCHECK_PROVIDER.
(A second provider through every face: examples/tgcheck-wscheck's own suite, run
by tests/providers/test_example_plugin.py.)"""

import duckdb
import pytest
from click.testing import CliRunner

import tgcheck
import tgcheck_duckdb
from conftest import numbers
from tgcheck.cli import cli


@pytest.mark.parametrize("extra", [[], ["--sandbox"]])
def test_an_unknown_provider_is_a_usage_error_naming_the_installed_ones(tmp_path, extra):
    (tmp_path / "in.txt").write_text("+41798284651\n")
    done = CliRunner().invoke(cli, ["check", str(tmp_path / "in.txt"), "--provider",
                                    "nosuch", *extra])
    assert done.exit_code == 2
    assert "'nosuch'" in done.output and "ekycpro" in done.output  # the ones there are


def test_the_built_in_provider_by_name_with_its_sandbox(tmp_path):
    nums = numbers(3)
    (tmp_path / "in.txt").write_text("\n".join(nums) + "\n")
    done = CliRunner().invoke(cli, ["check", str(tmp_path / "in.txt"), "--provider",
                                    "ekycpro", "--sandbox", "--progress", "none"])
    assert done.exit_code == 0, done.output
    assert all(n in done.output for n in nums)
    # ekycpro's sandbox keeps its tasks in its own folder (resume finds them there).
    assert list((tmp_path / "home" / "sandbox-tasks" / "ekycpro").glob("*.json"))


def test_python_and_sql_take_a_provider_name(sandbox_env):
    with pytest.raises(tgcheck.ConfigError, match="unknown provider 'nosuch'"):
        tgcheck.check(numbers(2), provider="nosuch")
    assert tgcheck.check(numbers(2), provider="ekycpro")[0].status in ("ok", "unknown")
    with pytest.raises(tgcheck.ConfigError, match="unknown provider 'nosuch'"):
        tgcheck_duckdb.register(duckdb.connect(), provider="nosuch")  # before any query
    con = tgcheck_duckdb.register(duckdb.connect(), provider="ekycpro")
    assert len(con.sql(f"FROM telegram_check({numbers(2, start=5)!r})").fetchall()) == 2
    assert sandbox_env.creates == 2


def test_settings_for_one_provider_are_not_sent_to_another(settings, sandbox):
    # The settings carry ekycpro's URL: another provider there would get its key.
    with pytest.raises(tgcheck.ConfigError, match="give one"):
        tgcheck.check(numbers(2), settings=settings, provider="other")
    assert tgcheck.check(numbers(2), settings=settings, provider="ekycpro")
    assert sum(sandbox.calls.values()) > 0
