"""Ctrl-C ends the main thread's wait for its workers however the system
delivered it: a process's SIGINT may be handed to any of its threads, and
Python then raises KeyboardInterrupt in the main thread only when it runs
Python code again. A wait on a lock with no timeout never does, until the
worker is done (a `tgcheck resume` whose next poll is a minute away ignored
Ctrl-C for that minute). The main thread's waits (tgcheck/main_waits.py,
engine/cancel.py) wake up every MAIN_WAIT to let it through."""

import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tgcheck.engine.cancel import _wait_future
from tgcheck.main_waits import completed

GUARD = 20.0  # how long a worker waits for the stop before it gives up


def _sigint_to_the_worker(started: threading.Event, waiting: threading.Event,
                          ident: list[int]) -> None:
    """A SIGINT to the worker's thread, once it runs and the main thread waits."""
    started.wait(GUARD)
    waiting.wait(GUARD)
    signal.pthread_kill(ident[0], signal.SIGINT)


def _worker(started: threading.Event, ident: list[int], stop: threading.Event) -> bool:
    """Waits for stop, after asking for a SIGINT aimed at this very thread;
    whether the stop came before the guard ran out."""
    ident.append(threading.get_ident())
    started.set()
    return stop.wait(GUARD)


@pytest.mark.parametrize("waits", ["one future", "as they complete"])
def test_a_sigint_taken_by_a_worker_thread_still_interrupts_the_main_wait(waits):
    assert threading.current_thread() is threading.main_thread()
    started, waiting, ident, stop = (threading.Event(), threading.Event(), [],
                                     threading.Event())
    pool = ThreadPoolExecutor(1)
    future = pool.submit(_worker, started, ident, stop)
    threading.Thread(target=_sigint_to_the_worker, args=(started, waiting, ident)).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            waiting.set()  # the interrupt can come from here on: inside the raises
            if waits == "one future":
                _wait_future(future, None)
            else:
                list(completed([future]))
        stop.set()  # what the engine does on Ctrl-C: the workers are told
        # The interrupt came while the worker still waited: it saw the stop,
        # not its guard running out (which is when a wait without a timeout
        # would have let the interrupt through).
        assert future.result(GUARD) is True
    finally:
        stop.set()
        pool.shutdown()
