"""telegram_enrich over rows already answered in the store, against a per-row Python UDF.

Both run in this process, on the same table and the same store; no API call is
made (every number is answered and fresh). Run:

    python benchmarks/bench_duckdb.py            # 1,000,000 rows
    python benchmarks/bench_duckdb.py --rows 100000

Goal: telegram_enrich at least 10x faster than the baseline, and under 3 s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

import tgcheck
import tgcheck_duckdb

GOAL_RATIO = 10.0
GOAL_SECONDS = 3.0


def numbers(n: int) -> list[str]:
    return [f"+4179{i:07d}" for i in range(n)]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    rows = args.rows

    home = Path(tempfile.mkdtemp(prefix="tgcheck-bench-"))
    # A loopback URL that nothing listens on: a stray API call would fail loudly.
    settings = tgcheck.Settings(api_key="bench", base_url="http://127.0.0.1:9", home=home)
    engine = tgcheck.get_engine(settings)
    phones = numbers(rows)
    engine.store.save_answers(
        "tg", ((n, "yes" if i % 2 else "no", "ok") for i, n in enumerate(phones)), "bench")

    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    con.execute(f"""CREATE TABLE customers AS
        SELECT i AS id, '+4179' || lpad(i::VARCHAR, 7, '0') AS phone,
               ['Bern', 'Basel', 'Zurich'][i % 3 + 1] AS city
        FROM range({rows}) r(i)""")

    engine_seconds = timed(lambda: engine.check(phones))
    tgcheck_seconds = timed(lambda: con.execute(
        "CREATE OR REPLACE TABLE enriched AS "
        "SELECT * FROM telegram_enrich('customers', 'phone')"))

    # The baseline: what one would write without the face, a per-row UDF.
    def per_row(value: str | None) -> str | None:
        return engine.check([value])[0].value

    con.create_function("telegram_per_row", per_row, ["VARCHAR"], "VARCHAR",
                        null_handling="special", side_effects=True)
    baseline_seconds = timed(lambda: con.execute(
        "CREATE OR REPLACE TABLE baseline AS "
        "SELECT *, telegram_per_row(phone) AS telegram FROM customers"))

    differ = con.execute("""SELECT count(*) FROM enriched e JOIN baseline b USING (id)
                        WHERE e.telegram IS DISTINCT FROM b.telegram""").fetchone()[0]
    if differ:
        raise SystemExit(f"the two disagree on {differ} rows")

    ratio = baseline_seconds / tgcheck_seconds
    table = [
        ("figure", "tgcheck", "baseline", "ratio", "goal"),
        (f"telegram_enrich, {rows:,} rows (s)", f"{tgcheck_seconds:.2f}",
         f"{baseline_seconds:.2f}", f"{ratio:.1f}x",
         f">= {GOAL_RATIO:.0f}x, < {GOAL_SECONDS:.0f} s"),
        (f"  of which engine.check of {rows:,} distinct (s)", f"{engine_seconds:.2f}", "", "",
         ""),
        ("  of which DuckDB + face (s)", f"{max(tgcheck_seconds - engine_seconds, 0):.2f}",
         "", "", ""),
    ]
    widths = [max(len(r[i]) for r in table) for i in range(5)]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    met = ratio >= GOAL_RATIO and tgcheck_seconds < GOAL_SECONDS
    print("goal met" if met else "goal NOT met")


if __name__ == "__main__":
    main()
