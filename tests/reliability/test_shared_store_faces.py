"""Every face on one shared PostgreSQL store: what one face paid for, every other face
gets without a call, and each face's own check creates one task that the others see.

Each face runs as another analyst would: its own TGCHECK_HOME (its own machine),
TGCHECK_STORE_URL naming the one database. The faces run in a chain: each checks
the numbers the face before it paid for (no call may reach the provider) and a set
of its own (exactly one create), which the next face then reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import numbers
from paths import ROOT
from team_db import skip_without_postgres

pytestmark = skip_without_postgres

duckdb = pytest.importorskip("duckdb")
pytest.importorskip("xlwings")

SERVER_DRIVER = ROOT / "tests" / "faces" / "excel" / "excel_server_driver.py"


def face_cli(values: list[str], tmp_path) -> dict:
    from tgcheck.cli import cli

    source = tmp_path / "in.txt"
    source.write_text("\n".join(values) + "\n")
    done = CliRunner().invoke(cli, ["check", str(source), "-f", "json", "--progress", "none"])
    assert done.exit_code == 0, done.output
    rows = [json.loads(line) for line in done.stdout.splitlines()]  # JSON lines
    return {row["number"]: row["telegram"] for row in rows}


def face_python(values: list[str], tmp_path) -> dict:
    import tgcheck

    return {a.number: a.value for a in tgcheck.check(values)}


def face_duckdb(values: list[str], tmp_path) -> dict:
    import tgcheck_duckdb

    con = tgcheck_duckdb.register(duckdb.connect())
    try:
        return dict(con.execute("SELECT number, telegram FROM telegram_check(?)",
                                [values]).fetchall())
    finally:
        con.close()


class CellError(Exception):
    """What Excel shows when a check fails: one cell with the error's text."""


def excel_answers(values: list[str], cells: list[list]) -> dict:
    if len(cells) == 1 < len(values):
        raise CellError(cells[0][0])
    return {n: row[0] for n, row in zip(values, cells, strict=True)}


def face_excel_classic(values: list[str], tmp_path) -> dict:
    import tgcheck_udfs

    return excel_answers(values, tgcheck_udfs.tg_check([[float(n[1:])] for n in values]))


def face_excel_server(values: list[str], tmp_path) -> dict:
    env = dict(os.environ, XLWINGS_ON_SERVER="true", XLWINGS_LICENSE_KEY="noncommercial")
    grid = [[int(n[1:])] for n in values]
    done = subprocess.run([sys.executable, str(SERVER_DRIVER), "call", json.dumps([grid, None])],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return excel_answers(values, json.loads(done.stdout.strip().splitlines()[-1])["result"])


FACES = [face_cli, face_python, face_duckdb, face_excel_classic, face_excel_server]


def test_every_face_reads_and_writes_the_shared_store(postgres_url, sandbox_env, monkeypatch,
                                                      tmp_path):
    sb = sandbox_env
    sb.omit_rate = 0.0  # every number answered: the faces spell "unknown" each their own way
    monkeypatch.setenv("TGCHECK_STORE_URL", postgres_url)

    def expected(values):
        return {n: sb.expected(n) for n in values}

    before: list[str] = []
    for i, face in enumerate(FACES):
        # Another analyst, another machine: only the database is common.
        monkeypatch.setenv("TGCHECK_HOME", str(tmp_path / f"analyst-{i}"))
        if before:
            calls = sum(sb.calls.values())
            got = face(before, tmp_path)
            assert got == expected(before), face.__name__
            assert sum(sb.calls.values()) == calls, f"{face.__name__} called the provider"
        own = numbers(30, start=1000 * (i + 1))
        creates = sb.creates
        got = face(own, tmp_path)
        assert got == expected(own), face.__name__
        assert sb.creates == creates + 1, face.__name__
        before = own
        # Nothing went to a private SQLite store on this "machine".
        assert not list((tmp_path / f"analyst-{i}").glob("*.sqlite3")), face.__name__
    assert sb.creates == len(FACES)


def test_every_face_stops_before_any_call_when_the_store_cannot_be_reached(
        sandbox_env, monkeypatch, tmp_path):
    import socket

    import tgcheck

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.setenv("TGCHECK_STORE_URL", f"postgresql://erin:n0t-shown-pw@127.0.0.1:{port}/tg")
    values = numbers(5, start=777)
    for face in FACES:
        with pytest.raises((AssertionError, tgcheck.StoreUnreachable, duckdb.Error,
                            CellError)) as failed:
            face(values, tmp_path)
        text = str(failed.value)
        assert "cannot be reached" in text, (face.__name__, text[-500:])
        assert "erin:***@127.0.0.1" in text, face.__name__
        assert "n0t-shown-pw" not in text, face.__name__
    assert sum(sandbox_env.calls.values()) == 0  # nothing sent, nothing billed
    assert not list((tmp_path / "home").glob("*.sqlite3"))  # no private fall-back store
