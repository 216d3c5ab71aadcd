"""A measured prototype, not the face: telegram_enrich's work without one list value.

The face's macros hand a query's whole column to Python as ONE list value and get
one list of answers back; DuckDB can neither stream nor spill a value, so its
share of the memory grows with the column (docs/performance.md, "DuckDB memory
(issue 25 item 2)"). This prototype does the same work in two steps that DuckDB
streams, to measure what a rewrite of the macros would reach:

1. a side-effect UDF over `SELECT DISTINCT` of the cells, called a vector at a
   time, keeps each vector's numbers as compact keys (tgcheck.compact_answers);
2. a one-row CTE counting those calls is the barrier; a per-vector UDF,
   cross-joined to it, runs Planning.check_compact once on its first call (one
   task for the whole column, as the face) and answers each vector of rows
   through the core's AnswerColumn.

Only the registered headline (`telegram`) of a table in E.164 is shown; the
output is checked against the answers stored. Run (a child process's peak RSS,
as bench_duckdb.py --peak-rss; no API call: every number is stored first):

    python benchmarks/duckdb_streaming_prototype.py 10000000
    python benchmarks/duckdb_streaming_prototype.py 10000000 --memory-limit 300MB
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import duckdb
import pyarrow as pa

import tgcheck
from tgcheck.answer_column import AnswerColumn, sent_numbers
from tgcheck.compact_answers import CompactAnswers, as_array, distinct
from tgcheck.engine import CheckRequest
from tgcheck.normalize import resolve_all
from tgcheck_duckdb.arrow_values import answers_array

try:
    from benchmarks import bench_duckdb
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks import bench_duckdb


def _child(rows: int, home: str, memory_limit: str | None) -> None:
    settings = tgcheck.Settings(api_key="bench", base_url="http://127.0.0.1:9", home=home)
    con = duckdb.connect()
    if memory_limit:
        con.execute(f"SET temp_directory = '{home}/spill'")
        con.execute(f"SET memory_limit = '{memory_limit}'")
    bench_duckdb._customers(con, rows)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    engine = tgcheck.get_engine(settings)
    parts: list = []
    checked: dict = {}
    lock = threading.Lock()  # DuckDB calls the UDFs from several threads

    def collect(cells: pa.ChunkedArray) -> pa.Array:
        values = cells.to_pylist()
        keys = distinct([as_array(sent_numbers(resolve_all(values, None)))])
        with lock:
            parts.append(keys)
            if len(parts) >= 64:
                parts[:] = [distinct(parts)]
        return pa.nulls(len(values), pa.int8())

    def answer(cells: pa.ChunkedArray, _barrier: pa.ChunkedArray) -> pa.Array:
        with lock:
            if "answers" not in checked:
                answers = CompactAnswers(distinct(parts))
                parts.clear()
                engine.planning.check_compact(answers, CheckRequest("tg"), 1_000_000)
                checked["answers"] = answers
        answers = checked["answers"]
        values = cells.to_pylist()
        found = resolve_all(values, None)
        column = AnswerColumn(values, found, answers.groups_for(sent_numbers(found)))
        return answers_array(column).field("value")

    con.create_function("proto_collect", collect, ["VARCHAR"], "TINYINT", type="arrow",
                        side_effects=True, null_handling="special")
    con.create_function("proto_answer", answer, ["VARCHAR", "BIGINT"], "VARCHAR",
                        type="arrow", side_effects=True, null_handling="special")
    con.execute(f"""COPY (
        WITH collected AS MATERIALIZED (
            SELECT count(proto_collect(k)) AS n
            FROM (SELECT DISTINCT phone AS k FROM customers WHERE phone IS NOT NULL))
        SELECT c.*, proto_answer(c.phone, collected.n) AS telegram
        FROM customers c, collected
    ) TO '{home}/out.parquet'""")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wrong, disordered = con.execute(f"""
        SELECT count(*) FILTER (telegram IS DISTINCT FROM
                                CASE WHEN id % 2 = 1 THEN 'yes' ELSE 'no' END),
               count(*) FILTER (id <> rn - 1)
        FROM (SELECT *, row_number() OVER () AS rn FROM '{home}/out.parquet')""").fetchone()
    if wrong or disordered:
        raise SystemExit(f"{wrong} wrong answers, {disordered} rows out of order")
    print(before, peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int)
    parser.add_argument("--memory-limit", metavar="SIZE")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.rows, args.child, args.memory_limit)
        return
    with tempfile.TemporaryDirectory() as home:
        settings = tgcheck.Settings(api_key="bench", base_url="http://127.0.0.1:9", home=home)
        engine = tgcheck.get_engine(settings)
        bench_duckdb._store_answers(engine, args.rows)
        engine.close()
        limit = ["--memory-limit", args.memory_limit] if args.memory_limit else []
        out = subprocess.run([sys.executable, __file__, str(args.rows), "--child", home,
                              *limit], check=True, capture_output=True, text=True).stdout
    before, peak = (int(x) / 1024 for x in out.split())
    print(f"streaming prototype, {args.rows:,} rows: peak RSS {peak:.0f} MB "
          f"({before:.0f} MB before the query)")


if __name__ == "__main__":
    main()
