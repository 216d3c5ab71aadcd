"""PollSchedule's logic on a simulated clock: no sleeping, no server.

The schedule reads normalised states only (tgcheck.provider); the words below are
ekycpro's, mapped as its provider maps them, so the tasks read like the vendor's.
"""

from __future__ import annotations

import pytest

from tgcheck.models import TaskStatus
from tgcheck.polling import LAG_CAP, PollSchedule
from tgcheck.provider import QUEUED, READY, RUNNING

# "on_hold", "weird": words a provider does not know (no state).
STATES = {"pending": QUEUED, "processing": RUNNING, "completed": READY, "exported": READY,
          "on_hold": None, "weird": None}


def status(word: str, total: int | None = None, done: int | None = None, url=None):
    return TaskStatus("t1", word, total=total, success=done, failure=0 if done is not None
                      else None, result_url=url, state=STATES[word])


def drive(task, schedule: PollSchedule, poll_min: float) -> tuple[int, float]:
    """Poll a task model (t -> TaskStatus) as the engine does: (calls, lag)."""
    t, calls = poll_min, 0
    while True:
        s = task(t)
        calls += 1
        if s.state == READY and s.result_url:
            return calls, t - task.ready
        delay = schedule.next_delay(s, t)
        assert schedule.poll_min <= delay <= schedule.poll_max
        t += delay
        assert calls < 1000


class SteadyTask:
    """Queued for `queue` s, then `rate` numbers/s, then `export` s of completed."""

    def __init__(self, numbers: int, rate: float, queue: float = 30.0, export: float = 5.0):
        self.numbers, self.rate, self.queue, self.export = numbers, rate, queue, export
        self.done_at = queue + numbers / rate
        self.ready = self.done_at + export

    def __call__(self, t: float) -> TaskStatus:
        if t < self.queue:
            return status("pending", 0, 0)
        if t < self.done_at:
            return status("processing", self.numbers, int((t - self.queue) * self.rate))
        if t < self.ready:
            return status("completed", self.numbers, self.numbers)
        return status("exported", self.numbers, self.numbers, "https://x/r.zip")


@pytest.mark.parametrize("prior", [True, False])
def test_a_thirty_minute_task_costs_at_most_ten_calls_and_little_lag(prior):
    task = SteadyTask(numbers=19_000, rate=11.0, queue=90.0)
    schedule = PollSchedule(2.0, 1800.0, 0.0, task.numbers if prior else None)
    calls, lag = drive(task, schedule, 2.0)
    assert calls <= 10
    assert 0 <= lag < 0.05 * task.ready


def test_a_one_minute_task_is_noticed_within_five_percent():
    task = SteadyTask(numbers=500, rate=11.0, queue=8.0, export=3.0)
    calls, lag = drive(task, PollSchedule(2.0, 300.0, 0.0, task.numbers), 2.0)
    assert lag < 0.05 * task.ready
    assert calls < task.ready / 2.0  # fewer than polling every poll_min


def test_a_rate_far_above_the_prior_is_measured_not_assumed():
    # 60x the typical rate: the first sighting of progress must not be trusted to
    # the prior; the schedule measures and still lands promptly.
    task = SteadyTask(numbers=20_000, rate=660.0, queue=5.0, export=2.0)
    calls, lag = drive(task, PollSchedule(0.5, 300.0, 0.0), 0.5)
    assert lag < 0.05 * task.ready + 0.5


def test_pending_without_prior_waits_geometrically():
    schedule = PollSchedule(2.0, 300.0, 0.0)
    delays, t = [], 2.0
    for _ in range(4):
        d = schedule.next_delay(status("pending", 0, 0), t)
        delays.append(d)
        t += d
    assert delays == sorted(delays) and delays[-1] > 4 * delays[0]


def test_pending_with_a_prior_waits_for_part_of_the_shortest_run():
    small = PollSchedule(2.0, 3600.0, 0.0, 200).next_delay(status("pending", 0, 0), 2.0)
    large = PollSchedule(2.0, 3600.0, 0.0, 50_000).next_delay(status("pending", 0, 0), 2.0)
    assert small < large
    assert large < 50_000 / 11.0  # well before even a typical-rate finish


def test_aims_before_the_estimated_finish_while_far_then_at_it_when_close():
    schedule = PollSchedule(2.0, 10_000.0, 0.0, 10_000)
    schedule.next_delay(status("pending", 0, 0), 2.0)
    schedule.next_delay(status("processing", 10_000, 1000), 100.0)
    # 10/s measured since t=100; 8,000 left = 800 s of processing.
    far = schedule.next_delay(status("processing", 10_000, 2000), 200.0)
    assert 150 <= far < 800  # early: short of the 800 s estimate
    close = schedule.next_delay(status("processing", 10_000, 9_900), 990.0)
    assert close >= 10  # at the estimated end, not in small steps


def test_never_extrapolates_far_beyond_what_it_has_measured():
    schedule = PollSchedule(1.0, 100_000.0, 0.0, 1_000_000)
    schedule.next_delay(status("pending", 0, 0), 1.0)
    schedule.next_delay(status("processing", 1_000_000, 100), 10.0)
    delay = schedule.next_delay(status("processing", 1_000_000, 200), 20.0)
    assert delay <= 2 * 10.0 + 1e-9


def test_completed_polls_soon_and_within_the_lag_budget():
    schedule = PollSchedule(2.0, 300.0, 0.0, 20_000)
    first = schedule.next_delay(status("completed", 20_000, 20_000), 1800.0)
    second = schedule.next_delay(status("completed", 20_000, 20_000), 1800.0 + first)
    assert first <= second <= LAG_CAP


def test_success_above_total_counts_as_finished():
    # The vendor once reported success > total; that is not "far from done".
    schedule = PollSchedule(2.0, 300.0, 0.0)
    delay = schedule.next_delay(status("processing", 100, 101), 600.0)
    assert delay <= LAG_CAP


def test_bounds_are_respected():
    schedule = PollSchedule(0.02, 0.5, 0.0)
    for word, total, done in [("pending", 0, 0), ("processing", 10, 1),
                              ("processing", 10, 5), ("completed", 10, 10),
                              ("weird", None, None)]:
        assert 0.02 <= schedule.next_delay(status(word, total, done), 30.0) <= 0.5


def test_a_stalled_task_backs_off_instead_of_polling_fast():
    schedule = PollSchedule(2.0, 300.0, 0.0)
    schedule.next_delay(status("pending", 0, 0), 2.0)
    schedule.next_delay(status("processing", 1000, 100), 50.0)
    delay = schedule.next_delay(status("processing", 1000, 100), 150.0)
    assert delay >= 10


@pytest.mark.parametrize("word", ["pending", "on_hold", "processing"])
def test_a_task_that_never_moves_is_polled_at_doubling_intervals(word):
    # On an injected clock: the same word and count (or a word the schedule does
    # not know) each time; the interval doubles up to poll_max.
    schedule = PollSchedule(2.0, 1800.0, 0.0, 19)
    still = status(word, 19 if word == "processing" else 0, 0)
    t, times = 2.0, []
    while t <= 4 * 3600:
        times.append(t)
        t += schedule.next_delay(still, t)
    if word != "processing":  # "processing" is a change from the creation's pending
        assert times[:7] == [2, 4, 8, 16, 32, 64, 128]
    assert sum(x <= 120 for x in times) <= 8 and len(times) <= 20
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert max(gaps) == 1800.0 and gaps == sorted(gaps)


def test_progress_resets_the_backoff():
    schedule = PollSchedule(2.0, 1800.0, 0.0, 10_000)
    for t in (2.0, 400.0, 800.0):
        schedule.next_delay(status("pending", 0, 0), t)
    assert schedule.idle(status("pending", 0, 0), 1000.0) == 1000.0
    # It moves: the backoff is gone, the rate rules again.
    assert schedule.next_delay(status("processing", 10_000, 3000), 1200.0) < 1200
    assert schedule.idle(status("processing", 10_000, 3000), 1300.0) == 100.0


def test_completed_gets_time_to_write_its_file_before_backing_off():
    schedule = PollSchedule(2.0, 1800.0, 0.0, 500)
    done = status("completed", 500, 500)
    t = 100.0
    first = schedule.next_delay(done, t)
    assert schedule.next_delay(done, t + first) <= LAG_CAP  # within STUCK_EXPORT: the budget
    assert schedule.next_delay(done, t + 600) >= 500  # stuck for 10 minutes: backs off


def test_the_providers_typical_rate_is_the_prior_while_queued():
    # A provider ten times faster than the default prior: its queued task is
    # looked at ten times sooner (half the shortest plausible run).
    default = PollSchedule(2.0, 3600.0, 0.0, 50_000).next_delay(status("pending", 0, 0), 2.0)
    fast = PollSchedule(2.0, 3600.0, 0.0, 50_000, typical_rate=110.0).next_delay(
        status("pending", 0, 0), 2.0)
    assert fast == pytest.approx(default / 10)


def test_a_record_without_a_state_is_taken_for_queued():
    schedule = PollSchedule(2.0, 1800.0, 0.0, 19)
    still = TaskStatus("t1", "whatever")  # a provider that set no state
    t, times = 2.0, []
    for _ in range(5):
        times.append(t)
        t += schedule.next_delay(still, t)
    assert times == [2, 4, 8, 16, 32]  # no movement: the doubling of a still task


def test_an_unknown_word_between_known_ones_is_no_progress():
    # A task flipping between "processing" and a word its provider does not know
    # (no state) has not moved: the backoff goes on doubling.
    schedule = PollSchedule(2.0, 1800.0, 0.0, 1000)
    schedule.next_delay(status("processing", 1000, 100), 2.0)
    assert schedule.idle(status("on_hold", 1000, 100), 200.0) == 198.0
    assert schedule.idle(status("processing", 1000, 100), 400.0) == 398.0
