"""Figure scale: is a run's cost linear in its size, on each store backend?

The whole `python -m tgcheck check` process against the sandbox (in a process of
its own, as figure 2), cold (a new store) and cached (the same run again), at a
small and a large size with the same task size: the large run has proportionally
more chunks (tasks), so any cost that grows with the chunks already claimed
(each claim looking at every earlier job) shows as more CPU per number. Goals:
the large size's CPU per number within 1.2x of the small one's; a cached run on
the shared PostgreSQL store within 1.5x of the same run on SQLite from 1,000,000
numbers (issue 25, item 5; smaller runs show the ratio only). Each run's wall
time and peak RSS are in its row's note. The file's numbers are distinct and in
random order, as an export holds them (sample_numbers.py): consecutive ones in
order flattered the cached path, whose search for each row's answer then walked
memory in order.

PostgreSQL is a throwaway local cluster started for the figure (as the tests
do: Debian's /usr/lib/postgresql/*/bin, or TGCHECK_PG_BIN), a new database per
size; without the binaries its rows are skipped with a note.

    python -m benchmarks --only scale            # 1,000,000 and 2,000,000
    TGCHECK_BENCH_SCALE=1000000,5000000 python -m benchmarks --only scale
    TGCHECK_BENCH_BACKENDS=sqlite python -m benchmarks --only scale   # one backend
"""

from __future__ import annotations

import contextlib
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from benchmarks.common import Row, SandboxProcess
from benchmarks.sample_numbers import write_numbers

GOAL = 1.2
POSTGRES_GOAL = 1.5  # a cached run on PostgreSQL at most 1.5x SQLite's wall time
POSTGRES_GOAL_FROM = 1_000_000  # ... from this size up (issue 25 item 5)
ROOT = Path(__file__).resolve().parents[1]


class Run(NamedTuple):
    """One whole process: CPU seconds (user + system), wall seconds, peak RSS in MB."""

    cpu: float
    wall: float
    rss_mb: float


# Runs its arguments as a child (stdout to /dev/null, stderr shared) and prints
# the child's CPU seconds, peak RSS in KiB and exit code. See measured: started
# from this small process, the child's peak RSS is its own.
_LAUNCHER = """
import os, sys
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ,
                     file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_utime + usage.ru_stime, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def measured(argv: list[str], env: dict) -> Run:
    """Run a child to its end: its own CPU and peak RSS (wait4), and the wall time.

    Through a small launcher process: Linux folds the peak RSS of the memory a
    process had before its exec into its ru_maxrss, and a child this process
    starts (vfork, then exec) had this process's memory: it reported this
    process's own peak whenever that was the larger (the PostgreSQL runs at
    10,000,000, measured after the SQLite run's output was read here, showed
    750 MB, their own being about 370 MB). The launcher's memory is a few MB."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _LAUNCHER, *argv], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True)
    wall = time.perf_counter() - start
    cpu, peak_kb, code = (proc.stdout.decode().split()[-3:] if proc.returncode == 0
                          else ("0", "0", proc.returncode))
    if int(code):
        raise RuntimeError(f"{argv[1:4]} exited {code}: "
                           f"{proc.stderr.decode(errors='replace')[-500:]}")
    return Run(float(cpu), wall, int(peak_kb) / 1024)


def statuses_of(path: Path, n: int) -> set[str]:
    """The statuses in an output, checked to hold n rows; read as a stream, so
    this process stays small (see measured)."""
    found: set[str] = set()
    count = 0
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        column = next(rows).index("status")
        for row in rows:
            found.add(row[column])
            count += 1
    if count != n:
        raise RuntimeError(f"{path.name} has {count} rows, not {n}")
    return found


@contextlib.contextmanager
def postgres_cluster():
    """A throwaway local PostgreSQL cluster (tests/postgres_cluster.py), or None
    when PostgreSQL is not installed."""
    sys.path.insert(0, str(ROOT / "tests"))
    import postgres_cluster as pgc

    bindir = pgc.find_bindir()
    if bindir is None:
        yield None
        return
    with pgc.running_cluster(bindir) as cluster:
        yield cluster


def run_sizes(sizes: list[int], task_size: int, backends: tuple[str, ...] = ("sqlite",)
              ) -> dict[tuple[str, int], tuple[Run, Run]]:
    """(backend, size) -> (cold run, cached run) of whole tgcheck processes.
    backends: "sqlite", "postgresql" (left out when PostgreSQL is not installed)."""
    from benchmarks.bench_process import child_cpu, tgcheck_argv

    out = {}
    with SandboxProcess(speed=1e9, queue_seconds=0.02, export_seconds=0.02,
                        quirks=False) as sb, tempfile.TemporaryDirectory() as tmp, \
            (postgres_cluster() if "postgresql" in backends
             else contextlib.nullcontext()) as cluster:
        work = Path(tmp)
        env = {**os.environ, "TGCHECK_API_KEY": sb.api_key, "TGCHECK_POLL_MIN": "0.05",
               "TGCHECK_POLL_MAX": "0.5", "TGCHECK_MAX_TASK_SIZE": str(task_size),
               "PYTHONPYCACHEPREFIX": str(work / "pyc")}
        for name in ("PYTHONDONTWRITEBYTECODE", "TGCHECK_LOAD_PLUGINS", "TGCHECK_STORE_URL"):
            env.pop(name, None)
        warm = work / "warm.txt"
        write_numbers(warm, 100)
        child_cpu(tgcheck_argv(warm, work / "warm.csv", sb.url),
                  {**env, "TGCHECK_HOME": str(work / "warm")})
        for n in sizes:
            source = work / f"numbers{n}.txt"
            write_numbers(source, n)
            for backend in backends:
                run_env = {**env, "TGCHECK_HOME": str(work / f"home-{backend}-{n}")}
                if backend == "postgresql":
                    if cluster is None:
                        continue
                    run_env["TGCHECK_STORE_URL"] = cluster.create_database(f"scale{n}")
                target = work / f"out{n}.csv"
                cold = measured(tgcheck_argv(source, target, sb.url), run_env)
                cached = measured(tgcheck_argv(source, target, sb.url), run_env)
                # Every number answered by the sandbox (ok, or a left-out unknown): none
                # answered locally as invalid, which would measure the wrong thing.
                statuses = statuses_of(target, n)
                if not statuses <= {"ok", "unknown"}:
                    raise RuntimeError(f"the scale benchmark's answers are {sorted(statuses)}")
                out[backend, n] = (cold, cached)
                target.unlink()
            source.unlink()
    return out


def chosen_backends() -> tuple[str, ...]:
    given = os.environ.get("TGCHECK_BENCH_BACKENDS")
    return tuple(given.split(",")) if given else ("sqlite", "postgresql")


def measure(quick: bool) -> list[Row]:
    chosen = os.environ.get("TGCHECK_BENCH_SCALE")
    if chosen:
        sizes = [int(s) for s in chosen.split(",")]
    else:
        sizes = [100_000, 400_000] if quick else [1_000_000, 2_000_000]
    # The quick run keeps the chunk counts of the full one with smaller tasks.
    task_size = 10_000 if quick and not chosen else 100_000
    backends = chosen_backends()
    return rows_of(run_sizes(sizes, task_size, backends), task_size, backends)


_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def rows_of(runs: dict[tuple[str, int], tuple[Run, Run]], task_size: int,
            backends: tuple[str, ...] = ("sqlite",)) -> list[Row]:
    rows = []
    sizes = sorted({n for _, n in runs})
    for backend in backends:
        name = _NAMES[backend]
        if not any(b == backend for b, _ in runs):
            rows.append(Row(f"8 {name}: skipped", "-",
                            note="PostgreSQL is not installed (no initdb/pg_ctl found)"))
            continue
        small = sizes[0]
        for i, label in enumerate(("cold", "cached")):
            base = runs[backend, small][i].cpu / small * 1e6
            for n in sizes:
                run = runs[backend, n][i]
                per = run.cpu / n * 1e6
                chunks = -(-n // task_size)
                rows.append(Row(
                    f"8 {name}: CPU s per 1M numbers, {n:,} ({chunks} tasks of "
                    f"{task_size:,}), {label}",
                    per, base if n != small else None,
                    goal=f"<= {GOAL}x of {small:,}" if n != small else "-",
                    met=per / base <= GOAL if n != small else None,
                    note=f"whole process {run.cpu:.1f} s CPU, {run.wall:.1f} s wall, "
                         f"peak RSS {run.rss_mb:.0f} MB"))
    if "postgresql" in backends and "sqlite" in backends:
        for n in sizes:
            if ("postgresql", n) not in runs or ("sqlite", n) not in runs:
                continue
            pg, lite = runs["postgresql", n][1], runs["sqlite", n][1]
            # The goal is the issue's, at a million: below, a run's fixed costs
            # (the connection, the schema's check) weigh more than the lookup.
            judged = n >= POSTGRES_GOAL_FROM
            rows.append(Row(
                f"8 cached {n:,}: PostgreSQL vs SQLite, wall s", pg.wall, lite.wall,
                goal=f"<= {POSTGRES_GOAL}x" if judged else "-",
                met=pg.wall <= POSTGRES_GOAL * lite.wall if judged else None,
                note=f"CPU of the tgcheck process {pg.cpu:.1f} s vs {lite.cpu:.1f} s "
                     "(PostgreSQL's server work is in the wall time only)"))
    return rows
