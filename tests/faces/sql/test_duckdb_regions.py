"""The SQL face on a mixed-country table (issue 13): region_column, reasons."""

from __future__ import annotations

import csv
import functools

import duckdb
import pytest

import tgcheck
import tgcheck_duckdb
from paths import DATA
from tgcheck.sandbox import Sandbox

CORPUS = DATA / "crm_mixed.csv"


@pytest.fixture
def con(settings):
    c = duckdb.connect()
    tgcheck_duckdb.register(c, settings)
    c.execute("CREATE TABLE crm (id INTEGER, phone VARCHAR, country VARCHAR)")
    c.executemany("INSERT INTO crm VALUES (?, ?, ?)", [
        (1, "07911 123456", "UK"), (2, "06 12 34 56 78", "France"), (3, "07911 123456", "FR"),
        (4, "0612345678", "Narnia"), (5, "+41 79 828 46 51", None), (6, None, "GB"),
        (7, "07911 123456", "44")])
    yield c
    c.close()


def test_enrich_reads_each_row_with_its_region(con, sandbox):
    rows = con.execute("""SELECT id, telegram FROM telegram_enrich('crm', 'phone',
                                                                   region_column := 'country')
                          ORDER BY id""").fetchall()
    answers = dict(rows)
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6, 7]  # every row, once
    assert answers[1] == answers[7] == sandbox.expected("+447911123456")
    assert answers[2] == sandbox.expected("+33612345678")
    assert answers[3] is None and answers[4] is None  # not French; no such country
    assert answers[6] is None


def test_check_gives_each_number_and_region_pair_with_a_reason(con, sandbox):
    result = con.execute("""SELECT * FROM telegram_check('crm', 'phone',
                                                         region_column := 'country')""")
    assert [d[0] for d in result.description] == ["input", "region", "number", "telegram",
                                                   "status", "reason"]
    got = {(r[0], r[1]): r[2:] for r in result.fetchall()}
    assert got[("07911 123456", "UK")][0] == got[("07911 123456", "44")][0] == "+447911123456"
    assert got[("07911 123456", "FR")][2:] == (
        "invalid", "invalid_for_region: not a valid number of FR (France)")
    assert got[("0612345678", "Narnia")][3].startswith("unknown_region: unknown region 'Narnia'")
    assert got[("+41 79 828 46 51", None)][0] == "+41798284651"
    assert sandbox.billed["create"] == 1


def test_without_region_column_the_columns_are_as_before(con, sandbox):
    result = con.execute("SELECT * FROM telegram_check('crm', 'phone')")
    assert [d[0] for d in result.description] == ["input", "number", "telegram", "status",
                                                   "reason"]
    got = {r[0]: r[1:] for r in result.fetchall()}
    assert got["07911 123456"][2:] == ("invalid", "no_region: national number: give a region")


def test_registered_region_fills_empty_region_cells(settings, sandbox):
    con = tgcheck_duckdb.register(duckdb.connect(), settings, region="United Kingdom")
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('07911 123456', NULL), "
                "('0612345678', 'FR')) v(phone, country)")
    rows = con.execute("""SELECT number FROM telegram_check('t', 'phone',
                                                            region_column := 'country')
                          ORDER BY number""").fetchall()
    assert rows == [("+33612345678",), ("+447911123456",)]


def test_an_unknown_registered_region_is_an_error_with_a_suggestion(settings):
    with pytest.raises(tgcheck.RegionError, match="did you mean GB"):
        tgcheck_duckdb.register(duckdb.connect(), settings, region="Untied Kingdom")


def test_the_corpus_through_sql_matches_the_cli_expectations(settings, sandbox):
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    con.execute(f"CREATE TABLE crm AS FROM read_csv('{CORPUS}', all_varchar := true)")
    rows = con.execute("""SELECT input, region, number, status, reason
                          FROM telegram_check('crm', 'phone', region_column := 'country')""")
    got = {(r[0], r[1]): r[2:] for r in rows.fetchall()}
    for e in csv.DictReader(CORPUS.open(encoding="utf-8")):
        if not e["phone"]:
            continue
        number, status, reason = got[(e["phone"], e["country"])]
        if e["expected_reason"] == "ok":
            assert number == e["expected"], e
        else:
            assert number is None and reason.startswith(e["expected_reason"] + ":"), e


def test_a_region_in_the_query_and_an_unknown_one_fails_the_query(con, sandbox):
    rows = con.execute("""SELECT input, number FROM telegram_check('crm', 'phone',
                                                                   region := 'United Kingdom')
                          WHERE input = '07911 123456'""").fetchall()
    assert rows == [("07911 123456", "+447911123456")]
    # With a region column, region := fills its empty cells.
    rows = con.execute("""SELECT id, telegram FROM telegram_enrich('crm', 'phone',
                              region_column := 'country', region := 'CH') WHERE id = 5""")
    assert rows.fetchall() == [(5, sandbox.expected("+41798284651"))]
    creates = sandbox.billed["create"]
    with pytest.raises(duckdb.Error, match="did you mean GB"):
        con.execute("SELECT * FROM telegram_check('crm', 'phone', region := 'Untied Kingdom')"
                    ).fetchall()
    assert sandbox.billed["create"] == creates  # nothing sent



def test_a_calling_code_column_of_doubles_is_read(con, sandbox):
    # CAST(44.0 AS VARCHAR) is '44.0': still the calling code 44.
    con.execute("CREATE TABLE d AS SELECT * FROM (VALUES ('07911 123456', 44.0::DOUBLE), "
                "('079 828 46 51', 41.0::DOUBLE)) v(phone, code)")
    rows = con.execute("""SELECT input, region, number FROM telegram_check('d', 'phone',
                                                                       region_column := 'code')
                          ORDER BY input""").fetchall()
    assert rows == [("079 828 46 51", "41.0", "+41798284651"),
                    ("07911 123456", "44.0", "+447911123456")]

# -- numbers and their regions stay paired -----------------------------------------
# Many distinct (number, region) pairs, enough rows for several vectors and
# DuckDB threads to split them: a list of numbers and a list of regions
# aggregated separately came back in different orders, reading a row's number
# with another row's region (and sending and billing that wrong number).
PAIR_ROWS, PAIR_PHONES = 6_000, 1_000
PAIR_REGIONS = ["GB", "IN", "CH", "NL", "DE", "FR", "AU", "JP", None, "", "44", "41"]


@pytest.fixture
def fast_sandbox():
    with Sandbox(speed=1e6, queue_seconds=0.0, export_seconds=0.0) as sb:
        yield sb


@pytest.mark.slow
def test_every_row_is_read_with_its_own_region_under_parallel_threads(fast_sandbox, tmp_path):
    sandbox = fast_sandbox
    settings = tgcheck.Settings(api_key=sandbox.api_key, base_url=sandbox.url,
                                home=tmp_path / "home", poll_min=0.02, poll_max=0.5,
                                timeout=60, http_timeout=5, retry_base=0.01)
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    con.execute("SET threads = 8")  # more threads than cores is allowed, and splits more
    regions = ", ".join("NULL" if r is None else f"'{r}'" for r in PAIR_REGIONS)
    con.execute(f"""CREATE TABLE crm AS
        SELECT i AS id, '079' || lpad((i % {PAIR_PHONES})::VARCHAR, 7, '0') AS phone,
               [{regions}][i % {len(PAIR_REGIONS)} + 1] AS country
        FROM range({PAIR_ROWS}) r(i)""")

    @functools.cache
    def number_of(phone, country):
        found = tgcheck.normalise(phone, country)
        return found.number if found.status == "ok" else None

    for _ in range(10):  # the order of a parallel aggregate varies from run to run
        enriched = con.execute("""SELECT id, phone, country, telegram FROM telegram_enrich(
                                      'crm', 'phone', region_column := 'country')""").fetchall()
        assert [r[0] for r in enriched] == list(range(PAIR_ROWS))  # every row, in order
        wrong = [r for r in enriched
                 if r[3] != expected(sandbox, number_of(r[1], r[2]))]
        assert wrong == []
    checked = con.execute("""SELECT input, region, number FROM telegram_check(
                                 'crm', 'phone', region_column := 'country')""").fetchall()
    assert len(checked) == PAIR_ROWS // 2  # each (number, region) pair once
    assert [r for r in checked if r[2] != number_of(r[0], r[1])] == []
    # A misread row would have sent a number the first query did not: a second task.
    assert sandbox.billed["create"] == 1


def expected(sandbox, number):
    return None if number is None else sandbox.expected(number)
