"""Backoff: exponential growth with full jitter, capped, honouring Retry-After and
the deadline. The sleep and the random source are injected, so nothing waits."""

import email.utils
import random
import time

import pytest

import tgcheck
from tgcheck.retry import Backoff, retry_after_seconds


class Highest(random.Random):
    """uniform() at its upper bound: the backoff's ceiling, visible."""

    def uniform(self, a, b):
        return b


def test_delays_double_from_the_base_up_to_the_cap():
    slept = []
    backoff = Backoff(time.monotonic() + 3600, base=0.5, cap=4.0, sleep=slept.append,
                      rng=Highest())
    for _ in range(6):
        backoff.wait("x")
    assert slept == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_full_jitter_spreads_delays_between_zero_and_the_ceiling():
    slept = []
    backoff = Backoff(time.monotonic() + 3600, base=1.0, cap=8.0, sleep=slept.append,
                      rng=random.Random(3))
    for _ in range(40):
        backoff.wait("x")
    tail = slept[4:]  # ceiling reached: every delay in [0, 8]
    assert all(0 <= d <= 8.0 for d in tail)
    assert min(tail) < 2.0 and max(tail) > 6.0  # spread, not fixed


def test_retry_after_is_honoured_as_a_floor():
    slept = []
    backoff = Backoff(time.monotonic() + 3600, base=0.01, sleep=slept.append,
                      rng=Highest())
    backoff.wait("x", retry_after=7.5)
    backoff.wait("x", retry_after=None)
    assert slept == [7.5, 0.02]


def test_the_deadline_stops_retries_with_a_clear_error():
    slept = []
    backoff = Backoff(time.monotonic() + 1.0, base=0.5, sleep=slept.append, rng=Highest())
    backoff.wait("x")  # 0.5 s fits before the deadline
    with pytest.raises(tgcheck.DeadlineExceeded, match="gave up after 2 attempts.*HTTP 500"):
        backoff.wait("asking", retry_after=5.0, last_error="HTTP 500")
    assert slept == [0.5]


def test_retry_after_in_seconds_or_as_an_http_date():
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds(" 0.5 ") == 0.5
    assert retry_after_seconds("-3") == 0.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 27 <= retry_after_seconds(later) <= 30
    earlier = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert retry_after_seconds(earlier) == 0.0
