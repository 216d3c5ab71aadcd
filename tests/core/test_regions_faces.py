"""Issue 22 items 1-2 and issue 20's negatives on every face: the CLI (--region,
--region-column, --dry-run), DuckDB (a DOUBLE/BIGINT column and a region column) and
Excel's TG_CHECK with a regions range read numbers as tgcheck.normalize does."""

from __future__ import annotations

import csv
import json

import pytest

from paths import DATA
from processes import cli_env, rows, run


def no_key(env: dict) -> dict:
    """A dry run needs no key: without one, nothing could be sent."""
    return {k: v for k, v in env.items() if k not in ("TGCHECK_API_KEY", "TGCHECK_BASE_URL")}


@pytest.fixture
def env(sandbox, tmp_path):
    return cli_env(sandbox, tmp_path)


def test_cli_dry_run_shows_the_ambiguous_rows_and_the_check_sends_the_right_number(
        env, sandbox, tmp_path):
    # The issue's own example: printf '4915123456789\n62812345678\n' > de.txt
    src = tmp_path / "de.txt"
    src.write_text("4915123456789\n62812345678\n")
    dry = run("check", str(src), "--region", "DE", "--dry-run", "-f", "json",
              env=no_key(env))
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["reasons"] == {
        "ambiguous": {"count": 2, "examples": ["4915123456789", "62812345678"]}}
    assert sandbox.creates == 0
    done = run("check", str(src), "--region", "DE", env=env)
    assert done.returncode == 0, done.stderr
    got = rows(done.stdout)
    assert [r["number"] for r in got] == ["+4915123456789", "+4962812345678"]
    assert all(r["reason"].startswith("ambiguous: ") for r in got)
    assert {n for t in sandbox.tasks.values() for n in t.numbers} == {
        "+4915123456789", "+4962812345678"}


def test_cli_region_column_in_other_languages_and_international_numbers(env, tmp_path):
    src = tmp_path / "crm.csv"
    src.write_text("phone,country\n"
                   "+55 11 96123-4243,Brasil\n"          # Brazil in Portuguese
                   "+55 11 96123-4244,Narnia\n"          # no such region, not needed
                   "030 123456,Deutschland\n"
                   "6281234567890,Indonesia\n"           # a dropped +, own code
                   "-41797000001,CH\n", encoding="utf-8")
    result = run("check", str(src), "--column", "phone", "--region-column", "country",
                 env=env)
    assert result.returncode == 0, result.stderr
    got = rows(result.stdout)
    assert [r["number"] for r in got] == ["+5511961234243", "+5511961234244",
                                          "+4930123456", "+6281234567890", ""]
    assert got[0]["reason"] in ("", "left_out: left out of the result file")
    assert got[1]["reason"].startswith("region_ignored: region 'Narnia' names no region")
    assert (got[4]["status"], got[4]["reason"]) == ("invalid",
                                                   "not_a_number: a negative number")


def test_duckdb_numbers_whose_plus_was_dropped_and_negatives(settings, sandbox):
    duckdb = pytest.importorskip("duckdb")
    import tgcheck_duckdb

    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    con.execute("""CREATE TABLE t AS SELECT * FROM (VALUES
        (4915123456789::DOUBLE, 'Deutschland'), (62812345678::DOUBLE, 'ID'),
        (-41797000001::DOUBLE, 'CH'), (41798284651::DOUBLE, 'Schweiz')) v(phone, country)""")
    got = {r[0]: r[1:] for r in con.execute(
        """SELECT input, number, status, reason FROM telegram_check('t', 'phone',
                                                                   region_column := 'country')"""
    ).fetchall()}
    assert got[4915123456789.0][0] == "+4915123456789"
    assert got[4915123456789.0][2].startswith("ambiguous: read as +4915123456789")
    assert got[62812345678.0][0] == "+62812345678"
    assert got[-41797000001.0] == (None, "invalid", "not_a_number: a negative number")
    assert got[41798284651.0][:2] == ("+41798284651", "ok")
    con.execute("CREATE TABLE b AS SELECT -41797000001::BIGINT AS phone")
    assert con.execute("SELECT number, status, reason FROM telegram_check('b', 'phone')"
                       ).fetchall() == [(None, "invalid", "not_a_number: a negative number")]
    con.close()


def test_excel_regions_range_reads_a_dropped_plus_and_refuses_negatives(sandbox_env):
    import tgcheck_udfs

    block = [[4915123456789.0], [-41797000001.0], ["+55 11 96123-4243"]]
    regions = [["DE"], [None], ["Brasil"]]
    spilled = tgcheck_udfs.tg_check(block, regions, True)
    assert spilled[0][1].startswith("ambiguous: read as +4915123456789")
    assert spilled[1] == ["invalid", "not_a_number: a negative number"]
    assert spilled[2][1] in ("", "left_out: left out of the result file")
    sent = {n for t in sandbox_env.tasks.values() for n in t.numbers}
    assert sent == {"+4915123456789", "+5511961234243"}


DROPPED_PLUS = DATA / "dropped_plus.csv"


def _dropped_plus_rows() -> list[dict]:
    with DROPPED_PLUS.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_the_dropped_plus_corpus_reads_as_expected_in_process():
    from tgcheck.normalize import resolve_all

    rows = _dropped_plus_rows()
    got = resolve_all([r["phone"] for r in rows], [r["country"] for r in rows])
    for row, found in zip(rows, got, strict=True):
        number = found if isinstance(found, str) else found.number
        reason = None if isinstance(found, str) else found.reason
        assert number == row["expected"], row
        assert (reason or "").startswith("ambiguous: ") == (
            row["expected_reason"] == "ambiguous"), (row, reason)


def test_the_dropped_plus_corpus_through_the_cli(env, sandbox, tmp_path):
    """288 CRM rows in 16 countries whose "+" was dropped, the country column in
    codes, English and the countries' own languages: each row gets its number, the
    rows readable both ways say so, and only those numbers are sent."""
    src = tmp_path / "crm.csv"
    src.write_bytes(DROPPED_PLUS.read_bytes())
    result = run("check", str(src), "--column", "phone", "--region-column", "country", "-q",
                 env=env)
    assert result.returncode == 0, result.stderr
    got = rows(result.stdout)
    expected = _dropped_plus_rows()
    assert [g["number"] for g in got] == [e["expected"] for e in expected]
    for g, e in zip(got, expected, strict=True):
        if g["status"] == "ok":
            assert g["reason"].startswith("ambiguous: ") == (e["expected_reason"] == "ambiguous")
    sent = {n for task in sandbox.tasks.values() for n in task.numbers}
    assert sent == {e["expected"] for e in expected}


def test_python_api_with_pandas_columns(sandbox_env):
    # pandas hands over float64/int64 columns; a region column in the country's
    # own language; a negative number is invalid, never its absolute value.
    pd = pytest.importorskip("pandas")
    import tgcheck

    df = pd.DataFrame({"phone": [4915123456789.0, -41797000001.0, 41798284651.0],
                       "country": ["Deutschland", None, "Schweiz"]})
    answers = tgcheck.check(df["phone"], region=df["country"])
    assert [a.number for a in answers] == ["+4915123456789", None, "+41798284651"]
    assert answers[0].reason.startswith("ambiguous: read as +4915123456789")
    assert (answers[1].status, answers[1].reason) == ("invalid",
                                                      "not_a_number: a negative number")
    ints = tgcheck.check(pd.Series([-41797000001, 41798284651], dtype="int64"))
    assert [a.number for a in ints] == [None, "+41798284651"]
    assert ints[0].reason == "not_a_number: a negative number"
    sent = {n for t in sandbox_env.tasks.values() for n in t.numbers}
    assert "+41797000001" not in sent and "+4915123456789" in sent
