"""tgcheck.simulated: the one `--sandbox` start-up of the CLI and `tgcheck sql`."""

from __future__ import annotations

import httpx
import pytest
from click.testing import CliRunner

from tgcheck.simulated import SIMULATED_BANNER, simulated_settings


def test_a_sandbox_for_one_run(monkeypatch, tmp_path):
    monkeypatch.setenv("TGCHECK_HOME", str(tmp_path))
    monkeypatch.delenv("TGCHECK_POLL_MIN", raising=False)
    said: list[str] = []
    with simulated_settings(said.append, timeout=30) as settings:
        assert said == [SIMULATED_BANNER]
        assert settings.simulated and settings.sandbox and settings.timeout == 30
        assert (settings.poll_min, settings.poll_max) == (0.2, 2.0)
        url = settings.base_url
        httpx.get(url + "/v1/balance", timeout=5)  # it answers (whatever the status)
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/v1/balance", timeout=5)  # stopped with the block


def test_both_faces_say_the_same_banner(monkeypatch, tmp_path):
    monkeypatch.setenv("TGCHECK_HOME", str(tmp_path))
    from tgcheck.cli import cli
    from tgcheck_duckdb.cli import sql_command

    sql = CliRunner().invoke(sql_command, ["--sandbox", "SELECT 1"])
    check = CliRunner().invoke(cli, ["status", "nope", "--sandbox"])
    assert sql.exit_code == 0, sql.output
    assert SIMULATED_BANNER in sql.stderr
    # `status` is quiet about it (its output is the record), `check` is not:
    listing = tmp_path / "n.txt"
    listing.write_text("+41798284651\n")
    checked = CliRunner().invoke(cli, ["check", str(listing), "--sandbox"])
    assert checked.exit_code == 0, checked.output
    assert SIMULATED_BANNER in checked.stderr
    assert SIMULATED_BANNER not in check.stderr
