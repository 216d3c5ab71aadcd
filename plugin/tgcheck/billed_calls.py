"""Billed replies counted from their status line, and the budget held between retries.

A vendor that bills "every 200" bills the call when it answers 200, whatever then
happens to the body: cut short (the connection closes before Content-Length
bytes), trickling past the deadline, over the size cap. Such a reply is retried
(nothing usable came back), so it must be counted where its status line arrives,
and a retry must not start once the caller's budget is spent: otherwise a server
that answers 200 and then breaks is paid for hundreds of times over a long wait
while the journal counts none of it.

A provider makes each repeatable billed call through a Meter: bounded_http hands
it the status line (Meter.heard), the Meter tells the caller's on_billed at once,
and Meter.start() before a retry raises BudgetSpent when the caller says its
budget is used up (on_billed.spent(), see BilledCalls).
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import TgcheckError


class BudgetSpent(TgcheckError):
    """A retry would be billed, and the caller's budget of billed calls is used up."""


class BilledCalls:
    """The engine's on_billed: count(), called once per billed reply, and spent(),
    asked before a retry. Callable, so a provider that only calls on_billed() works."""

    def __init__(self, count: Callable[[], None], spent: Callable[[], bool]):
        self._count, self.spent = count, spent

    def __call__(self) -> None:
        self._count()


def is_billed(status: int | None) -> bool:
    """Whether a reply of this status is billed ("every 200": any 2xx)."""
    return status is not None and 200 <= status < 300


class Meter:
    """One repeatable call's billed replies (status calls, balance)."""

    def __init__(self, on_billed: Callable[[], None] | None, what: str):
        self.on_billed, self.what = on_billed, what
        self.billed = 0
        self.status: int | None = None  # of the attempt under way

    def start(self) -> None:
        """Before each attempt: BudgetSpent if a billed reply came back and the
        caller's budget is spent, so that nothing more is billed."""
        if self.billed:
            spent = getattr(self.on_billed, "spent", None)
            if spent is not None and spent():
                raise BudgetSpent(f"{self.what}: the budget of billed calls is spent "
                                  f"({self.billed} billed replies could not be used)")
        self.status = None

    def heard(self, status: int) -> None:
        """bounded_http's on_status: the status line, before the body."""
        self.status = status
        if is_billed(status):
            self.billed += 1
            if self.on_billed is not None:
                self.on_billed()

    @property
    def last_billed(self) -> bool:
        """Whether the attempt under way had a billed status line."""
        return is_billed(self.status)
