"""Settings: read from arguments and the environment, refused when they would pay
again, never wait, or carry a key that cannot travel in a header."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import tgcheck
from tgcheck import Settings, plugin_settings, plugins, settings_registry
from tgcheck.settings_registry import CORE


@pytest.mark.parametrize("key", ["abc\r\n", " abc "])
def test_keys_are_trimmed(key, tmp_path):
    assert Settings(api_key=key, home=tmp_path).require_key() == "abc"


@pytest.mark.parametrize("key", ["ab c", "ab\u00a0c", "abc\x00", "clé"])
def test_keys_that_cannot_travel_in_a_header_are_refused(key, tmp_path):
    with pytest.raises(tgcheck.ConfigError, match="copy it again") as e:
        Settings(api_key=key, home=tmp_path)
    assert key not in str(e.value)


def test_missing_key_is_a_clear_error(monkeypatch, tmp_path):
    with pytest.raises(tgcheck.ConfigError, match="TGCHECK_API_KEY"):
        tgcheck.Engine(Settings(home=tmp_path)).check(["+41798284651"])


@pytest.mark.parametrize(("variable", "value"), [
    ("TGCHECK_MAX_AGE_DAYS", "nan"), ("TGCHECK_MAX_AGE_DAYS", "-5"),
    ("TGCHECK_UNKNOWN_RETRY_HOURS", "-1"), ("TGCHECK_TIMEOUT", "0"),
    ("TGCHECK_RETRY_BASE", "-0.5"), ("TGCHECK_POLL_MIN", "0"), ("TGCHECK_MAX_TASK_SIZE", "0"),
])
def test_settings_that_would_pay_again_or_never_wait_are_refused(monkeypatch, sandbox_env,
                                                                 variable, value):
    """A NaN or negative freshness makes every stored answer stale (every run pays
    again); a zero timeout pays for a task it cannot wait for."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(tgcheck.ConfigError, match=variable):
        tgcheck.check(["+41798284651"])
    assert sum(sandbox_env.calls.values()) == 0


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("TGCHECK_MAX_STATUS_CALLS", "12")
    monkeypatch.setenv("TGCHECK_MIN_TASK_SIZE", "50")
    monkeypatch.setenv("TGCHECK_TOP_UP", "1")
    s = Settings.from_env()
    assert (s.max_status_calls, s.min_task_size, s.top_up) == (12, 50, True)
    assert Settings.from_env(top_up=False).top_up is False
    monkeypatch.setenv("TGCHECK_TOP_UP", "maybe")
    with pytest.raises(tgcheck.ConfigError, match="TGCHECK_TOP_UP"):
        Settings.from_env()
    monkeypatch.setenv("TGCHECK_TOP_UP", "0")
    monkeypatch.setenv("TGCHECK_MAX_STATUS_CALLS", "0")
    with pytest.raises(tgcheck.ConfigError, match="TGCHECK_MAX_STATUS_CALLS"):
        Settings.from_env()
    assert Settings().max_status_calls == 20 and Settings().min_task_size is None


@pytest.mark.parametrize("name, value", [("TGCHECK_CONNECT_BUDGET", "soon"),
                                         ("TGCHECK_CONNECT_BUDGET", "-1"),
                                         ("TGCHECK_PROGRESS_EVERY", "0")])
def test_connect_budget_and_progress_every_refuse_nonsense(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(tgcheck.ConfigError, match=name):
        tgcheck.Settings.from_env()


def test_connect_budget_and_progress_every_are_read(monkeypatch):
    monkeypatch.setenv("TGCHECK_CONNECT_BUDGET", "5")
    monkeypatch.setenv("TGCHECK_PROGRESS_EVERY", "30")
    settings = tgcheck.Settings.from_env()
    assert (settings.connect_budget, settings.progress_every) == (5.0, 30.0)
    assert tgcheck.Settings().connect_budget == 60.0 and tgcheck.Settings().progress_every == 60


def test_plain_http_only_for_loopback(tmp_path):
    with pytest.raises(tgcheck.ConfigError, match="https"):
        Settings(base_url="http://api.ekycpro.com", home=tmp_path)
    Settings(base_url="http://127.0.0.1:1", home=tmp_path)
    Settings(base_url="http://localhost:1", home=tmp_path)


# -- one registry: the table, its one reader, its bounds, its documentation ------------
REPO = Path(__file__).resolve().parents[2]


def test_the_dataclass_fields_are_the_tables_rows(tmp_path):
    """Settings has no second list: its fields, in order, and their defaults are CORE's."""
    fields = dataclasses.fields(Settings)
    assert [f.name for f in fields] == [s.name for s in CORE]
    for field, setting in zip(fields, CORE, strict=True):
        if setting.factory is None:
            assert field.default == setting.default, setting.name
        else:
            assert field.default_factory is setting.factory, setting.name
    assert Settings(home=tmp_path).timeout == 4 * 3600.0


@pytest.mark.parametrize(("variable", "value", "said"), [
    ("TGCHECK_TIMEOUT", "0", "TGCHECK_TIMEOUT must be a number above 0, not 0.0"),
    ("TGCHECK_POLL_MAX", "soon", "TGCHECK_POLL_MAX must be a number, not 'soon'"),
    ("TGCHECK_SYNC_MAX", "2.5", "TGCHECK_SYNC_MAX must be a whole number, not '2.5'"),
    ("TGCHECK_SYNC_MAX", "-1", "TGCHECK_SYNC_MAX must be a number of at least 0, not -1"),
    ("TGCHECK_SANDBOX", "maybe", "TGCHECK_SANDBOX must be 1 or 0, not 'maybe'"),
])
def test_a_bad_value_is_refused_naming_the_variable_and_the_range(monkeypatch, variable,
                                                                  value, said):
    monkeypatch.setenv(variable, value)
    with pytest.raises(tgcheck.ConfigError) as e:
        Settings.from_env()
    assert str(e.value) == said


def test_a_bad_value_is_a_settings_error_in_the_cli_exit_code_2(monkeypatch):
    from click.testing import CliRunner

    from tgcheck.cli import cli

    monkeypatch.setenv("TGCHECK_MAX_STATUS_CALLS", "0")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 2
    assert "TGCHECK_MAX_STATUS_CALLS must be a number of at least 1, not 0" in result.output


def test_bounds_hold_for_settings_made_in_python_too(tmp_path):
    with pytest.raises(tgcheck.ConfigError, match="max_parallel_tasks must be a number of at "
                                                  "least 1, not 0"):
        Settings(home=tmp_path, max_parallel_tasks=0)
    with pytest.raises(tgcheck.ConfigError, match="TGCHECK_POLL_MAX must be a number above 0"):
        Settings(home=tmp_path, poll_max=0)
    with pytest.raises(tgcheck.ConfigError, match="TGCHECK_TIMEOUT must be a number, not '60'"):
        Settings(home=tmp_path, timeout="60")


class _BoundedPlugin:
    @tgcheck.hookimpl
    def tgcheck_register_settings(self, register):
        register(tgcheck.Setting("echo_rows", "TGCHECK_ECHO_ROWS", 10, parse=int, at_least=1,
                                 help="rows per page"))
        register(tgcheck.Setting("echo_mode", "TGCHECK_ECHO_MODE", "fast",
                                 choices=("fast", "slow")))


@pytest.fixture
def bounded_plugin():
    plugins.pm.register(_BoundedPlugin(), "test-bounded")
    yield
    plugins.pm.unregister(name="test-bounded")


def test_a_plugins_settings_are_read_by_the_same_function_with_their_bounds(
        monkeypatch, bounded_plugin):
    assert Settings.from_env().option("echo_rows") == 10
    monkeypatch.setenv("TGCHECK_ECHO_ROWS", "25")
    monkeypatch.setenv("TGCHECK_ECHO_MODE", "slow")
    assert Settings.from_env().extra == {"echo_rows": 25, "echo_mode": "slow"}
    monkeypatch.setenv("TGCHECK_ECHO_ROWS", "0")
    with pytest.raises(tgcheck.ConfigError, match="TGCHECK_ECHO_ROWS must be a number of at "
                                                  "least 1, not 0"):
        Settings.from_env()
    monkeypatch.setenv("TGCHECK_ECHO_ROWS", "x")
    with pytest.raises(tgcheck.ConfigError, match="TGCHECK_ECHO_ROWS is not valid"):
        Settings.from_env()
    monkeypatch.setenv("TGCHECK_ECHO_ROWS", "3")
    monkeypatch.setenv("TGCHECK_ECHO_MODE", "medium")
    with pytest.raises(tgcheck.ConfigError, match="TGCHECK_ECHO_MODE must be one of fast, slow"):
        Settings.from_env()


def test_process_settings_come_from_the_same_table(monkeypatch):
    monkeypatch.delenv("TGCHECK_LOAD_PLUGINS")
    assert settings_registry.value("load_plugins") is None  # unset: every installed plugin
    monkeypatch.setenv("TGCHECK_LOAD_PLUGINS", "")
    assert settings_registry.value("load_plugins") == ()  # set but empty: none
    monkeypatch.setenv("TGCHECK_LOAD_PLUGINS", "a, b,")
    assert settings_registry.value("load_plugins") == ("a", "b")
    assert settings_registry.value("excel_wait") == 20
    monkeypatch.setenv("TGCHECK_EXCEL_WAIT", "later")
    with pytest.raises(tgcheck.ConfigError, match="TGCHECK_EXCEL_WAIT must be a number"):
        settings_registry.value("excel_wait")


def test_config_shows_every_setting_of_the_table_with_its_source(monkeypatch):
    from click.testing import CliRunner

    from tgcheck.cli import cli

    monkeypatch.setenv("TGCHECK_MAX_AGE_DAYS", "7")
    monkeypatch.setenv("TGCHECK_API_KEY", "k-not-shown")
    result = CliRunner().invoke(cli, ["config", "show"])
    assert result.exit_code == 0, result.output
    shown = {line.split()[0]: line for line in result.output.splitlines()
             if line.startswith("  TGCHECK_")}
    table = settings_registry.everything(plugin_settings.registered("ekycpro").values())
    assert set(shown) == {s.env for s in table if not s.secret}
    assert "TGCHECK_SYNC_URL" in shown  # the provider's own, from the same table
    assert shown["TGCHECK_MAX_AGE_DAYS"].split()[1:] == ["7", "(environment)"]
    assert shown["TGCHECK_TIMEOUT"].split()[1:] == ["14400", "(default)"]
    assert "k-not-shown" not in result.output


def _readme_settings_rows() -> dict[str, tuple[str, ...]]:
    """variable -> (its default cell, split like the variable cell) of README's table."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text.split("### Settings", 1)[1].split("\n\n", 2)[1]
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        variables = re.findall(r"`([A-Z_]+)`", cells[0])
        defaults = cells[-1].split(", ") if len(variables) > 1 else [cells[-1]]
        for i, variable in enumerate(variables):
            rows[variable] = defaults[i] if len(defaults) == len(variables) else cells[-1]
    return rows


def test_the_readme_settings_table_is_the_registry():
    """Every variable of the registry (core, process, the built-in provider's) has a
    row in README's settings table, every TGCHECK_* row is in the registry, and a
    number's default is the registry's."""
    rows = _readme_settings_rows()
    table = settings_registry.everything(plugin_settings.registered("ekycpro").values())
    variables = {s.env for s in table}
    assert variables - set(rows) == set()
    assert {v for v in rows if v.startswith("TGCHECK_")} - variables == set()
    for setting in table:
        if isinstance(setting.default, (int, float)) and not isinstance(setting.default, bool):
            assert rows[setting.env].startswith(f"{setting.default:g}"), setting.env


# Reading os.environ for a TGCHECK_* variable by hand, in any spelling.
_HAND_READ = re.compile(r"""(environ(\.get)?\s*[\[(]|getenv\s*\()\s*f?["']TGCHECK_""")


def test_no_module_reads_a_tgcheck_variable_by_hand():
    """The registry's read/value/is_set are the only readers: a variable read by
    hand escapes the table's bounds, errors, `tgcheck config` and the README test.
    (Other variables, PGPASSWORD, XLWINGS_*, proxies, are read where they are used.)"""
    offenders = []
    for folder in ("plugin", "sql", "udfs"):
        for path in (REPO / folder).rglob("*.py"):
            if path.name == "settings_registry.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _HAND_READ.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []
