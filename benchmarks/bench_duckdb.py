"""telegram_enrich over rows already answered in the store, against a per-row Python UDF.

Both run in this process, on the same table and the same store; no API call is
made (every number is answered and fresh). Run:

    python benchmarks/bench_duckdb.py            # 1,000,000 rows
    python benchmarks/bench_duckdb.py --rows 100000
    (also figure 5 of `python -m benchmarks`)

Goal: telegram_enrich at least 10x faster than the baseline, and under 3 s.
The per-row baseline is timed on a sample of rows and scaled (1,000,000
per-row calls alone would take minutes).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb

import tgcheck
import tgcheck_duckdb
from tgcheck.store import StoredAnswer

try:
    from benchmarks.common import Row, median_of, timed
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.common import Row, median_of, timed

GOAL_RATIO = 10.0
GOAL_SECONDS = 3.0


def numbers(n: int) -> list[str]:
    return [f"+4179{i:07d}" for i in range(n)]


def measure(rows: int, baseline_sample: int = 20_000, repeat: int = 3) -> list[Row]:
    home = Path(tempfile.mkdtemp(prefix="tgcheck-bench-"))
    # A loopback URL that nothing listens on: a stray API call would fail loudly.
    settings = tgcheck.Settings(api_key="bench", base_url="http://127.0.0.1:9", home=home)
    engine = tgcheck.get_engine(settings)
    phones = numbers(rows)
    engine.store.import_answers(StoredAnswer("tg", n, "yes" if i % 2 else "no", "ok",
                                             time.time(), "bench")
                                for i, n in enumerate(phones))

    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    con.execute(f"""CREATE TABLE customers AS
        SELECT i AS id, '+4179' || lpad(i::VARCHAR, 7, '0') AS phone,
               ['Bern', 'Basel', 'Zurich'][i % 3 + 1] AS city
        FROM range({rows}) r(i)""")

    def enrich():
        con.execute("CREATE OR REPLACE TABLE enriched AS "
                    "SELECT * FROM telegram_enrich('customers', 'phone')")

    # The first query of a process also pays for loading pyarrow.compute's
    # kernels and DuckDB's first plan: shown, but the figure is the median.
    first_seconds = timed(enrich)
    tgcheck_seconds = median_of(enrich, repeat)
    engine_seconds = median_of(lambda: engine.check_column(phones), repeat)

    # The baseline: what one would write without the face, a per-row UDF.
    def per_row(value: str | None) -> str | None:
        return engine.check([value])[0].value

    sample = min(rows, baseline_sample)
    con.create_function("telegram_per_row", per_row, ["VARCHAR"], "VARCHAR",
                        null_handling="special", side_effects=True)
    baseline_seconds = timed(lambda: con.execute(
        "CREATE OR REPLACE TABLE baseline AS "
        f"SELECT *, telegram_per_row(phone) AS telegram FROM customers WHERE id < {sample}"))
    baseline_seconds *= rows / sample

    differ = con.execute("""SELECT count(*) FROM enriched e JOIN baseline b USING (id)
                        WHERE e.telegram IS DISTINCT FROM b.telegram""").fetchone()[0]
    if differ:
        raise SystemExit(f"the two disagree on {differ} rows")
    con.close()
    engine.close()

    ratio = baseline_seconds / tgcheck_seconds
    return [
        Row(f"5 DuckDB telegram_enrich, {rows:,} rows (s)", tgcheck_seconds, baseline_seconds,
            goal=f">= {GOAL_RATIO:.0f}x faster, < {GOAL_SECONDS:.0f} s",
            met=ratio >= GOAL_RATIO and tgcheck_seconds < GOAL_SECONDS,
            ratio=f"{tgcheck_seconds / baseline_seconds:.3f}x",
            note=f"per-row UDF baseline timed on {sample:,} rows, scaled"),
        Row("5   of which the engine (check_column of the distinct numbers) (s)",
            engine_seconds),
        Row("5   of which DuckDB, Arrow and the macros (s)",
            max(tgcheck_seconds - engine_seconds, 0.0)),
        Row("5   first query of the process (s)", first_seconds),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    for row in measure(args.rows):
        print("  ".join(row.cells()))


if __name__ == "__main__":
    main()
