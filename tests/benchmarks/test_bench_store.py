"""The store benchmark's harness runs on both backends and reports both rows
(no time is asserted here: that is what the benchmark is for)."""

import pytest

from benchmarks import bench_store


@pytest.mark.slow
def test_the_store_benchmark_runs_on_both_backends(postgres_url):
    rows = bench_store.measure(3_000, 2_000, postgres_url, repeat=1)
    assert [r.figure[:2] for r in rows] == ["S1", "S2"]
    assert all(isinstance(r.tgcheck, float) and isinstance(r.baseline, float) for r in rows)
    assert all(isinstance(r.met, bool) for r in rows)
