"""The sync fast path, measured: a 10-number check as a whole process, through each
face, bulk only (TGCHECK_SYNC_MAX=0) and with the fast path (TGCHECK_SYNC_MAX=20).

    python -m benchmarks.bench_fast_path [--repeat 3]

The sandbox runs in its own process at the vendor's documented pace (11 numbers a
second) with tgcheck's default polling (TGCHECK_POLL_MIN 2 s); each run has a
fresh store, so nothing is answered from it. Two sets of 10: all in the vendor's
cache (no task at all), and 7 in it and 3 not (those 3 still wait for a task).
Prints wall seconds, medians of the repeats.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import SandboxProcess
from tgcheck.default_plugins.ekycpro.sandbox import HIT, cache_outcome

ROOT = Path(__file__).resolve().parent.parent


def _pick(count: int, hits: int, start: int) -> list[str]:
    """count numbers of which `hits` are in the sandbox's cache."""
    chosen, other, i = [], [], start
    while len(chosen) < hits or len(other) < count - hits:
        n = f"+4179{i:07d}"
        (chosen if cache_outcome(n) == HIT else other).append(n)
        i += 1
    return chosen[:hits] + other[:count - hits]


def _faces(nums: list[str], folder: Path) -> dict[str, list[str]]:
    listed = repr(nums)
    path = folder / "in.txt"
    path.write_text("\n".join(nums) + "\n")
    py = sys.executable
    return {
        "CLI": [py, "-m", "tgcheck", "check", str(path), "--progress", "none"],
        "Python": [py, "-c", f"import tgcheck; tgcheck.check({listed})"],
        "DuckDB": [py, "-c", "import duckdb, tgcheck_duckdb; "
                   "con = tgcheck_duckdb.register(duckdb.connect()); "
                   f'con.sql("FROM telegram_check({listed})").fetchall()'],
        # TG_CHECK's whole path, as Excel calls it (xlwings itself is not needed).
        "Excel": [py, "-c", "from tgcheck_udfs.checking import check_range; "
                  f"out = check_range([[n] for n in {listed}]); "
                  "assert not out[0][0].startswith('error'), out"],
    }


def _run(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed: {done.stderr[-500:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sets = {"10 in cache": _pick(10, 10, 0), "7 in cache, 3 not": _pick(10, 7, 10_000)}
    print("| face | numbers | bulk only (s) | fast path (s) | sync calls billed |")
    print("|---|---|---|---|---|")
    with SandboxProcess(speed=11.0) as sb, tempfile.TemporaryDirectory() as tmp:
        base = {k: v for k, v in os.environ.items() if not k.startswith("TGCHECK_")}
        base.update(TGCHECK_BASE_URL=sb.url, TGCHECK_API_KEY=sb.api_key,
                    TGCHECK_SYNC_URL=sb.url, TGCHECK_LOAD_PLUGINS="")
        runs = 0
        for label, nums in sets.items():
            for face, cmd in _faces(nums, Path(tmp)).items():
                times = {}
                for sync_max in ("0", "20"):
                    took = []
                    for _ in range(args.repeat):
                        runs += 1
                        home = Path(tmp) / f"home{runs}"
                        took.append(_run(cmd, {**base, "TGCHECK_HOME": str(home),
                                               "TGCHECK_SYNC_MAX": sync_max}))
                    times[sync_max] = sorted(took)[len(took) // 2]
                before = sb.billed().get("check", 0)
                _run(cmd, {**base, "TGCHECK_HOME": str(Path(tmp) / f"home{runs}-count"),
                           "TGCHECK_SYNC_MAX": "20"})
                billed = sb.billed().get("check", 0) - before
                print(f"| {face} | {label} | {times['0']:.2f} | {times['20']:.2f} | {billed} |",
                      flush=True)


if __name__ == "__main__":
    main()
