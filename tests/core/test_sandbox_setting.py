"""Whether answers are simulated is a setting, never a guess from the URL (issue 22):
a loopback base URL may be a local relay, an SSH tunnel or a stand-in for the real
vendor, so its answers are real and go to the real store, unless --sandbox (an
embedded sandbox) or TGCHECK_SANDBOX=1 says the server is a sandbox."""

from __future__ import annotations

import pytest

import tgcheck
from conftest import child_env, numbers
from processes import run
from tgcheck import Settings


def test_a_loopback_url_alone_is_a_real_server(tmp_path):
    relay = Settings(api_key="k", base_url="http://127.0.0.1:9", home=tmp_path)
    assert not relay.simulated and relay.store_path.name == "tgcheck.sqlite3"
    sandbox = Settings(api_key="k", base_url="http://127.0.0.1:9", home=tmp_path,
                       simulated=True)
    assert sandbox.simulated and sandbox.store_path.name == "tgcheck-sandbox.sqlite3"
    # The built-in sandbox of a run (--sandbox) is simulated whatever is passed.
    assert Settings(api_key="k", base_url="http://127.0.0.1:9", sandbox=True).simulated


@pytest.mark.parametrize("value, simulated", [("1", True), ("yes", True), ("0", False),
                                              ("", False)])
def test_tgcheck_sandbox_says_the_base_url_is_a_sandbox(monkeypatch, value, simulated):
    monkeypatch.setenv("TGCHECK_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TGCHECK_SANDBOX", value)
    assert Settings.from_env(api_key="k").simulated is simulated


def test_a_wrong_tgcheck_sandbox_is_refused(monkeypatch):
    monkeypatch.setenv("TGCHECK_SANDBOX", "maybe")
    with pytest.raises(tgcheck.ConfigError, match="TGCHECK_SANDBOX must be 1 or 0"):
        Settings.from_env(api_key="k")


def test_a_stand_in_on_loopback_answers_into_the_real_store_unlabelled(sandbox, tmp_path):
    """The server on 127.0.0.1 stands in for the vendor (as a relay or tunnel would):
    without TGCHECK_SANDBOX its answers are real ones, in the real store; with it,
    they stay in the sandbox's store. The two never mix."""
    home = tmp_path / "home"
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(numbers(5, start=600)) + "\n")
    relay_env = {k: v for k, v in child_env(sandbox, home).items() if k != "TGCHECK_SANDBOX"}
    real = run("check", str(listing), "--progress", "plain", env=relay_env)
    assert real.returncode == 0, real.stderr
    assert "simulated" not in real.stderr.lower()
    assert (home / "tgcheck.sqlite3").exists()
    assert not (home / "tgcheck-sandbox.sqlite3").exists()

    simulated = run("check", str(listing), "--progress", "plain", env=child_env(sandbox, home))
    assert simulated.returncode == 0, simulated.stderr
    assert "[simulated]" in simulated.stderr  # asked again: the real answers are not served
    assert (home / "tgcheck-sandbox.sqlite3").exists()
    assert sandbox.creates == 2
