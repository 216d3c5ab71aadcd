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


def server_env() -> dict:
    return dict(os.environ, XLWINGS_ON_SERVER="true", XLWINGS_LICENSE_KEY="noncommercial")


def run_server_driver(scenario: str, args: list) -> dict:
    """One xlwings Server worker process (tests/faces/excel/excel_server_driver.py)."""
    done = subprocess.run([sys.executable, str(SERVER_DRIVER), scenario, json.dumps(args)],
                          env=server_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def face_excel_server(values: list[str], tmp_path) -> dict:
    grid = [[int(n[1:])] for n in values]
    return excel_answers(values, run_server_driver("call", [grid, None])["result"])


FACES = [face_cli, face_python, face_duckdb, face_excel_classic, face_excel_server]


@pytest.mark.slow
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


@pytest.mark.slow
def test_xlwings_server_workers_share_ranges_and_the_store(postgres_url, sandbox_env,
                                                          monkeypatch, tmp_path):
    """Two workers of one server (one TGCHECK_HOME, docs/team.md): TG_SUBMIT on one,
    TG_WATCH on the other, one task; a server on another machine then answers the
    same range from the shared store without a call."""
    sb = sandbox_env
    sb.omit_rate = 0.0
    monkeypatch.setenv("TGCHECK_STORE_URL", postgres_url)
    monkeypatch.setenv("TGCHECK_HOME", str(tmp_path / "server"))
    values = numbers(40, start=4242)
    grid = [[int(n[1:])] for n in values]
    sb.speed = 20  # the task runs for about two seconds: the second worker joins it in flight
    first = subprocess.Popen([sys.executable, str(SERVER_DRIVER), "submit_serve",
                              json.dumps([grid, None])], env=server_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    key = json.loads(first.stdout.readline())["key"]
    assert str(key[0][0]).startswith("tgjob-")
    watched = run_server_driver("watch", [key])
    # stdout.read() first: communicate() reads the pipe itself and misses what the
    # readline() above buffered past the key line (as in test_shared_store_hosts.py).
    out = first.stdout.read()
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err[-3000:]
    answers = [[sb.expected(n)] for n in values]
    assert watched["final"] == answers
    assert json.loads(out.strip().splitlines()[-1])["result"] == answers
    assert sb.creates == 1
    sb.speed = 5000
    monkeypatch.setenv("TGCHECK_HOME", str(tmp_path / "other-server"))
    calls = sum(sb.calls.values())
    assert face_excel_server(values, tmp_path) == {n: sb.expected(n) for n in values}
    assert sum(sb.calls.values()) == calls


def test_the_excel_job_key_names_the_store_without_its_password(tmp_path):
    from tgcheck import Settings
    from tgcheck_udfs.background import range_check_key

    def key(url):
        return range_check_key(["+41790000001"], None, Settings(home=tmp_path, store_url=url))

    assert key("postgresql://a:pw-one-111@db/x") == key("postgresql://a:pw-two-222@db/x")
    assert key("postgresql://a@db/x") != key("postgresql://a@db/y") != key(None)
