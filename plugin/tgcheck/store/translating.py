"""A store method's database errors as StoreErrors saying what to do."""

from __future__ import annotations

import functools
import inspect


def _translating(method):
    """Errors of the database met inside a store method (damage found after
    opening, a server gone) are StoreErrors saying what to do, through the
    backend's `_errors()`; a generator's are translated as it is consumed."""
    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def generator(self, *args, **kwargs):
            with self._errors():
                yield from method(self, *args, **kwargs)

        return generator

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._errors():
            return method(self, *args, **kwargs)

    return wrapper
