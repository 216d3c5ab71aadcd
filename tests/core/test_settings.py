"""Settings: read from arguments and the environment, refused when they would pay
again, never wait, or carry a key that cannot travel in a header."""

from __future__ import annotations

import pytest

import tgcheck
from tgcheck import Settings


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
