"""The store's bulk paths, PostgreSQL against SQLite in the same run.

Rows:
  * storing 200,000 answers (one job's finish_job: the answers and the job's end
    in one transaction) in each store; goal for PostgreSQL: under 3 s;
  * Engine.check of 1,000,000 numbers all answered in the store (a cached check:
    no API call); goal: PostgreSQL at most 2x SQLite.

PostgreSQL is the server at --url, or else a throwaway local cluster started for
the run (Debian's /usr/lib/postgresql/*/bin, as the tests do). Run:

    python benchmarks/bench_store.py                 # 1,000,000 / 200,000
    python benchmarks/bench_store.py --check-rows 100000 --store-rows 20000
    python benchmarks/bench_store.py --url postgresql://me@dbhost/bench
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
try:
    from benchmarks.common import Row, median_of, timed
except ImportError:  # run as a script
    sys.path.insert(0, str(ROOT))
    from benchmarks.common import Row, median_of, timed

STORE_GOAL_SECONDS = 3.0
CHECK_GOAL_RATIO = 2.0


def numbers(n: int, start: int = 0) -> list[str]:
    return [f"+4179{i:07d}" for i in range(start, start + n)]


def _store_answers(store, phones: list[str], key: str) -> float:
    """Seconds for finish_job of one job holding phones (claimed beforehand)."""
    role, job = store.claim(key, "bench", "tg", phones)
    store.update_job(job.id, state="open", task_id=key)
    job = store.job(job.id)
    rows = [(p, "yes" if i % 2 else "no", "ok") for i, p in enumerate(phones)]
    return timed(lambda: store.finish_job(job, "tg", rows))


@contextlib.contextmanager
def postgres(url: str | None):
    """A PostgreSQL URL: the one given, or a throwaway local cluster's."""
    if url:
        yield url
        return
    sys.path.insert(0, str(ROOT / "tests"))
    import postgres_cluster

    bindir = postgres_cluster.find_bindir()
    if bindir is None:
        raise SystemExit("no PostgreSQL here: give --url, or install postgresql")
    with postgres_cluster.running_cluster(bindir) as cluster:
        yield cluster.create_database("bench")


def measure(check_rows: int, store_rows: int, url: str | None = None,
            repeat: int = 3) -> list[Row]:
    import tgcheck

    rows: list[Row] = []
    with postgres(url) as pg_url, tempfile.TemporaryDirectory() as home:
        base = tgcheck.Settings(api_key="bench", base_url="http://127.0.0.1:9", home=home)
        backends = {"SQLite": base, "PostgreSQL": dataclasses.replace(base, store_url=pg_url)}
        engines = {name: tgcheck.Engine(s) for name, s in backends.items()}
        try:
            stored = {name: _store_answers(e.store, numbers(store_rows, start=5_000_000),
                                           "store-bench") for name, e in engines.items()}
            rows.append(Row(f"S1 store {store_rows:,} answers, PostgreSQL vs SQLite (s)",
                            stored["PostgreSQL"], stored["SQLite"],
                            goal=f"PostgreSQL < {STORE_GOAL_SECONDS:.0f} s",
                            met=stored["PostgreSQL"] < STORE_GOAL_SECONDS))
            phones = numbers(check_rows)
            for e in engines.values():
                _store_answers(e.store, phones, "check-bench")
            checked = {}
            for name, e in engines.items():
                answers = e.check(phones)  # warm: both stores' caches hold the table
                if sum(a.status == "ok" for a in answers) != check_rows:
                    raise SystemExit(f"{name}: not every number answered from the store")
                checked[name] = median_of(lambda e=e: e.check(phones), repeat)
            rows.append(Row(f"S2 Engine.check, {check_rows:,} answered numbers, PostgreSQL vs "
                            "SQLite (s)", checked["PostgreSQL"], checked["SQLite"],
                            goal=f"<= {CHECK_GOAL_RATIO:.0f}x SQLite",
                            met=checked["PostgreSQL"] <= CHECK_GOAL_RATIO * checked["SQLite"]))
        finally:
            for e in engines.values():
                e.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    from benchmarks.run import render

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check-rows", type=int, default=1_000_000)
    parser.add_argument("--store-rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--url", help="a PostgreSQL database to use (default: a local "
                                      "throwaway cluster)")
    args = parser.parse_args(argv)
    rows = measure(args.check_rows, args.store_rows, args.url, args.repeat)
    print(render(rows, "tgcheck store: PostgreSQL against SQLite (tgcheck = PostgreSQL, "
                       "baseline = SQLite)"))


if __name__ == "__main__":
    main()
