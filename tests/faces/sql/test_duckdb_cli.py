"""`tgcheck sql`, invoked through click's test runner, and the progress reporter."""

from __future__ import annotations

import csv
import io
import json
import logging

import duckdb
import pytest
from click.testing import CliRunner

import tgcheck
from paths import EXAMPLES
from tgcheck_duckdb.cli import sql_command
from tgcheck_duckdb.progress import ProgressReporter


@pytest.fixture
def customers(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("id,phone\n1,+41790000031\n2,\n3,abc\n4,+41 79 000 00 31\n5,+41790000032\n")
    return path


def expected_by_id(sandbox):
    a, b = sandbox.expected("+41790000031"), sandbox.expected("+41790000032")
    return {"1": a, "2": None, "3": None, "4": a, "5": b}


def run(*args, input=None):
    return CliRunner().invoke(sql_command, list(args), input=input, catch_exceptions=False)


def test_query_prints_a_table(sandbox_env, customers):
    result = run(f"SELECT * FROM telegram_enrich('{customers}', 'phone')")
    assert result.exit_code == 0, result.output
    assert "telegram" in result.output and "+41790000031" in result.output
    assert sandbox_env.billed["create"] == 1


def test_csv_to_stdout_keeps_rows_in_order(sandbox_env, customers):
    result = run(f"SELECT * FROM telegram_enrich('{customers}', 'phone')", "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["id"] for r in rows] == ["1", "2", "3", "4", "5"]
    want = expected_by_id(sandbox_env)
    assert {r["id"]: (r["telegram"] or None) for r in rows} == want


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_output_file_by_extension(sandbox_env, customers, tmp_path, suffix):
    out = tmp_path / f"answers{suffix}"
    result = run(f"SELECT * FROM telegram_enrich('{customers}', 'phone')", "-o", str(out))
    assert result.exit_code == 0, result.output
    if suffix == ".json":
        rows = {str(r["id"]): r["telegram"] for r in json.loads(out.read_text())}
    else:
        source = f"read_csv('{out}', all_varchar = true)" if suffix == ".csv" else f"'{out}'"
        rows = {str(i): t for i, t in duckdb.sql(f"SELECT id, telegram FROM {source}").fetchall()}
    assert rows == expected_by_id(sandbox_env)
    assert sandbox_env.billed["create"] == 1


def test_unknown_output_extension_is_a_usage_error(tmp_path):
    result = run("SELECT 1", "-o", str(tmp_path / "x.xlsx"))
    assert result.exit_code == 2
    assert ".xlsx" in result.output


def test_sql_errors_exit_1_with_the_message(sandbox_env):
    result = run("SELECT * FROM no_such_table")
    assert result.exit_code == 1
    assert "no_such_table" in result.output


def test_repl_reads_statements_from_stdin(sandbox_env):
    script = ("CREATE TABLE t AS SELECT '+41790000033' AS phone;\n"
              "SELECT telegram FROM telegram_enrich('t',\n 'phone');\n"
              "SELECT * FROM nowhere;\n"
              "SELECT tg_normalize('+41 79 828 46 51') AS n;\n")
    result = run("--csv", input=script)
    assert result.exit_code == 0, result.output
    assert f"telegram\n{sandbox_env.expected('+41790000033') or ''}\n" in result.stdout
    assert "n\n+41798284651\n" in result.stdout
    assert "nowhere" in result.stderr  # the error is shown and the REPL goes on


def test_bail_stops_a_script_at_its_first_failing_statement(sandbox_env):
    script = ("SELECT 1 AS first;\n"
              "SELECT * FROM nowhere;\n"
              "SELECT 3 AS third;\n")
    result = run("--csv", "--bail", input=script)
    assert result.exit_code == 1
    assert "first\n1\n" in result.stdout
    assert "nowhere" in result.stderr
    assert "third" not in result.stdout


def test_sandbox_flag_needs_no_key(tmp_path):
    result = run("--sandbox", "--csv",
                 "SELECT number, status FROM telegram_check(['+41790000034'])")
    assert result.exit_code == 0, result.output
    assert "SIMULATED" in result.stderr
    assert "+41790000034" in result.stdout


def test_examples_run(sandbox_env, monkeypatch):
    monkeypatch.chdir(EXAMPLES.parent)
    for sql_file in sorted(EXAMPLES.glob("*.sql")):
        result = run("--csv", "--", sql_file.read_text())  # "--": the SQL starts with "--"
        assert result.exit_code == 0, (sql_file.name, result.output)
        assert len(result.stdout.splitlines()) > 1, sql_file.name
    assert sandbox_env.billed["create"] >= 1


# -- the progress reporter ----------------------------------------------------------

def event(kind, **fields):
    return tgcheck.JobEvent(kind=kind, job_key="k" * 64, task_type="tg", numbers=20_000,
                            **fields)


def test_interactive_progress_is_one_live_line():
    stream = io.StringIO()
    reporter = ProgressReporter(stream, interactive=True)
    reporter(event("submitted", task_id="t1", status="pending"))
    reporter(event("progress", task_id="t1", status="processing", total=20_000,
                   processed=6_724, status_calls=3))
    reporter.finish()
    text = stream.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert "6,724/20,000 (34%)" in text and "3 status calls" in text


def test_unattended_progress_goes_to_the_log(caplog):
    stream = io.StringIO()
    reporter = ProgressReporter(stream, interactive=False)
    with caplog.at_level(logging.INFO, logger="tgcheck.duckdb"):
        reporter(event("submitted", task_id="t1"))
        reporter(event("progress", task_id="t1", total=10, processed=5))  # throttled
        reporter(event("done", task_id="t1", total=10, processed=10))
        reporter.finish()
    assert stream.getvalue() == ""
    messages = [r.getMessage() for r in caplog.records if r.name == "tgcheck.duckdb"]
    assert [m.split(":")[0] for m in messages] == ["submitted", "done"]


def test_progress_of_a_split_check_sums_its_tasks():
    # Above the provider's maximum a check becomes several tasks whose events
    # interleave; the line must show the check, not whichever task spoke last.
    def task(key, kind, **fields):
        return tgcheck.JobEvent(kind=kind, job_key=key * 64, task_type="tg",
                                numbers=100_000, **fields)

    stream = io.StringIO()
    reporter = ProgressReporter(stream, interactive=True)
    reporter(task("a", "progress", task_id="ta", status="processing", total=100_000,
                  processed=60_000, status_calls=4))
    reporter(task("b", "progress", task_id="tb", status="processing", total=100_000,
                  processed=20_000, status_calls=2))
    last = stream.getvalue().rsplit("\r", 1)[-1]
    assert "200,000 numbers" in last and "2 tasks" in last
    assert "80,000/200,000 (40%)" in last and "6 status calls" in last
    assert "tb" not in last  # one task's id and status would mislead
    reporter(task("a", "done", task_id="ta", status="completed", total=100_000,
                  processed=100_001, status_calls=5))
    last = stream.getvalue().rsplit("\r", 1)[-1]
    assert "120,000/200,000 (60%)" in last and "7 status calls" in last
    reporter.finish()


def test_statements_from_stdin_exit_by_the_one_rule(tmp_path, monkeypatch):
    # No API key: exit 2 from stdin (with --bail, or the last statement without
    # ";"), as when the statement is an argument; a plain SQL error stays 1.
    monkeypatch.setenv("TGCHECK_HOME", str(tmp_path))
    query = "SELECT * FROM telegram_check(['+41790000034'])"
    assert run(query).exit_code == 2
    assert run("--bail", input=query + ";\n").exit_code == 2
    assert run(input=query + "\n").exit_code == 2
    assert run(input="SELECT * FROM nowhere").exit_code == 1


# -- formulas in CSV output (issue 20 item 8) ---------------------------------------------

@pytest.fixture
def formula_table(tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text('note,phone\n"=HYPERLINK(""http://evil.example"",""x"")",+41790000031\n'
                    '@SUM(A1),+41 79 000 00 32\n"+cmd|\' /C calc\'!A0",\n-5,-1.5e3\n')
    return path


FORMULA_NOTES = ['=HYPERLINK("http://evil.example","x")', "@SUM(A1)", "+cmd|' /C calc'!A0",
                 "-5"]


def _notes_and_phones(text: str) -> tuple[list, list]:
    rows = list(csv.DictReader(io.StringIO(text)))
    return [r["note"] for r in rows], [r["phone"] for r in rows]


def test_sql_csv_output_neutralises_formulas_but_not_numbers(sandbox_env, formula_table,
                                                              tmp_path):
    query = f"SELECT * FROM read_csv('{formula_table}', all_varchar = true)"
    quoted = ["'" + n for n in FORMULA_NOTES[:3]] + ["-5"]
    phones = ["+41790000031", "+41 79 000 00 32", "", "-1.5e3"]
    shown = run(query, "--csv")
    assert shown.exit_code == 0, shown.output
    assert _notes_and_phones(shown.stdout) == (quoted, phones)
    out = tmp_path / "o.csv"
    written = run(query, "-o", str(out))
    assert written.exit_code == 0, written.output
    assert _notes_and_phones(out.read_text()) == (quoted, phones)
    # --raw-csv: as they came, on stdout and in a file.
    assert _notes_and_phones(run(query, "--csv", "--raw-csv").stdout) == (FORMULA_NOTES, phones)
    assert run(query, "-o", str(out), "--raw-csv").exit_code == 0
    assert _notes_and_phones(out.read_text()) == (FORMULA_NOTES, phones)


def test_sql_csv_output_keeps_other_types_and_streams_large_results(sandbox_env, tmp_path):
    out = tmp_path / "big.csv"
    query = ("SELECT range AS n, '=' || range AS f, range * 1.5 AS x, NULL::VARCHAR AS e "
             "FROM range(150000)")
    assert run(query, "-o", str(out)).exit_code == 0
    got = duckdb.connect().execute(
        f"SELECT count(*), min(n), max(f), sum(x), count(e) FROM read_csv('{out}')").fetchone()
    assert got == (150000, 0, "'=99999", sum(i * 1.5 for i in range(150000)), 0)
