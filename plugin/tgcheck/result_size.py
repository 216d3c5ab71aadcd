"""How large a result file may be: bounded by what the numbers sent can take.

The engine downloads at most result_budget(count) bytes and calls a reader inside
`budget(count)`; a reader calls check_size() before it unpacks or allocates, so a
bomb is refused from a zip's directory or a sheet's extent, not after it filled
the memory. Any provider's readers use it.
"""

from __future__ import annotations

import contextlib
import contextvars

from .errors import ResultFileError

# The most any result file may take unpacked (1,000,000 rows are ~30 MB).
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
# What one number's answer may take in a result file, unpacked: an xlsx row with
# its shared string is ~150 bytes, a CSV row ~40. With a floor for small tasks,
# this bounds what is parsed (and held) before any parser allocates: a 936 MB
# shared-strings table for three numbers is refused from the zip's directory.
BYTES_PER_NUMBER = 1024
BUDGET_FLOOR = 8 * 1024 * 1024
_budget: contextvars.ContextVar[int] = contextvars.ContextVar("result_budget",
                                                              default=MAX_UNPACKED_BYTES)


def result_budget(count: int) -> int:
    """The most bytes a result file for `count` numbers may take, packed or not."""
    return min(MAX_UNPACKED_BYTES, BUDGET_FLOOR + count * BYTES_PER_NUMBER)


@contextlib.contextmanager
def budget(count: int):
    """Readers called inside refuse files larger (unpacked) than `count` numbers'
    results can be."""
    token = _budget.set(result_budget(count))
    try:
        yield
    finally:
        _budget.reset(token)


def check_size(size: int, what: str) -> None:
    """ResultFileError when `size` (bytes, unpacked) is more than the budget allows."""
    limit = _budget.get()
    if size > limit:
        raise ResultFileError(f"the result file {what} {size:,} bytes, more than the numbers "
                              f"sent can take ({limit:,}): refused before it is parsed")
