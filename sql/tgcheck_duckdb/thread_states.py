"""A Python thread state kept on each DuckDB thread through a pass's UDF calls.

DuckDB calls a Python UDF on its own worker threads, which Python does not know:
each call makes a Python thread state for the thread and destroys it when the
call returns (pybind11's gil_scoped_acquire, DuckDB's binding, on a thread that
has none), some 500 times a pass of a 1,000,000-row table. The per-vector UDFs
keep it alive instead (kept: one PyGILState_Ensure on the thread's state), and
the thread's later calls take it back: a pass of 1,000,000 rows through a UDF
that does nothing took about half the time (docs/performance.md, "A thread
state kept per DuckDB thread").

What a kept state holds lives as long as it: the thread's threading.local
values, such as a store's per-thread connection. So only UDFs that touch no
store keep one; the others, and the memo's view, let a kept state go first
(passing: the matching PyGILState_Release), and their call ends the state, and
whatever it opened, as DuckDB's calls always did. (The user's own UDFs on the
same connection find their threading.local values kept too, as on any Python
thread.)

No thread can free another's state, so a kept state whose thread ends (its
DuckDB database closed, `SET threads` changed) stays until the process ends,
a few KiB each. At most MAX_KEPT states are kept at once: a process that opens
many databases keeps no more, and its later calls make their states as DuckDB
does (slower, never wrong). A thread Python started (the one that runs the
query) has a lasting state anyway and frees it when it ends, but keep() cannot
tell it from DuckDB's and counts it too: a process whose own threads come and
go (a pool that replaces its threads) uses up MAX_KEPT the same way.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable

# States kept at most, over the process (those of ended threads count for good).
MAX_KEPT = 64

# Set on a thread state once kept: the PyGILState_Ensure's result to hand back.
_here = threading.local()
_lock = threading.Lock()
_kept = 0  # states kept now (or left by ended threads)

try:
    _ensure = ctypes.pythonapi.PyGILState_Ensure
    _release = ctypes.pythonapi.PyGILState_Release
except AttributeError:  # not CPython: nothing kept, nothing to let go
    _ensure = _release = None
else:
    _ensure.restype, _release.argtypes = ctypes.c_int, [ctypes.c_int]


def keep() -> None:
    """Keep the calling thread's Python thread state past the current call (the
    GIL held: Ensure only counts it once more), unless MAX_KEPT are kept."""
    global _kept
    if _ensure is None or hasattr(_here, "state"):
        return
    with _lock:
        if _kept >= MAX_KEPT:
            return
        _kept += 1
    _here.state = _ensure()


def let_go() -> None:
    """Undo keep() on this thread, if it kept its state: a state DuckDB's call
    made then ends with that call, as it did before keep()."""
    global _kept
    state = getattr(_here, "state", None)
    if state is None:
        return
    del _here.state
    _release(state)
    with _lock:
        _kept -= 1


def kept(function: Callable) -> Callable:
    """function, keeping the thread state of each thread that calls it."""
    return _after(keep, function)


def passing(function: Callable) -> Callable:
    """function, in a thread state that ends with the call when DuckDB made it."""
    return _after(let_go, function)


def _after(first: Callable[[], None], function: Callable) -> Callable:
    """function, calling first() before it; its keeps_state says which wrapper it is."""
    @functools.wraps(function)
    def call(*args):
        first()
        return function(*args)
    call.keeps_state = first is keep
    return call
