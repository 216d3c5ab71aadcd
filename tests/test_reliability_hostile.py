"""Hostile or broken vendor replies (issue 12), against a misbehaving server on
127.0.0.1 (tests/hostile.py): the key echoed back through every reply field,
replies that drip or never end, bombs, result URLs aimed at private hosts,
orphaned paid tasks, and store errors told apart."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hostile import HostileServer, record, reply

from conftest import numbers
from tgcheck.cli import cli

# Mixed case: status words are stored lowercased, and must be masked in any case.
KEY = "sk-Hostile-Key-0451BEEF"
VARIANTS = (KEY, KEY.lower(), KEY.upper())


def _echo(h, code=200, ctype="application/json", **fields):
    reply(h, code, record(**fields), ctype)


# Each case answers one endpoint with the key in another field of the reply.
ECHOES = {
    "failed message with escapes": dict(status=lambda h: _echo(
        h, status="failed", message=f"\x1b[31mkey {KEY} refused\x1b[0m\t\r\n")),
    "status word": dict(status=lambda h: _echo(h, status=f"Pending {KEY}")),
    "created_at and message": dict(status=lambda h: _echo(
        h, status="processing", created_at=KEY, message=KEY.lower())),
    "html page with 200": dict(status=lambda h: reply(
        h, 200, f"<html><body>maintenance {KEY}</body></html>", "text/html")),
    "json list": dict(status=lambda h: reply(h, 200, [KEY, {"task_id": KEY}])),
    "task id": dict(create=lambda h: reply(h, 200, {"task_id": KEY, "status": "pending"})),
    "task id with a tab": dict(create=lambda h: reply(
        h, 200, {"task_id": f"t\t{KEY}", "status": "pending"})),
    "400 body": dict(create=lambda h: reply(h, 400, {"message": f"bad key {KEY}"})),
    "400 html": dict(create=lambda h: reply(h, 400, f"<p>{KEY}</p>", "text/html")),
    "bad count": dict(status=lambda h: _echo(h, status="processing", total=f"{KEY}")),
    "result url": dict(status=lambda h: _echo(
        h, status="exported", result_url=f"https://{KEY}.example.com/r.csv?k={KEY}")),
    "result file values": dict(
        status=lambda h: _echo(h, status="exported",
                               result_url=h.server_url + "/r.csv"),
        files=lambda h: reply(h, 200, f"number,telegram\n+41790000000,{KEY}\n", "text/csv")),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", list(ECHOES))
def test_the_key_echoed_back_reaches_no_file_output_or_stream(case, tmp_path, monkeypatch,
                                                              caplog):
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "home"
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(numbers(3)) + "\n")
    behaviour = dict(ECHOES[case])
    with HostileServer(**behaviour) as server:
        monkeypatch.setenv("TGCHECK_API_KEY", KEY)
        monkeypatch.setenv("TGCHECK_BASE_URL", server.url)
        monkeypatch.setenv("TGCHECK_HOME", str(home))
        monkeypatch.setenv("TGCHECK_POLL_MIN", "0.01")
        monkeypatch.setenv("TGCHECK_POLL_MAX", "0.05")
        monkeypatch.setenv("TGCHECK_RETRY_BASE", "0.01")
        monkeypatch.setenv("TGCHECK_TIMEOUT", "2")
        runner = CliRunner()
        outputs = []
        for args in (["check", str(listing), "--progress", "json"],
                     ["check", str(listing), "--progress", "plain", "--resubmit", "--debug"],
                     ["jobs", "--all"], ["jobs", "--all", "--json"],
                     ["status", "t1"], ["status", "t1", "--json", "--debug"], ["resume"]):
            result = runner.invoke(cli, args, prog_name="tgcheck")
            outputs += [result.stdout, result.stderr, repr(result.exception)]
        outputs.append(caplog.text)
    assert server.calls["create"] >= 1
    files = [Path(root, name) for root, _, names in os.walk(home) for name in names]
    assert files  # the store was written: the search below looked at something
    for f in files:
        blob = f.read_bytes()
        for variant in VARIANTS:
            assert variant.encode() not in blob, (case, f)
    for text in outputs:
        for variant in VARIANTS:
            assert variant not in text, (case, text)
        assert "\x1b" not in text, (case, text)
    # `tgcheck jobs` stays a table: as many tab-separated cells on every line.
    table = [line for line in outputs[8].splitlines() if line]
    assert len({line.count("\t") for line in table}) == 1, table
