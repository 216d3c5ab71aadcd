"""TG_CHECK on 20,000 numbers that are already answered, against baselines measured here.

Run: python benchmarks/bench_excel.py   (uses the sandbox on 127.0.0.1; no network)
(also figure 5 of `python -m benchmarks`)
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import phonenumbers

from tgcheck.normalize import resolve_all

try:
    from benchmarks.common import Row
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.common import Row

N = 20_000
REPEAT = 7
GOAL_SECONDS = 0.2
PER_CELL_SAMPLE = 1_000  # per-cell calls are slow: time a sample, scale to N


def median_seconds(fn, repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def naive_phonenumbers(values) -> list[str]:
    """What a hand-written macro would do per cell: parse and format each number."""
    out = []
    for value in values:
        text = "+" + str(int(value)) if isinstance(value, float) else str(value)
        try:
            parsed = phonenumbers.parse(text, None)
            out.append(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
        except phonenumbers.NumberParseException:
            out.append("invalid")
    return out


def measure(repeat: int = REPEAT) -> list[Row]:
    from tgcheck.sandbox import Sandbox

    saved = dict(os.environ)
    with Sandbox(speed=1e7) as sandbox, tempfile.TemporaryDirectory() as home:
        os.environ.update(TGCHECK_API_KEY=sandbox.api_key, TGCHECK_BASE_URL=sandbox.url,
                          TGCHECK_HOME=home, TGCHECK_POLL_MIN="0.02", TGCHECK_POLL_MAX="0.5",
                          TGCHECK_LOAD_PLUGINS="")
        import tgcheck
        import tgcheck_udfs

        # As classic Excel passes a column of numbers typed without "+": floats.
        grid = [[float(41790000000 + i)] for i in range(N)]
        first = tgcheck_udfs.tg_check(grid)  # pays once, fills the store
        assert len(first) == N and sandbox.billed["create"] == 1
        calls = dict(sandbox.calls)

        answered = median_seconds(lambda: tgcheck_udfs.tg_check(grid), repeat)
        assert dict(sandbox.calls) == calls, "a recalculation must make no API call"

        sample = [row[0] for row in grid[:PER_CELL_SAMPLE]]
        per_cell = median_seconds(lambda: [tgcheck.check([v]) for v in sample], 3)
        per_cell *= N / PER_CELL_SAMPLE

        flat = [row[0] for row in grid]
        store = tgcheck.get_engine(tgcheck.Settings.from_env()).store
        normalise_only = median_seconds(lambda: resolve_all(flat, None))
        naive = median_seconds(lambda: naive_phonenumbers(flat), 3)
        numbers = sorted({f"+{int(v)}" for v in flat})
        lookup = median_seconds(lambda: store.lookup("tg", numbers, max_age_days=30,
                                                     unknown_retry_hours=24), repeat)
    os.environ.clear()
    os.environ.update(saved)

    return [
        Row(f"5 Excel TG_CHECK, {N:,} answered cells (s)", answered, per_cell,
            goal=f"< {GOAL_SECONDS} s", met=answered < GOAL_SECONDS,
            note=f"baseline: per-cell tgcheck.check, timed on {PER_CELL_SAMPLE:,} cells, "
                 f"scaled; median of {repeat}"),
        Row(f"5   engine: normalise {N:,} (s)", normalise_only, naive,
            note="baseline: phonenumbers parse+format loop"),
        Row(f"5   engine: store lookup {N:,} (s)", lookup),
    ]


def main() -> None:
    for row in measure():
        print("  ".join(row.cells()))


if __name__ == "__main__":
    main()
