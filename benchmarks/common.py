"""What every benchmark shares: a result row, medians of repeats, a sandbox in its
own process (so its CPU and memory are never counted as the client's)."""

from __future__ import annotations

import dataclasses
import multiprocessing
import statistics
import time


@dataclasses.dataclass
class Row:
    figure: str
    tgcheck: float | str
    baseline: float | str | None = None
    goal: str = ""
    met: bool | None = None
    ratio: str = ""  # filled from tgcheck/baseline when both are numbers
    note: str = ""

    def cells(self) -> list[str]:
        def fmt(x):
            if x is None:
                return "-"
            if isinstance(x, float):
                return f"{x:.3f}" if abs(x) < 10 else f"{x:.1f}"
            return str(x)

        ratio = self.ratio
        if not ratio and isinstance(self.tgcheck, float) and isinstance(self.baseline, float) \
                and self.baseline > 0:
            ratio = f"{self.tgcheck / self.baseline:.2f}x"
        met = "-" if self.met is None else ("yes" if self.met else "NO")
        return [self.figure, fmt(self.tgcheck), fmt(self.baseline), ratio or "-",
                self.goal or "-", met]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_of(fn, repeat: int) -> float:
    return statistics.median(timed(fn) for _ in range(max(1, repeat)))


# -- a sandbox in another process ------------------------------------------
def _serve(kwargs: dict, conn) -> None:
    from tgcheck.sandbox import Sandbox

    sandbox = Sandbox(**kwargs).start()
    conn.send((sandbox.url, sandbox.api_key))
    while True:
        msg = conn.recv()
        if msg == "stop":
            sandbox.stop()
            conn.send(None)
            return
        if msg == "billed":
            conn.send(dict(sandbox.billed))


class SandboxProcess:
    """`with SandboxProcess(speed=...) as sb:` -> sb.url, sb.api_key, sb.billed()."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def __enter__(self) -> SandboxProcess:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(self.kwargs, child), daemon=True)
        self._proc.start()
        self.url, self.api_key = self._conn.recv()
        return self

    def billed(self) -> dict:
        self._conn.send("billed")
        return self._conn.recv()

    def __exit__(self, *exc) -> None:
        self._conn.send("stop")
        self._conn.recv()
        self._proc.join(10)
