"""The benchmark harness itself: it must run, and its DuckDB figure compares two
computations that agree. No time is asserted here (that is what benchmarks are for)."""

from benchmarks import bench_duckdb
from benchmarks.common import Row
from benchmarks.run import render


def test_the_duckdb_benchmark_runs_and_both_sides_agree():
    # measure() raises SystemExit when telegram_enrich and the per-row UDF disagree.
    rows = bench_duckdb.measure(3_000, baseline_sample=300, repeat=1)
    assert rows[0].figure.startswith("5 DuckDB telegram_enrich, 3,000 rows")
    assert all(isinstance(r.tgcheck, float) and r.tgcheck >= 0 for r in rows)
    assert isinstance(rows[0].met, bool)


def test_the_table_shows_every_row_and_its_verdict():
    text = render([Row("a", 1.0, 2.0, goal="<= 1x", met=True),
                   Row("b", "x", None, met=False, note="why")], "header")
    lines = text.splitlines()
    assert lines[0] == "header"
    assert "| a " in lines[4] and "0.50x" in lines[4] and "| yes " in lines[4]
    assert "| b " in lines[5] and "| NO " in lines[5]
    assert lines[-1] == "- b: why"
