"""Figure 8: CPU per number as a run grows (is a run's cost linear in its size?).

The whole `python -m tgcheck check` process against the sandbox (in a process of
its own, as figure 2), cold (a new store) and cached (the same run again), at a
small and a large size with the same task size: the large run has proportionally
more chunks (tasks), so any cost that grows with the chunks already claimed
(each claim looking at every earlier job) shows as more CPU per number. The goal:
the large size's CPU per number within 1.2x of the small one's.

    python -m benchmarks --only scale            # 1,000,000 and 2,000,000
    TGCHECK_BENCH_SCALE=1000000,5000000 python -m benchmarks --only scale
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

from benchmarks.bench_process import child_cpu, tgcheck_argv
from benchmarks.common import Row, SandboxProcess

GOAL = 1.2


def write_numbers(path: Path, n: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        step = 1_000_000
        for start in range(0, n, step):
            f.write("".join(f"+4179{i:07d}\n" for i in range(start, min(n, start + step))))


def statuses_of(path: Path, n: int) -> list[str]:
    """The status column of an output, checked to hold n rows."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        column = next(rows).index("status")
        found = [row[column] for row in rows]
    if len(found) != n:
        raise RuntimeError(f"{path.name} has {len(found)} rows, not {n}")
    return found


def run_sizes(sizes: list[int], task_size: int) -> dict[int, tuple[float, float]]:
    """size -> (cold CPU s, cached CPU s) of whole tgcheck processes."""
    out = {}
    with SandboxProcess(speed=1e9, queue_seconds=0.02, export_seconds=0.02,
                        quirks=False) as sb, tempfile.TemporaryDirectory() as tmp:
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
            run_env = {**env, "TGCHECK_HOME": str(work / f"home{n}")}
            target = work / f"out{n}.csv"
            cold = child_cpu(tgcheck_argv(source, target, sb.url), run_env)
            cached = child_cpu(tgcheck_argv(source, target, sb.url), run_env)
            # Every number answered by the sandbox (ok, or a left-out unknown): none
            # answered locally as invalid, which would measure the wrong thing.
            statuses = set(statuses_of(target, n))
            if not statuses <= {"ok", "unknown"}:
                raise RuntimeError(f"the scale benchmark's answers are {sorted(statuses)}")
            out[n] = (cold, cached)
            source.unlink()
            target.unlink()
    return out


def measure(quick: bool) -> list[Row]:
    chosen = os.environ.get("TGCHECK_BENCH_SCALE")
    if chosen:
        sizes = [int(s) for s in chosen.split(",")]
    else:
        sizes = [100_000, 400_000] if quick else [1_000_000, 2_000_000]
    # The quick run keeps the chunk counts of the full one with smaller tasks.
    task_size = 10_000 if quick and not chosen else 100_000
    return rows_of(run_sizes(sizes, task_size), task_size)


def rows_of(cpu: dict[int, tuple[float, float]], task_size: int) -> list[Row]:
    sizes = sorted(cpu)
    small = sizes[0]
    rows = []
    for i, label in enumerate(("cold", "cached")):
        base = cpu[small][i] / small * 1e6
        for n in sizes:
            per = cpu[n][i] / n * 1e6
            chunks = -(-n // task_size)
            rows.append(Row(
                f"8 CPU s per 1M numbers, {n:,} ({chunks} tasks of {task_size:,}), {label}",
                per, base if n != small else None,
                goal=f"<= {GOAL}x of {small:,}" if n != small else "-",
                met=per / base <= GOAL if n != small else None,
                note=f"whole process {cpu[n][i]:.1f} s CPU"))
    return rows
