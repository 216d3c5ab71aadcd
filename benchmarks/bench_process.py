"""Figure 2: the CPU a user pays for, whole processes against the same sandbox.

Each side is a separate program started fresh: `python -m tgcheck check IN -o
OUT.csv` and `benchmarks/naive_client.py` (upload, fixed polling, download,
openpyxl, CSV out). Its CPU is the child's own user + system time from
`os.wait4` (interpreter start-up, imports, reading the input, the HTTP calls,
reading the result file, writing the output), never the sandbox's: the sandbox
serves from a process of its own, which is not the one waited for.

Both run with bytecode caching on (into a temporary PYTHONPYCACHEPREFIX) after
one untimed warm-up run each: an installed package has its .pyc files, and a
checkout run with PYTHONDONTWRITEBYTECODE=1 would compile tgcheck's sources on
every start and count that too (about 0.1 s).
"""

from __future__ import annotations

import csv
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import Row, SandboxProcess

NAIVE = Path(__file__).with_name("naive_client.py")


def child_cpu(argv: list[str], env: dict) -> float:
    """User + system CPU seconds of one child process, run to its end."""
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    if proc.returncode:
        raise RuntimeError(f"{argv[1:4]} exited {proc.returncode}: "
                           f"{stderr.decode(errors='replace')[-500:]}")
    return usage.ru_utime + usage.ru_stime


def tgcheck_argv(source: Path, target: Path, url: str) -> list[str]:
    return [sys.executable, "-m", "tgcheck", "check", str(source), "-o", str(target),
            "--base-url", url, "--progress", "none", "-q"]


def naive_argv(source: Path, target: Path, url: str) -> list[str]:
    return [sys.executable, str(NAIVE), url, str(source), str(target)]


def answers_of(path: Path, n: int) -> list[str]:
    """The telegram column of an output, checked to hold n rows."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        column = next(rows).index("telegram")
        found = [row[column] for row in rows]
    if len(found) != n:
        raise RuntimeError(f"{path.name} has {len(found)} rows, not {n}")
    return found


# The countries of the mixed column (issue 25: "a cached 200,000-number check of
# mixed countries"): each one's example mobile number with its last five digits
# varied, in random order (a fixed seed), so the column needs six calling
# codes' regexes (+1's is the largest) and has no run of one country, nor of
# ascending numbers: an export holds its numbers in no order, and the join of
# answers to rows costs more so (docs/performance.md, "Figure 2 on numbers in
# random order"); the columns interleaved by country until session 25 put each
# country's numbers in ascending order.
COUNTRIES = ("CH", "DE", "GB", "US", "FR", "BR")
ORDER_SEED = 25


def mixed_numbers(n: int) -> list[str]:
    """n distinct valid mobile numbers of COUNTRIES, in random order (deterministic)."""
    import phonenumbers

    from tgcheck.normalize import resolve_all

    per_country = []
    for region in COUNTRIES:
        example = phonenumbers.format_number(
            phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE),
            phonenumbers.PhoneNumberFormat.E164)
        candidates = [f"{example[:-5]}{i:05d}" for i in range(100_000)]
        # Kept: those libphonenumber calls valid (the normaliser returns them as they are).
        per_country.append([c for c, found in zip(candidates, resolve_all(candidates),
                                                  strict=True) if found == c])
    # Up to the country with the fewest (zip stops there).
    column = [number for numbers in zip(*per_country, strict=False) for number in numbers]
    if len(column) < n:
        raise ValueError(f"at most {len(column)} mixed numbers")
    column = column[:n]
    random.Random(ORDER_SEED).shuffle(column)
    return column


def startup_cpu(env: dict) -> tuple[float, float]:
    """Start-up alone: `tgcheck --version` (imports the CLI and what it needs)
    against a program that imports httpx and openpyxl."""
    ours = child_cpu([sys.executable, "-m", "tgcheck", "--version"], env)
    base = child_cpu([sys.executable, "-c", "import httpx, openpyxl"], env)
    return ours, base


def measure(n: int, repeat: int) -> list[Row]:
    """Cold (a new store), cached (the same run again) and the naive client, each
    `repeat` times in turn, min and median."""
    cold, cached, naive, start_ours, start_base = [], [], [], [], []
    with SandboxProcess(speed=1e7, queue_seconds=0.05, export_seconds=0.05,
                        quirks=False) as sb, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "numbers.txt"
        source.write_text("".join(f"{number}\n" for number in mixed_numbers(n)),
                          encoding="utf-8")
        env = {**os.environ, "TGCHECK_API_KEY": sb.api_key, "TGCHECK_POLL_MIN": "0.05",
               "TGCHECK_POLL_MAX": "0.5", "PYTHONPYCACHEPREFIX": str(work / "pyc")}
        # What a user's run has: installed plugins loaded, bytecode cached, the
        # default store.
        for name in ("PYTHONDONTWRITEBYTECODE", "TGCHECK_LOAD_PLUGINS", "TGCHECK_STORE_URL"):
            env.pop(name, None)
        warm = work / "warm.txt"
        warm.write_text("".join(f"+4479{i:08d}\n" for i in range(100)), encoding="utf-8")
        child_cpu(tgcheck_argv(warm, work / "warm.csv", sb.url),
                  {**env, "TGCHECK_HOME": str(work / "warm")})
        child_cpu(naive_argv(warm, work / "warm.csv", sb.url), env)
        for i in range(repeat):
            run_env = {**env, "TGCHECK_HOME": str(work / f"home{i}")}
            out = work / f"tgcheck{i}.csv"
            cold.append(child_cpu(tgcheck_argv(source, out, sb.url), run_env))
            cached.append(child_cpu(tgcheck_argv(source, out, sb.url), run_env))
            base_out = work / f"naive{i}.csv"
            naive.append(child_cpu(naive_argv(source, base_out, sb.url), run_env))
            if answers_of(out, n) != answers_of(base_out, n):
                raise RuntimeError("tgcheck's answers and the naive client's differ")
            ours, base = startup_cpu(env)
            start_ours.append(ours)
            start_base.append(base)
    b = statistics.median(naive)
    rows = []
    for label, runs, goal in (("cold", cold, 0.4), ("cached re-run", cached, 0.10)):
        med = statistics.median(runs)
        rows.append(Row(
            f"2 CLI process CPU s, {n:,} numbers of {len(COUNTRIES)} countries, {label} "
            "(vs naive httpx+openpyxl process)",
            med, b, goal=f"<= {goal}x", met=med / b <= goal,
            note=f"min of {repeat}: {min(runs):.2f} s vs {min(naive):.2f} s "
                 f"({min(runs) / min(naive):.2f}x); median shown"))
    ours, base = statistics.median(start_ours), statistics.median(start_base)
    rows.append(Row("2   of which start-up: `tgcheck --version` vs `import httpx, openpyxl`",
                    ours, base, note=f"median of {repeat}; interpreter start and imports"))
    return rows
