"""The provider contract: what the engine asks of a provider, and what it gets back.

A provider turns one set of E.164 numbers into one paid task at a remote service,
reports how that task is doing, and fetches its result file. Subclass `Provider`
(as httpx's transports subclass `BaseTransport`); the docstrings below are the
contract the engine relies on. Register the subclass (or any factory
`factory(settings) -> Provider`) through `tgcheck_register_providers`.

The engine and the polling policy know only the normalised states below, never a
provider's own status words: a provider maps its words to these states
(`status_words`), and keeps the word itself only as text for people (messages,
the journal's `status` column, progress lines).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType, TracebackType

from .billing import FREE, Billing, billing_of, in_step
from .models import TaskStatus

# -- normalised task states -------------------------------------------------
# Accepted, not started: nothing to measure yet.
QUEUED = "queued"
# Being processed: `processed` of `total` numbers done so far.
RUNNING = "running"
# Processed: the result file is at `result_url`, or (no url yet) about to be
# written. A ready task without a file is given STUCK_EXPORT seconds
# (`tgcheck.polling`) before it counts as a task that does not move.
READY = "ready"
# Ended at the provider without a result: its numbers have no answers.
FAILED = "failed"
# The provider no longer knows the task (e.g. HTTP 404 on a status call).
LOST = "lost"

STATES = frozenset({QUEUED, RUNNING, READY, FAILED, LOST})


@dataclasses.dataclass
class CallContext:
    """What the engine hands each call of a provider, explicitly (no thread-locals,
    no attributes set on exceptions): pass it on to the wire (tgcheck.plugin.Wire),
    which honours every part of it.

    deadline: a time.monotonic() value the call must not outlive.
    cancel: an Event; set, waits between retries end (connect.NotSent) and nothing
    more is sent.
    on_billed: called once per billed reply (also one then retried or refused); it
    may have a spent() method, asked before a billed retry (billed_calls.BilledCalls).
    on_retry: told each retry in words (a `retry` job event).
    request_sent: whether the call's request may have reached the vendor; the wire
    keeps it (mark_sent). A create interrupted while it is False created nothing:
    its job is new again, not uncertain. True until someone says otherwise.
    """

    deadline: float
    cancel: threading.Event | None = None
    on_billed: Callable[[], None] | None = None
    on_retry: Callable[[str], None] | None = None
    request_sent: bool = True

    @classmethod
    def within(cls, seconds: float, **parts) -> CallContext:
        """A context whose deadline is `seconds` from now (a call made outside the
        engine: a test, `tgcheck status`)."""
        return cls(deadline=time.monotonic() + seconds, **parts)

    def mark_sent(self, may_have_reached: bool) -> None:
        """The sent-request callback: True once a byte of the request may have left,
        False when it provably reached no one (before a retry of what created nothing)."""
        self.request_sent = may_have_reached

    def tell(self, message: str) -> None:
        if self.on_retry is not None:
            self.on_retry(message)


class Provider:
    """Base class of every provider. Subclasses implement create_task, get_status
    and download (or results), and close when they hold connections; balance is
    optional. Each call gets the engine's CallContext (`context=`; None when called
    outside the engine: use the settings' timeout).

    Money is the rule behind every method: every billed call costs the user. A
    provider never creates a task it was not asked to create, never retries a
    create whose request may have reached the server (it raises UncertainCreate
    instead), and retries status calls and downloads freely on transient faults
    until context.deadline. tgcheck.wire.Wire does all of this for a provider that
    describes its calls (tgcheck.plugin; docs/plugins.md's tutorial).

    Errors are the project's own (`tgcheck.errors`): KeyRefused, BadRequest,
    InsufficientBalance, TaskTooLarge (nothing created: the engine splits the set),
    UncertainCreate, TaskLost, ApiError, ResultFileError, DeadlineExceeded. Every
    string that comes from the server passes `tgcheck.redact.clean` before it is
    put in a TaskStatus or an exception: the API key must never travel on.
    """

    #: The name users select the provider by (TGCHECK_PROVIDER, --provider).
    name: str = ""
    #: Identifies the provider *and* its server, as "name:server" (e.g.
    #: "ekycpro:https://api.x.com", the URL in one canonical spelling:
    #: settings.canonical_url): the journal keys jobs by it, and a job is only
    #: attached to on the server that made it. For the embedded sandbox
    #: (settings.sandbox), whose port changes from run to run, "name:sandbox".
    #: Set it in __init__ from the settings.
    identity: str = ""
    #: The provider's status words (lower case) -> normalised state; see state_of().
    status_words: Mapping[str, str] = MappingProxyType({})
    #: Numbers per second a task typically runs at: the polling policy's prior,
    #: until the task's own progress is measured (None: the policy's default).
    typical_rate: float | None = None
    #: The readers of this provider's result files (tgcheck.models.Reader), asked in
    #: order after the readers plugins register (tgcheck_register_readers).
    readers: Sequence = ()
    #: Optional: a method balance(self, *, deadline=None) -> (decimal text,
    #: currency or None) of the account (`tgcheck balance`). None: the provider
    #: cannot tell one, and the faces say so.
    balance: Callable[..., tuple[str, str | None]] | None = None
    #: What the vendor bills, per call kind (tgcheck.billing.Billing): creates per
    #: task, per number or free; status replies billed or free; downloads and
    #: result pages billed or free; a synchronous check billed only when
    #: determined; the balance billed, free or not documented. The engine counts,
    #: caps and shows billed calls by it.
    billing: Billing = Billing()
    #: The older spelling of billing.create (True: billed per task; False: free),
    #: kept in step with `billing` (either may be declared on a subclass).
    create_is_billed: bool = True
    #: The older spelling of billing.status. False (a vendor whose status calls are
    #: free): they are not counted as billed calls, TGCHECK_MAX_STATUS_CALLS does not
    #: stall the job, and a task that does not move is polled on the widening
    #: schedule until TGCHECK_TIMEOUT.
    status_is_billed: bool = True
    #: The older spelling of billing.balance: True, False, or None (not
    #: documented: `tgcheck balance` says "possibly billed").
    balance_is_billed: bool | None = None
    #: Optional: a method results(self, status, *, context=None) -> an iterable of
    #: pages, each an iterable of (number, answer) pairs, for a vendor that serves
    #: answers as records rather than a file. answer: the vendor's text (cleaned by
    #: the task type, e.g. "yes"/"no") or None: an explicit unknown, stored as
    #: unknown, distinct from a number no page names (left out). A record may be
    #: (number, answer, fields): fields a mapping (e.g. the JSON record itself)
    #: whose entries the task type declares are kept as its typed fields, read as
    #: a file's columns are. When set, a READY record needs no result_url and
    #: download()/readers are not used.
    results: Callable[..., Iterable[Iterable[tuple]]] | None = None
    #: Optional: sync() -> a new SyncCheck, which answers a few numbers one call
    #: each before any task (ekycpro's /v1/check): the engine's fast path
    #: (tgcheck.fast_path, TGCHECK_SYNC_MAX), closed when that ends. sync.task_types
    #: says which task types it answers, before any is made (a SyncCheck subclass,
    #: or a functools.partial of one given that attribute). None: every number
    #: goes to a task.
    sync: Callable[[], SyncCheck] | None = None

    # -- the calls the engine makes ------------------------------------------
    def create_task(self, numbers: Sequence[str], task_type: str, *,
                    context: CallContext | None = None) -> TaskStatus:
        """Create ONE task for these numbers (E.164, distinct, sorted) and return
        its first record (state QUEUED or later, with its `task_id`).

        Must not be retried once its request may have reached the server: raise
        UncertainCreate (the engine journals the job as uncertain and never creates
        it again on its own). Retry only what provably created nothing (connection
        refused, 429, the provider's own 5xx): Wire.create does all this. A create
        interrupted (Ctrl-C) while context.request_sent is False is new again
        rather than uncertain. TaskTooLarge when the provider refuses the set's
        size and created nothing.
        """
        raise NotImplementedError

    def get_status(self, task_id: str, *, context: CallContext | None = None) -> TaskStatus:
        """The task's current record: its normalised `state` (None: a word the
        provider does not know, see state_of), the provider's word
        (`status`, for people), progress (`total`, `success` + `failure` =
        `processed`), cost (`estimated_amount` / `actual_amount`, `currency`), and
        for a READY task the `result_url` to download.

        Call `context.on_billed()` once per billed reply, also for one then retried
        or refused (unreadable, another task's; Wire.query does): the engine's cap
        on status calls (TGCHECK_MAX_STATUS_CALLS) counts them. A provider that
        never calls it has each returned record counted as one billed call (unless
        status_is_billed is False).

        Raise TaskLost when the provider answers that it does not know the task
        (or return a record in state LOST): the job is journaled as lost.
        """
        raise NotImplementedError

    def download(self, url: str, *, context: CallContext | None = None,
                 max_bytes: int | None = None) -> bytes:
        """The result file at `url` (a READY record's result_url), decoded, at most
        max_bytes long (ResultFileError past it). Never send the API key to a host
        other than the API's; ResultFileError for a link that cannot be fetched
        (the engine asks for a fresh link a few times, then leaves the job open).
        When billing.results, the engine's context.on_billed counts each billed
        reply (Wire.download does, from its status line).
        """
        raise NotImplementedError

    def close(self) -> None:
        """Release connections. Called once, when the engine is closed."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _billing_in_step(cls)
        # The calling convention before CallContext (deadline=, on_billed=, and
        # request_sent set on a KeyboardInterrupt), kept for installed providers:
        # adapted once, here, when the class is made; deprecated.
        for name in ("create_task", "get_status", "download"):
            method = cls.__dict__.get(name)
            if method is not None and not _takes_context(method):
                warnings.warn(f"{cls.__qualname__}.{name} takes no context=: the calling "
                              "convention before tgcheck.plugin.CallContext is deprecated",
                              DeprecationWarning, stacklevel=2)
                setattr(cls, name, _old_convention(name, method))

    # -- helpers for subclasses and the engine ----------------------------------
    def state_of(self, word: str | None) -> str | None:
        """The normalised state of one of this provider's status words (no word: a
        task just created, queued). None for a word the provider does not know: the
        engine polls such a task as queued, and the word never counts as progress
        (the backoff of a task that does not move). The engine reads the journal's
        word back through this, e.g. after a restart."""
        if word is None:
            return QUEUED
        return self.status_words.get(word.lower())

    def billed_calls(self, status_calls: int, created: bool, numbers: int = 1) -> int:
        """Billed calls of a job so far, by `billing`: its billed replies (the
        journal's status_calls: status replies, billed downloads or pages, counted
        only when billed) and, once created, its create (one, one per number of
        its `numbers`, or none). Shown to users and in progress events."""
        return billing_of(self).billed(status_calls, created, numbers)

    def __enter__(self):
        return self

    def __exit__(self, exc_type: type[BaseException] | None = None,
                 exc_value: BaseException | None = None,
                 traceback: TracebackType | None = None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.identity or self.name}>"


# A task id is kept in the journal, shown in TSV tables and terminals, and sent
# back to the vendor: printable ASCII without spaces, of a sane length.
_TASK_ID = re.compile(r"[!-~]{1,200}")


def created_record(record: TaskStatus) -> TaskStatus:
    """A create's record, its task id checked before anything keeps it (the engine
    does, for every provider): an id that is not plausible, or that holds the key
    echoed back, is UncertainCreate (the task may exist and be billed; it is never
    stored, shown or polled: a tab would break the journal's TSV, an escape the
    terminal, the key would travel everywhere)."""
    from . import redact
    from .errors import UncertainCreate

    task_id = getattr(record, "task_id", None)
    if not plausible_id(task_id):
        shown = redact.clean(repr(task_id), 80)
        raise UncertainCreate(f"creating the task: the provider's task id is not a plausible "
                              f"id ({shown}); the task may exist and be billed")
    return record


def make_provider(settings):
    """The selected provider (settings.provider) built with settings. ConfigError
    for one that does not subclass tgcheck.Provider: the engine reads states,
    rates and billing through the contract, and a provider outside it would never
    be seen to finish and be polled to the status-call cap, paying for every call.
    Refused before any call."""
    from . import plugins
    from .errors import ConfigError

    made = plugins.get_provider_factory(settings.provider)(settings)
    if not isinstance(made, Provider):
        raise ConfigError(
            f"the provider {settings.provider!r} does not subclass "
            "tgcheck.Provider (see docs/plugins.md); update or uninstall its plugin")
    return made


def plausible_id(value: object) -> bool:
    """Whether a provider's id (a task's, a synchronous check's transaction) may be
    kept, shown and sent back: printable ASCII without spaces, 1 to 200 long, not
    holding a secret (the key echoed back)."""
    from . import redact

    return isinstance(value, str) and bool(_TASK_ID.fullmatch(value)) \
        and not redact.holds_secret(value)


def _billing_in_step(cls) -> None:
    """A subclass's `billing` and the older booleans, kept in step: the one it
    declares sets the other."""
    own = cls.__dict__
    if "billing" in own:
        billing = own["billing"]
        cls.create_is_billed = billing.create != FREE
        cls.status_is_billed = billing.status
        cls.balance_is_billed = billing.balance
    elif {"create_is_billed", "status_is_billed", "balance_is_billed"} & own.keys():
        cls.billing = in_step(cls.billing, cls.create_is_billed, cls.status_is_billed,
                              cls.balance_is_billed)


def identity_of(name: str, settings) -> str:
    """Provider.identity for a provider named `name` under these settings:
    "name:sandbox" for the embedded sandbox (its port changes from run to run),
    else "name:" and the base URL in one canonical spelling."""
    from .settings import canonical_url

    return f"{name}:sandbox" if settings.sandbox else f"{name}:{canonical_url(settings.base_url)}"


def progress_of(fraction: float | None, total: int | None) -> dict:
    """TaskStatus keywords (total, success) for a vendor that tells its progress
    as a fraction done (0 to 1) of `total` numbers rather than as counts."""
    if fraction is None or total is None:
        return {"total": total}
    return {"total": total, "success": round(min(max(float(fraction), 0.0), 1.0) * total)}


def _takes_context(method) -> bool:
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):  # pragma: no cover - a builtin
        return True
    return "context" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _old_convention(name: str, method):
    """method(…, deadline=, [on_billed=]) called with context= instead."""
    takes_billed = "on_billed" in inspect.signature(method).parameters

    @functools.wraps(method)
    def adapted(self, *args, context: CallContext | None = None, **kwargs):
        if context is not None:
            kwargs.setdefault("deadline", context.deadline)
            if takes_billed and context.on_billed is not None:
                kwargs.setdefault("on_billed", context.on_billed)
        try:
            return method(self, *args, **kwargs)
        except KeyboardInterrupt as e:
            if context is not None and getattr(e, "request_sent", True) is False:
                context.mark_sent(False)
            raise

    return adapted


@dataclasses.dataclass(frozen=True)
class SyncReply:
    """What one synchronous check of one number said.

    value: the answer (the task type's value, e.g. "yes"/"no"), or None when
    there is none: a miss in the provider's cache, an undetermined answer, a fault
    (5xx, timeout). A number without a value goes into the check's bulk task.
    billed: whether this call was billed: True or False when the vendor's reply
    says (or a provider knows, e.g. a 200 cut short: possibly a determined,
    billed answer); None: by the provider's declared rule (Billing.sync: billed
    only when determined, i.e. when it has a value).
    retry_after: rate limited (429): ask this number again after so many seconds
    (0: at once); nothing was answered or billed.
    id: the vendor's id of this check (ekycpro: data.id, "chk_...", else the
    envelope's transactionId), or None: stored as the answer's task_id, where a
    task's answers keep the task's id (`tgcheck cache export`, `cache show`). An id
    that is not plausible (plausible_id below: spaces, control
    characters, over 200 long, the key echoed) is dropped, the answer kept.
    """

    value: str | None = None
    billed: bool | None = None
    retry_after: float | None = None
    id: str | None = None


class SyncCheck:
    """A provider's synchronous per-number check (Provider.sync).

    check() asks about ONE number and returns a SyncReply; it is called from a
    few threads at once (the engine bounds them) and never retries by itself:
    the engine honours retry_after, and sends a number without a value to the
    bulk task. Raise KeyRefused (401) and InsufficientBalance (402): the check
    stops. Every string from the server passes tgcheck.redact.clean first.
    """

    #: The task types it can answer (others always go to a task).
    task_types: frozenset[str] = frozenset()
    #: Identifies where the answers come from, like Provider.identity.
    identity: str = ""

    def check(self, number: str, task_type: str, *, context: CallContext) -> SyncReply:
        """Ask about one number within context.deadline (the fast path's, never past
        the check's TGCHECK_TIMEOUT) and stop on context.cancel, as the other
        provider calls do. The reply's billing is SyncReply.billed (the engine
        counts it), so context.on_billed is not called here."""
        raise NotImplementedError

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # check(..., deadline=) before CallContext: adapted once, deprecated.
        method = cls.__dict__.get("check")
        if method is not None and not _takes_context(method):
            warnings.warn(f"{cls.__qualname__}.check takes no context=: "
                          "SyncCheck.check(number, task_type, *, deadline=) is deprecated; "
                          "take context= (tgcheck.plugin.CallContext)",
                          DeprecationWarning, stacklevel=2)
            cls.check = _old_convention("check", method)

    def close(self) -> None:
        """Release connections. Called when the fast path of one check ends."""


# Both names, as httpx says BaseTransport: either reads well in a plugin.
BaseProvider = Provider

__all__ = ["FAILED", "LOST", "QUEUED", "READY", "RUNNING", "STATES",
           "BaseProvider", "CallContext", "Provider", "SyncCheck", "SyncReply", "TaskStatus",
           "identity_of", "plausible_id", "progress_of"]
