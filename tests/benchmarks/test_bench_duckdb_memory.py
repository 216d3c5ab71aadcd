"""bench_duckdb --peak-rss: a whole process's peak, with DuckDB's memory_limit if asked
(the figures are docs/performance.md's "DuckDB memory"; none is asserted here)."""

from __future__ import annotations

from benchmarks import bench_duckdb


def test_peak_rss_runs_a_child_within_duckdbs_memory_limit():
    rows = bench_duckdb.peak_rss(2_000, "64MB")
    assert len(rows) == 1
    assert rows[0].figure == ("6 peak RSS MB, telegram_enrich of 2,000 rows "
                              "(whole process, DuckDB's memory_limit 64MB)")
    assert isinstance(rows[0].tgcheck, float) and rows[0].tgcheck > 0
    assert "before the query" in rows[0].note

