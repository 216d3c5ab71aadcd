"""Figure 7: Ctrl-C to exit, a `tgcheck check` with several tasks in flight.

The tasks never finish (the sandbox's clock stands still), so the time measured
is only how long the interrupted process takes to let go (no create is on its way:
those are waited for on purpose, see docs/cli.md); before issue 14 it
waited for every task in flight (here: for ever, until TGCHECK_TIMEOUT).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Row, SandboxProcess

TASKS_IN_FLIGHT = 4  # the engine's max_parallel_tasks


def _one(sb: SandboxProcess, home: str) -> float:
    listing = Path(home) / "in.txt"
    listing.write_text("\n".join(f"+4179{i:07d}" for i in range(40)) + "\n")
    env = dict(os.environ, TGCHECK_HOME=home, TGCHECK_BASE_URL=sb.url,
               TGCHECK_API_KEY=sb.api_key, TGCHECK_MAX_TASK_SIZE="5", TGCHECK_TIMEOUT="120",
               TGCHECK_POLL_MIN="0.05", TGCHECK_POLL_MAX="0.2", TGCHECK_LOAD_PLUGINS="")
    proc = subprocess.Popen([sys.executable, "-m", "tgcheck", "check", str(listing),
                             "--progress", "json"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        submitted = 0
        for line in proc.stderr:
            submitted += '"event": "submitted"' in line
            if submitted >= TASKS_IN_FLIGHT:
                break
        start = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        return time.perf_counter() - start
    finally:
        proc.kill()


def fig_interrupt(quick: bool) -> list[Row]:
    repeat = 1 if quick else 3
    with SandboxProcess(time_scale=0.0) as sb:
        times = []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as home:
                times.append(_one(sb, home))
    seconds = statistics.median(times)
    return [Row(f"7 Ctrl-C to exit, {TASKS_IN_FLIGHT} tasks in flight, seconds", seconds, None,
                goal="< 1 s", met=seconds < 1.0)]
