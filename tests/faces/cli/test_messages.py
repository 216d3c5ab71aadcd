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
