"""Wait for the engine inside a UDF, yet stop promptly on con.interrupt() or Ctrl-C.

A running UDF holds one of DuckDB's threads, and DuckDB only looks at its
interrupt flag between tasks, i.e. after the UDF returns: without help, an
interrupted query would wait out the whole task (half an hour for 20,000
numbers). So the engine runs on a helper thread while the UDF thread watches
three signals and, on any of them, sets the engine's cancel event:

- con.interrupt(): DuckDB exposes no "was I interrupted?" to Python, so the
  connection class's interrupt method is wrapped to tell the waits of that
  connection (see install_interrupt_hook);
- Ctrl-C landing in the UDF thread itself (DuckDB ran the UDF on the main
  thread): a KeyboardInterrupt out of the wait;
- Ctrl-C while the UDF runs on a DuckDB worker thread: the main thread sits in
  DuckDB, which runs Python's SIGINT handler and interrupts the query without
  calling the Python method; a chained SIGINT handler counts those.

Cancelling only stops the wait: the task runs on at the provider and the next
query attaches to it through the engine's journal, paying nothing twice.
"""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future

import duckdb

import tgcheck

# How often the UDF thread looks at the cancel signals: the delay between
# Ctrl-C and the query stopping.
WATCH_EVERY = 0.05

INTERRUPTED = (
    "tgcheck: query interrupted; the task runs on at the provider. Run the same query "
    "again to collect its answers: it attaches to the task, no new task is created."
)

_waits: dict[int, set[threading.Event]] = {}
_waits_lock = threading.Lock()
_sigints = 0


def _cancel_waits(connection_key: int) -> None:
    with _waits_lock:
        for cancel in _waits.get(connection_key, ()):
            cancel.set()


def install_interrupt_hook() -> None:
    """Wrap DuckDBPyConnection.interrupt once per process so it reaches our waits."""
    cls = duckdb.DuckDBPyConnection
    original = cls.interrupt
    if getattr(original, "_tgcheck_hook", False):
        return

    @functools.wraps(original)
    def interrupt(self, *args, **kwargs):
        _cancel_waits(id(self))
        return original(self, *args, **kwargs)

    interrupt._tgcheck_hook = True
    cls.interrupt = interrupt


def install_sigint_watch() -> None:
    """Chain a SIGINT handler that counts Ctrl-Cs, then behaves as before.

    Only possible from the main thread, and only on top of a Python-level
    handler: an ignored or default SIGINT is left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous) or getattr(previous, "_tgcheck_watch", False):
        return

    def handler(signum, frame):
        global _sigints
        _sigints += 1
        return previous(signum, frame)

    handler._tgcheck_watch = True
    signal.signal(signal.SIGINT, handler)


def check_interruptibly(
    run: Callable[[threading.Event], tgcheck.AnswerColumn], connection_key: int
) -> tgcheck.AnswerColumn:
    """run(cancel) on a helper thread; stop waiting when the connection is interrupted."""
    cancel = threading.Event()
    future: Future = Future()

    def target():
        try:
            future.set_result(run(cancel))
        except BaseException as e:  # handed to the waiting thread as is
            future.set_exception(e)

    sigints_before = _sigints
    with _waits_lock:
        _waits.setdefault(connection_key, set()).add(cancel)
    try:
        helper = threading.Thread(target=target, name="tgcheck-duckdb-wait", daemon=True)
        helper.start()
        try:
            while not cancel.is_set() and _sigints == sigints_before:
                try:
                    return future.result(timeout=WATCH_EVERY)
                except TimeoutError:
                    continue
                except tgcheck.Cancelled:
                    break  # the engine saw the cancel first: same outcome, our message
        except KeyboardInterrupt:
            _stop(cancel, future)
            raise
        _stop(cancel, future)
        raise tgcheck.Cancelled(INTERRUPTED)
    finally:
        with _waits_lock:
            waits = _waits.get(connection_key)
            if waits is not None:
                waits.discard(cancel)
                if not waits:
                    del _waits[connection_key]


def _stop(cancel: threading.Event, future: Future) -> None:
    """Let the engine leave at its next cancel check (its journal entry released);
    an HTTP call in flight is finished first, so a create is never cut off."""
    cancel.set()
    future.exception()  # a second Ctrl-C raises here and stops waiting for it too
