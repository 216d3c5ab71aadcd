"""A simulated vendor task and a virtual clock, to count status calls and lag.

The task reports progress like the vendor: `pending` for a queue of 0-120 s (at
most a quarter of the task), then `processing` at a rate that wanders +-30% over
minutes (three slow sine waves with random periods and phases), then `completed`
for 2-15 s, then `exported`. Its average rate is the vendor's typical 11/s times
a factor in [0.5, 2], so the schedule's prior is never exactly right.

Policies are driven as the engine drives PollSchedule: the first status call
after poll_min, then `delay = policy(status, now)` after each call, until the
call that sees `exported`. Lag = that call's time - the time the file was ready.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from tgcheck.default_plugins.ekycpro.words import STATUS_WORDS, TYPICAL_RATE
from tgcheck.models import TaskStatus
from tgcheck.polling import PollSchedule


def _record(word: str, **counts) -> TaskStatus:
    """A record as ekycpro's client makes it: the word with its normalised state
    (the policy reads only the state; a word without one stays None)."""
    return TaskStatus("sim", word, state=STATUS_WORDS.get(word), **counts)

LENGTHS_MIN = (1, 2, 5, 10, 15, 20, 30, 45, 60)
JITTER = 0.30


@dataclass
class SimTask:
    """One task's timeline; times are seconds since creation."""

    numbers: int
    queue: float
    processing_end: float
    ready: float  # exported from here on
    _waves: tuple[tuple[float, float, float], ...]
    _base: float

    def _done(self, t: float) -> int:
        """Numbers processed t seconds after creation (integral of the rate)."""
        return min(self.numbers, self._integral(t))

    def _integral(self, t: float) -> int:
        w = t - self.queue
        if w <= 0:
            return 0
        done = self._base * w
        for amp, period, phase in self._waves:
            k = 2 * math.pi / period
            done += self._base * amp * (math.cos(phase) - math.cos(k * w + phase)) / k
        return int(done)

    def status(self, t: float) -> TaskStatus:
        if t < self.queue:
            # The full record of a queued task reads total 0, as the vendor's does.
            return _record("pending", total=0, success=0, failure=0)
        if t < self.processing_end:
            return _record("processing", total=self.numbers,
                           success=min(self._done(t), self.numbers - 1), failure=0)
        if t < self.ready:
            return _record("completed", total=self.numbers,
                           success=self.numbers, failure=0)
        return _record("exported", total=self.numbers, success=self.numbers, failure=0,
                       result_url="sim://file")


def make_task(length_s: float, rng: random.Random, *, jitter: float = JITTER,
              max_queue: float = 120.0) -> SimTask:
    length_s *= rng.uniform(0.97, 1.03)  # no two tasks alike
    queue = rng.uniform(0, min(max_queue, 0.25 * length_s))
    export = rng.uniform(2, 15)
    processing = length_s - queue - export
    base = TYPICAL_RATE * math.exp(rng.uniform(math.log(0.5), math.log(2.0)))
    amps = [rng.uniform(0, 1) for _ in range(3)]
    scale = jitter / max(sum(amps), 1e-9)
    waves = tuple((a * scale, rng.uniform(120, 1200), rng.uniform(0, 2 * math.pi))
                  for a in amps)
    task = SimTask(numbers=0, queue=queue, processing_end=0, ready=0, _waves=waves, _base=base)
    task.numbers = max(1, task._integral(queue + processing))
    # The exact end: the first half second at which all numbers are done.
    end = queue + processing
    while end > queue and task._integral(end - 0.5) >= task.numbers:
        end -= 0.5
    task.processing_end = end
    task.ready = end + export
    return task


Policy = Callable[[TaskStatus, float], float]


def run(task: SimTask, policy: Policy, poll_min: float, trace=None) -> tuple[int, float]:
    """(status calls, lag in s) of one policy on one task."""
    t, calls = poll_min, 0
    while True:
        status = task.status(t)
        calls += 1
        if trace is not None:
            trace.append((round(t, 1), status.status, status.success))
        if status.status == "exported":
            return calls, t - task.ready
        t += policy(status, t)
        if calls > 100_000:
            raise RuntimeError("the policy never finished")


def tgcheck_policy(task: SimTask, poll_min=2.0, poll_max=300.0, prior=True) -> Policy:
    schedule = PollSchedule(poll_min, poll_max, 0.0, task.numbers if prior else None,
                            typical_rate=TYPICAL_RATE)
    return schedule.next_delay


def fixed_policy(seconds: float) -> Callable[[SimTask], Policy]:
    return lambda task: (lambda status, now: seconds)


def api_core_policy(task: SimTask) -> Policy:
    """google-api-core's default polling: 1 s initial, x1.5, at most 20 s."""
    state = {"delay": 1.0}

    def policy(status, now):
        delay = state["delay"]
        state["delay"] = min(delay * 1.5, 20.0)
        return delay

    return policy


def stuck_calls(policy: Policy, horizon: float, poll_min: float = 2.0,
                word: str = "pending", numbers: int = 19) -> int:
    """Status calls a policy makes within horizon seconds on a task that never moves
    (always `word`, nothing processed; an unknown word such as "on_hold" too)."""
    status = _record(word, total=numbers if word != "pending" else 0, success=0, failure=0)
    t, calls = poll_min, 0
    while t <= horizon:
        calls += 1
        t += policy(status, t)
        if calls > 100_000:
            raise RuntimeError("the policy polls without end")
    return calls


def stuck_policy(numbers: int = 19, poll_min: float = 2.0, poll_max: float = 1800.0) -> Policy:
    return PollSchedule(poll_min, poll_max, 0.0, numbers, typical_rate=TYPICAL_RATE).next_delay


@dataclass
class Row:
    length_min: float
    calls_median: float
    calls_max: int
    lag_median: float
    lag_max: float
    lag_share_max: float  # worst lag / the task's length

    @property
    def met(self) -> bool:
        calls_ok = self.length_min != 30 or self.calls_max <= 10
        return calls_ok and self.lag_share_max < 0.05 and self.lag_max < 60


def sweep(make_policy: Callable[[SimTask], Policy], *, tasks_per_length: int = 200,
          lengths=LENGTHS_MIN, seed: int = 7, poll_min: float = 2.0,
          jitter: float = JITTER) -> list[Row]:
    rows = []
    for minutes in lengths:
        rng = random.Random(seed * 1000 + minutes)
        calls, lags, shares = [], [], []
        for _ in range(tasks_per_length):
            task = make_task(minutes * 60.0, rng, jitter=jitter)
            c, lag = run(task, make_policy(task), poll_min)
            calls.append(c)
            lags.append(lag)
            shares.append(lag / task.ready)
        rows.append(Row(minutes, statistics.median(calls), max(calls), statistics.median(lags),
                        max(lags), max(shares)))
    return rows


if __name__ == "__main__":
    import sys

    for word in ("pending", "on_hold"):
        print(f"never-moving task ({word}): "
              f"{stuck_calls(stuck_policy(), 120, word=word)} calls in 2 min, "
              f"{stuck_calls(stuck_policy(), 4 * 3600, word=word)} in 4 h")

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    for name, policy in [
        ("tgcheck (size prior)", lambda task: tgcheck_policy(task)),
        ("tgcheck (no prior)", lambda task: tgcheck_policy(task, prior=False)),
        ("tgcheck (size prior, poll_max 1800)",
         lambda task: tgcheck_policy(task, poll_max=1800)),
        ("tgcheck (no prior, poll_max 1800)",
         lambda task: tgcheck_policy(task, poll_max=1800, prior=False)),
        ("fixed 5 s", fixed_policy(5.0)),
        ("api-core 1/1.5/20", api_core_policy),
    ]:
        print(name)
        for r in sweep(policy, tasks_per_length=n):
            print(f"  {r.length_min:>4} min calls med {r.calls_median:5.1f} max {r.calls_max:4d}"
                  f"  lag med {r.lag_median:6.1f} max {r.lag_max:6.1f} s"
                  f" ({100 * r.lag_share_max:4.1f}%) {'ok' if r.met else 'MISSED'}")
