"""What a provider's vendor bills, per call kind: one small declared description
(issue 21 item 2), read by the engine wherever billed calls are counted, capped
and shown (the journal, `tgcheck jobs`, job events, `--dry-run`, `tgcheck status`
and `tgcheck balance`).

A provider declares `billing = Billing(...)` (tgcheck.plugin); the older booleans
(create_is_billed, status_is_billed, balance_is_billed) still work and are kept
in step with it (Provider.__init_subclass__).

What the journal counts: `status_calls` holds every billed reply a job made after
its create, whatever the call (status replies, billed downloads or result pages,
determined synchronous checks), each counted from its status line; the create is
added by the rule below (one, or one per number). TGCHECK_MAX_STATUS_CALLS caps
those replies, never the create, and stalls only a job whose status calls are
billed (free status calls are bounded by TGCHECK_TIMEOUT instead).
"""

from __future__ import annotations

import dataclasses

# create: how a create is billed.
PER_TASK = "task"  # one billed call per task, whatever its size (ekycpro)
PER_NUMBER = "number"  # one billed unit per number the task holds
FREE = "free"  # creates cost nothing (the answers are billed elsewhere)
# sync: how a synchronous check is billed when its reply does not say.
DETERMINED = "determined"  # only an answered (determined) number is billed

_CREATE = (PER_TASK, PER_NUMBER, FREE)
_SYNC = (DETERMINED, FREE)


@dataclasses.dataclass(frozen=True)
class Billing:
    """A vendor's billing per call kind.

    create: PER_TASK (default), PER_NUMBER or FREE.
    status: whether a status reply is billed (default True). False: status calls
    are not counted, TGCHECK_MAX_STATUS_CALLS does not stall the job, and a task
    that does not move is polled on the widening schedule until TGCHECK_TIMEOUT.
    results: whether a download of the result file, or each page of records
    (Provider.results), is billed (default False). True: each 2xx is counted by
    the wire from its status line, as a status reply is (a page cut short too).
    sync: how a synchronous check's reply is billed when it does not say itself
    (SyncReply.billed None): DETERMINED (default: billed only when it answered
    the number; a miss or an undetermined answer is free) or FREE.
    balance: whether asking for the balance is billed: True, False, or None (not
    documented: `tgcheck balance` says "possibly billed").
    """

    create: str = PER_TASK
    status: bool = True
    results: bool = False
    sync: str = DETERMINED
    balance: bool | None = None

    def __post_init__(self):
        if self.create not in _CREATE:
            raise ValueError(f"Billing(create={self.create!r}): one of {', '.join(_CREATE)}")
        if self.sync not in _SYNC:
            raise ValueError(f"Billing(sync={self.sync!r}): one of {', '.join(_SYNC)}")

    def create_units(self, numbers: int) -> int:
        """What one create of a task of `numbers` numbers bills."""
        return {PER_TASK: 1, PER_NUMBER: numbers, FREE: 0}[self.create]

    def billed(self, replies: int, created: bool, numbers: int = 1) -> int:
        """A job's billed calls: its billed replies (the journal's status_calls)
        and, once its task exists, its create by the rule."""
        return replies + (self.create_units(numbers) if created else 0)

    def sync_billed(self, value: str | None, said: bool | None) -> bool:
        """Whether one synchronous reply was billed: the vendor's own word (said)
        when it gave one, else this rule."""
        if said is not None:
            return said
        return self.sync == DETERMINED and value is not None


_OLDER = ("create_is_billed", "status_is_billed", "balance_is_billed")


def billing_of(provider) -> Billing:
    """A provider's Billing: its declaration; the older booleans where they are set
    on the object itself (in __init__) or where it declares no Billing (an object
    not derived from tgcheck.plugin.Provider)."""
    declared = getattr(provider, "billing", None)
    own = getattr(provider, "__dict__", {})
    if isinstance(declared, Billing) and ("billing" in own or not own.keys() & set(_OLDER)):
        return declared
    base = declared if isinstance(declared, Billing) else Billing()
    return in_step(base, getattr(provider, "create_is_billed", True),
                   getattr(provider, "status_is_billed", True),
                   getattr(provider, "balance_is_billed", None))


def in_step(base: Billing, create_is_billed: bool, status_is_billed: bool,
            balance_is_billed: bool | None) -> Billing:
    """base, changed where the older booleans say otherwise."""
    create = base.create if create_is_billed else FREE
    if create_is_billed and create == FREE:
        create = PER_TASK
    return dataclasses.replace(base, create=create, status=bool(status_is_billed),
                               balance=balance_is_billed)


__all__ = ["DETERMINED", "FREE", "PER_NUMBER", "PER_TASK", "Billing", "billing_of"]
