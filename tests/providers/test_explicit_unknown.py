"""An explicit unknown (the vendor's record says it cannot tell) reaches users as
such, distinct from a number the results left out (issue 21): its reason is
`answered_unknown`, stored so a re-run says the same without a call, and retried
as any unknown is. Through the JSON batch test provider, whose stand-in answers a
number ending in 0 with `"registered": null` and can leave numbers out."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner
from json_batch_provider import JsonBatchPlugin
from json_batch_server import KEY, JsonBatchServer

import tgcheck
from tgcheck import plugins
from tgcheck.answer_column import ANSWERED_UNKNOWN
from tgcheck.cli import cli
from tgcheck.models import OK, UNKNOWN
from tgcheck.reasons import code_of

NAME = "test-jsonbatch-unknown"
SAID_UNKNOWN = "+41790000010"  # ends in 0: answered null
LEFT_OUT = "+41790000013"  # no record at all
YES, NO = "+41790000012", "+41790000011"
NUMBERS = [SAID_UNKNOWN, LEFT_OUT, YES, NO]


@pytest.fixture
def jsonbatch():
    plugins.pm.register(JsonBatchPlugin(), NAME)
    yield
    plugins.pm.unregister(name=NAME)


def _settings(server, tmp_path, **changes):
    return tgcheck.Settings(provider="jsonbatch", api_key=KEY, base_url=server.url,
                            home=tmp_path / "home", poll_min=0.02, poll_max=0.1, **changes)


def _engine(server, tmp_path, **changes):
    return tgcheck.Engine(_settings(server, tmp_path, **changes))


def _outcomes(answers):
    return [(a.number, a.value, a.status, code_of(a.reason)) for a in answers]


EXPECTED = [(SAID_UNKNOWN, None, UNKNOWN, "answered_unknown"),
            (LEFT_OUT, None, UNKNOWN, "left_out"),
            (YES, "yes", OK, None), (NO, "no", OK, None)]


def test_python_tells_an_explicit_unknown_from_a_number_left_out(jsonbatch, tmp_path):
    with JsonBatchServer(leave_out=frozenset({LEFT_OUT})) as server:
        engine = _engine(server, tmp_path)
        try:
            first = engine.check(NUMBERS)
            calls = sum(server.calls.values())
            again = engine.check(NUMBERS)  # stored: the same answers, no call
            assert sum(server.calls.values()) == calls
            stored = engine.store.stored("tg", NUMBERS)
            column = engine.check_column(NUMBERS)
        finally:
            engine.close()
    assert _outcomes(first) == EXPECTED
    assert _outcomes(again) == EXPECTED
    # The store keeps its columns: an explicit unknown is status unknown with
    # ANSWERED_UNKNOWN as its value; a number left out has no value.
    assert stored[SAID_UNKNOWN] == (ANSWERED_UNKNOWN, UNKNOWN)
    assert stored[LEFT_OUT] == (None, UNKNOWN)
    assert [code_of(r) for r in column.reasons()] == [e[3] for e in EXPECTED]
    assert column.values() == [e[1] for e in EXPECTED]


@pytest.mark.parametrize("how", ["retry_unknown", "unknown_retry_hours"])
def test_an_explicit_unknown_is_retried_as_any_unknown(jsonbatch, tmp_path, how):
    with JsonBatchServer(leave_out=frozenset({LEFT_OUT})) as server:
        engine = _engine(server, tmp_path)
        try:
            engine.check(NUMBERS)
            engine.check(NUMBERS)  # within TGCHECK_UNKNOWN_RETRY_HOURS: nothing sent
            assert server.billed == {"create": 1}
            # Answered a day ago: past 12 hours, not past the default 24.
            engine.store.db.execute("UPDATE answers SET checked_at = checked_at - 86400")
        finally:
            engine.close()
        engine = _engine(server, tmp_path,
                         **({"unknown_retry_hours": 12} if how != "retry_unknown" else {}))
        try:
            answers = engine.check(NUMBERS, retry_unknown=how == "retry_unknown")
        finally:
            engine.close()
        # Both unknowns, and only they, go into a new batch.
        assert sorted(map(sorted, server.batches.values()), key=len)[0] == \
            sorted([SAID_UNKNOWN, LEFT_OUT])
    assert server.billed == {"create": 2}
    assert _outcomes(answers) == EXPECTED


def test_the_cli_says_answered_unknown_and_left_out_apart(jsonbatch, tmp_path, monkeypatch):
    (tmp_path / "in.txt").write_text("\n".join(NUMBERS) + "\n")
    args = ["check", str(tmp_path / "in.txt"), "--provider", "jsonbatch", "--progress",
            "none"]
    for name, value in (("HOME", str(tmp_path / "home")), ("POLL_MIN", "0.02"),
                        ("API_KEY", KEY)):
        monkeypatch.setenv(f"TGCHECK_{name}", value)
    with JsonBatchServer(leave_out=frozenset({LEFT_OUT})) as server:
        monkeypatch.setenv("TGCHECK_BASE_URL", server.url)
        done = CliRunner().invoke(cli, args)
        calls = sum(server.calls.values())
        again = CliRunner().invoke(cli, args)
        assert sum(server.calls.values()) == calls  # a re-run: no call
    for result in (done, again):
        assert result.exit_code == 0, result.output
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert [(r["number"], r["telegram"] or None, r["status"], code_of(r["reason"] or None))
                for r in rows] == EXPECTED


def test_sql_and_excel_say_them_apart_too(jsonbatch, tmp_path, monkeypatch):
    import duckdb

    import tgcheck_duckdb
    from tgcheck_udfs.checking import check_range

    with JsonBatchServer(leave_out=frozenset({LEFT_OUT})) as server:
        for name, value in (("HOME", str(tmp_path / "home")), ("POLL_MIN", "0.02"),
                            ("API_KEY", KEY), ("PROVIDER", "jsonbatch"),
                            ("BASE_URL", server.url)):
            monkeypatch.setenv(f"TGCHECK_{name}", value)
        cells = check_range([[n] for n in NUMBERS], None, True)
        calls = sum(server.calls.values())
        con = tgcheck_duckdb.register(duckdb.connect(), _settings(server, tmp_path))
        rows = con.execute("SELECT number, telegram, status, reason FROM telegram_check(?)",
                           [NUMBERS]).fetchall()
        assert sum(server.calls.values()) == calls  # stored by Excel's check: no call
    assert [(text, code_of(reason or None)) for text, reason in cells] == [
        ("unknown", "answered_unknown"), ("unknown", "left_out"), ("yes", None),
        ("no", None)]
    assert sorted((n, v, s, code_of(r)) for n, v, s, r in rows) == sorted(EXPECTED)
