"""The benchmark harness itself: it must run, and its DuckDB figure compares two
computations that agree. No time is asserted here (that is what benchmarks are for)."""

import pytest

from benchmarks import bench_duckdb
from benchmarks.common import Row
from benchmarks.run import render


def test_the_duckdb_benchmark_runs_and_both_sides_agree():
    # measure() raises SystemExit when telegram_enrich and the per-row UDF disagree.
    rows = bench_duckdb.measure(3_000, baseline_sample=300, repeat=1)
    assert rows[0].figure.startswith("5 DuckDB telegram_enrich, 3,000 rows")
    # Issue 25: against what SQL does alone, not against a per-row engine call.
    assert "dict-lookup UDF" in rows[0].figure and "LEFT JOIN" in rows[1].figure
    assert isinstance(rows[0].baseline, float) and isinstance(rows[1].baseline, float)
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


@pytest.mark.slow
def test_the_process_benchmark_runs_both_programs_and_their_answers_agree():
    # measure() raises when either program fails or their telegram columns differ.
    from benchmarks import bench_process

    rows = bench_process.measure(300, repeat=1)
    assert [r.figure.split(",")[1].strip() for r in rows[:2]] == ["300 numbers of 6 countries"] * 2
    assert "cold" in rows[0].figure and "cached" in rows[1].figure
    assert all(isinstance(r.tgcheck, float) and r.tgcheck > 0 for r in rows)
    assert all(isinstance(r.baseline, float) and r.baseline > 0 for r in rows)
    assert isinstance(rows[0].met, bool) and isinstance(rows[1].met, bool)


def test_child_cpu_counts_the_child_not_the_caller(tmp_path):
    import sys
    import time

    from benchmarks.bench_process import child_cpu

    spin = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    start = time.process_time()
    used = child_cpu([sys.executable, "-c", spin], {})
    assert used >= 0.3
    assert time.process_time() - start < 0.3  # the caller only waited
    with pytest.raises(RuntimeError, match="exited 3"):
        child_cpu([sys.executable, "-c", "raise SystemExit(3)"], {})


def test_the_polling_simulator_speaks_in_states_like_the_provider():
    # The policy reads only normalised states: a simulated record without one would
    # look like a task that never moves, and the figures would measure nothing.
    import random

    from benchmarks import polling_sim
    from tgcheck.provider import QUEUED, READY, RUNNING

    task = polling_sim.make_task(600, random.Random(1))
    states = [task.status(t).state for t in (0.0, task.queue + 1, task.ready + 1)]
    assert states == [QUEUED, RUNNING, READY]
    # Found within the lag goal, as figure 1 says (a record without states was
    # polled as stuck: 212 s of lag on this 600 s task).
    calls, lag = polling_sim.run(task, polling_sim.tgcheck_policy(task), 2.0)
    assert lag < 0.05 * 600 and calls <= 10


def test_the_scale_benchmark_runs_whole_processes_at_two_sizes():
    # run_sizes() raises when a run fails or any number is answered locally.
    from benchmarks import bench_scale

    runs = bench_scale.run_sizes([200, 400], task_size=100)
    assert sorted(runs) == [("sqlite", 200), ("sqlite", 400)]
    assert all(run.cpu > 0 and run.wall > 0 and run.rss_mb > 0
               for pair in runs.values() for run in pair)
    rows = bench_scale.rows_of(runs, task_size=100)
    assert [r.met for r in rows] == [None, rows[1].met, None, rows[3].met]
    assert "400 (4 tasks of 100), cold" in rows[1].figure and "cached" in rows[3].figure
    assert isinstance(rows[1].met, bool) and isinstance(rows[3].met, bool)
    assert "peak RSS" in rows[1].note


@pytest.mark.slow
def test_the_scale_benchmark_compares_postgresql_with_sqlite(postgres_cluster):
    # The fixture only skips without PostgreSQL: the figure starts a cluster of its
    # own, as a user's run does. PostgreSQL rows beside SQLite's,
    # and the cached run of each size compared (issue 25 item 5).
    from benchmarks import bench_scale

    backends = ("sqlite", "postgresql")
    runs = bench_scale.run_sizes([200], task_size=100, backends=backends)
    assert sorted(runs) == [("postgresql", 200), ("sqlite", 200)]
    rows = bench_scale.rows_of(runs, task_size=100, backends=backends)
    assert [r.figure.split(":")[0] for r in rows] == [
        "8 SQLite", "8 SQLite", "8 PostgreSQL", "8 PostgreSQL",
        "8 cached 200"]
    assert rows[-1].met is None  # judged from 1,000,000 numbers
    big = {(b, 1_000_000): pair for (b, _), pair in runs.items()}
    assert isinstance(bench_scale.rows_of(big, 100, backends)[-1].met, bool)


def test_the_scale_figure_says_when_postgresql_is_missing():
    from benchmarks import bench_scale

    run = bench_scale.Run(1.0, 1.0, 100.0)
    rows = bench_scale.rows_of({("sqlite", 200): (run, run)}, task_size=100,
                               backends=("sqlite", "postgresql"))
    assert rows[-1].figure == "8 PostgreSQL: skipped"
    assert "not installed" in rows[-1].note


def test_the_scale_figure_measures_the_child_s_memory_not_its_own():
    """Linux gives a child started by vfork and exec the peak RSS its parent had
    (wait4's ru_maxrss): the figure's PostgreSQL runs at 10,000,000 showed the
    figure's own 750 MB. The child's peak is its own."""
    import os
    import sys

    from benchmarks import bench_scale

    held = b"x" * (300 << 20)  # this process once held 300 MB
    del held
    run = bench_scale.measured([sys.executable, "-c", "pass"], dict(os.environ))
    assert run.rss_mb < 150 and run.cpu > 0
    big = bench_scale.measured(
        [sys.executable, "-c", "x = b'y' * (200 << 20)"], dict(os.environ))
    assert big.rss_mb > 200
    with pytest.raises(RuntimeError, match="exited 3"):
        bench_scale.measured([sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ))
