"""A Python thread state kept on each DuckDB thread through a pass's UDF calls.

DuckDB calls a Python UDF on its own worker threads, which Python does not know:
each call makes a Python thread state for the thread and destroys it when the
call returns (pybind11's gil_scoped_acquire, DuckDB's binding, on a thread that
has none), some 500 times a pass of a 1,000,000-row table. The per-vector UDFs
keep it alive instead (kept: one PyGILState_Ensure on the thread's state),
and the thread's later calls take it back: a pass of 1,000,000 rows through a
UDF that does nothing took about half the time (docs/performance.md, "A thread
state kept per DuckDB thread").

What a kept state holds lives as long as it: the thread's threading.local
values, such as a store's per-thread connection. So only UDFs that touch no
store keep one; every other UDF, and the memo's view, lets go of a kept state
first (passing: the matching PyGILState_Release), and its call ends the state,
and whatever it opened, as DuckDB's calls always did. A state is left kept
when its thread ends (a DuckDB database closed): a few KiB each, until the
process ends.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable

# Set on a thread state once kept: the PyGILState_Ensure's result to hand back.
_here = threading.local()

try:
    _ensure = ctypes.pythonapi.PyGILState_Ensure
    _release = ctypes.pythonapi.PyGILState_Release
except AttributeError:  # not CPython: nothing kept, nothing to let go
    _ensure = _release = None
else:
    _ensure.restype, _release.argtypes = ctypes.c_int, [ctypes.c_int]


def keep() -> None:
    """Keep the calling thread's Python thread state past the current call (the
    GIL held: Ensure only counts it once more)."""
    if _ensure is not None and not hasattr(_here, "state"):
        _here.state = _ensure()


def let_go() -> None:
    """Undo keep() on this thread, if it kept its state: a state DuckDB's call
    made then ends with that call, as it did before keep()."""
    state = getattr(_here, "state", None)
    if state is not None:
        del _here.state
        _release(state)


def kept(function: Callable) -> Callable:
    """function, keeping the thread state of each thread that calls it."""
    @functools.wraps(function)
    def call(*args):
        keep()
        return function(*args)
    return call


def passing(function: Callable) -> Callable:
    """function, in a thread state that ends with the call when DuckDB made it."""
    @functools.wraps(function)
    def call(*args):
        let_go()
        return function(*args)
    return call
